#!/usr/bin/env bash
# On the dev machine: makes the payload a bare, offline GPU machine needs for scripts/gpu-check.sh, and cuts it
# into device calls of at most CAP_MIB (default 60; the tool carries 64 MiB a call, working tree included):
# .gpu/calls/call1 .. callN (ignored by git). Then, on the GPU machine, while it stays warm (30 s after a call),
# carry them one after another, each with the same command:
#   run(carry=[".gpu/calls/call1"], command="scripts/gpu-check.sh next", timeout_s=600), then call2, ...,
#   then run(command="scripts/gpu-check.sh next") until its summary says "all stages done".
# Each call already runs the stages its items allow (docs/gpu-review.md, "Running the GPU check").
#
# Needs what the test command installs first (scripts/setup.sh: FFmpeg with libx264/libx265 for the clips).
#
#   scripts/gpu-carry.sh [ITEM...]     (re)make these items (default: core, rebuilt incrementally so it is never
#                                      stale, and those not made yet), then cut all into calls
#
# Items, in the order the calls bring them (the order in which the GPU check can use them):
#   core    kuzet._core built here with CUDA for the GPU machine's Python (PY312, default pyenv's 3.12) and sm_90,
#           plus libs/: the shared libraries it links beyond glibc/libstdc++ (FFmpeg 5.1 with its NVDEC hwaccel,
#           OpenSSL, their dependencies), and clips/: small test clips the GPU tests need (the machine cannot
#           encode)
#   data    the test data the GPU tests and benchmarks read: every path they name (KUZET_DATA_DIR, default
#           ../shared/data)
#   models  the models (KUZET_MODEL_DIR, default ../shared/models)
#   ort     onnxruntime-gpu ORT_GPU_VERSION (CUDA 13, cp312) without what kuzet never loads (TensorRT, the
#           C-API library, the python tools except the float16 converter), as a tar.xz: only needed where the
#           machine's onnxruntime has no CUDA EP (this workplace's GPU image has the CPU build only)
#   tools   an ffmpeg with NVDEC for the NVDEC benchmark's baseline: Debian's FFmpeg source, decoders only,
#           linked statically (the machine has no ffmpeg)
#   clips   the benchmarks' generated 1080p clips, made here with the benchmarks' own recipes (the GPU machine
#           has no encoder: no libx264/libx265, and an H200 has no NVENC)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
ITEMS=(core data models ort tools clips)
py312=${PY312:-$(ls -d /root/.pyenv/versions/3.12*/bin/python3 2>/dev/null | tail -1)}
data=${KUZET_DATA_DIR:-$root/../shared/data}
models=${KUZET_MODEL_DIR:-$root/../shared/models}
items=.gpu/items
mkdir -p "$items"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude

core() {
  [[ -x "$py312" ]] || { echo "no Python 3.12 here (set PY312)"; exit 1; }
  local build=build/gpu-carry-cp312 so stage=/tmp/kuzet-carry-core
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKUZET_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" \
    -DPython_EXECUTABLE="$py312" -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" > "$build.configure.log"
  cmake --build "$build" -- -j"${JOBS:-2}"
  so=$(ls "$build"/_core*.so)
  rm -rf "$stage" && mkdir -p "$stage/libs"
  cp "$so" "$stage/"
  # Every library it loads except the C/C++ runtime the machine has anyway (newer there: Ubuntu 24.04).
  ldd "$so" | awk '/=> \//{print $3}' |
    grep -vE '/(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s|ld-linux-x86-64)\.so' |
    while read -r lib; do cp -L "$lib" "$stage/libs/"; done
  # test clips the GPU tests need and the GPU machine cannot make (it has no encoder): KUZET_TEST_CLIPS there
  mkdir -p "$stage/clips"
  PYTHONPATH="$root/python:$root/tests" python3 -c "
import sys; from pathlib import Path
from decode_helpers import cropped_h264_clip
assert cropped_h264_clip(Path(sys.argv[1])), 'no libx264 here for the cropped clip'
" "$stage/clips"
  # which source it was built from (preflight prints it: a stale module would test old code)
  echo "kuzet $(git describe --always --dirty) built $(date -u +%FT%TZ) for $("$py312" --version)" > "$stage/BUILD.txt"
  tar -cf - -C "$stage" . | xz -T0 -6 > "$items/core/core.tar.xz"
}

data() {
  # The files the GPU tests and benchmarks name, and the folders they read whole.
  local gpu_files=(tests/test_cuda_gpu.py tests/test_vision_cuda.py tests/test_gpu_handover.py tests/test_cuda_fallback.py
                   tests/test_gpu_infer_gpu.py tests/test_preprocess_nv12_gpu.py tests/test_gpu_infer.py
                   bench/bench_gpu_infer.py bench/bench_faces.py bench/bench_pipeline.py tests/conftest.py)
  local list
  list=$( { printf '%s\n' faces/images plates/images faces/video plates/video DATA.md
            grep -ohE '"(faces|plates|conformance)/[^"]+"' "${gpu_files[@]}" | tr -d '"'; } | sort -u)
  local missing
  missing=$(cd "$data" && for f in $list; do [[ -e "$f" ]] || echo "$f"; done)
  [[ -z "$missing" ]] || { echo "data: the GPU tests name files that are not in $data: $missing"; exit 1; }
  # shellcheck disable=SC2086
  tar -cf "$items/data/data.tar" -C "$data" $list
}

models() {
  tar -cf - -C "$models" . | xz -T0 -6 > "$items/models/models.tar.xz"
}

tools() {
  local src=/tmp/kuzet-carry-ffmpeg prefix=/tmp/kuzet-carry-ffmpeg/install
  if [[ ! -x "$prefix/bin/ffmpeg" ]]; then
    mkdir -p "$src"
    if ! ls "$src"/ffmpeg_*.orig.tar.xz > /dev/null 2>&1; then
      local list=/etc/apt/sources.list.d/kuzet-debsrc.sources
      printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > "$list"
      apt-get update -qq > /dev/null && (cd "$src" && apt-get source --download-only ffmpeg > /dev/null 2>&1)
      rm -f "$list"
    fi
    dpkg -s libffmpeg-nvenc-dev nasm > /dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libffmpeg-nvenc-dev nasm > /dev/null
    rm -rf "$src"/ffmpeg-*/ && tar -xf "$src"/ffmpeg_*.orig.tar.xz -C "$src"
    # Decoding only (the benchmarks' clips are made here): H.264/HEVC in MP4 to a null output, in software or on
    # NVDEC; everything static, so the program needs nothing but glibc (and the driver, which it loads itself).
    (cd "$src"/ffmpeg-*/ && ./configure --prefix="$prefix" --enable-static --disable-shared --disable-doc \
       --disable-debug --disable-everything --disable-autodetect --enable-ffnvcodec --enable-nvdec --enable-cuvid \
       --enable-protocol=file,pipe --enable-demuxer=mov,matroska,h264,hevc,ivf --enable-muxer=null \
       --enable-encoder=rawvideo,wrapped_avframe --enable-parser=h264,hevc \
       --enable-bsf=h264_mp4toannexb,hevc_mp4toannexb,extract_extradata,null --enable-decoder=h264,hevc \
       --enable-hwaccel=h264_nvdec,hevc_nvdec --enable-filter=buffer,buffersink,null,format,scale,hwdownload,hwupload,abuffer,abuffersink,anull,aformat,aresample \
       --enable-swscale --disable-ffplay --disable-ffprobe > "$src/configure.log" && make -j"${JOBS:-2}" > "$src/make.log" 2>&1 &&
       make install > /dev/null) || { echo "tools: the FFmpeg build failed; see $src/configure.log, $src/make.log"; exit 1; }
  fi
  cp "$prefix/bin/ffmpeg" "$items/tools/ffmpeg"
}

clips() {
  local stage=/tmp/kuzet-carry-clips
  rm -rf "$stage" && mkdir -p "$stage"
  PYTHONPATH="$root/python:$root/bench" KUZET_DATA_DIR="$data" python3 -c "
import sys; from pathlib import Path
import bench_nvdec, bench_pipeline
folder = Path(sys.argv[1])
for codec in bench_nvdec.ENCODERS:
    assert bench_nvdec.make_clip(codec, folder), f'no encoder here for {codec}'
bench_pipeline.make_1080p_clip(folder)
" "$stage"
  tar -cf "$items/clips/clips.tar" -C "$stage" .
}

ort() {
  local version=${ORT_GPU_VERSION:-1.31.1} dl=/tmp/kuzet-carry-ort
  rm -rf "$dl" && mkdir -p "$dl"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    -d "$dl" "onnxruntime-gpu==$version"
  (cd "$dl" && python3 -m zipfile -e onnxruntime_gpu-*.whl unpacked &&
   cd unpacked && rm -rf onnxruntime/quantization onnxruntime/tools onnxruntime/datasets \
     onnxruntime/capi/libonnxruntime.so.* onnxruntime/capi/libonnxruntime_providers_tensorrt.so &&
   # transformers/: only its float16 converter, which kuzet's fp16=True models import (this copy shadows the
   # machine's onnxruntime, so without it the fp16 tests fail with "float16 converter, not importable")
   find onnxruntime/transformers -mindepth 1 -maxdepth 1 -not -name __init__.py -not -name float16.py -exec rm -rf {} + &&
   tar -cf - onnxruntime | xz -T0 -6 > "$root/$items/ort/ort.tar.xz")
}

wanted=("$@")
if [[ ${#wanted[@]} -eq 0 ]]; then
  wanted=(core)
  for item in "${ITEMS[@]:1}"; do [[ -n "$(ls -A "$items/$item" 2>/dev/null)" ]] || wanted+=("$item"); done
fi
for item in "${wanted[@]}"; do
  case " ${ITEMS[*]} " in *" $item "*) echo "making $item"; rm -rf "${items:?}/$item"; mkdir -p "$items/$item"; "$item" ;;
    *) echo "unknown item '$item' (${ITEMS[*]})"; exit 2 ;; esac
done
specs=()
for item in "${ITEMS[@]}"; do
  [[ -n "$(ls -A "$items/$item" 2>/dev/null)" ]] || { echo "item $item was not made: scripts/gpu-carry.sh $item"; exit 1; }
  specs+=("$item=$(ls "$items/$item"/* | head -1)")
done
tree_mib=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- | tail -1 | awk '{print int($1 / 1048576) + 1}')
python3 scripts/gpu_payload.py pack --out .gpu/calls --cap-mib "$(( ${CAP_MIB:-60} < 63 - tree_mib ? ${CAP_MIB:-60} : 63 - tree_mib ))" "${specs[@]}"
