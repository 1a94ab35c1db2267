#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Two processes started together with the same request create one task.
. "$(dirname "$0")/lib.sh"
emulator_start 2
make_png "$work/first.png"

launch () { launch_cached "Together"; }

launch & a=$!
launch & b=$!
wait "$a"
wait "$b"
expect_eq "creates by two processes" "$(stat creates)" 1
expect_eq "downloads by two processes" "$(stat downloads)" 1
