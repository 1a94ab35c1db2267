#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The fault matrix: klingo1src under gst-launch-1.0 against emulators that
# misbehave on purpose (tests/emulator/README.md, "Magic prompt markers").
# Every fault must end in one of two ways: the emulator's clip, byte for
# byte, or a clear error from klingo1src (printed before anything qtdemux
# says) within a bounded time. Tasks are counted: one create per distinct
# request, none after a paid task was lost. No run may leave a klingo1-*
# file in TMPDIR.
#
# The cases are independent (each has its own emulator and cache dir) and
# run in parallel: several wait for a timeout or an outage on purpose.
# Their output is printed one case after the other at the end.
#   tests/check/faults.sh [CASE...]     (default: every case)
. "$(dirname "$0")/faults-lib.sh"

ff=$(printf '\377')    # a byte that is never valid UTF-8

# ---- inputs ------------------------------------------------------------------
# A small real MP4 served as every task's result (--result-file): nothing is
# rendered, so tasks end after --task-seconds and clips compare with cmp.
gst-launch-1.0 -q videotestsrc num-buffers=24 pattern=ball \
  ! video/x-raw,width=160,height=90,framerate=24/1,format=I420 \
  ! x264enc speed-preset=ultrafast ! h264parse ! mp4mux faststart=true \
  ! filesink location="$work/result.mp4"
make_png () {  # make_png PATTERN FILE
  gst-launch-1.0 -q videotestsrc num-buffers=1 pattern="$1" \
    ! video/x-raw,width=160,height=90 ! pngenc ! filesink location="$2"
}
make_png ball "$work/first.png"

# ---- 1. paths that are not UTF-8 ---------------------------------------------
# A local input whose name holds the byte 0xff is uploaded, the task made and
# downloaded; the name shows up in progress and warning texts, which must be
# valid UTF-8 (GStreamer's message printers assume it). gst-launch only takes
# UTF-8 property strings: a file:// URI carries the byte as %FF.
case_utf8 () {
  local url cache n=0 pattern out
  emu_start url
  mkdir -p "$work/utf8"
  # other contents on each run: an upload of the same bytes would be reused
  for pattern in smpte snow; do
    n=$((n + 1))
    cache="$work/cache-utf8-$n"
    make_png "$pattern" "$work/utf8/p.png"
    mv "$work/utf8/p.png" "$work/utf8/img$n-$ff.png"
    image="file://$work/utf8/img$n-%FF.png"
    out="$work/utf8-$n.mp4"
    # -m prints every message (the verbose printer); -q prints none (it hung)
    if [ $n = 1 ]; then
      run_src utf8-verbose -m -- prompt="Not UTF-8 $n" ! filesink location="$out"
    else
      run_src utf8-quiet -q -- prompt="Not UTF-8 $n" ! filesink location="$out"
    fi
    expect_success "non-UTF-8 image, run $n"
    expect_same "non-UTF-8 image, run $n" "$out"
    expect_kept "non-UTF-8 image, run $n" || true
    expect_eq "non-UTF-8 image, run $n: creates" "$(stat_of "$url" creates)" $n
    expect_eq "non-UTF-8 image, run $n: uploads" "$(stat_of "$url" uploads)" $n
    if iconv -f UTF-8 -t UTF-8 "$log" > /dev/null 2>&1; then
      ok "non-UTF-8 image, run $n: everything printed is UTF-8"
    else
      fail "non-UTF-8 image, run $n: gst-launch printed text that is not UTF-8"
    fi
  done
  # (captured first: grep -q closing the pipe early fails it under pipefail)
  gst-discoverer-1.0 "$work/utf8-1.mp4" > "$work/utf8-1.disc" 2>&1 || true
  if grep -q "video #[0-9]*: H.264" "$work/utf8-1.disc"; then
    ok "non-UTF-8 image: the clip plays (gst-discoverer-1.0)"
  else
    fail "non-UTF-8 image: gst-discoverer-1.0 finds no H.264 video"
  fi

  # An edit input: its name is also in the billing warning (a 2 s video is
  # billed as 3 s).
  gst-launch-1.0 -q videotestsrc num-buffers=48 \
    ! video/x-raw,width=160,height=120,framerate=24/1 \
    ! x264enc speed-preset=ultrafast ! h264parse ! mp4mux \
    ! filesink location="$work/utf8/short.mp4"
  mv "$work/utf8/short.mp4" "$work/utf8/short-$ff.mp4"
  image=""
  cache="$work/cache-utf8-edit"
  run_src utf8-edit -- model=video-edit video="file://$work/utf8/short-%FF.mp4" \
    prompt="Edit a video whose name is not UTF-8" ! filesink location="$work/utf8-edit.mp4"
  expect_success "non-UTF-8 video"
  expect_same "non-UTF-8 video" "$work/utf8-edit.mp4"
  if grep -qa "WARNING: .*short-.*billed as 3 s" "$log"; then
    ok "non-UTF-8 video: billing warning"
  else
    fail "non-UTF-8 video: no billing warning naming the video"
  fi
  if iconv -f UTF-8 -t UTF-8 "$log" > /dev/null 2>&1; then
    ok "non-UTF-8 video: everything printed is UTF-8"
  else
    fail "non-UTF-8 video: gst-launch printed text that is not UTF-8"
  fi
  expect_eq "non-UTF-8 inputs: creates" "$(stat_of "$url" creates)" 3
}

# ---- 2. max-size ---------------------------------------------------------------
# A result with no end must not fill the disk: it stops at max-size with an
# error naming it, and what was written is removed.
case_max_size () {
  local url entry left
  # fast, so that 5 MB take a fraction of a second
  emu_start url --download-bps 20000000
  image="$work/first.png"
  cache="$work/cache-max"
  run_src endless -- prompt="Endless [result-endless]" max-size=5000000 timeout=60
  expect_error "endless result" "max-size"
  expect_within "endless result" 15
  entry=$(entry_dir)
  left=$(find "$entry" -name 'clip.mp4*' -printf '%f (%s bytes) ')
  [ -z "$left" ] && ok "endless result: nothing kept in the cache entry" \
    || fail "endless result: left in the cache entry: $left"

  # cache disabled: the growing file is in TMPDIR (run_src checks it)
  run_src endless-nocache -- prompt="Endless [result-endless]" max-size=5000000 \
    timeout=60 cache-mode=disabled
  expect_error "endless result, no cache" "max-size"
  expect_within "endless result, no cache" 15

  # a Content-Length above the limit is refused before a byte is written
  cache="$work/cache-max-2"
  run_src too-big -- prompt="One byte too big" max-size=$(($(stat -c %s "$work/result.mp4") - 1))
  expect_error "result one byte above max-size" "max-size"
  entry=$(entry_dir)
  left=$(find "$entry" -name 'clip.mp4*' -size +0 -printf '%f (%s bytes) ')
  [ -z "$left" ] && ok "result above max-size: nothing kept" \
    || fail "result above max-size: left in the cache entry: $left"
  # exactly max-size is allowed
  run_src just-fits -- prompt="Just fits" max-size="$(stat -c %s "$work/result.mp4")" \
    ! filesink location="$work/fits.mp4"
  expect_success "result of exactly max-size"
  expect_same "result of exactly max-size" "$work/fits.mp4"
}

# ---- 3. hangs past the timeout -------------------------------------------------
# timeout=5 must end the run by itself, whatever the server does; ~15 s
# leaves room for a loaded machine.
case_poll_trickle () {
  local url
  emu_start url
  image="$work/first.png"
  cache="$work/cache-poll-trickle"
  run_src poll-trickle -- prompt="Slow poll [poll-trickle]" timeout=5
  expect_error "poll at 1 byte/s" "timeout" "resum"
  expect_within "poll at 1 byte/s" 15
  # only the first poll trickles: the same request resumes the same task
  run_src poll-trickle-again -- prompt="Slow poll [poll-trickle]" timeout=60 \
    ! filesink location="$work/poll-trickle.mp4"
  expect_success "poll at 1 byte/s, re-run"
  expect_same "poll at 1 byte/s, re-run" "$work/poll-trickle.mp4"
  expect_kept "poll at 1 byte/s, re-run" || true
  expect_eq "poll at 1 byte/s: creates" "$(stat_of "$url" creates)" 1
}

case_result_trickle () {
  local url entry
  emu_start url
  image="$work/first.png"
  cache="$work/cache-result-trickle"
  # bytes keep coming (1 a second), so io-timeout never fires: the deadline must
  run_src result-trickle -- prompt="Slow result [result-trickle]" timeout=5
  expect_error "result at 1 byte/s" "timeout"
  expect_within "result at 1 byte/s" 15
  entry=$(entry_dir)
  [ ! -e "$entry/clip.mp4" ] && ok "result at 1 byte/s: no clip kept" \
    || fail "result at 1 byte/s: a clip was kept"
  # push mode too (filesink): the same wait, another reader
  cache="$work/cache-result-trickle-push"
  run_src result-trickle-push -- prompt="Slow result [result-trickle]" timeout=5 \
    cache-mode=disabled ! filesink location="$work/trickle.mp4"
  expect_error "result at 1 byte/s, push mode" "timeout"
  expect_within "result at 1 byte/s, push mode" 15
}

case_stall () {
  local url
  emu_start url
  image="$work/first.png"
  cache="$work/cache-stall"
  # half the body, then silence on an open connection: with the default
  # io-timeout (30 s) only the deadline ends it
  run_src stall-deadline -- prompt="Stalled result [result-stall]" timeout=5
  expect_error "stalled result, timeout=5" "timeout"
  expect_within "stalled result, timeout=5" 15
  # io-timeout=2: the stalled transfer is dropped and the rest fetched with
  # Range, well within the deadline
  local ranges=$(stat_of "$url" range_requests)
  cache="$work/cache-stall-retry"
  run_src stall-retry -- prompt="Stalled result, retried [result-stall]" \
    io-timeout=2 timeout=20 ! filesink location="$work/stall.mp4"
  expect_success "stalled result, io-timeout=2"
  expect_same "stalled result, io-timeout=2" "$work/stall.mp4"
  expect_within "stalled result, io-timeout=2" 15
  expect_kept "stalled result, io-timeout=2" || true
  if [ "$(stat_of "$url" range_requests)" -gt "$ranges" ]; then
    ok "stalled result: resumed with Range"
  else
    fail "stalled result: no Range request"
  fi
  expect_eq "stalled result: creates" "$(stat_of "$url" creates)" 2
}

case_lie () {
  local url
  emu_start url
  image="$work/first.png"
  cache="$work/cache-lie"
  # Content-Length promises the whole file, every answer ends at its middle:
  # retries cannot succeed, the deadline ends them
  run_src lie -- prompt="Lying result [result-lie]" io-timeout=2 timeout=5
  # (the last word may be the deadline's or the last transfer's)
  expect_error "result cut at its middle every time" \
    "timeout|did not finish|closed|terminated"
  expect_within "result cut at its middle every time" 15
  # cut once: the rest is fetched with Range
  cache="$work/cache-lie-once"
  run_src lie-once -- prompt="Lying once [result-lie-once]" io-timeout=2 timeout=20 \
    ! filesink location="$work/lie-once.mp4"
  expect_success "result cut once"
  expect_same "result cut once" "$work/lie-once.mp4"
  expect_kept "result cut once" || true
  expect_eq "cut results: creates" "$(stat_of "$url" creates)" 2
}

# ---- 4. broken clips -------------------------------------------------------------
case_html () {
  local url entry gets
  emu_start url
  image="$work/first.png"
  cache="$work/cache-html"
  run_src html -- prompt="A page, not a video [result-html]" timeout=20
  expect_error "HTML result" "not an MP4|not a video"
  expect_within "HTML result" 15
  entry=$(entry_dir)
  [ ! -e "$entry/clip.mp4" ] && ok "HTML result: not kept as the clip" \
    || fail "HTML result: kept as $entry/clip.mp4"
  if [ -s "$entry/clip.mp4.part" ]; then
    fail "HTML result: $(stat -c %s "$entry/clip.mp4.part") bytes left in $entry/clip.mp4.part"
  fi
  gets=$(stat_of "$url" result_requests)
  # not replayed from the cache: fetched (and refused) again
  run_src html-again -- prompt="A page, not a video [result-html]" timeout=20
  expect_error "HTML result, re-run" "not an MP4|not a video"
  if [ "$(stat_of "$url" result_requests)" -gt "$gets" ]; then
    ok "HTML result, re-run: fetched again, not replayed"
  else
    fail "HTML result, re-run: no new request for the result"
  fi
  expect_eq "HTML result: creates" "$(stat_of "$url" creates)" 1
}

# A clip kept in the cache and damaged afterwards never plays silently: it
# is fetched again while its link lives.
case_damaged () {
  local url clip gets
  emu_start url
  image="$work/first.png"
  cache="$work/cache-damaged"
  run_src damaged-first -- prompt="Kept, then damaged" ! filesink location="$work/d0.mp4"
  expect_success "clip to damage"
  clip="$(entry_dir)/clip.mp4"
  expect_kept "clip to damage" || return 0

  truncate -s $(($(stat -c %s "$clip") / 2)) "$clip"
  gets=$(stat_of "$url" result_requests)
  run_src truncated -- prompt="Kept, then damaged" ! filesink location="$work/d1.mp4"
  expect_success "cached clip truncated by half"
  expect_same "cached clip truncated by half" "$work/d1.mp4"
  expect_eq "cached clip truncated by half: result requests" \
    "$(stat_of "$url" result_requests)" $((gets + 1))
  expect_kept "cached clip truncated by half" || return 0

  printf 'DAMAGEDDAMAGED' | dd of="$clip" bs=1 seek=1000 conv=notrunc status=none
  run_src overwritten -- prompt="Kept, then damaged" ! filesink location="$work/d2.mp4"
  expect_success "cached clip overwritten in place"
  expect_same "cached clip overwritten in place" "$work/d2.mp4"
  expect_kept "cached clip overwritten in place" || return 0

  # Bytes that change on disk with size and mtime kept (bit rot, or a tool
  # that restores the mtime): a clip verified more than 2 s after its last
  # write is trusted on its stat alone by the store.
  sleep 2.5
  run_src verified -- prompt="Kept, then damaged" ! filesink location="$work/d3.mp4"
  expect_success "cached clip, played again"
  cp -p "$clip" "$work/clip-ref.mp4"
  printf 'DAMAGEDDAMAGED' | dd of="$clip" bs=1 seek=1000 conv=notrunc status=none
  touch -r "$work/clip-ref.mp4" "$clip"
  run_src rotten -- prompt="Kept, then damaged" ! filesink location="$work/d4.mp4"
  if [ "$rc" = 0 ] && ! cmp -s "$work/d4.mp4" "$work/result.mp4"; then
    fail "cached clip changed in place with its mtime kept: played silently, damaged ($(cmp "$work/d4.mp4" "$work/result.mp4" 2>&1 || true))"
  elif [ "$rc" = 0 ]; then
    ok "cached clip changed in place with its mtime kept: fetched again"
  else
    expect_error "cached clip changed in place with its mtime kept" "damaged"
  fi
  expect_eq "damaged clips: creates" "$(stat_of "$url" creates)" 1
}

# A download whose bytes all arrive (honest Content-Length) but are not a
# whole MP4: the check after the last byte refuses it, and that must reach
# the pipeline as an error, not as EOS after the last byte was served.
case_damaged_download () {
  local url mode n=0
  # three quarters of the clip: the last top-level box runs past the end
  head -c $(($(stat -c %s "$work/result.mp4") * 3 / 4)) "$work/result.mp4" \
    > "$work/broken.mp4"
  emu_start url --result-file "$work/broken.mp4"
  image="$work/first.png"
  for mode in push pull; do
    n=$((n + 1))
    cache="$work/cache-broken-$mode"
    if [ $mode = push ]; then
      run_src "broken-$mode" -- prompt="Broken download $n" timeout=20 \
        ! filesink location="$work/broken-out.mp4"
    else
      run_src "broken-$mode" -- prompt="Broken download $n" timeout=20
    fi
    expect_error "damaged download ($mode mode)" "damaged"
    [ ! -e "$(entry_dir)/clip.mp4" ] && ok "damaged download ($mode mode): not kept" \
      || fail "damaged download ($mode mode): kept in the cache"
  done
}

# The same, once the link is dead: an error that says what happened.
case_damaged_dead_link () {
  local url clip task creates
  emu_start url --link-ttl 1
  image="$work/first.png"
  cache="$work/cache-dead"
  run_src dead-first -- prompt="Kept, damaged, link dead" ! filesink location="$work/e0.mp4"
  expect_success "clip to damage (short-lived link)"
  task=$(task_of "$log")
  clip="$(entry_dir)/clip.mp4"
  truncate -s $(($(stat -c %s "$clip") / 2)) "$clip"
  sleep 1.5
  run_src dead-damaged -- prompt="Kept, damaged, link dead"
  expect_error "damaged clip, dead link" "damaged" "$task"
  expect_within "damaged clip, dead link" 15
  creates=$(stat_of "$url" create_requests)
  run_src dead-damaged-again -- prompt="Kept, damaged, link dead"
  expect_error "damaged clip, dead link, re-run" "$task" "cache-mode=refresh"
  expect_eq "damaged clip, dead link: create requests" "$(stat_of "$url" create_requests)" "$creates"
  expect_eq "damaged clip, dead link: creates" "$(stat_of "$url" creates)" 1
}

# ---- 5. dead result links ----------------------------------------------------------
case_links () {
  local url s task gets polls creates
  emu_start url
  image="$work/first.png"
  # the first link dies, the next poll gives a fresh one
  for s in 403 404 410; do
    cache="$work/cache-link-$s"
    gets=$(stat_of "$url" result_requests)
    run_src "link-$s" -- prompt="First link answers $s [result-$s]" timeout=20 \
      ! filesink location="$work/link-$s.mp4"
    expect_success "first link $s"
    expect_same "first link $s" "$work/link-$s.mp4"
    expect_kept "first link $s" || true
    if [ "$(stat_of "$url" result_requests)" -ge $((gets + 2)) ]; then
      ok "first link $s: the fresh link was used"
    else
      fail "first link $s: fewer than 2 result requests"
    fi
  done
  expect_eq "first links dead: creates" "$(stat_of "$url" creates)" 3

  # every link dead: the paid task is kept as lost
  cache="$work/cache-gone"
  run_src gone -- prompt="Every link dead [result-gone:404]" timeout=20
  task=$(task_of "$log")
  expect_error "every link dead" "$task" "cache-mode=refresh"
  expect_within "every link dead" 15
  creates=$(stat_of "$url" create_requests); polls=$(stat_of "$url" polls)
  gets=$(stat_of "$url" result_requests)
  run_src gone-again -- prompt="Every link dead [result-gone:404]" timeout=20
  expect_error "every link dead, re-run" "$task" "cache-mode=refresh"
  expect_eq "every link dead, re-run: create requests" "$(stat_of "$url" create_requests)" "$creates"
  expect_eq "every link dead, re-run: polls" "$(stat_of "$url" polls)" "$polls"
  expect_eq "every link dead, re-run: result requests" "$(stat_of "$url" result_requests)" "$gets"
  creates=$(stat_of "$url" creates)
  run_src gone-refresh -- prompt="Every link dead [result-gone:404]" timeout=20 \
    cache-mode=refresh
  expect_eq "every link dead, cache-mode=refresh: creates" "$(stat_of "$url" creates)" $((creates + 1))

  # a journaled task the API no longer knows
  cache="$work/cache-poll-404"
  run_src poll-404 -- prompt="Forgotten task [poll-404]" timeout=20
  task=$(task_of "$log")
  expect_error "task unknown to the API" "$task" "cache-mode=refresh"
  expect_within "task unknown to the API" 15
  creates=$(stat_of "$url" create_requests)
  run_src poll-404-again -- prompt="Forgotten task [poll-404]" timeout=20
  expect_error "task unknown to the API, re-run" "$task" "cache-mode=refresh"
  expect_eq "task unknown to the API, re-run: create requests" \
    "$(stat_of "$url" create_requests)" "$creates"
}

# ---- 6. uploads belong to their server -----------------------------------------------
case_servers () {
  local url a b bodies
  emu_start a
  emu_start b
  image="$work/first.png"
  cache="$work/cache-servers"
  url=$a
  run_src server-a -- prompt="Same request, two servers" ! filesink location="$work/a.mp4"
  expect_success "server A"
  url=$b
  # the create body is in the HTTP trace (TRACE level of klingo1http)
  run_env=(GST_DEBUG=klingo1http:9 GST_DEBUG_NO_COLOR=1)
  run_src server-b -- prompt="Same request, two servers" ! filesink location="$work/b.mp4"
  run_env=()
  expect_success "server B"
  expect_same "server B" "$work/b.mp4"
  expect_eq "server A: uploads" "$(stat_of "$a" uploads)" 1
  expect_eq "server B: uploads" "$(stat_of "$b" uploads)" 1
  expect_eq "server B: creates" "$(stat_of "$b" creates)" 1
  bodies=$(grep -a '"image_urls"' "$log" || true)
  if grep -qF "$a/" <<< "$bodies"; then
    fail "server B was sent a URL of server A: $(head -n 1 <<< "$bodies" | cut -c1-300)"
  elif grep -qF "$b/files/" <<< "$bodies"; then
    ok "server B was sent its own upload"
  else
    fail "no create body with server B's upload in the trace"
  fi
  # A's record still serves A
  url=$a
  run_src server-a-again -- prompt="Another request to A" ! filesink location="$work/a2.mp4"
  expect_success "server A, another request"
  expect_eq "server A, another request: uploads" "$(stat_of "$a" uploads)" 1
}

# ---- 7. damaged records, uncertain creates ---------------------------------------------
case_records () {
  local url entry creates content
  emu_start url
  image="$work/first.png"
  cache="$work/cache-records"
  # submit-only journals the task and stops: a task.json without a clip
  run_src journal -- prompt="Journaled, then damaged" submit-only=true ! fakesink
  expect_success "submit-only"
  entry=$(entry_dir)
  [ -s "$entry/task.json" ] || fail "no task record at $entry/task.json"
  creates=$(stat_of "$url" create_requests)
  for content in "" '{"task_id": "task-unif' '{}' 'binary'; do
    if [ "$content" = binary ]; then
      # bytes that are not text: the message quoting them must stay UTF-8
      printf '\377\376{\001\200' > "$entry/task.json"
    else
      printf '%s' "$content" > "$entry/task.json"
    fi
    run_src "damaged-journal" -- prompt="Journaled, then damaged"
    expect_error "task.json '${content:0:12}'" "task\\.json" "damaged" \
      "delete|cache-mode=refresh"
    expect_eq "task.json '${content:0:12}': create requests" \
      "$(stat_of "$url" create_requests)" "$creates"
  done

  # the recorded Idempotency-Key of a create that got no answer
  cache="$work/cache-records-key"
  run_src key-500 -- prompt="Key recorded [http:500]"
  entry=$(entry_dir)
  [ -s "$entry/create-key" ] || fail "no create-key after a 5xx create"
  : > "$entry/create-key"
  creates=$(stat_of "$url" create_requests)
  run_src damaged-key -- prompt="Key recorded [http:500]"
  expect_error "empty create-key" "create-key" "damaged"
  expect_eq "empty create-key: create requests" "$(stat_of "$url" create_requests)" "$creates"
}

case_create () {
  local url plain ignoring k1 k2
  emu_start plain
  emu_start ignoring --ignore-idempotency-key
  image="$work/first.png"

  # a 5xx answer to the create: a task may exist; the re-run sends the same key
  url=$plain
  cache="$work/cache-create-500"
  run_env=(GST_DEBUG=klingo1http:6 GST_DEBUG_NO_COLOR=1)
  run_src create-500 -- prompt="Create answered 500 [http:500]"
  k1=$(grep -ao 'Idempotency-Key: [0-9a-f-]*' "$log" | head -n 1)
  expect_error "create answered 500" "may have been created" "Idempotency-Key" "honou?r"
  run_src create-500-again -- prompt="Create answered 500 [http:500]"
  k2=$(grep -ao 'Idempotency-Key: [0-9a-f-]*' "$log" | head -n 1)
  run_env=()
  expect_error "create answered 500, re-run" "may have been created"
  [ -n "$k1" ] && [ "$k1" = "$k2" ] && ok "create answered 500: the re-run resent $k1" \
    || fail "create answered 500: keys '$k1' then '$k2'"
  expect_eq "create answered 500: creates" "$(stat_of "$url" creates)" 0

  # 429 makes no task: the create is retried (the only create that is),
  # until the deadline; the error must not speak of a task that goes on
  cache="$work/cache-create-429"
  run_src create-429 -- prompt="Rate limited [http:429]" timeout=2
  expect_error "create answered 429 until the timeout" "timeout|429"
  expect_error_not "create answered 429 until the timeout" "task +did" \
    "goes on at the API" "resumes it"
  expect_within "create answered 429 until the timeout" 10
  expect_eq "create answered 429: creates" "$(stat_of "$url" creates)" 0

  # the answer is lost (connection closed); the re-run gets the task back
  cache="$work/cache-create-lost"
  run_src lost -- prompt="Lost answer [lose-create-answer-once]"
  expect_error "create answer lost" "may have been created" "Idempotency-Key"
  expect_eq "create answer lost: creates" "$(stat_of "$url" creates)" 1
  run_src lost-again -- prompt="Lost answer [lose-create-answer-once]" \
    ! filesink location="$work/lost.mp4"
  expect_success "create answer lost, re-run"
  expect_same "create answer lost, re-run" "$work/lost.mp4"
  expect_kept "create answer lost, re-run" || true
  expect_eq "create answer lost, re-run: creates" "$(stat_of "$url" creates)" 1

  # An API that ignores Idempotency-Key: the re-run pays a second task. This
  # is why docs/errors.md says recovery depends on the API honouring the key.
  url=$ignoring
  cache="$work/cache-create-ignored"
  run_src ignored -- prompt="Lost answer [lose-create-answer-once]"
  expect_error "create answer lost, key ignored" "may have been created"
  run_src ignored-again -- prompt="Lost answer [lose-create-answer-once]" \
    ! filesink location="$work/ignored.mp4"
  expect_success "create answer lost, key ignored, re-run"
  expect_eq "create answer lost, key ignored: creates (a second, paid task)" \
    "$(stat_of "$url" creates)" 2
}

# ---- 8. a 200 poll that is a page ---------------------------------------------------------
case_poll_html () {
  local url
  emu_start url
  image="$work/first.png"
  cache="$work/cache-poll-html"
  run_src poll-html -- prompt="Portal page [poll-html:3]" timeout=60 \
    ! filesink location="$work/poll-html.mp4"
  expect_success "3 polls answered with HTML"
  expect_same "3 polls answered with HTML" "$work/poll-html.mp4"
  expect_kept "3 polls answered with HTML" || true
  expect_eq "polls answered with HTML: creates" "$(stat_of "$url" creates)" 1
}

# ---- 9. an outage longer than the retries ---------------------------------------------------
case_outage () {
  local url
  emu_start url
  image="$work/first.png"
  cache="$work/cache-outage"
  hang_limit=60
  run_src outage -- prompt="Outage [outage:20]" timeout=60 \
    ! filesink location="$work/outage.mp4"
  expect_success "20 s outage, timeout=60"
  expect_same "20 s outage, timeout=60" "$work/outage.mp4"
  expect_kept "20 s outage, timeout=60" || true
  if grep -qa "^WARNING: from element .*klingo1src.*unreachable" "$log"; then
    ok "20 s outage: a warning says the API is unreachable"
  else
    fail "20 s outage: no warning that the API is unreachable"
  fi
  expect_eq "20 s outage: creates" "$(stat_of "$url" creates)" 1
}

case_outage_timeout () {
  local url task
  emu_start url
  image="$work/first.png"
  cache="$work/cache-outage-timeout"
  hang_limit=60
  run_src outage-short -- prompt="Outage past the timeout [outage:20]" timeout=5
  task=$(task_of "$log")
  expect_error "20 s outage, timeout=5" "resum" "$task"
  expect_within "20 s outage, timeout=5" 15
  # the re-run waits out the rest of the outage and resumes the same task
  run_src outage-resume -- prompt="Outage past the timeout [outage:20]" timeout=60 \
    ! filesink location="$work/outage-resume.mp4"
  expect_success "20 s outage, re-run"
  expect_same "20 s outage, re-run" "$work/outage-resume.mp4"
  expect_kept "20 s outage, re-run" || true
  expect_eq "20 s outage, re-run: creates" "$(stat_of "$url" creates)" 1
}

# ---- 10, 11, 13. refused before anything is sent -------------------------------------------
case_refusals () {
  local url cb n=0 long what
  emu_start url
  image="$work/first.png"
  cache="$work/cache-refusals"
  long="https://example.com/$(head -c 2100 /dev/zero | tr '\0' a)"
  for cb in "http://example.com/cb" "ftp://example.com/cb" "https:///cb" \
      "https://127.0.0.1/cb" "https://localhost/cb" "https://10.1.2.3/cb" \
      "https://192.168.1.1/cb" "https://169.254.169.254/latest" "https://[::1]/cb" \
      "https://0x7f000001/cb" "https://2130706433/cb" \
      'https://example.com\@127.0.0.1/' "https://exa mple.com/" "not a url" "$long"; do
    n=$((n + 1))
    run_src "callback-$n" -- prompt="Callback $n" callback-url="$cb"
    expect_error "callback-url '${cb:0:40}'" "callback-url"
    expect_within "callback-url '${cb:0:40}'" 5
  done
  run_src otherhost -- prompt="Another host's file" \
    images="<\"file://otherhost$work/first.png\">"
  expect_error "file://otherhost" "images" "otherhost"

  # a cache dir that cannot exist: under a regular file
  : > "$work/a-file"
  run_src cache-dir -- prompt="Unwritable cache" cache-dir="$work/a-file/cache"
  expect_error "cache-dir under a regular file" "cache-dir"

  for what in creates create_requests polls uploads result_requests; do
    expect_eq "refused runs: $what" "$(stat_of "$url" $what)" 0
  done
}

# ---- running the cases --------------------------------------------------------------------
all_cases=(case_utf8 case_max_size case_poll_trickle case_result_trickle case_stall
  case_lie case_html case_damaged case_damaged_download case_damaged_dead_link
  case_links case_servers
  case_records case_create case_poll_html case_outage case_outage_timeout
  case_refusals)
cases=("${@:-${all_cases[@]}}")
for c in "${cases[@]}"; do
  c=case_${c#case_}
  (
    trap 'exit 1' TERM INT
    trap stop_children EXIT
    "$c"
    echo "-- $c: $failures failure(s)"
    [ "$failures" = 0 ]
  ) > "$work/$c.out" 2>&1 &
  echo "$c $!" >> "$work/cases"
done

status=0
failed=()
while read -r c pid; do
  if ! wait "$pid"; then
    status=1
    failed+=("$c")
  fi
done < "$work/cases"
while read -r c pid; do
  echo "==== $c"
  cat "$work/$c.out"
done < "$work/cases"
if [ $status != 0 ]; then
  # again at the end, where meson's --print-errorlogs shows it
  echo "==== failures"
  while read -r c pid; do
    grep -a '^FAIL' "$work/$c.out" | sed "s/^/$c: /" | cut -c1-400 || true
  done < "$work/cases"
  echo "FAILED: ${failed[*]}" >&2
else
  echo "all cases passed"
fi
exit $status
