"""Shared helpers for the decode tests: reference data from the shared data set and the FFmpeg CLIs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np

import kuzet

FFPROBE_TIMEOUT_S = 60
REPO = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    """The data directory the `data_dir` fixture uses, for building test parameters at collection time."""
    return Path(os.environ.get("KUZET_DATA_DIR", REPO.parent / "shared" / "data")).resolve()


def open_reader(source: object, **kwargs: object) -> kuzet.VideoReader:
    """A CPU reader without the 'auto fell back to CPU' warning (tested on its own)."""
    kwargs.setdefault("device", "cpu")
    return kuzet.VideoReader(source, **kwargs)  # type: ignore[arg-type]


def data_md_probes(data_dir: Path) -> dict[str, dict[str, object]]:
    """Per file: codec, width, height and decoded frame count from DATA.md's ffprobe column."""
    probes: dict[str, dict[str, object]] = {}
    row = re.compile(r"^\| `([^`]+)` \|[^|]*\|[^|]*\| ([^|]*) \|")
    for line in (data_dir / "DATA.md").read_text().splitlines():
        m = row.match(line)
        if not m or not m.group(2).strip():
            continue
        path, probe = m.group(1), m.group(2).strip()
        info: dict[str, object] = {"codec": probe.split()[0].rstrip(",")}
        size = re.search(r"(\d+)x(\d+)", probe)
        if size:
            info["width"], info["height"] = int(size.group(1)), int(size.group(2))
        count = re.search(r"(\d+) frames", probe)
        info["frames"] = int(count.group(1)) if count else None
        probes[path] = info
    return probes


def ffprobe_timestamps(path: Path) -> list[int]:
    """best_effort_timestamp (time-base units) of every decoded video frame, per ffprobe."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=best_effort_timestamp",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=FFPROBE_TIMEOUT_S,
    ).stdout
    return [int(line.strip().rstrip(",")) for line in out.splitlines() if line.strip()]


def ffmpeg_rgb_frames(path: Path, width: int, height: int, count: int, *extra: str) -> np.ndarray:
    """The first `count` frames as RGB24 from the ffmpeg CLI, shape (count, H, W, 3)."""
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            *extra,
            "-fps_mode",
            "passthrough",
            "-frames:v",
            str(count),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=FFPROBE_TIMEOUT_S,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(count, height, width, 3)


# H.264 frame cropping on the left and top as well as right and bottom (x264's crop-rect: left, top, right,
# bottom). FFmpeg crops software frames on every side only when asked to (AV_CODEC_FLAG_UNALIGNED) and hardware
# frames only on the right and bottom, so both readers must apply the rest themselves.
CROP_RECT = (6, 4, 2, 2)
CROPPED_CODED_SIZE = (160, 128)  # width, height before cropping


def cropped_h264_clip(folder: Path) -> Path | None:
    """A 5-frame H.264 clip with the CROP_RECT cropping, made once per folder with FFmpeg's libx264; None where
    FFmpeg has no libx264 (the GPU machine: scripts/gpu-carry.sh carries one made here, KUZET_TEST_CLIPS)."""
    name = "cropped_left_top.264"
    made = os.environ.get("KUZET_TEST_CLIPS")
    if made and (Path(made) / name).exists():
        return Path(made) / name
    path = folder / name
    if path.exists():
        return path
    w, h = CROPPED_CODED_SIZE
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
           f"testsrc2=size={w}x{h}:rate=10", "-frames:v", "5", "-pix_fmt", "yuv420p", "-c:v", "libx264",
           "-x264-params", "crop-rect=" + ",".join(map(str, CROP_RECT)), str(path)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=FFPROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if done.returncode == 0 else None
