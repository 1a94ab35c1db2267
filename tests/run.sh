#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what is missing, builds, and runs the whole test suite.
#   tests/run.sh            # everything
#   tests/run.sh klingo1src # only the named meson tests
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
build="${KLINGO1_BUILD_DIR:-$top/build}"
. "$top/tests/deps.sh"
klingo1_install_deps
klingo1_build "$top" "$build"
set +e
meson test -C "$build" --print-errorlogs "$@" 2>&1 | tee "$build/test-output.txt"
rc=${PIPESTATUS[0]}
set -e
ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$build/test-output.txt" | tail -n 1)
failed=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$build/test-output.txt" | tail -n 1)
timeouts=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' "$build/test-output.txt" | tail -n 1)
echo "${ok:-0} passed, $(( ${failed:-0} + ${timeouts:-0} )) failed"
exit "$rc"
