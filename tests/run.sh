#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite.
#   tests/run.sh            # everything
#   tests/run.sh klingo1src # only the named meson tests
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
build="${KLINGO1_BUILD_DIR:-$top/build}"
. "$top/tests/deps.sh"
klingo1_install_deps
klingo1_build "$top" "$build"
meson test -C "$build" --print-errorlogs "$@"
