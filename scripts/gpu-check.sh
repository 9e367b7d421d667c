#!/usr/bin/env bash
# On a GPU machine: build (or take a prebuilt) kuzet with CUDA against an FFmpeg with NVDEC, run the CUDA tests
# (decoding, kernels, the GPU face/plate pipelines, the hand-over protocols) and the NVDEC, GPU inference and
# multi-source benchmarks, leaving every log in $OUT. Fails loudly: anything GPU-side that is missing (device,
# NVDEC library, CUDA build, onnxruntime's CUDA EP, CuPy, PyTorch, test data) is listed in $OUT/PROBLEMS.txt and
# makes the exit status non-zero; the GPU tests run with KUZET_REQUIRE_GPU=1, so they fail instead of skipping.
#
#   scripts/gpu-check.sh [preflight|build|tests|bench|all]   (default all; each stage fits one 10-minute call)
#
# What the machine lacks can be brought along by scripts/gpu-carry.sh (run on the dev machine), as .gpu/:
#   .gpu/core/   a prebuilt kuzet._core for this Python and the FFmpeg libraries it links (libs.tar.xz)
#   .gpu/data/, .gpu/models/   the test data and models the GPU tests and benchmarks use
#   .gpu/wheels/ Python packages the image lacks (PyAV), installed into /tmp/kuzet-site
#   .gpu/ort*/   onnxruntime-gpu, as wheel parts (joined and installed into /tmp/kuzet-ort)
# Environment: FFMPEG_PKG_CONFIG_PATH (folder with that FFmpeg's libav*.pc, for building here), OUT (default
# ./out), CUDA_ARCHS (default 90: H100/H200), KUZET_DATA_DIR / KUZET_MODEL_DIR (default .gpu/{data/data,models/models}
# when carried, else as for the tests), PYTHON (the interpreter), BENCH_TIMEOUT (seconds per benchmark, 150).
set -uo pipefail
cd "$(dirname "$0")/.."
stage=${1:-all}
case "$stage" in preflight|build|tests|bench|all) ;; *) echo "usage: $0 [preflight|build|tests|bench|all]"; exit 2;; esac
out=${OUT:-out}
mkdir -p "$out"
root=$(pwd)
py=${PYTHON:-$(command -v python3)}
archs=${CUDA_ARCHS:-90}
problems="$out/PROBLEMS.txt"
: > "$problems"
problem() { echo "PROBLEM: $*" | tee -a "$problems"; }

# -- what was carried -----------------------------------------------------------------------------------------
if [[ -f .gpu/core/libs.tar.xz ]]; then  # the FFmpeg (and OpenSSL) libraries the prebuilt module links
  if [[ ! -d /tmp/kuzet-libs ]]; then
    mkdir -p /tmp/kuzet-libs && tar -xJf .gpu/core/libs.tar.xz -C /tmp/kuzet-libs
    # Only what the machine lacks: a library it has (same soname, newer there) must not be shadowed for every
    # program of this run (PyTorch, CuPy, Python itself).
    for lib in /tmp/kuzet-libs/*; do
      ldconfig -p | grep -qF "	$(basename "$lib") (" && rm -f "$lib"
    done
  fi
  export LD_LIBRARY_PATH="/tmp/kuzet-libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
[[ -d .gpu/data/data ]] && export KUZET_DATA_DIR=${KUZET_DATA_DIR:-$root/.gpu/data/data}
[[ -d .gpu/models/models ]] && export KUZET_MODEL_DIR=${KUZET_MODEL_DIR:-$root/.gpu/models/models}
parts=$(ls .gpu/ort*/onnxruntime_gpu-*.whl.part* 2>/dev/null | sort || true)
if [[ -n "$parts" && ! -d /tmp/kuzet-ort/onnxruntime ]]; then
  whl=/tmp/$(basename "$(echo "$parts" | head -1)" | sed 's/\.part.*//')
  cat $parts > "$whl" && "$py" -m pip install -q --no-index --no-deps --no-compile --target /tmp/kuzet-ort "$whl" \
    || problem "onnxruntime-gpu parts in .gpu/ort* do not make an installable wheel ($(echo $parts | wc -w) parts)"
fi
[[ -d /tmp/kuzet-ort/onnxruntime ]] && export PYTHONPATH="/tmp/kuzet-ort${PYTHONPATH:+:$PYTHONPATH}"
if ls .gpu/wheels/*.whl > /dev/null 2>&1 && [[ ! -f /tmp/kuzet-site/.done ]]; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --target /tmp/kuzet-site .gpu/wheels/*.whl &&
    touch /tmp/kuzet-site/.done || problem "the wheels in .gpu/wheels do not install"
fi
[[ -d /tmp/kuzet-site ]] && export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}/tmp/kuzet-site"
# onnxruntime-gpu finds cuDNN/cuBLAS of the nvidia-* wheels (PyTorch's) through their site-packages folders.
nvidia_libs=$("$py" -c "import glob, os, site; print(':'.join(sorted({os.path.dirname(p) for s in site.getsitepackages() for p in glob.glob(s + '/nvidia/*/lib/*.so*')})))" 2>/dev/null)
[[ -n "$nvidia_libs" ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$nvidia_libs"
# NVDEC is in the driver's libnvcuvid.so.1, which may sit outside the loader's path (e.g. /usr/local/nvidia/lib64).
if ! ldconfig -p 2>/dev/null | grep -q libnvcuvid.so.1; then
  cuvid=$(find /usr/local/nvidia /usr/lib /usr/lib64 /usr/local/cuda* -name 'libnvcuvid.so.1' 2>/dev/null | head -1)
  [[ -n "$cuvid" ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$(dirname "$cuvid")"
fi
export PKG_CONFIG_PATH="${FFMPEG_PKG_CONFIG_PATH:+$FFMPEG_PKG_CONFIG_PATH:}${PKG_CONFIG_PATH:-}"
[[ -d /usr/local/cuda/bin ]] && export PATH="$PATH:/usr/local/cuda/bin"  # nvcc, if not on PATH yet
prebuilt=$(ls .gpu/core/_core*.so 2>/dev/null | head -1)

preflight() {
  { date -u; nvidia-smi; nvcc --version; "$py" --version; echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    echo "prebuilt core: ${prebuilt:-none}"; pkg-config --modversion libavcodec; command -v ffmpeg && ffmpeg -hide_banner -hwaccels
    "$py" -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.__file__, o.get_available_providers())"
    "$py" -c "import cupy; print('cupy', cupy.__version__)"; "$py" -c "import torch; print('torch', torch.__version__)"
  } > "$out/environment.txt" 2>&1
  nvidia-smi > /dev/null 2>&1 || problem "nvidia-smi fails: no usable NVIDIA GPU"
  [[ -n "$(find /usr /lib /lib64 /opt /usr/local -name 'libnvcuvid.so.1' 2>/dev/null | head -1)" ]] ||
    problem "no libnvcuvid.so.1 (the driver's NVDEC library) anywhere: NVDEC cannot work on this machine"
  "$py" -c "import onnxruntime as o, sys; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())" ||
    problem "onnxruntime has no CUDAExecutionProvider (carry onnxruntime-gpu: scripts/gpu-carry.sh)"
  "$py" -c "import cupy" 2>/dev/null || problem "CuPy is not importable (the watchlist and CuPy hand-over tests need it)"
  "$py" -c "import torch" 2>/dev/null || problem "PyTorch is not importable (the DLPack hand-over test needs it)"
  "$py" -c "import av, cv2, pytest_benchmark" 2>/dev/null ||
    problem "PyAV, OpenCV or pytest-benchmark is not importable (the benchmarks need them; carry .gpu/wheels)"
  if [[ -z "$prebuilt" ]]; then
    command -v nvcc > /dev/null || problem "no nvcc to build the CUDA code with (and no prebuilt .gpu/core)"
    pkg-config --exists libavcodec libavformat libavutil libswscale ||
      problem "pkg-config finds no FFmpeg development files (set FFMPEG_PKG_CONFIG_PATH, or carry .gpu/core)"
  fi
  for d in "${KUZET_DATA_DIR:-$root/../shared/data}/faces/images" "${KUZET_MODEL_DIR:-$root/../shared/models}/face_detection"; do
    [[ -d "$d" ]] || problem "no test data at $d (set KUZET_DATA_DIR / KUZET_MODEL_DIR, or carry .gpu/data and .gpu/models)"
  done
}

build() {
  if [[ -n "$prebuilt" ]]; then  # built on the dev machine for this Python (scripts/gpu-carry.sh)
    ln -sf "$root/$prebuilt" python/kuzet/ && echo "using the prebuilt $prebuilt" > "$out/build.log"
  else
    local gen=(); command -v ninja > /dev/null && gen=(-G Ninja)
    { cmake -S . -B build/gpu-check "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DKUZET_CUDA=ON \
        -DCMAKE_CUDA_ARCHITECTURES="$archs" -DPython_EXECUTABLE="$py" &&
      cmake --build build/gpu-check -j"$(nproc)" &&
      ln -sf "$root/$(ls build/gpu-check/_core*.so)" python/kuzet/; } > "$out/build.log" 2>&1 ||
      { problem "the CUDA build failed; see build.log"; tail -40 "$out/build.log"; return 1; }
  fi
  PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}" "$py" -c \
    "import json, kuzet; from kuzet._native import core; print(json.dumps({'build': kuzet.build_info(), 'nvdec': core.nvdec_info()}, indent=2, default=str))" \
    > "$out/build_info.json" 2>&1 || problem "kuzet does not import; see build_info.json"
  PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}" "$py" -c \
    "from kuzet._native import core; i = core.nvdec_info(); assert core.native_build_info()['cuda']['built'], 'kuzet was built without CUDA'; assert i['available'], i['reason']" \
    >> "$out/build_info.json" 2>&1 || problem "kuzet cannot use NVDEC here; see the end of build_info.json"
}

# Skips that only mean "this is a GPU machine" (tests of the CPU fallbacks); any other skip is a problem.
GPU_MACHINE_SKIPS='NVDEC is usable here|onnxruntime has the CUDA EP here|a CUDA device is present'

tests() {
  PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}" KUZET_REQUIRE_GPU=1 timeout 540 "$py" -m pytest -v -rs \
    -p no:cacheprovider tests/test_cuda_gpu.py tests/test_gpu_infer_gpu.py tests/test_preprocess_nv12_gpu.py \
    tests/test_vision_cuda.py tests/test_gpu_handover.py tests/test_cuda_fallback.py tests/test_gpu_infer.py \
    > "$out/tests.log" 2>&1
  local rc=$?
  [[ $rc -eq 0 ]] || problem "the GPU tests failed (exit $rc); see tests.log"
  grep -E "^SKIPPED" "$out/tests.log" | grep -vE "$GPU_MACHINE_SKIPS" | while read -r line; do problem "test skipped: $line"; done
  tail -3 "$out/tests.log"
}

bench() {
  local t=${BENCH_TIMEOUT:-150} name
  for name in bench_nvdec bench_gpu_infer bench_pipeline; do
    PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}" KUZET_BENCH_DEVICE=cuda timeout "$t" "$py" -m pytest -s -rs \
      -p no:cacheprovider "bench/$name.py" --benchmark-json="$out/$name.json" > "$out/$name.log" 2>&1 ||
      problem "$name failed or ran past ${t}s (exit $?); see $name.log"
    grep -E "^SKIPPED|skipped:" "$out/$name.log" | while read -r line; do problem "$name skipped: $line"; done
  done
  grep -hE "fps|frames/s|plates/s|sources:|cameras" "$out"/bench_*.log | tee "$out/bench_summary.txt"
}

case "$stage" in
  preflight) preflight ;;
  build) preflight; build ;;
  tests) [[ -n "$prebuilt" ]] && ln -sf "$root/$prebuilt" python/kuzet/; tests ;;
  bench) [[ -n "$prebuilt" ]] && ln -sf "$root/$prebuilt" python/kuzet/; bench ;;
  all) preflight; build && { tests; bench; } ;;
esac
echo "stage $stage: $(wc -l < "$problems") problem(s)" | tee "$out/summary.txt"
cat "$problems" >> "$out/summary.txt"
[[ ! -s "$problems" ]]
