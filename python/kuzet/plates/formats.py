"""Regional plate formats and confusion resolution (O/0, I/1, Z/2, G/6, B/8, S/5).

A format is a small regex-like pattern: literal characters, `\\d` (digit), `[A-Z]` / `[0-9A-Z]` style classes,
`.` (any plate character) and `{n}` / `{m,n}` quantifiers. A read is resolved against the formats by swapping
a confusable character ONLY at positions where the format demands the other kind (a digit where a letter was
read, or the reverse). Characters are never invented or dropped: a read whose length no format allows is left
unchanged and has no format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kuzet.errors import InvalidArgument

# Letter read where a digit belongs -> the digit, and the reverse.
LETTER_TO_DIGIT = {"O": "0", "I": "1", "Z": "2", "G": "6", "B": "8", "S": "5"}
DIGIT_TO_LETTER = {d: c for c, d in LETTER_TO_DIGIT.items()}

_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ANY = _DIGITS | _LETTERS

# Built-in formats by region code (current national formats; caller formats can be added by pattern).
BUILTIN_FORMATS: dict[str, tuple[str, ...]] = {
    "uk": (r"[A-Z]{2}\d{2}[A-Z]{3}",),
    "kz": (r"\d{3}[A-Z]{2,3}\d{2}",),
    "it": (r"[A-Z]{2}\d{3}[A-Z]{2}",),
    "fr": (r"[A-Z]{2}\d{3}[A-Z]{2}",),
    "es": (r"\d{4}[A-Z]{3}",),
    "nl": (r"[A-Z]{2}\d{3}[A-Z]", r"\d[A-Z]{3}\d{2}", r"[A-Z]{2}\d{2}[A-Z]{2}", r"\d{2}[A-Z]{3}\d"),
    "cz": (r"\d[A-Z]{2}\d{4}", r"\d[A-Z]\d{5}"),
    "pl": (r"[A-Z]{2}\d{5}", r"[A-Z]{3}\d{4}", r"[A-Z]{3}\d{2}[A-Z]{2}"),
}

_TOKEN = re.compile(r"\\d|\[[^\]]+\]|\.|[0-9A-Z]")
_QUANT = re.compile(r"\{(\d+)(?:,(\d+))?\}")


def _parse_class(token: str, pattern: str) -> frozenset[str]:
    if token == r"\d":
        return _DIGITS
    if token == ".":
        return _ANY
    if token.startswith("["):
        body, chars = token[1:-1], set()
        for m in re.finditer(r"(.)-(.)|(.)", body):
            if m.group(3) is not None:
                chars.add(m.group(3))
            else:
                lo, hi = m.group(1), m.group(2)
                if lo > hi:
                    raise InvalidArgument(f"plate format {pattern!r}: bad range {lo}-{hi}")
                chars.update(chr(c) for c in range(ord(lo), ord(hi) + 1))
        unknown = chars - _ANY
        if unknown:
            raise InvalidArgument(f"plate format {pattern!r}: {sorted(unknown)} are not plate characters [0-9A-Z]")
        return frozenset(chars)
    return frozenset(token)  # a literal character


@dataclass(frozen=True)
class PlateFormat:
    """One compiled pattern: a sequence of (allowed characters, min repeat, max repeat)."""

    name: str
    pattern: str
    parts: tuple[tuple[frozenset[str], int, int], ...]

    @classmethod
    def compile(cls, pattern: str, *, name: str | None = None) -> PlateFormat:
        parts: list[tuple[frozenset[str], int, int]] = []
        pos = 0
        while pos < len(pattern):
            token = _TOKEN.match(pattern, pos)
            if token is None:
                raise InvalidArgument(
                    f"plate format {pattern!r}: cannot parse at position {pos} ({pattern[pos:]!r}); use "
                    r"literals [0-9A-Z], \d, [A-Z]-style classes, '.' and {n} or {m,n}"
                )
            pos = token.end()
            lo = hi = 1
            quant = _QUANT.match(pattern, pos)
            if quant is not None:
                lo = int(quant.group(1))
                hi = int(quant.group(2)) if quant.group(2) is not None else lo
                if hi < lo:
                    raise InvalidArgument(f"plate format {pattern!r}: quantifier {quant.group(0)} has max < min")
                pos = quant.end()
            parts.append((_parse_class(token.group(0), pattern), lo, hi))
        if not parts:
            raise InvalidArgument("a plate format must not be empty")
        return cls(name or pattern, pattern, tuple(parts))

    def layouts(self, length: int) -> list[tuple[frozenset[str], ...]]:
        """Every per-position class sequence of exactly `length` characters this format allows."""
        found: list[tuple[frozenset[str], ...]] = []

        def expand(i: int, prefix: tuple[frozenset[str], ...]) -> None:
            if i == len(self.parts):
                if len(prefix) == length:
                    found.append(prefix)
                return
            allowed, lo, hi = self.parts[i]
            for count in range(lo, hi + 1):
                if len(prefix) + count > length:
                    break
                expand(i + 1, prefix + (allowed,) * count)

        expand(0, ())
        return found


@dataclass(frozen=True)
class Resolution:
    text: str
    format: str | None  # name of the format the text fits, None when it fits none
    substitutions: int  # confusable characters swapped to fit it


def _fit(text: str, layout: Sequence[frozenset[str]]) -> tuple[str, int] | None:
    out, swaps = [], 0
    for ch, allowed in zip(text, layout, strict=True):
        if ch in allowed:
            out.append(ch)
            continue
        swapped = LETTER_TO_DIGIT.get(ch) or DIGIT_TO_LETTER.get(ch)
        if swapped is None or swapped not in allowed:
            return None
        out.append(swapped)
        swaps += 1
    return "".join(out), swaps


class FormatSet:
    """The formats a pipeline resolves reads against (region codes from BUILTIN_FORMATS or raw patterns)."""

    def __init__(self, formats: Iterable[str] = ()):
        compiled: list[PlateFormat] = []
        for spec in formats:
            if not isinstance(spec, str) or not spec:
                raise InvalidArgument(f"plate formats must be region codes or patterns, got {spec!r}")
            region = BUILTIN_FORMATS.get(spec.lower())
            if region is not None:
                compiled += [PlateFormat.compile(p, name=spec.lower()) for p in region]
            else:
                compiled.append(PlateFormat.compile(spec))
        self.formats: tuple[PlateFormat, ...] = tuple(compiled)

    def __bool__(self) -> bool:
        return bool(self.formats)

    def resolve(self, text: str) -> Resolution:
        """The fit needing the fewest swaps; on a tie between different results the text stays as read. A fit
        that would swap more than a third of the characters is no fit: the text was not read as such a plate
        (e.g. '0000000' is not 'OO00OOO', a UK plate), and resolving it would make a plate up."""
        best: list[tuple[str, str, int]] = []
        most_swaps = max(1, len(text) // 3)
        for fmt in self.formats:
            for layout in fmt.layouts(len(text)):
                fit = _fit(text, layout)
                if fit is None or fit[1] > most_swaps:
                    continue
                if not best or fit[1] < best[0][2]:
                    best = [(fit[0], fmt.name, fit[1])]
                elif fit[1] == best[0][2]:
                    best.append((fit[0], fmt.name, fit[1]))
        if not best:
            return Resolution(text, None, 0)
        if len({b[0] for b in best}) > 1:  # ambiguous: two formats want different characters
            return Resolution(text, None, 0)
        return Resolution(*best[0])
