#!/usr/bin/env bash
# One call on a GPU machine: build kuzet with CUDA against an FFmpeg with NVDEC, run the CUDA tests (decoding,
# kernels, the GPU face/plate pipelines) and the NVDEC, GPU inference and multi-source benchmarks, and leave every
# log in $OUT.
# The GPU pipeline tests and benchmark need onnxruntime-gpu (and CuPy for the watchlist test); without them
# they skip and say why (see tests.log / bench_gpu_infer.log).
#   FFMPEG_PKG_CONFIG_PATH  folder with that FFmpeg's libav*.pc (default: whatever pkg-config finds)
#   OUT (default ./out), CUDA_ARCHS (default 90: H100), KUZET_DATA_DIR / KUZET_MODEL_DIR as for the tests.
# Builds with `pip install --no-build-isolation .` when scikit-build-core and pybind11 are installed (the
# machine may be offline); without them, or if pip fails, with CMake into build/gpu-check, run from the tree.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out}
mkdir -p "$out"
export PKG_CONFIG_PATH="${FFMPEG_PKG_CONFIG_PATH:+$FFMPEG_PKG_CONFIG_PATH:}${PKG_CONFIG_PATH:-}"
ffmpeg_prefix=$(pkg-config --variable=prefix libavcodec) || { echo "pkg-config finds no libavcodec" | tee "$out/FAILED"; exit 1; }
export LD_LIBRARY_PATH="$(pkg-config --variable=libdir libavcodec)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
py=${PYTHON:-$(command -v python3)}  # the interpreter to build for and test with (PYTHON overrides)
if [[ -x "$ffmpeg_prefix/bin/ffmpeg" ]]; then  # the benchmark baseline runs that FFmpeg's ffmpeg CLI
  mkdir -p build/gpu-check-bin && ln -sf "$ffmpeg_prefix/bin/ffmpeg" build/gpu-check-bin/ffmpeg
  export PATH="$(pwd)/build/gpu-check-bin:$PATH"
fi
[[ -d /usr/local/cuda/bin ]] && export PATH="$PATH:/usr/local/cuda/bin"  # nvcc, if not on PATH yet
archs=${CUDA_ARCHS:-90}

{ date -u; nvidia-smi; nvcc --version; "$py" --version; pkg-config --modversion libavcodec; command -v ffmpeg
  ffmpeg -hide_banner -hwaccels
  "$py" -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())"
  "$py" -c "import cupy; print('cupy', cupy.__version__)"; } > "$out/environment.txt" 2>&1

build_with_cmake() {
  local gen=(); command -v ninja > /dev/null && gen=(-G Ninja)
  cmake -S . -B build/gpu-check "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DKUZET_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$archs" -DPython_EXECUTABLE="$py" &&
    cmake --build build/gpu-check -j"$(nproc)" &&
    ln -sf "$(pwd)/$(ls build/gpu-check/_core*.so)" python/kuzet/
}
build=1
if "$py" -c "import scikit_build_core, pybind11" 2>/dev/null; then
  KUZET_CUDA=ON "$py" -m pip install --no-build-isolation --no-deps -v \
    --config-settings=cmake.define.CMAKE_CUDA_ARCHITECTURES="$archs" . > "$out/build.log" 2>&1
  build=$?
fi
if [[ $build -ne 0 ]]; then  # no scikit-build-core (offline machine) or pip failed: CMake, run from the tree
  build_with_cmake >> "$out/build.log" 2>&1
  build=$?
  export PYTHONPATH="$(pwd)/python${PYTHONPATH:+:$PYTHONPATH}"
fi
if [[ $build -ne 0 ]]; then
  echo "build failed (exit $build); see build.log" | tee "$out/FAILED"
  tail -40 "$out/build.log"
  exit 1
fi
"$py" -c "import json, kuzet; print(json.dumps(kuzet.build_info(), indent=2))" > "$out/build_info.json" 2>&1

"$py" -m pytest -v -rs tests/test_cuda_gpu.py tests/test_cuda_fallback.py tests/test_vision_cuda.py \
  tests/test_gpu_infer_gpu.py tests/test_gpu_infer.py tests/test_preprocess_nv12_gpu.py > "$out/tests.log" 2>&1
tests=$?
if "$py" -c "import pytest_benchmark" 2>/dev/null; then
  "$py" -m pytest -s -rs bench/bench_nvdec.py --benchmark-json="$out/bench_nvdec.json" > "$out/bench.log" 2>&1
else
  "$py" bench/bench_nvdec.py > "$out/bench.log" 2>&1
fi
bench=$?
# Needs pytest-benchmark (its `benchmark` fixture); faces at batch 1..64, plates at batch 1..128 (1080p).
"$py" -m pytest -s -rs bench/bench_gpu_infer.py --benchmark-json="$out/bench_gpu_infer.json" \
  > "$out/bench_gpu_infer.log" 2>&1
bench_infer=$?
# The multi-source runtime on the GPU: 1/4/8/16 sources vs independent runs, 1080p cameras sustained.
KUZET_BENCH_DEVICE=cuda "$py" -m pytest -s -rs bench/bench_pipeline.py --benchmark-json="$out/bench_pipeline.json" \
  > "$out/bench_pipeline.log" 2>&1
bench_pipeline=$?
echo "tests exit $tests, benchmark exit $bench, inference benchmark exit $bench_infer," \
  "pipeline benchmark exit $bench_pipeline" | tee "$out/summary.txt"
tail -5 "$out/tests.log" | tee -a "$out/summary.txt"
grep -E "fps|skipped" "$out/bench.log" | tee -a "$out/summary.txt"
grep -E "frames/s|plates/s|SKIPPED" "$out/bench_gpu_infer.log" | tee -a "$out/summary.txt"
grep -E "sources:|cameras" "$out/bench_pipeline.log" | tee -a "$out/summary.txt"
[[ $tests -eq 0 && $bench -eq 0 && $bench_infer -eq 0 && $bench_pipeline -eq 0 ]]
