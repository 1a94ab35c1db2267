#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Offline quickstart: installs what is missing, builds, starts the bundled
# Kling O1 emulator on loopback, generates a clip from a bundled image, and
# writes quickstart.mp4 in the current directory.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
build="${KLINGO1_BUILD_DIR:-$top/build}"
out="${1:-$PWD/quickstart.mp4}"
. "$top/tests/deps.sh"
klingo1_install_deps
klingo1_build "$top" "$build" >/dev/null

export GST_PLUGIN_PATH="$build/gst/klingo1${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"

# The emulator prints its base URL on its first line.
fifo="$(mktemp -u)"; mkfifo "$fifo"
"$build/tests/emulator/klingo1-emulator" --port 0 --key sk-quickstart \
  --task-seconds 3 > "$fifo" &
emulator=$!
trap 'kill $emulator 2>/dev/null; rm -f "$fifo"' EXIT
exec 3<"$fifo"
read -r url <&3
echo "Emulator: $url"

export KLINGO1_API_KEY=sk-quickstart KLINGO1_API_URL="$url" KLINGO1_FILES_URL="$url"
cache="$(mktemp -d)"
gst-launch-1.0 klingo1src prompt="The pinwheel turns into colour bars" \
    images="<$top/examples/data/first-frame.png,$top/examples/data/last-frame.png>" \
    duration=5 aspect-ratio=16:9 poll-interval=0.5 cache-dir="$cache" \
  ! qtdemux ! h264parse ! mp4mux ! filesink location="$out"
rm -rf "$cache"

gst-discoverer-1.0 "$out"
echo "Wrote $out"
