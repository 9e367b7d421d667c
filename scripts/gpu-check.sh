#!/usr/bin/env bash
# On a lent GPU machine: the GPU tests (NVDEC decoding against the CPU, the CUDA kernels, the hand-over protocols,
# the GPU face/plate pipelines on onnxruntime's CUDA EP) and the GPU benchmarks (NVDEC vs ffmpeg, GPU inference,
# multi-source pipeline), in stages that each start as soon as the payload they need has arrived.
#
#   scripts/gpu-check.sh next     take in what this call carried (.gpu/calls/callK, made by scripts/gpu-carry.sh),
#                                 then run every stage that can now run and has not run yet, as long as it fits
#                                 in this call (CALL_LIMIT seconds, default 540); repeat, carrying call1, call2, ...,
#                                 then nothing, until it prints "all stages done"
#   scripts/gpu-check.sh all      every stage, one after another, with no call limit (a machine of your own that
#                                 has everything: PAYLOAD_DIR with the unpacked items, or the settings below)
#
# Payload items (unpacked under PAYLOAD_DIR, default /tmp/kuzet-gpu, outside the working tree that every call
# replaces): core (kuzet._core for this Python with CUDA, and libs/ with the FFmpeg/OpenSSL libraries it links),
# data, models, ort (onnxruntime-gpu), tools (an NVDEC ffmpeg for the baseline), clips (the benchmarks' 1080p
# clips). Without a payload the stages use the machine's own: KUZET_DATA_DIR, KUZET_MODEL_DIR, an
# `ffmpeg` on PATH, and a kuzet._core already built into python/kuzet.
#
# Every call leaves in $OUT: summary.txt (stages done, waiting or failed; every PROBLEM so far) and logs.tgz
# (all logs so far). Anything GPU-side that is missing fails loudly: the GPU tests run with KUZET_REQUIRE_GPU=1,
# so they fail instead of skipping, and every skip that is not a GPU machine's own is a PROBLEM.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-next}
case "$mode" in next|all) ;; *) echo "usage: $0 [next|all]"; exit 2;; esac
root=$(pwd)
out=${OUT:-out}
store=${PAYLOAD_DIR:-/tmp/kuzet-gpu}
logs="$store/logs"
mkdir -p "$out" "$logs"
py=${PYTHON:-$(command -v python3)}
call_limit=${CALL_LIMIT:-540}
started=$SECONDS
problems="$logs/PROBLEMS.txt"
touch "$problems"
problem() { echo "PROBLEM: $*" | tee -a "$problems"; }
have() { "$py" scripts/gpu_payload.py ready --store "$store" "$@"; }

# -- the payload: take in this call's chunks, then put the unpacked items to use --------------------------------
if [[ "$mode" == next ]]; then
  "$py" scripts/gpu_payload.py receive --calls .gpu/calls --store "$store" | tee -a "$logs/receive.log" ||
    problem "the payload: $(tail -1 "$logs/receive.log")"
fi
use_payload() {
  if have core && [[ ! -f "$store/core/.libs-checked" ]]; then
    # Only what the machine lacks: a library it has (same soname, newer there) must not shadow it for every
    # program of this run (PyTorch, CuPy, Python itself).
    for lib in "$store"/core/libs/*; do
      ldconfig -p | grep -qF "	$(basename "$lib") (" && rm -f "$lib"
    done
    touch "$store/core/.libs-checked"
  fi
  if have core; then
    export LD_LIBRARY_PATH="$store/core/libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export KUZET_TEST_CLIPS="$store/core/clips"
    ln -sf "$(ls "$store"/core/_core*.so | head -1)" python/kuzet/
  fi
  have data && export KUZET_DATA_DIR="$store/data"
  have models && export KUZET_MODEL_DIR="$store/models"
  have tools && export PATH="$store/tools:$PATH"
  have clips && export KUZET_BENCH_CLIPS="$store/clips"
  have ort && export PYTHONPATH="$store/ort${PYTHONPATH:+:$PYTHONPATH}"
  export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"
  # onnxruntime-gpu finds cuDNN/cuBLAS of the nvidia-* wheels (PyTorch's) through their site-packages folders.
  local nvidia_libs
  nvidia_libs=$("$py" -c "import glob, os, site; print(':'.join(sorted({os.path.dirname(p) for s in site.getsitepackages() for p in glob.glob(s + '/nvidia/**/lib/*.so*', recursive=True)})))" 2>/dev/null)
  [[ -n "$nvidia_libs" ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$nvidia_libs"
  # NVDEC is in the driver's libnvcuvid.so.1, which may sit outside the loader's path (e.g. /usr/local/nvidia/lib64).
  if ! ldconfig -p 2>/dev/null | grep -q libnvcuvid.so.1; then
    local cuvid
    cuvid=$(find /usr/local/nvidia /usr/lib /usr/lib64 /usr/local/cuda* -name 'libnvcuvid.so.1' 2>/dev/null | head -1)
    [[ -n "$cuvid" ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$(dirname "$cuvid")"
  fi
  return 0
}
use_payload

# -- the stages ----------------------------------------------------------------------------------------------------
preflight() {
  { date -u; cat "$store/core/BUILD.txt" 2>/dev/null; git log -1 --format='working tree at %h %s' 2>/dev/null
    nvidia-smi; "$py" --version; echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"; echo "PATH=$PATH"
    command -v ffmpeg && ffmpeg -hide_banner -hwaccels
    "$py" -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.__file__, o.get_available_providers())"
    "$py" -c "import cupy; print('cupy', cupy.__version__)"; "$py" -c "import torch; print('torch', torch.__version__)"
    "$py" -c "import json, kuzet; from kuzet._native import core; print(json.dumps({'build': kuzet.build_info(), 'nvdec': core.nvdec_info()}, indent=2, default=str))"
  } 2>&1
  nvidia-smi > /dev/null 2>&1 || problem "nvidia-smi fails: no usable NVIDIA GPU"
  [[ -n "$(find /usr /lib /lib64 /opt /usr/local -name 'libnvcuvid.so.1' 2>/dev/null | head -1)" ]] ||
    problem "no libnvcuvid.so.1 (the driver's NVDEC library) anywhere: NVDEC cannot work on this machine"
  "$py" -c "import cupy" 2>/dev/null || problem "CuPy is not importable (the watchlist and CuPy hand-over tests need it)"
  "$py" -c "import torch" 2>/dev/null || problem "PyTorch is not importable (the DLPack hand-over test needs it)"
  "$py" -c "import cv2, pytest_benchmark" 2>/dev/null || problem "OpenCV or pytest-benchmark is not importable (benchmarks)"
  "$py" -c "import onnx, PIL, packaging" 2>/dev/null ||
    problem "onnx, Pillow or packaging is not importable (kuzet's model loading, the face tests, the fp16 converter)"
  "$py" -c "from kuzet._native import core; i = core.nvdec_info(); assert core.native_build_info()['cuda']['built'], 'kuzet was built without CUDA'; assert i['available'], i['reason']" ||
    problem "kuzet cannot use NVDEC here (see preflight.log: the end of the JSON)"
}

# Skips that only mean "this is a GPU machine" (tests of the CPU fallbacks); any other skip is a problem.
GPU_MACHINE_SKIPS='NVDEC is usable here|onnxruntime has the CUDA EP here|a CUDA device is present'
gpu_tests() {  # gpu_tests NAME FILE...
  local name=$1; shift
  KUZET_REQUIRE_GPU=1 PYTHONUNBUFFERED=1 "$py" -m pytest -v -rs -p no:cacheprovider "$@" 2>&1
  local rc=$?
  [[ $rc -eq 0 ]] || problem "the $name tests failed (exit $rc); see $name.log"
  return $rc
}
decode_tests() {  # NVDEC against the CPU decoder, the CUDA kernels, DLPack/CUDA array hand-over, fallbacks
  gpu_tests decode_tests tests/test_cuda_gpu.py tests/test_vision_cuda.py tests/test_gpu_handover.py \
    tests/test_cuda_fallback.py
}
infer_tests() {  # onnxruntime's CUDA EP with IOBinding, the GPU face/plate pipelines, CuPy watchlist, NV12 kernels
  "$py" -c "import onnxruntime as o, sys; p = o.get_available_providers(); print('onnxruntime', o.__version__, o.__file__, p); sys.exit('CUDAExecutionProvider' not in p)" ||
    problem "onnxruntime has no CUDAExecutionProvider: the carried onnxruntime-gpu did not load (see infer_tests.log)"
  gpu_tests infer_tests tests/test_gpu_infer_gpu.py tests/test_preprocess_nv12_gpu.py tests/test_gpu_infer.py
}
benchmark() {  # benchmark NAME: bench/NAME.py on the GPU, its JSON beside its log
  KUZET_BENCH_DEVICE=cuda PYTHONUNBUFFERED=1 "$py" -m pytest -c bench/pytest.ini -s -rs "bench/$1.py" \
    --benchmark-json="$logs/$1.json" 2>&1 || { local rc=$?; problem "$1 failed (exit $rc); see $1.log"; return $rc; }
}
nvdec_bench() { benchmark bench_nvdec; }
infer_bench() { benchmark bench_gpu_infer; }
pipeline_bench() { benchmark bench_pipeline; }

# name : payload items it needs : seconds it may take at most (its timeout), in the order they run
STAGES=(
  "preflight:core:60"
  "decode_tests:core data models:240"
  "infer_tests:core data models ort:240"
  "infer_bench:core data models ort:240"
  "nvdec_bench:core tools clips:200"
  "pipeline_bench:core data models ort tools clips:300"
)
run_stage() {  # run_stage NAME LIMIT
  local t0=$SECONDS rc
  echo "== $1 (at most $2 s)"
  timeout "$2" bash -c "$(declare -f "$1" problem gpu_tests benchmark); $(declare -p problems GPU_MACHINE_SKIPS py logs store); $1" \
    > "$logs/$1.log" 2>&1
  rc=$?
  [[ $rc -eq 124 ]] && problem "$1 ran past its $2 s; see $1.log"
  grep -E "^SKIPPED|skipped:" "$logs/$1.log" | grep -vE "$GPU_MACHINE_SKIPS" | while read -r line; do
    problem "$1: $line"; done
  # pytest's closing line, and the benchmarks' result lines (bench_nvdec, bench_gpu_infer, bench_pipeline)
  grep -E "^=+ .*(passed|failed|error|skipped).* in [0-9.]+s|^(h264|hevc) x|^(faces|plates)[ :]|^  (batch|per-frame|memory)|^ ?[0-9]+ sources:|^1080p" \
    "$logs/$1.log" | tail -25
  echo "$1 rc=$rc in $((SECONDS - t0)) s" | tee "$logs/$1.done"
}

for entry in "${STAGES[@]}"; do
  IFS=: read -r name needs limit <<< "$entry"
  [[ -f "$logs/$name.done" ]] && continue
  if [[ "$mode" == next ]]; then
    # shellcheck disable=SC2086
    have $needs || { echo "-- $name waits for: $needs"; continue; }
    if (( SECONDS - started + limit > call_limit )); then
      echo "-- $name: not started (it may take $limit s; $((call_limit - SECONDS + started)) s are left in this call)"
      continue
    fi
  fi
  run_stage "$name" "$limit"
done

# -- what comes back ----------------------------------------------------------------------------------------------
{
  for entry in "${STAGES[@]}"; do
    IFS=: read -r name needs limit <<< "$entry"
    if [[ -f "$logs/$name.done" ]]; then cat "$logs/$name.done"; else echo "$name: not run yet (needs $needs)"; fi
  done
  echo "problems so far: $(wc -l < "$problems")"
  cat "$problems"
} > "$out/summary.txt"
ls "$logs"/*.done > /dev/null 2>&1 && [[ $(ls "$logs"/*.done | wc -l) -eq ${#STAGES[@]} ]] && echo "all stages done" | tee -a "$out/summary.txt"
tar -czf "$out/logs.tgz" -C "$logs" .
cat "$out/summary.txt"
[[ ! -s "$problems" ]]
