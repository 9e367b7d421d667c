"""Aligns the segments of a recording with the manifest's, by payload digest, to name what changed."""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from kuzet.evidence.records import SegmentRecord


@dataclass(frozen=True)
class Alignment:
    modified: tuple[int, ...]  # manifest indices whose packets differ (same place, other content)
    missing: tuple[int, ...]  # manifest indices with no counterpart in the recording
    extra: tuple[int, ...]  # recording positions with no counterpart in the manifest (inserted/duplicated)
    reordered: tuple[int, ...]  # manifest indices found, but out of order relative to other segments
    retimed: tuple[int, ...]  # manifest indices whose packets are intact but whose timestamps changed
    # For each segment of the recording: the manifest index it matches (by payload), or None.
    actual_order: tuple[int | None, ...]
    # Extra segments that repeat a manifest segment: (recording position, manifest index).
    duplicates: tuple[tuple[int, int], ...]


# Above this many (manifest x recording) pairs between the common head and tail, the longest-common-subsequence
# search ignores payloads repeated throughout (difflib's "autojunk"): a static scene repeats its segments'
# payloads, and aligning thousands of equal keys exactly takes hours; the moved-segment pass below still
# matches them by digest.
_EXACT_ALIGNMENT_PAIRS = 250_000


def align(expected: Sequence[SegmentRecord], actual: Sequence[SegmentRecord]) -> Alignment:
    keys_e = [r.payload_digest for r in expected]
    keys_a = [r.payload_digest for r in actual]
    matched: dict[int, int] = {}  # actual position -> expected index
    unmatched_blocks: list[tuple[list[int], list[int]]] = []
    # The common head and tail first (an edit is usually local), then the middle.
    head = 0
    while head < min(len(keys_e), len(keys_a)) and keys_e[head] == keys_a[head]:
        head += 1
    tail = 0
    while tail < min(len(keys_e), len(keys_a)) - head and keys_e[-1 - tail] == keys_a[-1 - tail]:
        tail += 1
    matched.update({k: k for k in range(head)})
    matched.update({len(keys_a) - 1 - k: len(keys_e) - 1 - k for k in range(tail)})
    mid_e, mid_a = keys_e[head : len(keys_e) - tail], keys_a[head : len(keys_a) - tail]
    exact = len(mid_e) * len(mid_a) <= _EXACT_ALIGNMENT_PAIRS
    matcher = difflib.SequenceMatcher(None, mid_e, mid_a, autojunk=not exact)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        i1, i2, j1, j2 = i1 + head, i2 + head, j1 + head, j2 + head
        if tag == "equal":
            matched.update({j1 + k: i1 + k for k in range(i2 - i1)})
        else:
            unmatched_blocks.append((list(range(i1, i2)), list(range(j1, j2))))

    # Moved segments: same payload found elsewhere. Each manifest segment is matched at most once, so a
    # duplicate stays unmatched and is reported as extra.
    free_expected: dict[bytes, list[int]] = {}
    for idx_e, _ in unmatched_blocks:
        for i in idx_e:
            free_expected.setdefault(keys_e[i], []).append(i)
    moved_e: set[int] = set()
    moved_a: set[int] = set()
    for _, idx_a in unmatched_blocks:
        for j in idx_a:
            candidates = free_expected.get(keys_a[j])
            if candidates:
                i = candidates.pop(0)
                matched[j] = i
                moved_e.add(i)
                moved_a.add(j)

    modified: list[int] = []
    missing: list[int] = []
    extra: list[int] = []
    for idx_e, idx_a in unmatched_blocks:
        rest_e = [i for i in idx_e if i not in moved_e]
        rest_a = [j for j in idx_a if j not in moved_a]
        pairs = _same_slots(rest_e, rest_a, expected, actual)
        modified.extend(i for i, _ in pairs)  # the same slot holds other packets
        missing.extend(sorted(set(rest_e) - {i for i, _ in pairs}))
        extra.extend(sorted(set(rest_a) - {j for _, j in pairs}))

    retimed = [i for j, i in matched.items() if not expected[i].same_media(actual[j])]
    index_of_payload = {key: i for i, key in enumerate(keys_e)}
    duplicates = tuple(
        (j, index_of_payload[keys_a[j]]) for j in sorted(extra) if keys_a[j] in index_of_payload
    )
    order = [matched.get(j) for j in range(len(actual))]
    return Alignment(
        modified=tuple(sorted(modified)),
        missing=tuple(sorted(missing)),
        extra=tuple(sorted(extra)),
        reordered=tuple(sorted(_out_of_order([i for i in order if i is not None]))),
        retimed=tuple(sorted(retimed)),
        actual_order=tuple(order),
        duplicates=duplicates,
    )


def _same_slots(rest_e: list[int], rest_a: list[int], expected: Sequence[SegmentRecord],
                actual: Sequence[SegmentRecord]) -> list[tuple[int, int]]:
    """Unmatched manifest and recording segments that occupy the same place, as (manifest, recording) pairs:
    those starting at the same time, when timestamps were kept (one segment cut out and the next altered is
    then "missing" and "modified", not the other way round); else in order, position by position."""
    by_start: dict[tuple[int | None, tuple[int, int]], list[int]] = {}
    for j in rest_a:
        if actual[j].start_pts is not None:  # a segment without video timestamps has no place to compare
            by_start.setdefault((actual[j].start_pts, actual[j].time_base), []).append(j)
    pairs = []
    for i in rest_e:
        same_time = by_start.get((expected[i].start_pts, expected[i].time_base))
        if same_time:
            pairs.append((i, same_time.pop(0)))
    return pairs if pairs else list(zip(rest_e, rest_a, strict=False))


def _out_of_order(sequence: list[int]) -> list[int]:
    """Elements that form an inversion with another one (a larger one before it or a smaller one after)."""
    suffix_min: list[float] = [math.inf] * (len(sequence) + 1)
    for p in range(len(sequence) - 1, -1, -1):
        suffix_min[p] = min(sequence[p], suffix_min[p + 1])
    out: list[int] = []
    prefix_max: float = -math.inf
    for p, value in enumerate(sequence):
        if prefix_max > value or suffix_min[p + 1] < value:
            out.append(value)
        prefix_max = max(prefix_max, value)
    return out
