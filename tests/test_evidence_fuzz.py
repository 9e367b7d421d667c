"""Fuzzing the manifest and exhibit parsers: random and mutated JSON must only ever raise ManifestError.

Drives fuzz/fuzz_manifest.py's check_one() (the atheris harness) with hypothesis, briefly, on every run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kuzet.evidence as ev

_spec = importlib.util.spec_from_file_location(
    "fuzz_manifest", Path(__file__).parent.parent / "fuzz/fuzz_manifest.py"
)
assert _spec and _spec.loader
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)


@pytest.fixture(scope="module")
def sealed(data_dir: Path) -> ev.Manifest:
    key = ev.generate_keypair()
    return ev.seal(data_dir / "faces/video/short_hamilton_clip.mp4", private_key=key, target_duration_s=1.0)


def _json_values() -> st.SearchStrategy:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    )


def _mutate_tree(doc: object, data: st.DataObject) -> object:
    """Replaces or deletes one randomly chosen node of a JSON document."""
    node, parents = doc, []
    for _ in range(data.draw(st.integers(0, 4))):
        if isinstance(node, dict) and node:
            k = data.draw(st.sampled_from(sorted(node)))
        elif isinstance(node, list) and node:
            k = data.draw(st.integers(0, len(node) - 1))
        else:
            break
        parents.append((node, k))
        node = node[k]
    if not parents:
        return data.draw(_json_values())
    container, k = parents[-1]
    if data.draw(st.booleans()):
        container[k] = data.draw(_json_values())
    elif isinstance(container, dict):
        del container[k]
    else:
        container.pop(k)
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    harness.check_one(data)
    with pytest.raises(ev.ManifestError):
        ev.parse_manifest(data)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_manifests(sealed: ev.Manifest, data: st.DataObject) -> None:
    harness.check_one(json.dumps(_mutate_tree(json.loads(sealed.dumps()), data)).encode())


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_exhibits(sealed: ev.Manifest, data: st.DataObject) -> None:
    harness.check_one(json.dumps(_mutate_tree(ev.make_exhibit(sealed, 3), data)).encode())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_byte_level_mutations(sealed: ev.Manifest, data: st.DataObject) -> None:
    text = bytearray(sealed.dumps().encode())
    for _ in range(data.draw(st.integers(1, 4))):
        text[data.draw(st.integers(0, len(text) - 1))] = data.draw(st.integers(0, 255))
    harness.check_one(bytes(text))
