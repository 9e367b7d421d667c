"""Mutation fuzzing of the untrusted-media parsers: the decoder (from bytes and from a file, sequential reading
and exact seeking, both error policies) and the evidence segmenter.

    PYTHONPATH=python python3 fuzz/fuzz_containers.py --data ../shared/data --minutes 30 --out /tmp/fuzz

Inputs are small real files damaged by flipping bytes, cutting, duplicating, zeroing and splicing. The only
acceptable outcome for any input is frames, or a kuzet error with a message; anything else (another exception
type, an empty message, a crash or sanitizer report in the native module, a hang) is a bug. The campaign runs
the cases in a worker process that a supervisor restarts: an input that kills the worker or makes it hang is
kept in `--out` (`crash-N.<ext>` with the worker's output beside it) and the campaign goes on. Run it with the
ASan/UBSan build (scripts/test.sh shows how) to catch memory errors that do not crash.

tests/test_fuzz_containers.py drives mutate() and check_one() deterministically on every test run.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import kuzet
from kuzet.evidence import EvidenceError, segment_file

# Seeds of the campaign: every small media file of the conformance folder (the test uses a fixed subset).
SEED_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".flv", ".3gp", ".ivf", ".264", ".265", ".avc", ".ts"}
MAX_SEED_BYTES = 300_000
CASE_TIMEOUT_S = 60  # a case still running after this is a hang (the slowest legitimate case takes ~2 s)


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(("flip", "cut", "dup", "zero", "splice"))
        if not buf:
            break
        i = rng.randrange(len(buf))
        if op == "flip":
            for _ in range(rng.randint(1, 8)):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif op == "cut":
            del buf[i:]
        elif op == "dup":
            j = min(len(buf), i + rng.randint(1, 256))
            buf[i:i] = buf[i:j]
        elif op == "zero":
            buf[i : i + rng.randint(1, 64)] = bytes(min(len(buf) - i, 64))[: rng.randint(1, 64)]
        else:
            buf[i : i + 16] = rng.randbytes(16)
    return bytes(buf)


def _decode_all(source: bytes | Path, errors: str) -> int:
    with kuzet.VideoReader(source, device="cpu", errors=errors, timeout=5) as reader:  # type: ignore[arg-type]
        return sum(1 for _ in reader)


def _seek_some(path: Path, rng: random.Random) -> None:
    """Exact seeking builds the frame index and decodes from key frames: a path sequential reading skips."""
    with kuzet.VideoReader(path, device="cpu", errors="skip", timeout=5) as reader:
        count = len(reader.frame_pts())
        if count > 0:
            reader.get_frames(sorted(rng.sample(range(count), min(3, count))))


def check_one(data: bytes, path: Path, rng: random.Random) -> dict[str, int]:
    """Runs one damaged input through every parser (written to `path` for the file-based ones). Returns how
    many runs decoded and how many were refused with a kuzet error; anything else propagates (a bug)."""
    path.write_bytes(data)
    outcomes = {"decoded": 0, "refused": 0}
    for source, errors in ((data, "skip"), (data, "raise"), (path, "raise")):
        try:
            _decode_all(source, errors)
            outcomes["decoded"] += 1
        except kuzet.DecodeError as exc:
            assert str(exc), "empty error message"
            outcomes["refused"] += 1
    try:
        _seek_some(path, rng)
    except (kuzet.DecodeError, kuzet.InvalidArgument) as exc:
        # InvalidArgument: the index from the packets proved wrong and decoding found fewer frames
        assert str(exc), "empty error message"
    try:
        result = segment_file(path)
        assert result.error is None or (isinstance(result.error, str) and result.error)
    except EvidenceError as exc:
        assert str(exc), "empty error message"
    return outcomes


def find_seeds(data_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in (data_dir / "conformance").rglob("*")
        if p.is_file() and p.suffix.lower() in SEED_SUFFIXES and p.stat().st_size <= MAX_SEED_BYTES
    )


def worker(seeds: list[Path], out: Path, rng_seed: int, deadline: float) -> None:
    """Runs cases until the deadline. The case being run is always in out/current.* so that the supervisor
    can keep it if this process dies; a case that hangs makes faulthandler end the process with a traceback."""
    rng = random.Random(rng_seed)
    originals = {seed: seed.read_bytes() for seed in seeds}
    cases = 0
    while time.time() < deadline:
        seed = rng.choice(seeds)
        data = mutate(originals[seed], rng)
        for previous in out.glob("current.*"):
            previous.unlink()
        current = out / f"current{seed.suffix}"
        (out / "current.seed").write_text(f"{seed}\n")
        faulthandler.dump_traceback_later(CASE_TIMEOUT_S, exit=True)
        try:
            check_one(data, current, rng)
        except Exception as exc:  # not a kuzet error: a bug; keep the input and stop this worker
            print(f"BUG {type(exc).__name__}: {exc}", flush=True)
            raise
        finally:
            faulthandler.cancel_dump_traceback_later()
        cases += 1
        if cases % 100 == 0:
            print(f"cases {cases}", flush=True)  # kept by the supervisor even if a later case kills this worker
    print(f"cases {cases}", flush=True)


def supervise(seeds: list[Path], out: Path, minutes: float) -> int:
    deadline = time.time() + 60 * minutes
    found = 0
    rng_seed = int(time.time())
    cases = 0
    while time.time() < deadline:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", str(rng_seed), "--deadline", str(deadline), "--out", str(out),
             *map(str, seeds)],
            capture_output=True, text=True, check=False,
        )
        counts = [int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("cases ")]
        cases += counts[-1] if counts else 0
        if proc.returncode != 0:
            kept = [p for p in out.glob("current.*") if p.suffix != ".seed"]
            for case in kept:
                found += 1
                target = out / f"crash-{found}{case.suffix}"
                shutil.move(case, target)
                seed = (out / "current.seed").read_text().strip()
                (out / f"crash-{found}.log").write_text(
                    f"seed file: {seed}\nexit status: {proc.returncode}\n\n{proc.stdout}\n{proc.stderr}"
                )
                print(f"kept {target} (exit status {proc.returncode}, seed {seed})", flush=True)
        rng_seed += 1
    print(f"{cases} cases run; {found} failing inputs kept in {out}")
    return 1 if found else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("KUZET_DATA_DIR", "../shared/data")))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("fuzz-out"))
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument("seeds", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.worker is not None:
        worker(args.seeds, args.out, args.worker, args.deadline)
        return 0
    seeds = find_seeds(args.data)
    if not seeds:
        parser.error(f"no seed media under {args.data / 'conformance'}")
    print(f"{len(seeds)} seed files, {args.minutes} minutes, failing inputs go to {args.out}", flush=True)
    return supervise(seeds, args.out, args.minutes)


if __name__ == "__main__":
    sys.exit(main())
