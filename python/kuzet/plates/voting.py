"""Per-character voting over several reads of the same plate."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Vote:
    text: str
    confidence: float  # mean over characters of the winning share of the vote
    char_confidences: tuple[float, ...]
    votes: int  # reads that took part (those of the winning length)
    # True when the per-character vote was contested and `text` is the single most confident read instead.
    ambiguous: bool = False


def vote(reads: Sequence[tuple[str, Sequence[float]]]) -> Vote | None:
    """Vote over (text, per-character confidences) reads of one plate.

    Only reads of the most common length vote (ties: the length with the larger summed confidence), so
    a read that missed or split a character cannot shift the others. Each position takes the character
    with the largest summed confidence; its confidence is that sum over the summed confidence of all
    candidates at that position, times the mean confidence of the reads that chose it.

    The voted text is never a plate that no read supports: if, at any position, the winning character is
    not the one of more than half of the voting reads, the reads disagree too much to be combined
    character by character (a 50/50 mix of "AZ12" and "ZA21" would otherwise vote "ZZ22", a plate nobody
    read). The text is then the single voting read with the highest mean confidence (the earliest on a
    tie), so it is a real read a person can trace to a frame; `ambiguous` is set, and its character
    confidences are computed as above, so the contested positions are marked by their lower confidence.
    Reads that agree at every position except different single slips (one wrong character each, at
    different places) still vote the plate they all support.
    """
    usable = [(t, c) for t, c in reads if t]
    for text, confs in usable:
        if len(confs) != len(text):
            raise ValueError(f"read {text!r} has {len(confs)} confidences for {len(text)} characters")
    if not usable:
        return None
    by_length = Counter(len(t) for t, _ in usable)
    weight: dict[int, float] = defaultdict(float)
    for text, confs in usable:
        weight[len(text)] += sum(confs)
    length = max(by_length, key=lambda n: (by_length[n], weight[n], n))
    voters = [(t, c) for t, c in usable if len(t) == length]
    tallies: list[dict[str, list[float]]] = []
    chars: list[str] = []
    ambiguous = False
    for i in range(length):
        tally: dict[str, list[float]] = defaultdict(list)
        for text, confs in voters:
            tally[text[i]].append(float(confs[i]))
        winner = max(tally, key=lambda ch: (sum(tally[ch]), len(tally[ch]), ch))
        # A winner without a strict majority of the reads (a tie, a confident minority, a three-way split)
        # could be stitched to other positions' winners taken from different reads: fall back below.
        if 2 * len(tally[winner]) <= len(voters):
            ambiguous = True
        tallies.append(tally)
        chars.append(winner)
    if ambiguous:
        best = max(voters, key=lambda r: sum(r[1]) / len(r[1]))  # max() keeps the first of equals
        chars = list(best[0])
    confidences = []
    for ch, tally in zip(chars, tallies, strict=True):
        total = sum(sum(v) for v in tally.values())
        share = sum(tally[ch]) / total if total > 0 else 0.0
        confidences.append(share * sum(tally[ch]) / len(tally[ch]))
    conf = sum(confidences) / len(confidences)
    return Vote("".join(chars), conf, tuple(confidences), len(voters), ambiguous)
