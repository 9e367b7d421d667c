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


def align(expected: Sequence[SegmentRecord], actual: Sequence[SegmentRecord]) -> Alignment:
    keys_e = [r.payload_digest for r in expected]
    keys_a = [r.payload_digest for r in actual]
    matched: dict[int, int] = {}  # actual position -> expected index
    unmatched_blocks: list[tuple[list[int], list[int]]] = []
    matcher = difflib.SequenceMatcher(None, keys_e, keys_a, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
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
        pairs = min(len(rest_e), len(rest_a))
        modified.extend(rest_e[:pairs])  # the same slot holds other packets
        missing.extend(rest_e[pairs:])
        extra.extend(rest_a[pairs:])

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
