#!/usr/bin/env bash
# What one clip costs in API requests, and how klingo1src compares with its
# peers on the same machine in the same run (ratios, not absolute times):
#   serving a kept clip:   klingo1src (cache)  vs filesrc
#   fetching a result:     klingo1src task-id= vs souphttpsrc vs curl
# Run: meson test -C build --benchmark   (or: bash tests/bench/bench.sh with
# KLINGO1_EMULATOR and GST_PLUGIN_PATH set)
. "$(dirname "$0")/../check/lib.sh"
runs="${KLINGO1_BENCH_RUNS:-10}"
emulator_start 1
make_png "$work/first.png"
common=(api-url="$url" files-url="$url" api-key="$key" prompt="Bench"
        images="<$work/first.png>" duration=10 aspect-ratio=16:9 poll-interval=1
        cache-dir="$work/cache")

gst-launch-1.0 -q klingo1src "${common[@]}" ! fakesink
echo "first run:  creates=$(stat creates) polls=$(stat polls) uploads=$(stat uploads) downloads=$(stat downloads)"
before="$(curl -sf "$url/emulator/stats")"
gst-launch-1.0 -q klingo1src "${common[@]}" ! fakesink
after="$(curl -sf "$url/emulator/stats")"
[ "$before" = "$after" ] && echo "re-run:     0 API requests" || echo "re-run:     requests changed: $before -> $after"

clip="$(ls "$work"/cache/tasks/*/clip.mp4)"
task="$(sed -n 's/.*"task_id" *: *"\([^"]*\)".*/\1/p' "$(dirname "$clip")/task.json")"
result="$url/results/$task.mp4"
echo "clip: $(wc -c < "$clip") bytes"

# time_runs LABEL CMD...: mean wall time in ms over $runs runs
time_runs () {
  local label="$1"; shift
  local t0 t1
  t0=$(date +%s%N)
  for _ in $(seq "$runs"); do "$@" > /dev/null 2>&1 || { echo "FAIL: $label"; exit 1; }; done
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / runs / 1000000 ))
}

k=$(time_runs klingo1src-cache gst-launch-1.0 -q klingo1src "${common[@]}" ! qtdemux ! fakesink)
f=$(time_runs filesrc gst-launch-1.0 -q filesrc location="$clip" ! qtdemux ! fakesink)
echo "serve kept clip ! qtdemux:  klingo1src ${k} ms, filesrc ${f} ms, ratio $(awk "BEGIN{printf \"%.2f\", $k/$f}")"

d=$(time_runs klingo1src-fetch gst-launch-1.0 -q klingo1src api-url="$url" api-key="$key" \
      task-id="$task" cache-mode=disabled ! filesink location="$work/k.mp4")
s=$(time_runs souphttpsrc gst-launch-1.0 -q souphttpsrc location="$result" ! filesink location="$work/s.mp4")
c=$(time_runs curl curl -sf -o "$work/c.mp4" "$result")
cmp -s "$work/k.mp4" "$work/c.mp4" || { echo "FAIL: klingo1src fetched different bytes"; exit 1; }
echo "fetch result to file:      klingo1src ${d} ms (1 poll + download), souphttpsrc ${s} ms, curl ${c} ms," \
     "ratio to souphttpsrc $(awk "BEGIN{printf \"%.2f\", $d/$s}")"
