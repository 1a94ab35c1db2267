# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the shell tests: starts klingo1-emulator, reads its stats.
# Expects KLINGO1_EMULATOR and GST_PLUGIN_PATH from meson's test environment.
set -euo pipefail

work="$(mktemp -d)"
key=sk-emulator-test
emulator_pid=""

cleanup () {
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null || true
  jobs -p | xargs -r kill -9 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# emulator_start TASK_SECONDS: sets $url
emulator_start () {
  mkfifo "$work/emu.out"
  "$KLINGO1_EMULATOR" --port 0 --key "$key" --task-seconds "$1" > "$work/emu.out" &
  emulator_pid=$!
  exec 3<"$work/emu.out"
  read -r url <&3
}

stat () {
  curl -sf "$url/emulator/stats" | sed -n "s/.*\"$1\" *: *\([0-9]*\).*/\1/p"
}

expect_eq () {  # expect_eq WHAT ACTUAL EXPECTED
  if [ "$2" != "$3" ]; then
    echo "FAIL: $1: got '$2', expected '$3'" >&2
    exit 1
  fi
  echo "ok: $1 = $2"
}

make_png () {
  gst-launch-1.0 -q videotestsrc num-buffers=1 pattern=ball \
    ! video/x-raw,width=160,height=90 ! pngenc ! filesink location="$1"
}

# Waits until the named counter reaches at least N (10 s at most).
wait_stat () {
  for _ in $(seq 100); do
    [ "$(stat "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "FAIL: $1 never reached $2" >&2
  exit 1
}

# launch_cached PROMPT: one image-to-video run of $work/first.png through the
# cache in $work/cache, to qtdemux.
launch_cached () {
  gst-launch-1.0 -q klingo1src api-url="$url" files-url="$url" api-key="$key" \
    prompt="$1" images="<$work/first.png>" poll-interval=0.1 \
    cache-dir="$work/cache" ! qtdemux ! fakesink
}
