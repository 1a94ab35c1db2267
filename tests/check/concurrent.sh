#!/usr/bin/env bash
# Two processes started together with the same request create one task.
. "$(dirname "$0")/lib.sh"
emulator_start 2
make_png "$work/first.png"

launch () {
  gst-launch-1.0 -q klingo1src api-url="$url" files-url="$url" api-key="$key" \
    prompt="Together" images="<$work/first.png>" poll-interval=0.1 \
    cache-dir="$work/cache" ! qtdemux ! fakesink
}

launch & a=$!
launch & b=$!
wait "$a"
wait "$b"
expect_eq "creates by two processes" "$(stat creates)" 1
expect_eq "downloads by two processes" "$(stat downloads)" 1
