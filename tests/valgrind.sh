#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the GstCheck tests under Valgrind's memcheck and prints the reports
# that concern our code (docs/testing.md).
#
#   tests/valgrind.sh                     # every GstCheck test
#   tests/valgrind.sh download klingo1src # only these
#
# KLINGO1_BUILD_DIR picks the build directory (default: build). A report
# counts when it is a memory error (invalid access, uninitialised value,
# bad free) or a definite leak, and one of its frames is in gst/klingo1,
# gst/tools or tests/emulator. The rest (GLib's and libsoup's one-time
# allocations, libproxy's C++ unwinding, the tests' own servers still
# running when a test's process exits) stays in the logs.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
build="${KLINGO1_BUILD_DIR:-$top/build}"
logs="$build/valgrind-logs"

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$top"
fi
ninja -C "$build"
rm -rf "$logs"
mkdir -p "$logs"

if [ $# -eq 0 ]; then
  # the shell tests run gst-launch-1.0 and the emulator as children, which
  # Valgrind does not follow: the compiled tests only
  set -- $(meson test -C "$build" --list 2>/dev/null \
           | grep -vE '\.sh$|^emulator-smoke$|^ninja:')
fi

# GSlice off and freed memory cleared: every block is one malloc () that
# memcheck can follow.
export G_SLICE=always-malloc G_DEBUG=gc-friendly
set +e
meson test -C "$build" --timeout-multiplier 10 --print-errorlogs \
  --wrapper "valgrind --leak-check=full --num-callers=40 --fullpath-after= \
    --suppressions=/usr/share/glib-2.0/valgrind/glib.supp \
    --suppressions=$top/tests/valgrind.supp --log-file=$logs/vg.%p" \
  "$@" > "$logs/meson-test.txt" 2>&1
rc=$?
set -e
grep -E '^ *[0-9]+/[0-9]+ ' "$logs/meson-test.txt" || true

# One record per blank "==PID== " line; keep those about our code.
awk -v ours='/(gst/klingo1|gst/tools|tests/emulator)/[^ ]*[.]c:' '
  function flush() {
    if (rec != "" && head ~ /(Invalid|uninitialised|Mismatched|overlap|definitely lost)/ \
        && rec ~ ours)
      printf "---- %s\n%s", file, rec
    rec = ""; head = ""
  }
  FNR == 1 { flush(); file = FILENAME }
  /^==[0-9]+== $/ { flush(); next }
  { if (head == "") head = $0; rec = rec $0 "\n" }
  END { flush() }
' "$logs"/vg.* > "$logs/ours.txt" || true

if [ -s "$logs/ours.txt" ]; then
  cat "$logs/ours.txt"
  echo "FAIL: Valgrind reports about our code (all logs: $logs)"
  exit 1
fi
echo "no Valgrind report about our code (meson test exit status $rc, logs: $logs)"
