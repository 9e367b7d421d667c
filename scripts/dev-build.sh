#!/usr/bin/env bash
# Fast incremental build for development: compiles kuzet._core with CMake/Ninja into build/dev-<cuda>
# and links the module into python/kuzet, so `PYTHONPATH=python pytest` runs against the tree.
#   KUZET_CUDA=OFF|AUTO|ON (default OFF here: quicker), KUZET_SANITIZE=ON for ASan/UBSan,
#   CUDA_ARCHS=90 (say) to compile the CUDA code for one architecture only while iterating.
set -euo pipefail
cd "$(dirname "$0")/.."
cuda=${KUZET_CUDA:-OFF}
san=${KUZET_SANITIZE:-OFF}
mkdir -p build
archs=()
[[ -n "${CUDA_ARCHS:-}" ]] && archs=(-DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCHS")
dir=build/dev-cuda${cuda}-san${san}
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} -DKUZET_CUDA="$cuda" \
  -DKUZET_SANITIZE="$san" -DPython_EXECUTABLE="$(command -v python3)" "${archs[@]}" > "$dir.configure.log" 2>&1 \
  || { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" -- -j"${JOBS:-2}"
so=$(ls "$dir"/_core*.so)
# LINK_DIR: where the module is linked (default: the source package, for PYTHONPATH=python)
ln -sf "$(pwd)/$so" "${LINK_DIR:-python/kuzet}/"
echo "built $so"
