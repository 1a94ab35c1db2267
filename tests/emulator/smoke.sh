#!/usr/bin/env bash
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
cleanup() {
  [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
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

echo "emulator smoke test passed"
