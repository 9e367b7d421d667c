"""Conformance: bit-exact H.264 FRext decoding, and every conformance file either decodes with the
frame count ffprobe found or fails with the right DecodeError subclass (no crash, no hang)."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

import kuzet
from decode_helpers import data_md_probes, open_reader, shared_data_dir

DATA = shared_data_dir()  # for collecting parameters; tests themselves use the data_dir fixture
FREXT = sorted((DATA / "conformance" / "h264_frext").glob("*.framecrc")) if DATA.is_dir() else []
CONFORMANCE = (
    sorted(p for p in (DATA / "conformance").glob("*/*") if p.suffix != ".framecrc") if DATA.is_dir() else []
)

# Files that must fail, and how (the reason is in DATA.md).
EXPECTED_ERRORS: dict[str, type[Exception]] = {
    "mp4ff/vvc_400kbps_2s.mp4": kuzet.UnsupportedCodec,  # FFmpeg 5.1 has no VVC decoder
    "mp4ff/cbcs_encrypted.mp4": kuzet.EncryptedStream,  # CENC cbcs
    "mp4parse/short-cenc.mp4": kuzet.EncryptedStream,  # CENC cenc
    "mp4ff/init_truncated.mp4": kuzet.CorruptStream,  # 100-byte init segment: no stream survives
    "mp4parse/afconvert-aac-0.5s.mp4": kuzet.NotAVideo,  # audio only
    "mp4ff/bbb5s_aac_sidx.mp4": kuzet.NotAVideo,  # audio only (fragmented)
    "mp4ff/two-frames.264": kuzet.CorruptStream,  # AVCC length-prefixed NALs, no Annex-B start codes
    "mp4parse/chunk_out_of_range.mp4": kuzet.CorruptStream,  # an MP4 whose sample table points outside it
    "mp4parse/bipbop_nonfragment_header.mp4": kuzet.CorruptStream,  # moov only, media data missing
    "mp4parse/invalid_userdata.mp4": kuzet.CorruptStream,  # header of a 231 s file, media data missing
    "mp4parse/no_timescale.mp4": kuzet.CorruptStream,  # zero timescale, decode errors (see skip test)
    "mp4parse/test_case_1185230.mp4": kuzet.CorruptStream,  # fuzzer-found malformed MP4
    "mp4parse/zero_empty_stsc.mp4": kuzet.CorruptStream,  # empty sample-to-chunk table
}


def _framecrc(path: Path) -> tuple[str | None, list[tuple[int, int]]]:
    """(pixel format if the header names one, [(size, adler32)]) from a FATE framecrc file."""
    pix_fmt = None
    frames = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            if "pix_fmt" in line:
                pix_fmt = line.split()[-1]
            continue
        fields = [f.strip() for f in line.split(",")]
        frames.append((int(fields[4]), int(fields[5], 16)))
    return pix_fmt, frames


@pytest.mark.timeout(60)
@pytest.mark.parametrize("crc", FREXT, ids=lambda p: p.name.removesuffix(".framecrc"))
@pytest.mark.parametrize("threads", [1, 0], ids=["1thread", "auto-threads"])
def test_h264_frext_bit_exact(crc: Path, threads: int) -> None:
    stream = crc.with_suffix("")
    _, expected = _framecrc(crc)
    with open_reader(stream, layout="native", threads=threads) as reader:
        got = [(f.data.nbytes, zlib.adler32(f.data, 0)) for f in reader]  # FATE's adler32 starts at 0
        assert reader.stats.corrupt == 0
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == e, f"{stream.name} frame {i}: size/adler32 {g[0]}/{g[1]:#x}, FATE has {e[0]}/{e[1]:#x}"


def test_high10_native_layout_is_10_bit(data_dir: Path) -> None:
    with open_reader(data_dir / "conformance/h264_frext/PPH10I2_Panasonic_A.264", layout="native") as reader:
        assert reader.metadata.pixel_format == "yuv420p10le"
        frame = next(iter(reader))
        assert frame.data.nbytes == 1280 * 720 * 3 // 2 * 2


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_conformance_file(path: Path, data_dir: Path) -> None:
    rel = f"{path.parent.name}/{path.name}"
    expected_error = EXPECTED_ERRORS.get(rel)
    if expected_error is not None:
        with pytest.raises(expected_error) as info:
            with open_reader(path, layout="rgb") as reader:
                for _ in reader:
                    pass
        assert str(path) in str(info.value)  # the message names the source
        return
    probe = data_md_probes(data_dir)[f"conformance/{rel}"]
    with open_reader(path, layout="rgb") as reader:
        frames = 0
        for frame in reader:
            assert frame.data.shape == (frame.data.shape[0], frame.data.shape[1], 3)
            assert frame.index == frames
            frames += 1
        meta = reader.metadata
        assert reader.stats.corrupt == 0
    assert meta.codec == probe["codec"]
    if "width" in probe:
        assert (meta.width, meta.height) == (probe["width"], probe["height"])
    assert frames == probe["frames"], f"{rel}: decoded {frames} frames, ffprobe counted {probe['frames']}"


def test_skip_policy_counts_corrupt_frames(data_dir: Path) -> None:
    # no_timescale.mp4 raises under errors="raise"; with "skip" damaged packets are counted, the rest decode.
    with open_reader(data_dir / "conformance/mp4parse/no_timescale.mp4", errors="skip") as reader:
        frames = sum(1 for _ in reader)
        stats = reader.stats
    assert stats.corrupt > 0
    assert stats.decoded == frames
    assert 0 < frames <= 170  # ffprobe, which conceals errors, reports 170
