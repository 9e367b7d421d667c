"""Wanted-plate lists: exact and fuzzy (Levenshtein, in C++) matching after normalisation."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kuzet._native import core
from kuzet.errors import InvalidArgument

_SEPARATORS = re.compile(r"[\s\-_.·]+")


def normalize_plate(text: str) -> str:
    """Upper-case with spaces, dashes, dots and underscores removed: 'ls15 ebc' -> 'LS15EBC'."""
    return _SEPARATORS.sub("", text).upper()


@dataclass(frozen=True)
class HotlistHit:
    plate: str  # the wanted plate as listed (normalised)
    distance: int  # 0 = exact match

    @property
    def exact(self) -> bool:
        return self.distance == 0

    def to_dict(self) -> dict[str, Any]:
        return {"plate": self.plate, "distance": self.distance, "exact": self.exact}


class Hotlist:
    """Plates to look for. `match(text)` returns the nearest listed plate within `max_distance` edits."""

    def __init__(self, plates: Iterable[str], *, max_distance: int = 1):
        if isinstance(plates, str):
            raise InvalidArgument("Hotlist takes an iterable of plates, not one string")
        if not isinstance(max_distance, int) or max_distance < 0:
            raise InvalidArgument(f"max_distance must be an int >= 0, got {max_distance!r}")
        normalized: list[str] = []
        for plate in plates:
            if not isinstance(plate, str):
                raise InvalidArgument(f"hotlist plates must be strings, got {plate!r}")
            text = normalize_plate(plate)
            if not text:
                raise InvalidArgument(f"hotlist plate {plate!r} is empty after normalisation")
            normalized.append(text)
        self.plates: tuple[str, ...] = tuple(dict.fromkeys(normalized))  # unique, in order
        self.max_distance = max_distance
        self._index = core.PlateIndex(list(self.plates))

    def __len__(self) -> int:
        return len(self.plates)

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and self.match(text) is not None

    def matches(self, text: str) -> list[HotlistHit]:
        """Every listed plate within max_distance of text, nearest first."""
        query = normalize_plate(text)
        if not query:
            return []
        return [HotlistHit(self.plates[i], d) for i, d in self._index.search(query, self.max_distance)]

    def match(self, text: str) -> HotlistHit | None:
        hits = self.matches(text)
        return hits[0] if hits else None


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute all cost 1)."""
    return int(core.plates_edit_distance(a, b))
