#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# gst-klingo1 benchmark: klingo1src against its peers on the same machine in
# the same run (souphttpsrc, curl, filesrc, sha256sum), with the bundled
# emulator as the server. Figures are ratios or counts, never absolute
# times; each timed figure is the median of KLINGO1_BENCH_RUNS runs (default
# 7), the runs of the things compared interleaved. The last thing printed is
# the table of docs/performance.md.
#
#   meson test -C build --benchmark --verbose
#
# or by hand, after `ninja -C build tests/bench/bench-first-frame
# tests/bench/bench-stop-latency tests/bench/bench-eos-count
# tests/bench/bench-runstat`:
#   KLINGO1_EMULATOR=build/tests/emulator/klingo1-emulator \
#   GST_PLUGIN_PATH=build/gst/klingo1 KLINGO1_BENCH_TOOLS=build/tests/bench \
#   bash tests/bench/bench.sh
#
# KLINGO1_BENCH_MEDIA: where the generated clips are kept between runs
# (meson: the build dir's tests/bench/bench-media).
set -euo pipefail

runs="${KLINGO1_BENCH_RUNS:-7}"
tools="${KLINGO1_BENCH_TOOLS:?set KLINGO1_BENCH_TOOLS to the build dir of tests/bench}"
media="${KLINGO1_BENCH_MEDIA:-${TMPDIR:-/tmp}/klingo1-bench-media}"
here="$(cd "$(dirname "$0")" && pwd)"
key=sk-bench
bps=2000000                      # "2 MB/s": per connection, as the emulator paces
work="$(mktemp -d)"
export TMPDIR="$work"            # klingo1src's temp downloads land here too

: > "$work/pids"
cleanup () {
  local pid
  while read -r pid; do
    kill "$pid" 2>/dev/null || true
  done < "$work/pids"
  rm -rf "$work"
}
trap cleanup EXIT

log () { echo "# $*"; }
now_ms () { local t=$EPOCHREALTIME; echo "${t/./}" | cut -c1-13; }

# median of the numbers on stdin (mean of the two middle ones when even)
median () {
  sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "nan"; exit}
    if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
ratio () { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
le () { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}'; }
verdict () { if le "$1" "$2"; then echo met; else echo MISSED; fi; }

# runstat FILE CMD...: runs CMD under bench-runstat, its report in FILE
runstat () {
  local out="$1"; shift
  "$tools/bench-runstat" -o "$out" "$@"
}
# field NAME FILE: a name=value field of a runstat report
field () { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$2"; }

# emu_start VAR ARGS...: starts an emulator, its base URL in $VAR
emu_start () {
  local var="$1" name="emu$RANDOM" u=""; shift
  "$KLINGO1_EMULATOR" --port 0 --key "$key" "$@" > "$work/$name.out" \
    2> "$work/$name.err" &
  echo $! >> "$work/pids"
  for _ in $(seq 100); do
    u="$(head -n1 "$work/$name.out" 2>/dev/null || true)"
    [ -n "$u" ] && break
    sleep 0.05
  done
  [ -n "$u" ] || { echo "FAIL: emulator did not start: $(cat "$work/$name.err")"; exit 1; }
  printf -v "$var" '%s' "$u"
}
stat () {  # stat URL COUNTER
  curl -sf "$1/emulator/stats" | sed -n "s/.*\"$2\" *: *\([0-9]*\).*/\1/p"
}
I2V='"model":"kling-o1-image-to-video","image_urls":["http://example.invalid/a.png"]'
# new_task URL: creates a task with curl, polls until it is completed; sets
# $task and $result (its results[0])
new_task () {
  local body
  task="$(curl -sf -H "Authorization: Bearer $key" -d "{$I2V,\"prompt\":\"bench\"}" \
    "$1/v1/videos/generations" | sed -n 's/.*"id":"\(task-unified-[^"]*\)".*/\1/p')"
  [ -n "$task" ] || { echo "FAIL: create on $1"; exit 1; }
  for _ in $(seq 200); do
    body="$(curl -sf -H "Authorization: Bearer $key" "$1/v1/tasks/$task")"
    result="$(echo "$body" | sed -n 's/.*"results":\["\([^"]*\)".*/\1/p')"
    [ -n "$result" ] && return 0
    sleep 0.1
  done
  echo "FAIL: task $task never completed"; exit 1
}

# ---- media (kept between runs) -------------------------------------------

# make_clip NAME FRAMES WIDTH HEIGHT KBPS FASTSTART: H.264 snow in MP4, 25 fps
make_clip () {
  local f="$media/$1.mp4" spec="$2 $3 $4 $5 $6"
  if [ -f "$f" ] && [ "$(cat "$f.spec" 2>/dev/null)" = "$spec" ]; then return; fi
  log "generating $f"
  gst-launch-1.0 -q videotestsrc pattern=snow num-buffers="$2" \
    ! "video/x-raw,width=$3,height=$4,framerate=25/1" \
    ! x264enc speed-preset=ultrafast bitrate="$5" key-int-max=50 \
    ! mp4mux faststart="$6" ! filesink location="$f.tmp"
  mv "$f.tmp" "$f"
  echo "$spec" > "$f.spec"
}
mkdir -p "$media"
make_clip c68 680 640 360 20000 true      # ~68 MB, moov first
make_clip c27 270 640 360 20000 false     # ~27 MB, moov after the media
make_clip c3 25 640 360 20000 true        # ~3 MB
make_clip small 50 320 180 1000 true      # ~280 KB
make_clip v100 250 1280 720 80000 true    # ~100 MB (under the 100 MiB limit)
size () { wc -c < "$1"; }
mb () { awk -v b="$1" 'BEGIN {printf "%.1f", b/1e6}'; }
for c in c68 c27 c3 small v100; do
  log "$c.mp4: $(mb "$(size "$media/$c.mp4")") MB"
done

# the registry in place before anything is timed
gst-inspect-1.0 klingo1src > /dev/null

# ---- emulators ------------------------------------------------------------

emu_start slow68 --task-seconds 0 --result-file "$media/c68.mp4" --download-bps $bps
emu_start slow27 --task-seconds 0 --result-file "$media/c27.mp4" --download-bps $bps
emu_start fast68 --task-seconds 0 --result-file "$media/c68.mp4"
emu_start fast3 --task-seconds 0 --result-file "$media/c3.mp4"
emu_start mid68 --task-seconds 0 --result-file "$media/c68.mp4" --download-bps 20000000
emu_start upemu --task-seconds 1 --result-file "$media/small.mp4"
emu_start many --task-seconds 2 --result-file "$media/small.mp4"
emu_start stopemu --task-seconds 30 --result-file "$media/small.mp4"
emu_start p55auto --task-seconds 55 --result-file "$media/small.mp4"
emu_start p55fixed --task-seconds 55 --result-file "$media/small.mp4"

# ---- 55 s task, in the background (it mostly sleeps) ------------------------

# poll55 NAME URL PROPS...: one generation of a 55 s task; writes "polls
# delay_ms" to $work/NAME.res, delay from the task's completion (its create
# seen on the stats + 55 s) to the first request of its result
poll55 () {
  local name="$1" u="$2" tc="" td="" pid; shift 2
  timeout 150 gst-launch-1.0 -q klingo1src prompt=p55 \
    images="<http://example.invalid/a.png>" api-url="$u" api-key="$key" \
    cache-mode=disabled "$@" ! fakesink > "$work/$name.log" 2>&1 &
  pid=$!
  echo $pid >> "$work/pids"
  for _ in $(seq 400); do
    [ "$(stat "$u" creates)" -ge 1 ] && { tc=$(now_ms); break; }
    sleep 0.02
  done
  sleep 50
  for _ in $(seq 1500); do
    [ "$(stat "$u" result_requests)" -ge 1 ] && { td=$(now_ms); break; }
    sleep 0.05
  done
  wait $pid || true
  if [ -n "$tc" ] && [ -n "$td" ]; then
    echo "$(stat "$u" polls) $(( td - tc - 55000 ))" > "$work/$name.res"
  else
    echo "nan nan" > "$work/$name.res"
  fi
}
poll55 p55auto "$p55auto" &
p55_pids="$!"
poll55 p55fixed "$p55fixed" poll-interval=10 &
p55_pids="$p55_pids $!"
echo "$p55_pids" | tr ' ' '\n' >> "$work/pids"
p55_started=$(now_ms)

# ---- first decoded frame at 2 MB/s -------------------------------------------

# first_frame NAME URL: $runs interleaved runs of klingo1src (attached to a
# completed task, cache disabled) and souphttpsrc on its result URL; sets
# ff_k_NAME, ff_s_NAME (median ms from PLAYING to the first decoded frame)
first_frame () {
  local name="$1" u="$2" k s i
  new_task "$u"
  : > "$work/ff_k"; : > "$work/ff_s"
  for i in $(seq "$runs"); do
    "$tools/bench-first-frame" "klingo1src task-id=$task api-url=$u api-key=$key cache-mode=disabled timeout=120" >> "$work/ff_k"
    "$tools/bench-first-frame" "souphttpsrc location=$result" >> "$work/ff_s"
  done
  k=$(median < "$work/ff_k"); s=$(median < "$work/ff_s")
  log "first frame $name: klingo1src $(paste -sd' ' "$work/ff_k") ms; souphttpsrc $(paste -sd' ' "$work/ff_s") ms"
  printf -v "ff_k_$name" '%s' "$k"
  printf -v "ff_s_$name" '%s' "$s"
}
first_frame c68 "$slow68"
first_frame c27 "$slow27"

# ---- full-speed fetch, peak RSS ---------------------------------------------

fast_runs=$(( runs * 4 + 1 ))    # short runs: more of them
new_task "$fast68"; t68=$task; r68=$result
new_task "$fast3"; t3=$task; r3=$result
for f in k68 s68 c68 k3 s3 c3 rk68 rk3; do : > "$work/$f"; done
for i in $(seq $(( fast_runs + 1 ))); do
  for sz in 68 3; do
    t=t$sz; r=r$sz; u=fast$sz
    runstat "$work/rs" gst-launch-1.0 -q klingo1src task-id="${!t}" api-url="${!u}" \
      api-key="$key" cache-mode=disabled timeout=120 ! fakesink
    [ "$i" -gt 1 ] && field wall_ms "$work/rs" >> "$work/k$sz" && field maxrss_kb "$work/rs" >> "$work/rk$sz"
    runstat "$work/rs" gst-launch-1.0 -q souphttpsrc location="${!r}" ! fakesink
    [ "$i" -gt 1 ] && field wall_ms "$work/rs" >> "$work/s$sz"
    runstat "$work/rs" curl -sf -m 120 -o /dev/null "${!r}"
    [ "$i" -gt 1 ] && field wall_ms "$work/rs" >> "$work/c$sz"
  done
done
for f in k68 s68 c68 k3 s3 c3 rk68 rk3; do
  printf -v "m_$f" '%s' "$(median < "$work/$f")"
done
log "fetch 68 MB wall ms: klingo1src $(paste -sd' ' "$work/k68"); souphttpsrc $(paste -sd' ' "$work/s68"); curl $(paste -sd' ' "$work/c68")"
log "fetch 3 MB wall ms:  klingo1src $(paste -sd' ' "$work/k3"); souphttpsrc $(paste -sd' ' "$work/s3"); curl $(paste -sd' ' "$work/c3")"
log "peak RSS KB: 68 MB clip $(paste -sd' ' "$work/rk68"); 3 MB clip $(paste -sd' ' "$work/rk3")"
# the byte path alone: what 65 MB more cost each (68 MB run - 3 MB run)
marg_k=$(awk -v a="$m_k68" -v b="$m_k3" 'BEGIN {print a-b}')
marg_s=$(awk -v a="$m_s68" -v b="$m_s3" 'BEGIN {print a-b}')
marg_c=$(awk -v a="$m_c68" -v b="$m_c3" 'BEGIN {print a-b}')
log "65 MB more cost: klingo1src $marg_k ms, souphttpsrc $marg_s ms, curl $marg_c ms"

# the same at 20 MB/s, where the transfer outweighs starting a process
new_task "$mid68"
for f in km sm cm; do : > "$work/$f"; done
for i in $(seq 3); do
  runstat "$work/rs" gst-launch-1.0 -q klingo1src task-id="$task" api-url="$mid68" \
    api-key="$key" cache-mode=disabled timeout=120 ! fakesink
  field wall_ms "$work/rs" >> "$work/km"
  runstat "$work/rs" gst-launch-1.0 -q souphttpsrc location="$result" ! fakesink
  field wall_ms "$work/rs" >> "$work/sm"
  runstat "$work/rs" curl -sf -m 120 -o /dev/null "$result"
  field wall_ms "$work/rs" >> "$work/cm"
done
m_km=$(median < "$work/km"); m_sm=$(median < "$work/sm"); m_cm=$(median < "$work/cm")
log "fetch 68 MB at 20 MB/s wall ms: klingo1src $(paste -sd' ' "$work/km"); souphttpsrc $(paste -sd' ' "$work/sm"); curl $(paste -sd' ' "$work/cm")"

# ---- 100 MB local video: first run, then cached re-run ---------------------------

video="$media/v100.mp4"
vsize=$(size "$video")
upport="${upemu##*:}"
python3 "$here/reqlog.py" "$upport" "$work/req.log" > "$work/proxy.out" &
echo $! >> "$work/pids"
for _ in $(seq 100); do
  proxy="$(head -n1 "$work/proxy.out" 2>/dev/null || true)"
  [ -n "$proxy" ] && break
  sleep 0.05
done
touch "$work/req.log"
# first_request_ms RUNSTAT_FILE LOG_LINES_BEFORE: first logged request after
# the process start
first_request_ms () {
  local start t
  start=$(field start_ns "$1")
  t=$(tail -n +$(( $2 + 1 )) "$work/req.log" | head -n1 | cut -d' ' -f1)
  awk -v a="$t" -v b="$start" 'BEGIN {printf "%.1f\n", (a-b)/1e6}'
}
edit=(model=video-edit video="$video" prompt="Bench edit" api-url="$proxy"
      files-url="$proxy" api-key="$key" timeout=120)
up_runs=3
for f in ur ub ut pr pt; do : > "$work/$f"; done
before="$(curl -sf "$upemu/emulator/stats")"
for i in $(seq $up_runs); do
  n=$(wc -l < "$work/req.log")
  runstat "$work/rs" gst-launch-1.0 -q klingo1src "${edit[@]}" \
    cache-dir="$work/upcache$i" ! qtdemux ! fakesink
  field rchar "$work/rs" >> "$work/ub"
  field maxrss_kb "$work/rs" >> "$work/ur"
  first_request_ms "$work/rs" "$n" >> "$work/ut"
  [ "$i" = 1 ] && after1="$(curl -sf "$upemu/emulator/stats")"
  n=$(wc -l < "$work/req.log")
  runstat "$work/rs" bash -c 'sha256sum "$1" > /dev/null && curl -sf -o /dev/null \
    -H "Authorization: Bearer $2" -F "file=@$1" "$3/api/v1/files/upload/stream"' \
    peer "$video" "$key" "$proxy"
  field rchar "$work/rs" >> "$work/pr"
  first_request_ms "$work/rs" "$n" >> "$work/pt"
done
m_ub=$(median < "$work/ub"); m_ur=$(median < "$work/ur")
m_ut=$(median < "$work/ut"); m_pt=$(median < "$work/pt"); m_pr=$(median < "$work/pr")
log "first run: bytes read $(paste -sd' ' "$work/ub"), peak RSS KB $(paste -sd' ' "$work/ur"), first request ms $(paste -sd' ' "$work/ut")"
log "sha256sum + curl -F: bytes read $(paste -sd' ' "$work/pr"), first request ms $(paste -sd' ' "$work/pt")"
log "emulator stats before the first run: $before"
log "                          after it: $after1"

# cached re-run: same request, cache of the first run
clip="$(find "$work/upcache1" -name clip.mp4 | head -n1)"
[ -n "$clip" ] || { echo "FAIL: the first run kept no clip"; exit 1; }
: > "$work/cr"; : > "$work/cf"
before="$(curl -sf "$upemu/emulator/stats")"
for i in $(seq $(( fast_runs + 1 ))); do
  runstat "$work/rs" gst-launch-1.0 -q klingo1src "${edit[@]}" \
    cache-dir="$work/upcache1" ! qtdemux ! fakesink
  [ "$i" -gt 1 ] && field wall_ms "$work/rs" >> "$work/cr"
  [ "$i" = 2 ] && field rchar "$work/rs" > "$work/cr_rchar"
  runstat "$work/rs" gst-launch-1.0 -q filesrc location="$clip" ! qtdemux ! fakesink
  [ "$i" -gt 1 ] && field wall_ms "$work/rs" >> "$work/cf"
done
after="$(curl -sf "$upemu/emulator/stats")"
[ "$before" = "$after" ] && rerun_requests=0 || rerun_requests="some ($before -> $after)"
m_cr=$(median < "$work/cr"); m_cf=$(median < "$work/cf")
log "cached re-run wall ms: klingo1src $(paste -sd' ' "$work/cr"); filesrc $(paste -sd' ' "$work/cf"); API requests: $rerun_requests; bytes read $(cat "$work/cr_rchar")"

# ---- 64 elements in one pipeline --------------------------------------------------

: > "$work/m64"; : > "$work/m1"
many_runs=3
for i in $(seq $many_runs); do
  desc=""
  for e in $(seq 64); do
    desc="$desc klingo1src prompt=r${i}e$e images=<http://example.invalid/a.png> api-url=$many api-key=$key cache-dir=$work/many ! fakesink"
  done
  c0=$(stat "$many" creates)
  runstat "$work/rs" "$tools/bench-eos-count" --timeout 120 "$desc" > "$work/eos" || true
  echo "$(sed -n 's/finished=\([0-9]*\).*/\1/p' "$work/eos") $(( $(stat "$many" creates) - c0 )) $(field threads_peak "$work/rs") $(field maxrss_kb "$work/rs") $(field wall_ms "$work/rs")" >> "$work/m64"
  runstat "$work/rs" "$tools/bench-eos-count" "klingo1src prompt=r${i}single images=<http://example.invalid/a.png> api-url=$many api-key=$key cache-dir=$work/many ! fakesink" > /dev/null || true
  echo "$(field threads_peak "$work/rs") $(field maxrss_kb "$work/rs")" >> "$work/m1"
done
log "64 elements (finished creates threads rss_kb wall_ms): $(paste -sd',' "$work/m64")"
log "1 element (threads rss_kb): $(paste -sd',' "$work/m1")"
m64_fin=$(cut -d' ' -f1 "$work/m64" | sort -g | head -n1)     # the worst run
m64_cre=$(cut -d' ' -f2 "$work/m64" | sort -g | tail -n1)
m64_thr=$(cut -d' ' -f3 "$work/m64" | median)
m64_rss=$(cut -d' ' -f4 "$work/m64" | median)
m1_thr=$(cut -d' ' -f1 "$work/m1" | median)
m1_rss=$(cut -d' ' -f2 "$work/m1" | median)
thr_el=$(awk -v a="$m64_thr" -v b="$m1_thr" 'BEGIN {printf "%.1f", (a-b)/63}')
per_el=$(awk -v a="$m64_rss" -v b="$m1_rss" 'BEGIN {printf "%.2f", (a-b)/63/1024}')

# ---- set_state(NULL) in each phase --------------------------------------------------

for f in sn_up sn_poll sn_req sn_dl; do : > "$work/$f"; done
for i in $(seq "$runs"); do
  "$tools/bench-stop-latency" --phase uploading --settle 50 \
    "klingo1src model=video-edit video=$video prompt=stop api-url=$stopemu files-url=$stopemu api-key=$key cache-mode=disabled ! fakesink" >> "$work/sn_up"
  "$tools/bench-stop-latency" --phase pending,processing --settle 300 \
    "klingo1src prompt=stop images=<http://example.invalid/a.png> api-url=$stopemu api-key=$key cache-mode=disabled ! fakesink" >> "$work/sn_poll"
  # a poll in flight: attached to a task whose first poll answer trickles
  tid="$(curl -sf -H "Authorization: Bearer $key" -d "{$I2V,\"prompt\":\"stop [poll-trickle]\"}" \
    "$stopemu/v1/videos/generations" | sed -n 's/.*"id":"\(task-unified-[^"]*\)".*/\1/p')"
  "$tools/bench-stop-latency" --phase resuming --settle 300 \
    "klingo1src task-id=$tid api-url=$stopemu api-key=$key cache-mode=disabled ! fakesink" >> "$work/sn_req"
  new_task "$slow68"
  "$tools/bench-stop-latency" --phase downloading --settle 500 \
    "klingo1src task-id=$task api-url=$slow68 api-key=$key cache-mode=disabled ! decodebin ! fakesink" >> "$work/sn_dl"
done
for f in sn_up sn_poll sn_req sn_dl; do
  printf -v "med_$f" '%s' "$(median < "$work/$f")"
  printf -v "max_$f" '%s' "$(sort -g "$work/$f" | tail -n1)"
done
log "NULL ms: uploading $(paste -sd' ' "$work/sn_up"); polling (asleep) $(paste -sd' ' "$work/sn_poll"); polling (request in flight) $(paste -sd' ' "$work/sn_req"); downloading $(paste -sd' ' "$work/sn_dl")"
log "stop emulator: $(curl -sf "$stopemu/emulator/stats")"

# ---- collect the 55 s task -----------------------------------------------------------

log "waiting for the 55 s tasks ($(( ($(now_ms) - p55_started) / 1000 )) s in)"
wait $p55_pids
read -r auto_polls auto_delay < "$work/p55auto.res"
read -r fixed_polls fixed_delay < "$work/p55fixed.res"
auto_delay_s=$(awk -v a="$auto_delay" 'BEGIN {printf "%.1f", a/1000}')
fixed_delay_s=$(awk -v a="$fixed_delay" 'BEGIN {printf "%.1f", a/1000}')
if [ "$auto_polls" != nan ] && [ "$auto_polls" -lt "$fixed_polls" ] && le "$auto_delay_s" 3; then
  p55_verdict=met
else
  p55_verdict=MISSED
fi

# ---- the table ------------------------------------------------------------------------

r_ff68=$(ratio "$ff_k_c68" "$ff_s_c68")
r_ff27=$(ratio "$ff_k_c27" "$ff_s_c27")
r_fs=$(ratio "$m_k68" "$m_s68"); r_fc=$(ratio "$m_k68" "$m_c68")
rss_diff=$(awk -v a="$m_rk68" -v b="$m_rk3" 'BEGIN {printf "%.1f", (a-b)/1024}')
rss_abs=$(awk -v a="$rss_diff" 'BEGIN {print (a<0)?-a:a}')
ub_x=$(awk -v a="$m_ub" -v b="$vsize" 'BEGIN {printf "%.2f", a/b}')
ur_mb=$(awk -v a="$m_ur" 'BEGIN {printf "%.1f", a/1024}')
r_ut=$(ratio "$m_ut" "$m_pt")
r_cr=$(ratio "$m_cr" "$m_cf")
stop_max=$(cat "$work"/sn_* | sort -g | tail -n1)
if [ "$(( m64_fin ))" = 64 ] && [ "$(( m64_cre ))" = 64 ]; then m64_verdict=met; else m64_verdict=MISSED; fi
if le "$ur_mb" 40 && le "$ub_x" 2.1 && le "$r_ut" 1.5; then up_verdict=met; else up_verdict=MISSED; fi
if le "$r_fs" 1.1 && le "$r_fc" 1.3; then fs_verdict=met; else fs_verdict=MISSED; fi

echo
echo "benchmark of $(date -u +%Y-%m-%d), $(nproc) cores, medians of $runs runs (short runs: $fast_runs)"
echo
echo "| figure | goal | klingo1src | peers | ratio | |"
echo "|---|---|---|---|---|---|"
echo "| first decoded frame, 68 MB faststart clip at 2 MB/s | <= 1.5x souphttpsrc | $ff_k_c68 ms | souphttpsrc $ff_s_c68 ms | $r_ff68 | $(verdict "$r_ff68" 1.5) |"
echo "| first decoded frame, 27 MB clip, moov at the end, at 2 MB/s | <= 1.5x souphttpsrc | $ff_k_c27 ms | souphttpsrc $ff_s_c27 ms | $r_ff27 | $(verdict "$r_ff27" 1.5) |"
echo "| full-speed fetch of the 68 MB clip to fakesink (wall) | <= 1.1x souphttpsrc / <= 1.3x curl | $m_k68 ms | souphttpsrc $m_s68 ms, curl $m_c68 ms | $r_fs / $r_fc | $fs_verdict |"
echo "| (the same, what 65 MB more cost: 68 MB run - 3 MB run) | for reference | $marg_k ms | souphttpsrc $marg_s ms, curl $marg_c ms | $(ratio "$marg_k" "$marg_s") / $(ratio "$marg_k" "$marg_c") | |"
echo "| (the same at 20 MB/s) | for reference | $m_km ms | souphttpsrc $m_sm ms, curl $m_cm ms | $(ratio "$m_km" "$m_sm") / $(ratio "$m_km" "$m_cm") | |"
echo "| peak RSS, 68 MB clip vs 3 MB clip | within 10 MB | $(mb $(( m_rk68 * 1024 ))) MB vs $(mb $(( m_rk3 * 1024 ))) MB | | $rss_diff MB | $(verdict "$rss_abs" 10) |"
echo "| $(mb "$vsize") MB local video, first run: bytes read / peak RSS / time to the first request | <= 2.1x file / <= 40 MB / <= 1.5x sha256sum + curl -F | $(mb "$m_ub") MB / $ur_mb MB / $m_ut ms | sha256sum + curl -F: $(mb "$m_pr") MB, first request $m_pt ms | ${ub_x}x / - / $r_ut | $up_verdict |"
echo "| cached re-run with that input (! qtdemux ! fakesink) | <= 1.5x filesrc of the clip | $m_cr ms, $rerun_requests API requests | filesrc $m_cf ms | $r_cr | $(verdict "$r_cr" 1.5) |"
echo "| 55 s task: polls, completion to download start | fewer polls than a 10 s poller and <= 3 s | $auto_polls polls, $auto_delay_s s | poll-interval=10: $fixed_polls polls, $fixed_delay_s s | | $p55_verdict |"
echo "| 64 elements in one pipeline: finished / creates / threads / RSS per element | 64 / 64 / reported | $m64_fin / $m64_cre / $m64_thr threads at the peak ($thr_el per element) / $per_el MB | 1 element: $m1_thr threads, $(mb $(( m1_rss * 1024 ))) MB | | $m64_verdict |"
echo "| set_state(NULL) while uploading / polling (asleep) / polling (request in flight) / downloading, median (max) | <= 200 ms | $med_sn_up ($max_sn_up) / $med_sn_poll ($max_sn_poll) / $med_sn_req ($max_sn_req) / $med_sn_dl ($max_sn_dl) ms | | | $(verdict "$stop_max" 200) |"
