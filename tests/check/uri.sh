#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# klingo1:// URIs through the stock tools (playbin, gst-play, uridecodebin,
# urisourcebin, gst-discoverer, ges-launch): one create per distinct request
# however many sources they make; the task form attaches with no create; keys
# and unknown parameters are refused. Then provenance: the prompt, model and
# task id end up in an MP4 re-encoded from the clip, read back with
# gst-discoverer-1.0 -v.
. "$(dirname "$0")/lib.sh"
emulator_start 1
make_png "$work/first.png"

# What a user of playbin has: no properties, only the environment.
export KLINGO1_API_KEY="$key" KLINGO1_API_URL="$url" KLINGO1_FILES_URL="$url"
# klingo1src's default cache-dir is $XDG_CACHE_HOME/klingo1: this test's own.
export XDG_CACHE_HOME="$work/xdg"

fail () {
  echo "FAIL: $*" >&2
  exit 1
}

# run LOG CMD...: runs a tool with a deadline, keeps its output, fails on a
# non-zero exit.
run () {
  local log="$1"
  shift
  if ! timeout 120 "$@" > "$log" 2>&1; then
    cat "$log" >&2
    fail "$(basename "$log" .log) exited with an error"
  fi
}

# The prompt has every character that means something in a URI, and some
# UTF-8; prompt_q is it percent-encoded.
prompt='A cat & a dog: 100% #1 + café'
prompt_q='A%20cat%20%26%20a%20dog%3A%20100%25%20%231%20%2B%20caf%C3%A9'
uri="klingo1://generate?model=image-to-video&prompt=$prompt_q&image=$work/first.png&duration=5&aspect-ratio=16:9&poll-interval=0.1"

# ---- The generate form through every tool: one create in all ------------

run "$work/playbin.log" gst-launch-1.0 -m playbin uri="$uri" \
  video-sink=fakesink audio-sink=fakesink
grep -q "Got EOS" "$work/playbin.log" || fail "playbin: no EOS"
task_id=$(grep -o 'task-unified-[A-Za-z0-9-]*' "$work/playbin.log" | head -1)
[ -n "$task_id" ] || fail "playbin: no task id in the messages"
expect_eq "creates after playbin" "$(stat creates)" 1

run "$work/gst-play.log" gst-play-1.0 --no-interactive --videosink=fakesink \
  --audiosink=fakesink "$uri"
grep -q "Reached end of play list" "$work/gst-play.log" || fail "gst-play: did not finish"
! grep -q "ERROR" "$work/gst-play.log" || { cat "$work/gst-play.log"; fail "gst-play: error"; }
echo "ok: gst-play-1.0"

run "$work/uridecodebin.log" gst-launch-1.0 uridecodebin uri="$uri" ! fakesink
grep -q "Got EOS" "$work/uridecodebin.log" || fail "uridecodebin: no EOS"
echo "ok: uridecodebin"

run "$work/urisourcebin.log" gst-launch-1.0 urisourcebin uri="$uri" ! qtdemux ! fakesink
grep -q "Got EOS" "$work/urisourcebin.log" || fail "urisourcebin: no EOS"
echo "ok: urisourcebin"

run "$work/discoverer.log" gst-discoverer-1.0 "$uri"
grep -q "Duration: 0:00:05" "$work/discoverer.log" \
  || grep -q "Duration: 0:00:04.9" "$work/discoverer.log" \
  || { cat "$work/discoverer.log"; fail "discoverer: duration"; }
grep -q "Width: 320" "$work/discoverer.log" || fail "discoverer: width"
grep -q "Height: 180" "$work/discoverer.log" || fail "discoverer: height"
echo "ok: gst-discoverer-1.0"

if command -v ges-launch-1.0 > /dev/null; then
  # ges-launch-1.0 (1.22) makes its timeline a "ges:" URI and keeps only its
  # path, percent-decoded: a '?' would end the path. So '?' is written %3F
  # and every %XX of ours %25XX; GES decodes them back to our URI.
  ges_uri="klingo1://generate%3Fmodel=image-to-video&prompt=${prompt_q//%/%25}&image=$work/first.png&duration=5&aspect-ratio=16:9&poll-interval=0.1"
  run "$work/ges.log" ges-launch-1.0 +clip "$ges_uri" --videosink=fakesink \
    --audiosink=fakesink
  ! grep -q "ERROR" "$work/ges.log" || { cat "$work/ges.log"; fail "ges-launch: error"; }
  grep -q "Done" "$work/ges.log" || { cat "$work/ges.log"; fail "ges-launch: not done"; }
  echo "ok: ges-launch-1.0 +clip klingo1://generate"
else
  echo "skip: ges-launch-1.0 not installed (Debian: ges1.0-tools)"
fi

expect_eq "creates after every tool, one request" "$(stat creates)" 1

# ---- The task form: attaches, creates nothing ----------------------------

creates=$(stat create_requests)
run "$work/task-playbin.log" gst-launch-1.0 playbin \
  uri="klingo1://task/$task_id?poll-interval=0.1" video-sink=fakesink audio-sink=fakesink
grep -q "Got EOS" "$work/task-playbin.log" || fail "task form: playbin"
run "$work/task-discoverer.log" gst-discoverer-1.0 "klingo1://task/$task_id?poll-interval=0.1"
grep -q "Width: 320" "$work/task-discoverer.log" || fail "task form: discoverer"
if command -v ges-launch-1.0 > /dev/null; then
  run "$work/task-ges.log" ges-launch-1.0 +clip "klingo1://task/$task_id" \
    --videosink=fakesink --audiosink=fakesink
  ! grep -q "ERROR" "$work/task-ges.log" || { cat "$work/task-ges.log"; fail "task form: ges-launch"; }
fi
expect_eq "create requests of the task form" "$(stat create_requests)" "$creates"

# ---- Refused URIs: nothing sent -----------------------------------------

requests=$(stat create_requests)
refused () {  # refused WHAT EXPECTED-TEXT URI
  if timeout 60 gst-launch-1.0 playbin uri="$3" video-sink=fakesink \
      audio-sink=fakesink > "$work/refused.log" 2>&1; then
    fail "$1: accepted"
  fi
  grep -qF "$2" "$work/refused.log" || { cat "$work/refused.log"; fail "$1: message"; }
  echo "ok: refused $1"
}
refused "api-key" "it comes from KLINGO1_API_KEY or the api-key property" \
  "klingo1://generate?prompt=x&image=$work/first.png&api-key=$key"
refused "key" "it comes from KLINGO1_API_KEY or the api-key property" \
  "klingo1://generate?key=$key&prompt=x"
refused "a key as user info" "carry no credentials" \
  "klingo1://$key@generate?prompt=x"
refused "an unknown parameter" "Unknown parameter 'colour'" \
  "klingo1://generate?prompt=x&colour=red"
refused "a bad value" "duration: 'ten' is not a whole number" \
  "klingo1://generate?prompt=x&duration=ten"
refused "a relative path" "image: 'first.png' is a relative path" \
  "klingo1://generate?prompt=x&image=first.png"
refused "request parameters on a task" "takes no request parameters" \
  "klingo1://task/$task_id?prompt=x"
# Refused by start(), like the same properties on a launch line.
refused "an invalid request" "duration: 7 s is not allowed" \
  "klingo1://generate?prompt=x&image=$work/first.png&duration=7"
expect_eq "create requests of refused URIs" "$(stat create_requests)" "$requests"

# ---- Provenance: prompt, model and task id in a re-encoded MP4 ----------

comment="Generated by Kling O1 (model kling-o1-image-to-video, task $task_id)"
provenance () {  # provenance FILE WHAT
  gst-discoverer-1.0 -v "$1" > "$work/tags.txt" 2>&1
  grep -qF "description: $prompt" "$work/tags.txt" \
    || { cat "$work/tags.txt"; fail "$2: no description (prompt) in the file"; }
  grep -qF "comment: $comment" "$work/tags.txt" \
    || { cat "$work/tags.txt"; fail "$2: no comment (model, task) in the file"; }
  echo "ok: provenance through $2"
}
encode="videoconvert ! x264enc speed-preset=ultrafast ! mp4mux"
props=(prompt="$prompt" images="<$work/first.png>" duration=5 aspect-ratio=16:9
  poll-interval=0.1)

# decodebin pulls from the source (qtdemux in pull mode)...
run "$work/p1.log" gst-launch-1.0 klingo1src "${props[@]}" ! decodebin ! $encode \
  ! filesink location="$work/p-pull.mp4"
provenance "$work/p-pull.mp4" "klingo1src ! decodebin ! x264enc ! mp4mux"
# ...a queue makes it push.
run "$work/p2.log" gst-launch-1.0 klingo1src "${props[@]}" ! queue ! decodebin \
  ! $encode ! filesink location="$work/p-push.mp4"
provenance "$work/p-push.mp4" "klingo1src ! queue ! decodebin (push mode)"
run "$work/p3.log" gst-launch-1.0 klingo1src "${props[@]}" ! qtdemux ! h264parse \
  ! mp4mux ! filesink location="$work/p-remux.mp4"
provenance "$work/p-remux.mp4" "qtdemux ! h264parse ! mp4mux (no re-encoding)"
run "$work/p4.log" gst-launch-1.0 uridecodebin uri="$uri" ! $encode \
  ! filesink location="$work/p-uridecodebin.mp4"
provenance "$work/p-uridecodebin.mp4" "uridecodebin uri=klingo1://generate"
run "$work/p5.log" gst-launch-1.0 playbin uri="$uri" audio-sink=fakesink \
  video-sink="$encode ! filesink location=$work/p-playbin.mp4"
provenance "$work/p-playbin.mp4" "playbin uri=klingo1://generate"

# Attached: no prompt is known, the comment names the task.
run "$work/p6.log" gst-launch-1.0 uridecodebin \
  uri="klingo1://task/$task_id?poll-interval=0.1" ! $encode \
  ! filesink location="$work/p-task.mp4"
gst-discoverer-1.0 -v "$work/p-task.mp4" > "$work/tags.txt" 2>&1
grep -qF "comment: Generated by Kling O1 (task $task_id)" "$work/tags.txt" \
  || { cat "$work/tags.txt"; fail "task form: no comment in the file"; }
echo "ok: provenance of an attached task"

expect_eq "creates in the whole test" "$(stat creates)" 1
