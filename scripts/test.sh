#!/usr/bin/env bash
# The test command: installs everything (scripts/setup.sh), then lints, type-checks and runs the test suite
# against the installed package, then rebuilds CPU-only with AddressSanitizer/UBSan and runs the whole suite
# again under it. Test data and models come from KUZET_DATA_DIR / KUZET_MODEL_DIR
# (default: ../shared/data and ../shared/models beside this checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
export KUZET_DATA_DIR=${KUZET_DATA_DIR:-$(realpath ../shared/data)}
export KUZET_MODEL_DIR=${KUZET_MODEL_DIR:-$(realpath ../shared/models)}
bash scripts/setup.sh
echo "== ruff";  python3 -m ruff check python tests bench scripts fuzz
echo "== mypy";  python3 -m mypy
echo "== tests (installed package)"
# run from a temporary directory so `import kuzet` is the installed package, not the source tree
(cd "$(mktemp -d)" && python3 -m pytest -q -p no:cacheprovider "$OLDPWD/tests" -o cache_dir=/tmp/kuzet-pytest)
echo "== tests under AddressSanitizer/UBSan (CPU-only build)"
asan_tree=$(mktemp -d)  # a copy of the package, so the sanitizer build never replaces the dev build's module
cp -r python/kuzet "$asan_tree/" && rm -f "$asan_tree"/kuzet/_core*.so
KUZET_CUDA=OFF KUZET_SANITIZE=ON BUILD_TYPE=RelWithDebInfo LINK_DIR="$asan_tree/kuzet" bash scripts/dev-build.sh >/dev/null
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
LD_PRELOAD="$asan:$ubsan" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 PYTHONPATH="$asan_tree" \
  python3 -m pytest -q -p no:cacheprovider tests
