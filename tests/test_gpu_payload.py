"""scripts/gpu_payload.py: the GPU check's payload, cut into device calls here and rebuilt there. A lent GPU
machine is rare and short (15 minutes), so the carrying must work the first time: packed and received here,
call by call, with the failures a lease can bring (a cold machine between calls, a damaged chunk)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu_payload.py"
_spec = importlib.util.spec_from_file_location("gpu_payload", SCRIPT)
assert _spec is not None and _spec.loader is not None
payload = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(payload)


def test_plan_fills_every_call_but_the_last_to_the_cap():
    calls = payload.plan_calls([("core", 50), ("data", 25), ("ort", 100), ("empty", 0)], cap=60)
    assert [sum(length for _, _, length in call) for call in calls] == [60, 60, 55]
    assert calls[0] == [("core", 0, 50), ("data", 0, 10)]
    assert calls[1] == [("data", 10, 15), ("ort", 0, 45)]
    assert calls[2] == [("ort", 45, 55), ("empty", 0, 0)]
    with pytest.raises(ValueError):
        payload.plan_calls([("a", 1)], cap=0)


@pytest.fixture()
def items(tmp_path: Path) -> list[tuple[str, Path]]:
    """An archive, a program and an archive of random bytes, in the order a GPU check would use them."""
    src = tmp_path / "src"
    (src / "core" / "libs").mkdir(parents=True)
    (src / "core" / "_core.so").write_bytes(os.urandom(3000))
    (src / "core" / "libs" / "libavcodec.so.59").write_bytes(os.urandom(2000))
    core = tmp_path / "core.tar.xz"
    with tarfile.open(core, "w:xz") as tar:
        tar.add(src / "core", arcname=".")
    tool = tmp_path / "ffmpeg"
    tool.write_bytes(os.urandom(1500))
    (src / "ort" / "onnxruntime").mkdir(parents=True)
    (src / "ort" / "onnxruntime" / "capi.so").write_bytes(os.urandom(9000))
    ort = tmp_path / "ort.tar"
    with tarfile.open(ort, "w") as tar:
        tar.add(src / "ort", arcname=".")
    return [("core", core), ("tools", tool), ("ort", ort)]


def carry(calls: Path, there: Path, k: int) -> None:
    """What one device call does to the working tree there: call k's folder arrives (earlier ones stay)."""
    shutil.copytree(calls / f"call{k}", there / f"call{k}")


def test_items_arrive_call_by_call_and_unpack_once_complete(tmp_path, items):
    calls, there, store = tmp_path / "calls", tmp_path / "there", tmp_path / "store"
    plan = payload.pack(items, calls, cap=4096)
    n = len(plan["calls"])
    assert n >= 4 and all(sum(c["length"] for c in call) == 4096 for call in plan["calls"][:-1])
    seen_ready = []
    for k in range(1, n + 1):
        carry(calls, there, k)
        status = payload.receive(there, store)
        assert status["problem"] is None
        seen_ready.append(list(status["ready"]))
        assert not list((there / f"call{k}").glob("*.*[0-9]"))  # its chunks were moved into the store
    assert seen_ready[-1] == ["core", "tools", "ort"]
    assert seen_ready[0] == []  # the core archive is larger than one call
    assert (store / "core" / "libs" / "libavcodec.so.59").read_bytes() == (
        tmp_path / "src" / "core" / "libs" / "libavcodec.so.59").read_bytes()
    assert (store / "tools" / "ffmpeg").read_bytes() == items[1][1].read_bytes()
    assert os.access(store / "tools" / "ffmpeg", os.X_OK)
    assert (store / "ort" / "onnxruntime" / "capi.so").stat().st_size == 9000
    assert not list((store / "chunks").iterdir())
    assert payload.main(["ready", "--store", str(store), "core", "ort"]) == 0
    # a call received again (its folder left there) changes nothing
    assert payload.receive(there, store)["ready"] == ["core", "tools", "ort"]


def test_a_cold_machine_between_calls_is_named(tmp_path, items):
    calls, there, store = tmp_path / "calls", tmp_path / "there", tmp_path / "store"
    n = len(payload.pack(items, calls, cap=4096)["calls"])
    carry(calls, there, 1)
    payload.receive(there, store)
    fresh, fresh_store = tmp_path / "fresh", tmp_path / "fresh-store"  # the machine went back; a new one
    carry(calls, fresh, n)
    status = payload.receive(fresh, fresh_store)
    assert status["problem"] and "went cold" in status["problem"] and "call1" in status["problem"]
    assert "core" in status["missing"] and 1 in status["missing"]["core"]
    assert payload.main(["ready", "--store", str(fresh_store), "core"]) == 1


def test_a_damaged_chunk_is_refused_and_its_calls_named(tmp_path, items):
    calls, there, store = tmp_path / "calls", tmp_path / "there", tmp_path / "store"
    n = len(payload.pack(items, calls, cap=4096)["calls"])
    first = sorted((calls / "call1").glob("core.*"))[0]
    data = bytearray(first.read_bytes())
    data[100] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(SystemExit, match=r"core: the rebuilt core.tar.xz does not match its sha256.*call1"):
        for k in range(1, n + 1):
            carry(calls, there, k)
            payload.receive(there, store)


def test_another_payload_is_not_mixed_in(tmp_path, items):
    calls, there, store = tmp_path / "calls", tmp_path / "there", tmp_path / "store"
    payload.pack(items, calls, cap=4096)
    carry(calls, there, 1)
    payload.receive(there, store)
    items[1][1].write_bytes(b"another build")
    other, there2 = tmp_path / "other", tmp_path / "there2"
    payload.pack(items, other, cap=4096)
    carry(other, there2, 1)
    with pytest.raises(SystemExit, match="another payload"):
        payload.receive(there2, store)


def test_nothing_arrived_is_a_problem_not_a_crash(tmp_path):
    status = payload.receive(tmp_path / "nowhere", tmp_path / "store")
    assert status["ready"] == [] and "no payload has arrived" in status["problem"]
    with pytest.raises(ValueError, match="distinct words"):
        payload.pack([("a b", tmp_path)], tmp_path / "out", cap=10)
