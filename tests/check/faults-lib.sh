# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers of faults.sh: emulators with options of their own, one
# gst-launch-1.0 run of klingo1src with its exit status, duration and log,
# and checks that record a failure and go on (one fault case may find
# several problems; stopping at the first would hide the others).
# Expects KLINGO1_EMULATOR and GST_PLUGIN_PATH from meson's test environment.
set -euo pipefail

: "${KLINGO1_EMULATOR:?KLINGO1_EMULATOR is set by meson}"

work="$(mktemp -d)"
key=sk-emulator-faults
# A run that has not ended after this many seconds is taken as hung.
hang_limit=40

# Every client run gets a private TMPDIR, so that a temporary file left by
# klingo1src is seen (and is not one of another test's). The emulators get
# another one: they keep their own klingo1-emulator-* directories.
mkdir -p "$work/tmp" "$work/emutmp"
export KLINGO1_API_KEY="$key"

# Only processes this script started are stopped, each by the shell that
# started it: the cases (subshells) by the main shell, emulators and
# gst-launch-1.0 runs by their case.
cleanup () {
  local pid
  for pid in $(jobs -p); do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # KLINGO1_FAULTS_KEEP=1 keeps the logs and caches for a post-mortem
  if [ -n "${KLINGO1_FAULTS_KEEP:-}" ]; then
    echo "kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 1' TERM INT

emu_pids=()
launch_pid=""
# The EXIT trap of a case: its gst-launch-1.0 run, if one is under way, and
# its emulators (SIGTERM: they exit cleanly and remove their directories).
stop_children () {
  local pid
  [ -n "$launch_pid" ] && kill -9 "$launch_pid" 2>/dev/null || true
  for pid in "${emu_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${emu_pids[@]}"; do
    # an emulator that does not stop within 5 s is not this test's subject
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  emu_pids=()
}

# The failures of the current case, counted in its own shell.
failures=0
run_env=()
image=""
fail () {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
ok () { echo "ok: $*"; }

# emu_start VAR [OPTIONS...]: an emulator of its own, with --task-seconds
# 0.3 and --result-file $work/result.mp4; its base URL goes to $VAR. Started in the calling shell, so that `wait` can reap it.
emu_start () {
  local var=$1 out i
  shift
  out="$(mktemp "$work/emu-XXXXXX")"
  TMPDIR="$work/emutmp" "$KLINGO1_EMULATOR" --port 0 --key "$key" \
    --task-seconds 0.3 --result-file "$work/result.mp4" "$@" \
    > "$out" 2> "$out.err" &
  emu_pids+=($!)
  for i in $(seq 100); do
    [ -s "$out" ] && break
    sleep 0.1
  done
  printf -v "$var" '%s' "$(head -n 1 "$out")"
  [ -n "${!var}" ] || { cat "$out.err"; echo "FAIL: the emulator did not start"; exit 1; }
}

# stat_of URL NAME: one counter of /emulator/stats
stat_of () {
  curl -sf "$1/emulator/stats" | sed -n "s/.*\"$2\" *: *\([0-9]*\).*/\1/p"
}

expect_eq () {  # expect_eq WHAT ACTUAL EXPECTED
  if [ "$2" != "$3" ]; then
    fail "$1: got '$2', expected '$3'"
  else
    ok "$1 = $2"
  fi
}

# run_src NAME [gst-launch options] -- PROPERTIES... [! downstream...]
# Runs `gst-launch-1.0 klingo1src api-url=$url files-url=$url
# poll-interval=0.1 cache-dir=$cache images=<$image> PROPERTIES` (no images
# when $image is empty; a later PROPERTY overrides these: gst-launch sets
# them in order), with the variables of the array run_env in its
# environment. Without a "!"
# in PROPERTIES the sink is `qtdemux ! fakesink`: pull mode, and an error
# path where qtdemux also posts errors that must not come first.
# Sets $rc, $secs and $log ($work/NAME.log). A run that crashes
# (gst-launch spins after SIGSEGV) or outlives $hang_limit is killed and
# recorded as a failure. Every run must leave no klingo1-* file in TMPDIR.
run_src () {
  local name=$1 opts=() props=() base=() start pid crashed=0 now errored
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  props=("$@")
  case " ${props[*]} " in
    *" ! "*) ;;
    *) props+=("!" "qtdemux" "!" "fakesink") ;;
  esac
  log="$work/$name.log"
  base=(api-url="$url" files-url="$url" poll-interval=0.1 cache-dir="$cache")
  # quoted: a URI's ':' and '/' are not safe in a bare array element
  [ -n "$image" ] && base+=(images="<\"$image\">")
  start=$EPOCHREALTIME
  # line-buffered, so that a killed run's log says how far it got
  env TMPDIR="$work/tmp" "${run_env[@]}" stdbuf -oL -eL gst-launch-1.0 \
    "${opts[@]}" klingo1src "${base[@]}" "${props[@]}" > "$log" 2>&1 &
  pid=$!
  launch_pid=$pid
  errored=""
  while kill -0 "$pid" 2>/dev/null; do
    if grep -qa "Caught SIG" "$log" 2>/dev/null; then
      crashed=1
      kill -9 "$pid" 2>/dev/null || true
      break
    fi
    now=$EPOCHREALTIME
    # gst-launch-1.0 stops at once after an error: still there 5 s after
    # printing one, it never will
    if [ -z "$errored" ] && grep -qa "^ERROR: " "$log" 2>/dev/null; then
      errored=$now
    fi
    if awk -v a="$start" -v b="$now" -v l="$hang_limit" -v e="${errored:-0}" \
        'BEGIN { exit !(b - a > l || (e > 0 && b - e > 5)) }'; then
      crashed=2
      # where it hangs, for the report
      if command -v gdb > /dev/null; then
        timeout 30 gdb -p "$pid" -batch -ex 'thread apply all bt 25' \
          > "$log.bt" 2>&1 || true
      fi
      kill -9 "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rc=0
  wait "$pid" || rc=$?
  launch_pid=""
  secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  echo "run $name: exit $rc after $secs s"
  sed 's/^/    /' "$log" | grep -a -e 'ERROR' -e 'WARNING' -e 'Caught' | head -n 6 | cut -c1-400 || true
  if [ $crashed = 1 ]; then
    fail "$name: gst-launch-1.0 crashed: $(grep -a -m1 'Caught SIG' "$log")"
    rc=crashed
  elif [ $crashed = 2 ] && [ -n "$errored" ] \
      && ! grep -qa "^Setting pipeline to NULL" "$log"; then
    # gst-launch-1.0 (1.22) quits its main loop from its bus sync handler,
    # in the thread that posts the error: an error posted before the main
    # thread enters g_main_loop_run() (an element failing within a moment of
    # READY->PAUSED) is lost, and gst-launch-1.0 waits forever. Upstream
    # elements do it too: `fakesrc num-buffers=0 ! qtdemux ! fakesink` hangs
    # in about one run out of eight under load. The error itself was posted
    # and is checked as usual; KLINGO1_FAULTS_STRICT_LAUNCH=1 counts the
    # hang as a failure (klingo1src avoids it by failing such checks in
    # start(), synchronously).
    if [ -n "${KLINGO1_FAULTS_STRICT_LAUNCH:-}" ]; then
      fail "$name: gst-launch-1.0 hung after printing the error (it missed the error: posted before its main loop ran)"
    else
      echo "note: $name: gst-launch-1.0 hung after printing the error (its own race: the error came before its main loop ran); killed"
    fi
    rc=1
  elif [ $crashed = 2 ] && [ -n "$errored" ]; then
    fail "$name: hung while stopping after an error (after 'Setting pipeline to NULL')"
    [ -s "$log.bt" ] && grep -a -A25 -e 'gst_klingo1' -e 'klingo1' "$log.bt" \
      | grep -a '^#' | head -n 40 | sed 's/^/    /' || true
    rc=hung
  elif [ $crashed = 2 ]; then
    fail "$name: still running after $hang_limit s (hung)"
    [ -s "$log.bt" ] && grep -a -A25 -e 'gst_klingo1' -e 'klingo1' "$log.bt" \
      | grep -a '^#' | head -n 40 | sed 's/^/    /' || true
    rc=hung
  fi
  if [ -n "$(find "$work/tmp" -name 'klingo1-*' -print -quit)" ]; then
    fail "$name: left behind in TMPDIR: $(find "$work/tmp" -name 'klingo1-*' | tr '\n' ' ')"
    find "$work/tmp" -name 'klingo1-*' -exec rm -rf {} + || true
  fi
}

# The run ended with EOS: gst-launch-1.0 exits with 0 only then.
expect_success () {
  if [ "$rc" = 0 ]; then
    ok "$1: completed"
  else
    fail "$1: did not complete (exit $rc)"
    sed 's/^/    /' "$log" | tail -n 15
  fi
}

# expect_error WHAT REGEX...: the run failed, the first error printed is
# klingo1src's (not qtdemux's "no playable streams" or "Internal data
# stream error", which only follow from it) and it matches every REGEX
# (extended, case-insensitive).
expect_error () {
  local what=$1 first re
  shift
  if [ "$rc" = 0 ]; then
    fail "$what: exit status 0, expected an error"
    return 0
  fi
  first=$(grep -a -m1 '^ERROR: from element' "$log" || true)
  if [ -z "$first" ]; then
    fail "$what: no error message (exit $rc)"
    sed 's/^/    /' "$log" | tail -n 15
    return 0
  fi
  case "$first" in
    *GstKlingo1Src:*) ;;
    *) fail "$what: the first error is not klingo1src's: $first" ;;
  esac
  for re in "$@"; do
    if ! grep -qaiE -- "$re" <<< "$first"; then
      fail "$what: the error does not say /$re/: $first"
    fi
  done
  ok "$what: failed with klingo1src's error"
}

# expect_error_not WHAT REGEX...: klingo1src's first error says none of
# these (say, a claim that does not hold)
expect_error_not () {
  local what=$1 first re
  shift
  first=$(grep -a -m1 '^ERROR: from element' "$log" || true)
  for re in "$@"; do
    if grep -qaiE -- "$re" <<< "$first"; then
      fail "$what: the error says /$re/, which is not so: $first"
    fi
  done
}

# expect_within WHAT SECONDS
expect_within () {
  if awk -v s="$secs" -v l="$2" 'BEGIN { exit !(s <= l) }'; then
    ok "$1: ended after $secs s (<= $2 s)"
  else
    fail "$1: ended after $secs s, more than $2 s"
  fi
}

# expect_same WHAT FILE: byte for byte the emulator's result
expect_same () {
  if cmp -s "$2" "$work/result.mp4"; then
    ok "$1: the emulator's clip, byte for byte"
  else
    fail "$1: $2 differs from the emulator's clip ($(cmp "$2" "$work/result.mp4" 2>&1 || true))"
  fi
}

# expect_kept WHAT: after a complete run, the clip is in the cache entry as
# the emulator's bytes, and no part file of its download is left. FALSE
# (after recording the failure) when there is no clip to go on with.
expect_kept () {
  local entry left
  entry=$(entry_dir)
  if [ ! -f "$entry/clip.mp4" ]; then
    fail "$1: the clip was not kept in the cache (the entry holds: $(ls "$entry" | tr '\n' ' '))"
    return 1
  fi
  expect_same "$1, in the cache" "$entry/clip.mp4"
  left=$(find "$entry" -name 'clip.mp4.part*' -printf '%f ')
  [ -z "$left" ] && ok "$1: no part file left" || fail "$1: left in the cache entry: $left"
  return 0
}

# The store entry of the (single) request made in $cache.
entry_dir () {
  find "$cache/tasks" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | head -n 1
}

# task_of LOG: the first task id in a log; without one, a word that no
# error matches, so that a check naming the task fails
task_of () {
  local t
  t=$(grep -ao 'task-unified-[A-Za-z0-9-]*' "$1" | head -n 1 || true)
  echo "${t:-no-task-id-in-$(basename "$1")}"
}
