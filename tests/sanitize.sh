#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the tree with AddressSanitizer + UndefinedBehaviorSanitizer and runs
# the whole test suite in that build (docs/testing.md explains each step).
#
#   tests/sanitize.sh                 # everything, leak checking on
#   tests/sanitize.sh klingo1src      # only the named meson tests
#   KLINGO1_LEAKS=0 tests/sanitize.sh # memory errors and UB only
#
# KLINGO1_ASAN_BUILD_DIR picks the build directory (default: build-asan in
# the source tree).
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
build="${KLINGO1_ASAN_BUILD_DIR:-$top/build-asan}"
leaks="${KLINGO1_LEAKS:-1}"

if [ ! -f "$build/build.ninja" ]; then
  CC=gcc meson setup "$build" "$top" -Db_sanitize=address,undefined \
    -Db_lundef=false
fi
ninja -C "$build"

asan_lib="$(gcc -print-file-name=libasan.so)"
# libproxy (GIO's proxy resolver module) is C++ and throws internally: ASan's
# __cxa_throw interceptor finds no real one unless libstdc++ is there when
# the runtime starts, and aborts on a CHECK.
cxx_lib="$(gcc -print-file-name=libstdc++.so)"
preload="$asan_lib $cxx_lib"

# Programs that load our plugin but are not built with ASan need its runtime
# first in the process. Preloading it into every process does not work
# (curl hangs at start under it), so only these get it, through wrappers
# found first in PATH.
shims="$build/sanitize-shims"
rm -rf "$shims"
mkdir -p "$shims"
shim () {  # shim TOOL REAL [EXTRA_ASAN_OPTIONS]
  printf '#!/bin/sh\nASAN_OPTIONS="$ASAN_OPTIONS%s" LD_PRELOAD="%s${LD_PRELOAD:+ $LD_PRELOAD}" exec %s "$@"\n' \
    "${3:+:$3}" "$preload" "$2" > "$shims/$1"
  chmod +x "$shims/$1"
}
for tool in gst-launch-1.0 gst-inspect-1.0 gst-discoverer-1.0 gst-play-1.0; do
  real="$(command -v "$tool" || true)"
  [ -z "$real" ] || shim "$tool" "$real"
done
# ges-launch-1.0 starts an embedded Python (GES's formatters): its
# allocations are not ours to judge, no leak report from it.
real="$(command -v ges-launch-1.0 || true)"
[ -z "$real" ] || shim ges-launch-1.0 "$real" detect_leaks=0
# examples/generate_many.py loads the plugin through PyGObject: the system
# Python has it. Python's own allocations are not ours to judge: no leak
# report from it.
[ ! -x /usr/bin/python3 ] || shim python3 /usr/bin/python3 detect_leaks=0
export PATH="$shims:$PATH"

# Every report also goes to a file of its own: a test may hide a process's
# stderr (an emulator's log in a temporary directory) or ignore its exit
# status (an emulator killed at the end, a run expected to fail).
reports="$build/sanitize-reports"
rm -rf "$reports"
mkdir -p "$reports"
# intercept_tls_get_addr=0: GCC 12's LeakSanitizer takes a bogus address
# (0x5000019e9) for a dynamic TLS block of a thread that made a TLS
# connection, and its tracer dies reading it ("Tracer caught signal 11", in
# check-session's test_ca_file); the dynamic linker's allocations stand in
# for dynamic TLS as roots instead (use_ld_allocations, the default).
export ASAN_OPTIONS="detect_leaks=$leaks:intercept_tls_get_addr=0:fast_unwind_on_malloc=0:malloc_context_size=40:log_path=$reports/asan:log_exe_name=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan:log_exe_name=1"
# gst-plugin-scanner is not built with ASan and cannot load our plugin: scan
# in the process itself.
export GST_REGISTRY_FORK=no

set +e
meson test -C "$build" --print-errorlogs --timeout-multiplier 4 "$@" 2>&1 \
  | tee "$build/sanitize-output.txt"
rc=${PIPESTATUS[0]}
set -e
# (a file may hold only LeakSanitizer's "thread was not suspended" notice)
found=$(grep -lE 'ERROR: |runtime error: |SUMMARY: ' "$reports"/* 2>/dev/null || true)
if [ -n "$found" ]; then
  for f in $found; do
    echo "==== $f"
    cat "$f"
  done
  echo "FAIL: sanitizer reports in $reports"
  rc=1
else
  echo "no sanitizer reports"
fi
exit "$rc"
