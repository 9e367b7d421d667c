"""Wanted-plate lists: exact and fuzzy (Levenshtein, in C++) matching after normalisation."""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kuzet._native import core
from kuzet.errors import InvalidArgument

# Cyrillic capitals drawn like Latin ones: a Kazakh or Russian plate typed on a Cyrillic keyboard
# ('123АВС01') must still match the reader's Latin '123ABC01'. Lower case is upper-cased first. Kazakh
# І and Ү are included (Kazakh keyboards have them).
_CYRILLIC_TO_LATIN = str.maketrans("АВЕКМНОРСТУХІҮ", "ABEKMHOPCTYXIY")
_PLATE_CHARACTERS = re.compile(r"[0-9A-Z]*")


def _is_separator(ch: str) -> bool:
    # every Unicode space and separator (Z*), dash (Pd: hyphen, en/em dash, ...), invisible format character
    # (Cf: zero-width space, soft hyphen), control character (Cc: tab, newline), and . _ · as written on plates
    return unicodedata.category(ch)[0] == "Z" or unicodedata.category(ch) in ("Pd", "Cf", "Cc") or ch in "._·"


def normalize_plate(text: str) -> str:
    """Plate text as the reader writes it: 'ls15 ebc' -> 'LS15EBC', '123 АВС–01' (Cyrillic, en dash) -> '123ABC01'.

    NFKC (full-width 'ＬＳ１５' -> 'LS15'), upper case, Cyrillic look-alike capitals to Latin, and every
    space, dash, dot, underscore and invisible separator removed. Other characters are kept (a read with
    them simply matches nothing); a hotlist refuses them.
    """
    text = unicodedata.normalize("NFKC", text).upper().translate(_CYRILLIC_TO_LATIN)
    return "".join(ch for ch in text if not _is_separator(ch))


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
    """Plates to look for. `match(text)` returns the nearest listed plate within `max_distance` edits.

    Entries are normalised as `normalize_plate` does; an entry with anything but 0-9 and A-Z left after that
    is refused (the reader writes only those, so it could never match exactly).
    """

    def __init__(self, plates: Iterable[str], *, max_distance: int = 1):
        if isinstance(plates, str):
            raise InvalidArgument("Hotlist takes an iterable of plates, not one string")
        try:
            if isinstance(max_distance, bool):
                raise TypeError
            max_distance = operator.index(max_distance)  # ints, numpy ints; not floats or bools
        except TypeError:
            raise InvalidArgument(f"max_distance must be an int >= 0, got {max_distance!r}") from None
        if max_distance < 0:
            raise InvalidArgument(f"max_distance must be an int >= 0, got {max_distance!r}")
        normalized: list[str] = []
        for plate in plates:
            if not isinstance(plate, str):
                raise InvalidArgument(f"hotlist plates must be strings, got {plate!r}")
            text = normalize_plate(plate)
            if not text:
                raise InvalidArgument(f"hotlist plate {plate!r} is empty after normalisation")
            if not _PLATE_CHARACTERS.fullmatch(text):
                bad = sorted({ch for ch in text if not _PLATE_CHARACTERS.fullmatch(ch)})
                raise InvalidArgument(f"hotlist plate {plate!r} has characters a plate reader never reads: {bad} "
                                      "(plates are read as 0-9 and A-Z)")
            normalized.append(text)
        self.plates: tuple[str, ...] = tuple(dict.fromkeys(normalized))  # unique, in order
        self.max_distance = max_distance
        self._longest = max((len(p) for p in self.plates), default=0)
        self._index = core.PlateIndex(list(self.plates))

    def __len__(self) -> int:
        return len(self.plates)

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and self.match(text) is not None

    def matches(self, text: str) -> list[HotlistHit]:
        """Every listed plate within max_distance of text, nearest first (equally near: in list order)."""
        query = normalize_plate(text)
        if not query:
            return []
        # No two strings are more edits apart than the longer one's length, so a larger limit finds the same
        # plates; clamping keeps the native search's int arithmetic from overflowing (2**31 - 1 did).
        limit = min(self.max_distance, max(len(query), self._longest))
        return [HotlistHit(self.plates[i], d) for i, d in self._index.search(query, limit)]

    def match(self, text: str) -> HotlistHit | None:
        """The nearest listed plate, or None. Of plates equally near, the one listed first is returned; use
        `matches` to see them all (a read 1 edit from two wanted plates names both there)."""
        hits = self.matches(text)
        return hits[0] if hits else None


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute all cost 1)."""
    return int(core.plates_edit_distance(a, b))
