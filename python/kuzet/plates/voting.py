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


def vote(reads: Sequence[tuple[str, Sequence[float]]]) -> Vote | None:
    """Vote over (text, per-character confidences) reads of one plate.

    Only reads of the most common length vote (ties: the length with the larger summed confidence), so
    a read that missed or split a character cannot shift the others. Each position takes the character
    with the largest summed confidence; its confidence is that sum over the summed confidence of all
    candidates at that position, times the mean confidence of the reads that chose it.
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
    chars, confidences = [], []
    for i in range(length):
        tally: dict[str, list[float]] = defaultdict(list)
        for text, confs in voters:
            tally[text[i]].append(float(confs[i]))
        winner = max(tally, key=lambda ch: (sum(tally[ch]), len(tally[ch]), ch))
        total = sum(sum(v) for v in tally.values())
        share = sum(tally[winner]) / total if total > 0 else 0.0
        chars.append(winner)
        confidences.append(share * sum(tally[winner]) / len(tally[winner]))
    conf = sum(confidences) / len(confidences)
    return Vote("".join(chars), conf, tuple(confidences), len(voters))
