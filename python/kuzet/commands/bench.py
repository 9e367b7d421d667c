"""`kuzet bench`: a quick throughput check of this machine, each figure beside its baseline from the same run.

The pytest-benchmark suite in the repository's bench/ folder is the thorough version; this command needs only
the installed package, FFmpeg's command-line tools and the model directory.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kuzet.errors import KuzetError


def _make_clip(folder: Path, seconds: int, size: str) -> Path:
    clip = folder / f"testsrc2_{size}.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30", "-t", str(seconds),
                    "-c:v", "libx264", "-g", "60", "-pix_fmt", "yuv420p", str(clip)], check=True)
    return clip


def _ffmpeg_null_fps(clip: Path, frames: int) -> float:
    start = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip), "-f", "null", "-"], check=True)
    return frames / (time.perf_counter() - start)


def _kuzet_decode_fps(clip: Path, layout: str) -> tuple[float, int]:
    from kuzet.video import VideoReader

    start = time.perf_counter()
    with VideoReader(clip, device="cpu", layout=layout) as reader:  # type: ignore[arg-type]
        frames = sum(1 for _ in reader)
    return frames / (time.perf_counter() - start), frames


def _segment_mb_s(clip: Path) -> float:
    from kuzet.evidence import segment_file

    start = time.perf_counter()
    segment_file(clip)
    return clip.stat().st_size / 1e6 / (time.perf_counter() - start)


def _pipeline_fps(clip: Path, sources: int, args: argparse.Namespace) -> float:
    from kuzet.pipeline import Pipeline

    pipeline = Pipeline(("faces", "plates"), device=args.device, model_dir=args.model_dir, max_batch=16)
    start = time.perf_counter()
    for _ in pipeline.run([str(clip)] * sources):
        pass
    analysed = sum(s.analysed for s in pipeline.metrics.sources.values())
    return analysed / (time.perf_counter() - start)


def run(args: argparse.Namespace) -> int:
    if shutil.which("ffmpeg") is None:
        print("kuzet bench: needs FFmpeg's command-line tool `ffmpeg` for its test clips and baseline",
              file=sys.stderr)
        return 2
    if args.seconds < 1 or min(args.sources) < 1:
        print("kuzet bench: --seconds and --sources must be whole numbers >= 1", file=sys.stderr)
        return 2
    try:
        if not args.no_models:  # the models first: a missing one is said before minutes of decoding
            from kuzet.models import get_spec, resolve_model
            from kuzet.models.registry import DEFAULTS

            for name in DEFAULTS.values():
                resolve_model(get_spec(name), model_dir=args.model_dir)
        return _measure(args)
    except (KuzetError, subprocess.CalledProcessError) as exc:
        print(f"kuzet bench: {exc}", file=sys.stderr)
        return 1


def _measure(args: argparse.Namespace) -> int:
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = _make_clip(Path(tmp), args.seconds, "1920x1080")
        yuv_fps, frames = _kuzet_decode_fps(clip, "yuv420p")
        ffmpeg_fps = _ffmpeg_null_fps(clip, frames)
        rows.append(("decode 1080p H.264, raw YUV", f"{yuv_fps:.0f} fps", f"ffmpeg -f null {ffmpeg_fps:.0f} fps",
                     f"{yuv_fps / ffmpeg_fps:.2f}x"))
        rgb_fps, _ = _kuzet_decode_fps(clip, "rgb")
        rows.append(("decode 1080p H.264, RGB numpy", f"{rgb_fps:.0f} fps", f"ffmpeg -f null {ffmpeg_fps:.0f} fps",
                     f"{rgb_fps / ffmpeg_fps:.2f}x"))
        mb_s = _segment_mb_s(clip)
        bitrate_mb_s = clip.stat().st_size / 1e6 / args.seconds
        rows.append(("evidence: segment + SHA-256", f"{mb_s:.0f} MB/s", f"one camera {bitrate_mb_s:.2f} MB/s",
                     f"{mb_s / bitrate_mb_s:.0f} cameras"))
        if not args.no_models:
            small = _make_clip(Path(tmp), args.seconds, "1280x720")
            for n in args.sources:
                fps = _pipeline_fps(small, n, args)
                rows.append((f"faces+plates, {n} source(s) 720p", f"{fps:.1f} fps", "30 fps per camera",
                             f"{fps / 30:.2f} cameras"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':{width}}  {'kuzet':>12}  {'baseline (same run)':>28}  ratio")
    for name, value, baseline, ratio in rows:
        print(f"{name:{width}}  {value:>12}  {baseline:>28}  {ratio}")
    return 0


def add_subcommand(subparsers: Any) -> None:
    p = subparsers.add_parser("bench", help="quick throughput check of this machine against baselines",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=10, help="length of the generated test clips (default 10)")
    p.add_argument("--sources", type=int, nargs="+", default=[1, 4], help="source counts for the pipeline")
    p.add_argument("--no-models", action="store_true", help="skip the face/plate pipeline (no model directory)")
    p.add_argument("--model-dir", help="directory of the model files (default: $KUZET_MODEL_DIR, user cache)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)
