"""Carries the GPU check's payload to a lent GPU machine in as few device calls as possible.

The device tool moves at most 64 MiB a call (the working tree included), and a warm machine keeps what earlier
calls brought only while it stays warm (30 s after each call). `pack` (here) cuts an ordered list of items (the
prebuilt CUDA module, the test data, the models, onnxruntime-gpu, ...) into call folders of at most `cap` bytes,
splitting an item across calls where it must, so no call travels half empty; the order is the order in which
the GPU check can use them, so each call can already run what its items allow. `receive` (there, at the start of
every call) moves the chunks a call brought into a store outside the working tree, and rebuilds, checks
(sha256) and unpacks each item whose chunks have all arrived.

  python3 scripts/gpu_payload.py pack --out .gpu/calls --cap-mib 60 core=.gpu/items/core.tar.xz data=...
  python3 scripts/gpu_payload.py receive --calls .gpu/calls --store /tmp/kuzet-gpu
  python3 scripts/gpu_payload.py ready --store /tmp/kuzet-gpu core data    (exit 0 when all are unpacked)

Every call folder holds the whole plan (plan.json), so whichever call arrives first says what is still to come.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

PLAN = "plan.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def plan_calls(sizes: list[tuple[str, int]], cap: int) -> list[list[tuple[str, int, int]]]:
    """The items, in order, cut into calls of at most `cap` bytes: per call a list of (item, offset, length)."""
    if cap <= 0:
        raise ValueError("the cap must be positive")
    calls: list[list[tuple[str, int, int]]] = [[]]
    room = cap
    for name, size in sizes:
        offset = 0
        while True:
            if room == 0:
                calls.append([])
                room = cap
            length = min(room, size - offset)
            calls[-1].append((name, offset, length))
            offset += length
            room -= length
            if offset == size:
                break
    return calls


def pack(items: list[tuple[str, Path]], out: Path, cap: int) -> dict[str, Any]:
    """Writes out/call1..callN (chunks named ITEM.OFFSET, plus plan.json in each) and returns the plan."""
    names = [n for n, _ in items]
    if len(set(names)) != len(names) or any(not n.replace("-", "").replace("_", "").isalnum() for n in names):
        raise ValueError(f"item names must be distinct words: {names}")
    sizes = [(n, p.stat().st_size) for n, p in items]
    calls = plan_calls(sizes, cap)
    paths = dict(items)
    plan: dict[str, Any] = {
        "items": {n: {"file": paths[n].name, "size": s, "sha256": _sha256(paths[n])} for n, s in sizes},
        "calls": [[{"item": n, "offset": o, "length": ln} for n, o, ln in call] for call in calls],
    }
    if out.exists():
        shutil.rmtree(out)
    for k, call in enumerate(calls, start=1):
        folder = out / f"call{k}"
        folder.mkdir(parents=True)
        for name, offset, length in call:
            with paths[name].open("rb") as src, (folder / f"{name}.{offset}").open("wb") as dst:
                src.seek(offset)
                dst.write(src.read(length))
        (folder / PLAN).write_text(json.dumps(plan, indent=1))
    return plan


def _unpack(archive: Path, into: Path) -> None:
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    if archive.name.endswith((".tar", ".tar.xz", ".tar.gz", ".tgz")):
        subprocess.run(["tar", "-xf", str(archive), "-C", str(into)], check=True)
        archive.unlink()
    else:  # a single file (a program): kept as it is, executable
        target = into / archive.name
        archive.replace(target)
        target.chmod(0o755)


def receive(calls: Path, store: Path) -> dict[str, Any]:
    """Takes in the call folders found under `calls`; rebuilds and unpacks every complete item. Returns the
    status: ready items, and for each other item the calls whose chunks have not arrived."""
    chunks, done = store / "chunks", store / "done"
    chunks.mkdir(parents=True, exist_ok=True)
    done.mkdir(parents=True, exist_ok=True)
    plan_file = store / PLAN
    for folder in sorted(calls.glob("call*")) if calls.is_dir() else []:
        brought = folder / PLAN
        if not brought.is_file():
            continue
        plan = json.loads(brought.read_text())
        if plan_file.is_file() and json.loads(plan_file.read_text()) != plan:
            raise SystemExit(f"{folder} belongs to another payload than the one already received in {store}: "
                             "start again from call1 on a fresh machine, or clear the store")
        plan_file.write_text(json.dumps(plan, indent=1))
        for chunk in folder.iterdir():
            if chunk.name != PLAN:
                shutil.move(chunk, chunks / chunk.name)  # moved: a call folder left there is not taken twice
    if not plan_file.is_file():
        return {"ready": [], "missing": {}, "problem": f"no payload has arrived (no {calls}/call*/{PLAN})"}
    plan = json.loads(plan_file.read_text())
    where: dict[str, list[tuple[int, int, int]]] = {}
    for k, call in enumerate(plan["calls"], start=1):
        for c in call:
            where.setdefault(c["item"], []).append((k, c["offset"], c["length"]))
    status: dict[str, Any] = {"ready": [], "missing": {}, "problem": None}
    for name, info in plan["items"].items():
        if (done / name).is_file():
            status["ready"].append(name)
            continue
        absent = sorted({k for k, offset, _ in where[name] if not (chunks / f"{name}.{offset}").is_file()})
        if absent:
            status["missing"][name] = absent
            continue
        whole = store / info["file"]
        with whole.open("wb") as dst:
            for _, offset, length in where[name]:
                part = chunks / f"{name}.{offset}"
                if part.stat().st_size != length:
                    raise SystemExit(f"{name}: the chunk at {offset} has {part.stat().st_size} bytes, not {length}")
                dst.write(part.read_bytes())
        if _sha256(whole) != info["sha256"]:
            whole.unlink()
            raise SystemExit(f"{name}: the rebuilt {info['file']} does not match its sha256: carry its calls again "
                             f"({', '.join(f'call{k}' for k, _, _ in where[name])})")
        for _, offset, _ in where[name]:
            (chunks / f"{name}.{offset}").unlink()
        _unpack(whole, store / name)
        (done / name).write_text(info["sha256"])
        status["ready"].append(name)
    highest = max((k for k in range(1, len(plan["calls"]) + 1)
                   if any((chunks / f"{c['item']}.{c['offset']}").is_file() or (done / c["item"]).is_file()
                          for c in plan["calls"][k - 1])), default=0)
    gaps = sorted({k for ks in status["missing"].values() for k in ks if k < highest})
    if gaps:
        status["problem"] = (f"call(s) {', '.join(map(str, gaps))} never arrived although call{highest} did: the "
                             "machine went cold between calls (start again from call1) or a call was skipped")
    return status


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cap-mib", type=float, required=True)
    p.add_argument("items", nargs="+", help="NAME=FILE, in the order the GPU check uses them")
    r = sub.add_parser("receive")
    r.add_argument("--calls", type=Path, required=True)
    r.add_argument("--store", type=Path, required=True)
    q = sub.add_parser("ready")
    q.add_argument("--store", type=Path, required=True)
    q.add_argument("items", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "pack":
        items = [(spec.split("=", 1)[0], Path(spec.split("=", 1)[1])) for spec in args.items]
        plan = pack(items, args.out, int(args.cap_mib * (1 << 20)))
        for k, call in enumerate(plan["calls"], start=1):
            mib = sum(c["length"] for c in call) / (1 << 20)
            print(f"call{k}: {mib:5.1f} MiB  " + ", ".join(f"{c['item']}" for c in call))
        return 0
    if args.command == "receive":
        status = receive(args.calls, args.store)
        print(json.dumps(status))
        return 1 if status["problem"] else 0
    return 0 if all((args.store / "done" / name).is_file() for name in args.items) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
