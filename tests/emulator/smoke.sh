#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# End-to-end smoke test of klingo1-emulator with curl and the gst tools.
#
# Usage: smoke.sh [path/to/klingo1-emulator]
# (defaults to $KLINGO1_EMULATOR, then build-emu/ and build/ in the tree)
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
emulator=${1:-${KLINGO1_EMULATOR:-}}
if [ -z "$emulator" ]; then
  for c in "$here/../../build-emu/tests/emulator/klingo1-emulator" \
           "$here/../../build/tests/emulator/klingo1-emulator"; do
    [ -x "$c" ] && emulator=$c && break
  done
fi
[ -x "$emulator" ] || { echo "klingo1-emulator not found" >&2; exit 2; }

KEY=sk-smoke
tmp=$(mktemp -d)
emu_pid=
emu2_pid=
cleanup() {
  [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
  [ -n "$emu2_pid" ] && kill "$emu2_pid" 2>/dev/null && wait "$emu2_pid" 2>/dev/null
  jobs -p | xargs -r kill 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; [ -f "$tmp/emu.err" ] && sed 's/^/  emulator: /' "$tmp/emu.err" >&2; exit 1; }
ok() { echo "ok: $*"; }

# JSON field extraction without jq: python3 is part of every GStreamer dev box
jget() { python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v=v[int(k)] if isinstance(v,list) else v.get(k)
print("" if v is None else (json.dumps(v) if isinstance(v,(dict,list,bool)) else v))' "$1" "$2"; }

"$emulator" --port 0 --task-seconds 1 --key "$KEY" >"$tmp/emu.out" 2>"$tmp/emu.err" &
emu_pid=$!
for _ in $(seq 50); do
  [ -s "$tmp/emu.out" ] && break
  sleep 0.1
done
URL=$(head -n1 "$tmp/emu.out")
[[ "$URL" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "bad first line: '$URL'"
ok "emulator at $URL"

AUTH=(-H "Authorization: Bearer $KEY")

# --- inputs --------------------------------------------------------------
gst-launch-1.0 -q videotestsrc num-buffers=1 ! video/x-raw,width=64,height=48 \
  ! pngenc ! filesink location="$tmp/a.png" || fail "cannot make PNG"
gst-launch-1.0 -q videotestsrc num-buffers=96 ! video/x-raw,width=160,height=120,framerate=24/1 \
  ! x264enc ! h264parse ! mp4mux name=m ! filesink location="$tmp/in.mp4" \
  audiotestsrc num-buffers=96 samplesperbuffer=2000 ! audio/x-raw,rate=48000 ! audioconvert ! avenc_aac ! m. \
  || fail "cannot make input MP4"

upload() { # file -> prints file_url
  local code
  code=$(curl -s -o "$tmp/up.json" -w '%{http_code}' "${AUTH[@]}" -F "file=@$1" \
    "$URL/api/v1/files/upload/stream") || fail "upload of $1: curl error"
  [ "$code" = 200 ] || fail "upload of $1: HTTP $code $(cat "$tmp/up.json")"
  [ "$(jget "$tmp/up.json" success)" = true ] || fail "upload: success != true"
  jget "$tmp/up.json" data.file_url
}

create() { # json body -> sets ID; file c.json
  local code
  code=$(curl -s -o "$tmp/c.json" -w '%{http_code}' "${AUTH[@]}" \
    -H 'Content-Type: application/json' -d "$1" "$URL/v1/videos/generations")
  [ "$code" = 200 ] || fail "create: HTTP $code $(cat "$tmp/c.json")"
  [ "$(jget "$tmp/c.json" status)" = pending ] || fail "create: status not pending"
  ID=$(jget "$tmp/c.json" id)
  [[ "$ID" =~ ^task-unified-[0-9]+-[a-z0-9]{8}$ ]] || fail "bad task id $ID"
}

poll() { # ID -> waits for completed; sets RESULT
  local status
  for _ in $(seq 120); do
    curl -s -o "$tmp/t.json" "${AUTH[@]}" "$URL/v1/tasks/$1" || fail "poll: curl error"
    status=$(jget "$tmp/t.json" status)
    case "$status" in
      completed) RESULT=$(jget "$tmp/t.json" results.0); return 0 ;;
      pending|processing) sleep 0.25 ;;
      *) fail "task $1 ended $status: $(cat "$tmp/t.json")" ;;
    esac
  done
  fail "task $1 did not complete"
}

discover() { # file -> discoverer output in $tmp/disc.txt
  gst-discoverer-1.0 "$1" >"$tmp/disc.txt" 2>&1 || fail "discoverer failed on $1"
}

check_video() { # file width height min_s max_s
  discover "$1"
  grep -q 'video #.*H.264' "$tmp/disc.txt" || fail "$1 is not H.264: $(cat "$tmp/disc.txt")"
  grep -q "Width: $2\$" "$tmp/disc.txt" || fail "$1 width != $2"
  grep -q "Height: $3\$" "$tmp/disc.txt" || fail "$1 height != $3"
  local dur
  dur=$(sed -n 's/^ *Duration: \([0-9]*\):\([0-9]*\):\([0-9.]*\)$/\1 \2 \3/p' "$tmp/disc.txt" | head -n1 |
    awk '{ print $1 * 3600 + $2 * 60 + $3 }')
  awk -v d="$dur" -v lo="$4" -v hi="$5" 'BEGIN { exit !(d >= lo && d <= hi) }' ||
    fail "$1 duration $dur not in [$4, $5]"
}

# --- auth -----------------------------------------------------------------
code=$(curl -s -o "$tmp/e.json" -w '%{http_code}' -H "Authorization: Bearer wrong" \
  -H 'Content-Type: application/json' -d '{}' "$URL/v1/videos/generations")
[ "$code" = 401 ] || fail "wrong key: HTTP $code"
[ "$(jget "$tmp/e.json" error.type)" = authentication_error ] || fail "401 body"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/tasks/task-unified-1-abcdefgh")
[ "$code" = 401 ] || fail "missing key on poll: HTTP $code"
ok "401 on wrong/missing key"

# --- validation -------------------------------------------------------------
code=$(curl -s -o "$tmp/e.json" -w '%{http_code}' "${AUTH[@]}" -d \
  '{"model":"kling-o1-image-to-video","prompt":"x","image_urls":["http://a/b.png"],"duration":7}' \
  "$URL/v1/videos/generations")
[ "$code" = 400 ] && grep -q duration "$tmp/e.json" || fail "duration 7: HTTP $code $(cat "$tmp/e.json")"
code=$(curl -s -o "$tmp/e.json" -w '%{http_code}' "${AUTH[@]}" -d '{"model":"nope","prompt":"x"}' \
  "$URL/v1/videos/generations")
[ "$code" = 404 ] || fail "unknown model: HTTP $code"
code=$(curl -s -o "$tmp/e.json" -w '%{http_code}' -D "$tmp/h.txt" "${AUTH[@]}" -d \
  '{"model":"kling-o1-image-to-video","prompt":"x [http:429]","image_urls":["http://a/b.png"]}' \
  "$URL/v1/videos/generations")
[ "$code" = 429 ] && grep -qi '^retry-after: 1' "$tmp/h.txt" || fail "[http:429]: HTTP $code"
ok "validation and [http:429]"

# --- image to video -----------------------------------------------------------
F1=$(upload "$tmp/a.png") || exit 1
curl -s -o "$tmp/a.back" "$F1" && cmp -s "$tmp/a.png" "$tmp/a.back" || fail "uploaded file not served back"
ok "upload -> $F1"

create "{\"model\":\"kling-o1-image-to-video\",\"prompt\":\"a slow pan\",\"aspect_ratio\":\"16:9\",\"image_urls\":[\"$F1\"]}"
[ "$(jget "$tmp/c.json" usage.credits_reserved)" = 40 ] || fail "credits for 5 s"
poll "$ID"
ok "i2v task $ID completed: $RESULT"
curl -s -f -o "$tmp/i2v.mp4" "$RESULT" || fail "download $RESULT"
check_video "$tmp/i2v.mp4" 320 180 4.9 5.1
ok "i2v result is H.264 320x180 ~5 s"
sed 's/^/    /' "$tmp/disc.txt"
frames=$(gst-launch-1.0 -v filesrc location="$tmp/i2v.mp4" ! qtdemux ! h264parse ! avdec_h264 \
  ! identity silent=false ! fakesink 2>/dev/null | grep -c 'identity0: last-message = chain' || true)
echo "    decoded frames: $frames"
[ "$frames" = 120 ] || fail "expected 120 decoded frames, got $frames"

size=$(stat -c %s "$tmp/i2v.mp4")
code=$(curl -s -r 0-99 -o "$tmp/part.bin" -D "$tmp/h.txt" -w '%{http_code}' "$RESULT")
[ "$code" = 206 ] || fail "range request: HTTP $code"
[ "$(stat -c %s "$tmp/part.bin")" = 100 ] || fail "range request returned $(stat -c %s "$tmp/part.bin") bytes"
grep -qi "^content-range: bytes 0-99/$size" "$tmp/h.txt" || fail "bad Content-Range: $(cat "$tmp/h.txt")"
cmp -s "$tmp/part.bin" <(head -c 100 "$tmp/i2v.mp4") || fail "range bytes differ"
ok "range request 0-99 -> 206"

# --- video edit -------------------------------------------------------------------
V1=$(upload "$tmp/in.mp4") || exit 1
for keep in false true; do
  create "{\"model\":\"kling-o1-video-edit\",\"prompt\":\"make it blue\",\"video_urls\":[\"$V1\"],\"keep_original_sound\":$keep}"
  poll "$ID"
  curl -s -f -o "$tmp/edit-$keep.mp4" "$RESULT" || fail "download $RESULT"
  check_video "$tmp/edit-$keep.mp4" 160 120 3.9 4.1
  if [ "$keep" = true ]; then
    grep -q 'audio #' "$tmp/disc.txt" || fail "keep_original_sound=true but no audio"
  else
    grep -q 'audio #' "$tmp/disc.txt" && fail "keep_original_sound=false but audio present"
  fi
  ok "video-edit keep_original_sound=$keep: H.264 160x120 ~4 s, audio as expected"
  sed 's/^/    /' "$tmp/disc.txt"
done

# --- failure markers ------------------------------------------------------------------
create "{\"model\":\"kling-o1-video-edit-fast\",\"prompt\":\"x [fail:content_policy_violation]\",\"video_urls\":[\"$V1\"]}"
sleep 1.3
curl -s -o "$tmp/t.json" "${AUTH[@]}" "$URL/v1/tasks/$ID"
[ "$(jget "$tmp/t.json" status)" = failed ] && [ "$(jget "$tmp/t.json" error.code)" = content_policy_violation ] ||
  fail "[fail:...]: $(cat "$tmp/t.json")"
ok "[fail:content_policy_violation]"

# --- stats ---------------------------------------------------------------------------
curl -s -o "$tmp/s.json" "$URL/emulator/stats"
cat "$tmp/s.json"; echo
[ "$(jget "$tmp/s.json" creates)" = 4 ] || fail "stats.creates"
[ "$(jget "$tmp/s.json" create_requests)" = 8 ] || fail "stats.create_requests"
[ "$(jget "$tmp/s.json" uploads)" = 2 ] || fail "stats.uploads"
[ "$(jget "$tmp/s.json" downloads)" = 4 ] || fail "stats.downloads"
[ "$(jget "$tmp/s.json" polls)" -ge 4 ] || fail "stats.polls"
ok "stats"

# === second emulator: --result-file, --download-bps, faults ===================
BPS=100000
head -c 300000 /dev/urandom >"$tmp/result.bin"
"$emulator" --port 0 --task-seconds 1 --key "$KEY" --result-file "$tmp/result.bin" \
  --download-bps $BPS --estimate-factor 2 --credits 550 >"$tmp/emu2.out" 2>"$tmp/emu.err" &
emu2_pid=$!
for _ in $(seq 50); do
  [ -s "$tmp/emu2.out" ] && break
  sleep 0.1
done
URL=$(head -n1 "$tmp/emu2.out")
[[ "$URL" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "emulator 2: bad first line: '$URL'"
ok "emulator 2 at $URL (--result-file, --download-bps $BPS)"

I2V='"model":"kling-o1-image-to-video","image_urls":["http://example.invalid/a.png"]'
mk() { # prompt [curl args] -> prints the task id (the create answer in mk.json)
  local p=$1; shift
  curl -s -o "$tmp/mk.json" "${AUTH[@]}" "$@" -d "{$I2V,\"prompt\":\"$p\"}" \
    "$URL/v1/videos/generations" || return 1
  jget "$tmp/mk.json" id
}
poll_code() { # id -> prints "HTTP-code content-type"; body in pc.json
  curl -s -o "$tmp/pc.json" -w '%{http_code} %{content_type}' "${AUTH[@]}" "$URL/v1/tasks/$1"
}
link() { # id -> prints results.0 of a poll
  curl -s -o "$tmp/l.json" "${AUTH[@]}" "$URL/v1/tasks/$1" && jget "$tmp/l.json" results.0
}

# All tasks are created at once: they complete together one second later
ID=$(mk "plain") || fail "create"
[ "$(jget "$tmp/mk.json" task_info.estimated_time)" = 2 ] ||
  fail "estimated_time with --estimate-factor 2, T=1: $(cat "$tmp/mk.json")"
pc=$(poll_code "$ID")
[[ "$(jget "$tmp/pc.json" status)" =~ ^(pending|processing)$ ]] || fail "poll at once: $(cat "$tmp/pc.json")"
est=$(jget "$tmp/pc.json" task_info.estimated_time)
[ "$est" -ge 1 ] && [ "$est" -le 2 ] || fail "estimated_time $est not in [1, 2]"
ok "estimated_time 2 (T 1 s x factor 2) at create, $est at the first poll"
ID_HTML=$(mk "[poll-html:1]")
ID_OUT=$(mk "[outage:3]")
ID_P404=$(mk "[poll-404]")
ID_PTR=$(mk "[poll-trickle]")
ID_END=$(mk "[result-endless]")
ID_TRI=$(mk "[result-trickle]")
ID_STA=$(mk "[result-stall]")
ID_LIE=$(mk "[result-lie]")
ID_RHT=$(mk "[result-html]")
ID_403=$(mk "[result-403]")
ID_GONE=$(mk "[result-gone:410]")

code=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" -H 'Idempotency-Key: smoke-1' \
  -d "{$I2V,\"prompt\":\"[lose-create-answer-once]\"}" "$URL/v1/videos/generations")
rc=$?
[ "$rc" = 52 ] || fail "[lose-create-answer-once]: curl exit $rc (HTTP $code), expected 52 (empty reply)"
code=$(curl -s -o "$tmp/mk.json" -D "$tmp/h.txt" -w '%{http_code}' "${AUTH[@]}" -H 'Idempotency-Key: smoke-1' \
  -d "{$I2V,\"prompt\":\"[lose-create-answer-once]\"}" "$URL/v1/videos/generations")
[ "$code" = 200 ] && grep -qi '^idempotency-replayed: true' "$tmp/h.txt" ||
  fail "[lose-create-answer-once] re-sent: HTTP $code"
ok "[lose-create-answer-once]: connection closed, then replayed"

# --- poll markers (while the tasks run) ---
[ "$(poll_code "$ID_HTML")" = "200 text/html; charset=utf-8" ] || fail "[poll-html:1] first poll"
[ "$(poll_code "$ID_HTML")" = "200 application/json" ] || fail "[poll-html:1] second poll"
[ "$(poll_code "$ID_OUT" | cut -d' ' -f1)" = 503 ] || fail "[outage:3] poll inside the outage"
[ "$(poll_code "$ID_P404" | cut -d' ' -f1)" = 404 ] || fail "[poll-404]"
curl -s -m 1.5 -o /dev/null "${AUTH[@]}" "$URL/v1/tasks/$ID_PTR"
rc=$?
[ "$rc" = 28 ] || fail "[poll-trickle]: first poll curl exit $rc, expected 28 (timeout)"
[ "$(poll_code "$ID_PTR" | cut -d' ' -f1)" = 200 ] || fail "[poll-trickle] second poll"
ok "[poll-html:1], [outage:S], [poll-404], [poll-trickle]"

# --- the result file, ranges, throttling ---
RESULT=$(link "$ID")
[ -n "$RESULT" ] || fail "task $ID not completed: $(cat "$tmp/l.json")"
size=$(stat -c %s "$tmp/result.bin")
code=$(curl -s -r "$size-" -o /dev/null -D "$tmp/h.txt" -w '%{http_code}' "$RESULT")
[ "$code" = 416 ] && grep -qi "^content-range: bytes \*/$size" "$tmp/h.txt" || fail "range past the end: HTTP $code"
code=$(curl -s -r -1000 -o "$tmp/tail.bin" -w '%{http_code}' "$RESULT")
[ "$code" = 206 ] && cmp -s "$tmp/tail.bin" <(tail -c 1000 "$tmp/result.bin") || fail "suffix range: HTTP $code"
ok "416 with bytes */$size, suffix range"

# A throttled full download, and meanwhile a Range for the tail (a trailing
# moov) on a second connection: the second must not wait for the first
t0=$(date +%s%N)
curl -s -o "$tmp/full.bin" "$RESULT" &
full_pid=$!
sleep 0.3
code=$(curl -s -r 290000- -o "$tmp/tail.bin" -w '%{http_code}' "$RESULT")
t1=$(date +%s%N)
kill -0 $full_pid 2>/dev/null || fail "throttled download finished too early"
[ "$code" = 206 ] && cmp -s "$tmp/tail.bin" <(tail -c 10000 "$tmp/result.bin") || fail "concurrent range: HTTP $code"
wait $full_pid || fail "throttled download failed"
t2=$(date +%s%N)
cmp -s "$tmp/full.bin" "$tmp/result.bin" || fail "--result-file bytes differ"
ms=$(( (t2 - t0) / 1000000 ))
[ $ms -ge 2400 ] || fail "300000 bytes at $BPS B/s took only $ms ms"
[ $(( (t1 - t0) / 1000000 )) -lt 1500 ] || fail "concurrent range waited for the first transfer"
ok "result = --result-file, throttled ($ms ms for $size bytes), concurrent Range served meanwhile"

# more than 3 s since the create by now
[ "$(poll_code "$ID_OUT" | cut -d' ' -f1)" = 200 ] || fail "[outage:3] poll after the outage"
ok "polls answer again after [outage:3]"

# --- result markers ---
curl -s -m 1.5 -o "$tmp/end.bin" -D "$tmp/h.txt" "$(link "$ID_END")"
rc=$?
[ "$rc" = 28 ] && grep -qi '^transfer-encoding: chunked' "$tmp/h.txt" &&
  ! grep -qi '^content-length' "$tmp/h.txt" || fail "[result-endless]: curl exit $rc"
curl -s -r 0-9 -m 1.5 -o /dev/null "$(link "$ID_TRI")"
rc=$?
[ "$rc" = 28 ] || fail "[result-trickle]: curl exit $rc, expected 28"
R=$(link "$ID_STA")
curl -s -m 2.5 -o /dev/null -D "$tmp/h.txt" "$R"
rc=$?
[ "$rc" = 28 ] && grep -qi "^content-length: $size" "$tmp/h.txt" || fail "[result-stall] first GET: curl exit $rc"
code=$(curl -s -r 150000-150099 -o "$tmp/part.bin" -w '%{http_code}' "$R")
[ "$code" = 206 ] && cmp -s "$tmp/part.bin" <(tail -c +150001 "$tmp/result.bin" | head -c 100) ||
  fail "[result-stall] Range retry: HTTP $code"
curl -s -r 0-199999 -o "$tmp/lie.bin" "$(link "$ID_LIE")"
rc=$?
[ "$rc" = 18 ] && [ "$(stat -c %s "$tmp/lie.bin")" = 150000 ] ||
  fail "[result-lie]: curl exit $rc, $(stat -c %s "$tmp/lie.bin") bytes"
code=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$(link "$ID_RHT")")
[ "$code" = "200 text/html; charset=utf-8" ] || fail "[result-html]: $code"
ok "[result-endless], [result-trickle], [result-stall] (+ Range retry), [result-lie], [result-html]"

R=$(link "$ID_403")
code=$(curl -s -o /dev/null -w '%{http_code}' "$R")
[ "$code" = 403 ] || fail "[result-403] first link: HTTP $code"
R2=$(link "$ID_403")
[ "$R2" != "$R" ] || fail "[result-403]: no fresh link after the 403"
code=$(curl -s -r 0-99 -o /dev/null -w '%{http_code}' "$R2")
[ "$code" = 206 ] || fail "[result-403] fresh link $R2: HTTP $code"
R=$(link "$ID_GONE")
code=$(curl -s -o /dev/null -w '%{http_code}' "$R")
[ "$code" = 410 ] && [ "$(link "$ID_GONE")" = "$R" ] || fail "[result-gone:410]: HTTP $code"
ok "[result-403] then a fresh link, [result-gone:410]"

# --- credits ---
curl -s -o "$tmp/cr.json" "${AUTH[@]}" "$URL/v1/credits"
curl -s -o "$tmp/s.json" "$URL/emulator/stats"
used=$(jget "$tmp/s.json" credits_used)
[ "$used" = $(( 40 * $(jget "$tmp/s.json" creates) )) ] || fail "credits_used $used"
[ "$(jget "$tmp/cr.json" success)" = true ] &&
  [ "$(jget "$tmp/cr.json" data.user.used_credits)" = "$used" ] &&
  [ "$(jget "$tmp/cr.json" data.token.remaining_credits)" = $(( 550 - used )) ] &&
  [ "$(jget "$tmp/cr.json" data.token.unlimited_credits)" = false ] || fail "/v1/credits: $(cat "$tmp/cr.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/credits")
[ "$code" = 401 ] || fail "/v1/credits without key: HTTP $code"
code=$(curl -s -o "$tmp/e.json" -w '%{http_code}' "${AUTH[@]}" \
  -d "{$I2V,\"prompt\":\"x\",\"duration\":10}" "$URL/v1/videos/generations")
[ "$code" = 402 ] && [ "$(jget "$tmp/e.json" error.type)" = insufficient_quota_error ] ||
  fail "create beyond the balance ($(( 550 - used )) left): HTTP $code"
cat "$tmp/s.json"; echo
[ "$(jget "$tmp/s.json" range_requests)" -ge 6 ] || fail "stats.range_requests"
[ "$(jget "$tmp/s.json" result_requests)" -ge 12 ] || fail "stats.result_requests"
[ "$(jget "$tmp/s.json" bytes_sent)" -ge $(( size + 150000 )) ] || fail "stats.bytes_sent"
ok "/v1/credits, 402 beyond the balance, stats"

# --- SIGTERM with an endless body open ---
curl -s -o /dev/null "$(link "$ID_END")" &
sleep 0.5
t0=$(date +%s%N)
kill "$emu2_pid"
wait "$emu2_pid"
rc=$?
emu2_pid=
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rc" = 0 ] || fail "emulator 2 exit status $rc after SIGTERM"
[ $ms -lt 2000 ] || fail "SIGTERM took $ms ms"
ok "SIGTERM with an endless body open: exit 0 in $ms ms"

echo "emulator smoke test passed"
