#!/usr/bin/env bash
# kill -9 while polling, then a re-run: one create in total; a re-run after
# success: zero API calls.
. "$(dirname "$0")/lib.sh"
emulator_start 3
make_png "$work/first.png"

launch () { launch_cached "Resume me"; }

launch &
victim=$!
wait_stat polls 1
kill -9 "$victim"
wait "$victim" 2>/dev/null || true
expect_eq "creates after kill -9" "$(stat creates)" 1

launch
expect_eq "creates after the re-run" "$(stat creates)" 1
polls=$(stat polls); downloads=$(stat downloads); uploads=$(stat uploads)

launch
expect_eq "creates after a second re-run" "$(stat create_requests)" 1
expect_eq "polls after a second re-run" "$(stat polls)" "$polls"
expect_eq "downloads after a second re-run" "$(stat downloads)" "$downloads"
expect_eq "uploads after a second re-run" "$(stat uploads)" "$uploads"
