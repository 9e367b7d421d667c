#!/usr/bin/env bash
# Installs what kuzet needs on Debian 12 / Ubuntu: FFmpeg and OpenSSL development packages (apt), then the
# package itself with its test/benchmark/lint extras (pip builds the C++/CUDA extension; CUDA kernels are
# compiled when nvcc is on PATH, see KUZET_CUDA in the README).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(pkg-config libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libssl-dev ffmpeg)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check ".[test,bench,dev]"
