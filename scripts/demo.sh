#!/usr/bin/env bash
# The main job on sample clips: installs everything (scripts/setup.sh), makes kuzet's own sample clip with
# FFmpeg's test sources, enrols two people from photos, then runs `kuzet analyze` on the sample clip and on
# real clips from the data directory (a talk with faces, a street with a plate on the hotlist), sealing each
# into a signed evidence manifest, and verifies one recording against its manifest; then a live camera (the
# street clip served in real time over TCP by ffmpeg) is analysed, recorded and sealed as it streams, and its
# recording verified. Output in out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${KUZET_DATA_DIR:-$(realpath ../shared/data)}
export KUZET_MODEL_DIR=${KUZET_MODEL_DIR:-$(realpath ../shared/models)}
bash scripts/setup.sh
out=out/demo
rm -rf "$out" && mkdir -p "$out"
kuzet() { (cd "$out" && python3 -m kuzet "$@"); }  # the installed package, whatever the source tree holds

echo "== kuzet's own sample: 6 s of FFmpeg testsrc2 at 720p, H.264 + AAC"
ffmpeg -v error -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440 -t 6 \
  -c:v libx264 -g 60 -pix_fmt yuv420p -c:a aac -shortest "$out/testsrc2.mp4"

echo "== enrolling two people from photos"
photos=$data/faces/images/face_recognition
kuzet enrol watchlist.db "Lin-Manuel Miranda" "$photos/lin-manuel-miranda.png"
kuzet enrol watchlist.db "Barack Obama" "$photos/obama.jpg" "$photos/obama2.jpg"

echo "== analysing three clips together"
kuzet analyze testsrc2.mp4 "$data/faces/video/short_hamilton_clip.mp4" "$data/plates/video/license_plate_uk.mp4" \
  --watchlist watchlist.db --hotlist LS15EBC --formats uk --every 2 \
  --evidence evidence --annotate frames --out results.jsonl --metrics metrics.prom

echo "== verifying the street clip against its signed manifest"
kuzet verify "$data/plates/video/license_plate_uk.mp4" --manifest evidence/license_plate_uk.mp4.manifest.json \
  --key evidence/signing.pub
echo "== a live camera: the street clip streamed in real time over TCP, recorded and sealed while analysed"
port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
ffmpeg -v error -re -i "$data/plates/video/license_plate_uk.mp4" -an -c copy -f mpegts \
  "tcp://127.0.0.1:$port?listen=1" &
camera=$!
sleep 1  # the camera listens
kuzet analyze "tcp://127.0.0.1:$port" --plates --hotlist LS15EBC --formats uk --reconnect 0 \
  --evidence evidence --key evidence/signing.key --out live.jsonl
wait "$camera" || true
kuzet verify "evidence/127.0.0.1_$port.0.ts" --manifest "evidence/127.0.0.1_$port.0.manifest.json" \
  --key evidence/signing.pub
echo "demo output: $out (results.jsonl, live.jsonl, frames/*.png, evidence/*.manifest.json + the live" \
  "recording, metrics.prom)"
