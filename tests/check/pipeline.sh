#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Whole pipelines with gst-launch-1.0: an image-to-video clip written to MP4
# and checked with gst-discoverer-1.0; a video edit of local files with -m,
# showing progress.
. "$(dirname "$0")/lib.sh"
emulator_start 1
make_png "$work/first.png"
gst-launch-1.0 -q videotestsrc num-buffers=1 pattern=smpte \
  ! video/x-raw,width=160,height=90 ! pngenc ! filesink location="$work/ref.png"
gst-launch-1.0 -q videotestsrc num-buffers=96 pattern=ball \
  ! video/x-raw,width=160,height=120,framerate=24/1 ! x264enc speed-preset=ultrafast \
  ! h264parse ! mp4mux name=m ! filesink location="$work/clip.mp4" \
  audiotestsrc num-buffers=172 ! audio/x-raw,rate=44100 ! avenc_aac ! aacparse ! m.

gst-launch-1.0 -q klingo1src api-url="$url" files-url="$url" api-key="$key" \
  prompt="A cat walks" images="<$work/first.png>" duration=5 aspect-ratio=1:1 \
  poll-interval=0.1 cache-mode=disabled \
  ! qtdemux ! h264parse ! mp4mux ! filesink location="$work/cat.mp4"
gst-discoverer-1.0 "$work/cat.mp4" > "$work/disc.txt"
cat "$work/disc.txt"
grep -q "H.264" "$work/disc.txt" || { echo "FAIL: not H.264"; exit 1; }
grep -q "Width: 240" "$work/disc.txt" || { echo "FAIL: width"; exit 1; }
grep -q "Height: 240" "$work/disc.txt" || { echo "FAIL: height"; exit 1; }
grep -q "Duration: 0:00:05" "$work/disc.txt" || grep -q "Duration: 0:00:04.9" "$work/disc.txt" \
  || { echo "FAIL: duration"; exit 1; }
echo "ok: image-to-video MP4"

for sound in true false; do
  gst-launch-1.0 -m klingo1src api-url="$url" files-url="$url" api-key="$key" \
    model=video-edit video="$work/clip.mp4" images="<$work/ref.png>" \
    keep-original-sound=$sound prompt="Make it snow" poll-interval=0.1 \
    cache-mode=disabled ! filesink location="$work/edit-$sound.mp4" \
    > "$work/edit-$sound.log" 2>&1
  grep -q "Got EOS" "$work/edit-$sound.log" || { cat "$work/edit-$sound.log"; echo "FAIL: no EOS"; exit 1; }
  grep -q "Progress: (submit)" "$work/edit-$sound.log" \
    || { cat "$work/edit-$sound.log"; echo "FAIL: no progress"; exit 1; }
  grep -q "klingo1/task" "$work/edit-$sound.log" || { echo "FAIL: no task message"; exit 1; }
  gst-discoverer-1.0 "$work/edit-$sound.mp4" > "$work/edit-$sound.txt"
  grep -q "H.264" "$work/edit-$sound.txt" || { echo "FAIL: edit not H.264"; exit 1; }
  grep -q "Duration: 0:00:0[34]" "$work/edit-$sound.txt" || { cat "$work/edit-$sound.txt"; echo "FAIL: edit length"; exit 1; }
  if [ $sound = true ]; then
    grep -q "audio" "$work/edit-$sound.txt" || { echo "FAIL: audio dropped"; exit 1; }
  else
    ! grep -q "audio" "$work/edit-$sound.txt" || { echo "FAIL: audio kept"; exit 1; }
  fi
  echo "ok: video-edit keep-original-sound=$sound"
done
# the cache is disabled here, so every run uploads its inputs: 1 + 2 + 2
expect_eq "uploads" "$(stat uploads)" 5

# An input shorter than video-edit's 3-10 s window is accepted with a warning
# that says how it will be billed.
gst-launch-1.0 -q videotestsrc num-buffers=48 ! video/x-raw,width=160,height=120,framerate=24/1 \
  ! x264enc speed-preset=ultrafast ! h264parse ! mp4mux ! filesink location="$work/short.mp4"
gst-launch-1.0 klingo1src api-url="$url" files-url="$url" api-key="$key" \
  model=video-edit video="$work/short.mp4" prompt="Short" poll-interval=0.1 \
  cache-mode=disabled ! fakesink > "$work/short.log" 2>&1
grep -q "WARNING.*billed as 3 s" "$work/short.log" || { cat "$work/short.log"; echo "FAIL: no billing warning"; exit 1; }
grep -q "Got EOS" "$work/short.log" || { cat "$work/short.log"; echo "FAIL: short edit"; exit 1; }
echo "ok: billing warning for a 2 s input"
