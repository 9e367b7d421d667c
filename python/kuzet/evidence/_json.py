"""Strict readers for JSON values: each failure is a ManifestError naming the offending field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kuzet.evidence.errors import ManifestError


def require_object(
    value: Any, where: str, keys: set[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(value).__name__}")
    missing = keys - value.keys()
    if missing:
        raise ManifestError(f"{where}: missing field(s) {sorted(missing)}")
    unknown = value.keys() - keys - optional
    if unknown:
        raise ManifestError(f"{where}: unknown field(s) {sorted(unknown)}")
    return value


def require_int(
    obj: Mapping[str, Any],
    key: str,
    where: str,
    *,
    minimum: int | None = 0,
    maximum: int = 2**63 - 1,
    nullable: bool = False,
) -> Any:
    value = obj[key]
    if value is None and nullable:
        return None
    # bool is an int subclass in Python; a JSON true is not a number here.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ManifestError(f"{where}.{key}: expected an integer, got {type(value).__name__}")
    low = -(2**63) if minimum is None else minimum
    if not low <= value <= maximum:
        raise ManifestError(f"{where}.{key}: {value} is out of range [{low}, {maximum}]")
    return value


def require_str(obj: Mapping[str, Any], key: str, where: str, *, max_len: int = 4096) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise ManifestError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise ManifestError(f"{where}.{key}: longer than {max_len} characters")
    try:
        value.encode("utf-8")  # signed bytes are UTF-8: a lone surrogate ("\ud800") has none
    except UnicodeEncodeError:
        raise ManifestError(f"{where}.{key}: not valid Unicode text (a lone surrogate)") from None
    return value


def loads_strict(text: str | bytes, what: str) -> Any:
    """JSON with every object's keys unique: with a key twice, readers disagree on which value counts (Python
    takes the last, others the first), so a signed document could show a reader text nobody signed."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            twice = sorted({k for k in keys if keys.count(k) > 1})
            raise ManifestError(f"{what} has a key more than once in one object: {twice}")
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=unique)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError; ManifestError is not
        raise ManifestError(f"{what} is not valid JSON: {exc}") from None


def require_hex(obj: Mapping[str, Any], key: str, where: str, *, size: int) -> bytes:
    text = require_str(obj, key, where, max_len=2 * size)
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ManifestError(f"{where}.{key}: not a hex string") from None
    if len(raw) != size or text != raw.hex():
        raise ManifestError(f"{where}.{key}: expected {size} bytes as lowercase hex")
    return raw


def require_list(obj: Mapping[str, Any], key: str, where: str, *, max_len: int = 10_000_000) -> list[Any]:
    value = obj[key]
    if not isinstance(value, list):
        raise ManifestError(f"{where}.{key}: expected a JSON array, got {type(value).__name__}")
    if len(value) > max_len:
        raise ManifestError(f"{where}.{key}: more than {max_len} entries")
    return value


def require_literal(obj: Mapping[str, Any], key: str, where: str, expected: object) -> None:
    if obj[key] != expected or type(obj[key]) is not type(expected):
        raise ManifestError(f"{where}.{key}: expected {expected!r}, got {obj[key]!r}")
