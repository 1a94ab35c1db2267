#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
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

# A create whose answer is lost (the task exists, the client hears 502): the
# run fails, and the re-run sends the same Idempotency-Key, so it gets the
# same task back instead of paying for a second one.
launch_lost () {
  gst-launch-1.0 -q klingo1src api-url="$url" files-url="$url" api-key="$key" \
    prompt="Lost answer [lose-create-answer]" images="<$work/first.png>" \
    poll-interval=0.1 cache-dir="$work/cache" ! qtdemux ! fakesink
}
creates=$(stat creates)
if launch_lost > "$work/lost.log" 2>&1; then
  echo "FAIL: the lost create answer did not fail the run" >&2; exit 1
fi
grep -q "502" "$work/lost.log" || { cat "$work/lost.log"; exit 1; }
expect_eq "tasks made by the run that lost the answer" "$(stat creates)" $((creates + 1))
launch_lost
expect_eq "tasks made after the re-run" "$(stat creates)" $((creates + 1))
