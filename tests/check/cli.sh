#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# klingo1, the command-line tool over klingo1src, against the emulator:
# generate (checked with gst-discoverer-1.0, then served from the cache),
# error details, Ctrl-C and resume, submit, status, tasks, credits, and batch:
# N at a time, re-run with zero requests, --dry-run with zero requests,
# --budget, --shard, a bad line.
. "$(dirname "$0")/lib.sh"
cli="${KLINGO1_CLI:?KLINGO1_CLI is set by meson}"
emulator_start 0.5
make_png "$work/first.png"
export KLINGO1_API_KEY="$key" KLINGO1_API_URL="$url" KLINGO1_FILES_URL="$url"
cache="$work/cache"
snapshot () { curl -sf "$url/emulator/stats"; }
fail () { echo "FAIL: $*" >&2; exit 1; }

# ---- generate --------------------------------------------------------------
"$cli" generate --cache-dir "$cache" --prompt "A cat walks" --image "$work/first.png" \
  --aspect-ratio 1:1 --poll-interval 0.1 -o "$work/cat.mp4" 2> "$work/gen.log" \
  || { cat "$work/gen.log"; fail "generate"; }
cat "$work/gen.log"
gst-discoverer-1.0 "$work/cat.mp4" > "$work/disc.txt"
grep -q "H.264" "$work/disc.txt" || { cat "$work/disc.txt"; fail "not H.264"; }
grep -q "Width: 240" "$work/disc.txt" || fail "not 1:1"
grep -q "Submitted task" "$work/gen.log" || fail "no progress lines"
expect_eq "generate: creates" "$(stat creates)" 1
task=$(grep -o 'task-unified-[A-Za-z0-9-]*' "$work/gen.log" | head -1)
[ -n "$task" ] || fail "no task id in the log"
ls -A "$work" | grep -q '\.part$' && fail "temporary file left behind"
echo "ok: generate wrote an MP4"

before=$(snapshot)
"$cli" generate --cache-dir "$cache" --prompt "A cat walks" --image "$work/first.png" \
  --aspect-ratio 1:1 --poll-interval 0.1 -o "$work/cat2.mp4" 2> "$work/gen2.log"
grep -q "from the cache" "$work/gen2.log" || { cat "$work/gen2.log"; fail "not from the cache"; }
cmp -s "$work/cat.mp4" "$work/cat2.mp4" || fail "cached clip differs"
expect_eq "generate again: no request" "$(snapshot)" "$before"

# An API error: the message and its klingo1-error details, exit status 1.
rc=0
"$cli" generate --cache-dir "$cache" --prompt "No money [http:402]" \
  --image "$work/first.png" --poll-interval 0.1 -o "$work/poor.mp4" 2> "$work/err.log" || rc=$?
cat "$work/err.log"
expect_eq "API error: exit status" "$rc" 1
grep -q "^Error: " "$work/err.log" || fail "no error line"
grep -q "http-status: 402" "$work/err.log" || fail "no http-status detail"
grep -q "api-code: " "$work/err.log" || fail "no api-code detail"
[ ! -e "$work/poor.mp4" ] || fail "output written on error"

# A refused property value is reported before anything is sent.
rc=0
"$cli" generate --cache-dir "$cache" --prompt "x" --image "$work/first.png" \
  --duration 7 -o "$work/bad.mp4" 2> "$work/dur.log" || rc=$?
expect_eq "bad duration: exit status" "$rc" 1
grep -q "duration" "$work/dur.log" || { cat "$work/dur.log"; fail "duration not named"; }

# ---- Ctrl-C and resume -----------------------------------------------------
# A long poll interval parks the run right after the create (the first read
# waits one interval), where SIGINT finds it.
creates=$(stat creates)
"$cli" generate --cache-dir "$cache" --prompt "Interrupted cat" --image "$work/first.png" \
  --poll-interval 30 -o "$work/int.mp4" 2> "$work/int.log" &
pid=$!
for _ in $(seq 100); do grep -q "Submitted task" "$work/int.log" && break; sleep 0.1; done
kill -INT $pid
rc=0; wait $pid || rc=$?
cat "$work/int.log"
expect_eq "Ctrl-C: exit status" "$rc" 130
grep -q "goes on at the API" "$work/int.log" || fail "Ctrl-C message"
grep -q "running the same command again" "$work/int.log" || fail "no resume hint"
[ ! -e "$work/int.mp4" ] || fail "output written after Ctrl-C"
ls -A "$work" | grep -q '\.part$' && fail "temporary file left after Ctrl-C"
expect_eq "Ctrl-C: created" "$(stat creates)" $((creates + 1))
"$cli" generate --cache-dir "$cache" --prompt "Interrupted cat" --image "$work/first.png" \
  --poll-interval 0.1 -o "$work/int.mp4" 2> "$work/int2.log"
grep -q "Resuming task" "$work/int2.log" || { cat "$work/int2.log"; fail "not resumed"; }
expect_eq "resume: no second create" "$(stat creates)" $((creates + 1))
[ -s "$work/int.mp4" ] || fail "no output after resume"
echo "ok: Ctrl-C, then the same command resumes the task"

# ---- submit ----------------------------------------------------------------
creates=$(stat creates)
sub=$("$cli" submit --cache-dir "$cache" --prompt "Submitted cat" \
  --image "$work/first.png" --poll-interval 0.1 2> "$work/sub.log") \
  || { cat "$work/sub.log"; fail "submit"; }
cat "$work/sub.log"
[[ "$sub" == task-unified-* ]] || fail "submit printed '$sub'"
expect_eq "submit: created" "$(stat creates)" $((creates + 1))
"$cli" tasks --cache-dir "$cache" > "$work/tasks-sub.txt"
grep -q "^pending .*$sub" "$work/tasks-sub.txt" || { cat "$work/tasks-sub.txt"; fail "submitted task not pending"; }
again=$("$cli" submit --cache-dir "$cache" --prompt "Submitted cat" \
  --image "$work/first.png" --poll-interval 0.1 2> /dev/null)
expect_eq "submit again: the same task" "$again" "$sub"
"$cli" generate --cache-dir "$cache" --prompt "Submitted cat" --image "$work/first.png" \
  --poll-interval 0.1 -o "$work/sub.mp4" 2> "$work/sub2.log"
grep -q "Resuming task $sub" "$work/sub2.log" || { cat "$work/sub2.log"; fail "not resumed"; }
expect_eq "submit then generate: one create" "$(stat creates)" $((creates + 1))
[ -s "$work/sub.mp4" ] || fail "no clip after submit"
echo "ok: submit, then generate resumes the task"

# ---- status, tasks, credits ------------------------------------------------
"$cli" status "$task" > "$work/status.txt"
cat "$work/status.txt"
grep -q "^status: *completed" "$work/status.txt" || fail "status"
grep -q "^progress: *100%" "$work/status.txt" || fail "progress"
grep -q "^result: *127.0.0.1:[0-9]*/results/$task.mp4$" "$work/status.txt" || fail "result URL"
rc=0; "$cli" status task-unified-0000-none > /dev/null 2> "$work/status.err" || rc=$?
expect_eq "status of an unknown task: exit status" "$rc" 1
grep -q "http-status: 404" "$work/status.err" || { cat "$work/status.err"; fail "404 details"; }

"$cli" tasks --cache-dir "$cache" > "$work/tasks.txt"
cat "$work/tasks.txt"
grep -q "^done .*$task .*clip.mp4" "$work/tasks.txt" || fail "tasks: the clip"
"$cli" tasks --cache-dir "$work/empty" > "$work/tasks-empty.txt"
grep -q "No tasks" "$work/tasks-empty.txt" || fail "tasks: empty cache"

if curl -sf -H "Authorization: Bearer $key" "$url/v1/credits" > /dev/null; then
  "$cli" credits > "$work/credits.txt" || fail "credits"
  cat "$work/credits.txt"
  grep -q "^remaining: [0-9]" "$work/credits.txt" || fail "credits: remaining"
  grep -q "^used: *[1-9][0-9]* credits" "$work/credits.txt" || fail "credits: used"
fi
echo "ok: status, tasks, credits"

# ---- batch -----------------------------------------------------------------
cat > "$work/jobs.jsonl" <<EOF
{"output": "a.mp4", "prompt": "Batch A", "images": ["$work/first.png"], "poll-interval": 0.1}
{"output": "b.mp4", "prompt": "Batch B", "images": ["$work/first.png"], "duration": 10, "poll-interval": 0.1}

{"output": "c.mp4", "prompt": "Batch C", "images": "$work/first.png", "aspect-ratio": "16:9", "poll-interval": 0.1}
EOF
out="$work/out"

before=$(snapshot)
"$cli" batch "$work/jobs.jsonl" --dry-run --out-dir "$out" --cache-dir "$cache" > "$work/dry.txt"
cat "$work/dry.txt"
expect_eq "dry run: no request" "$(snapshot)" "$before"
grep -q "^2 .*b.mp4 .*10 s .*80 " "$work/dry.txt" || fail "dry run: 10 s = 80 credits"
grep -q "^Total: 160 credits for 3 new tasks" "$work/dry.txt" || fail "dry run: total"
[ ! -e "$out" ] || fail "dry run created the output dir"

creates=$(stat creates)
"$cli" batch "$work/jobs.jsonl" --jobs 2 --out-dir "$out" --cache-dir "$cache" > "$work/batch.txt" 2> "$work/batch.log" \
  || { cat "$work/batch.txt" "$work/batch.log"; fail "batch"; }
cat "$work/batch.txt"
expect_eq "batch: creates" "$(stat creates)" $((creates + 3))
for f in a b c; do
  gst-discoverer-1.0 "$out/$f.mp4" > "$work/disc-$f.txt"
  grep -q "H.264" "$work/disc-$f.txt" || fail "batch: $f.mp4"
done
grep -q "^4 .*c.mp4 .*done .*task-unified-" "$work/batch.txt" || fail "batch: summary"

before=$(snapshot)
"$cli" batch "$work/jobs.jsonl" --jobs 2 --out-dir "$out" --cache-dir "$cache" > "$work/again.txt" 2>&1
expect_eq "batch again: no request" "$(snapshot)" "$before"
expect_eq "batch again: skipped" "$(grep -c ' skipped ' "$work/again.txt")" 3

"$cli" batch "$work/jobs.jsonl" --dry-run --out-dir "$out" --cache-dir "$cache" > "$work/dry2.txt"
expect_eq "dry run after: no request" "$(snapshot)" "$before"
grep -q "^Total: 0 credits for 0 new tasks" "$work/dry2.txt" || { cat "$work/dry2.txt"; fail "dry run: outputs exist"; }

# A lost output is served again from the cache, at no cost.
rm "$out/b.mp4"
"$cli" batch "$work/jobs.jsonl" --dry-run --out-dir "$out" --cache-dir "$cache" > "$work/dry3.txt"
grep -q "^2 .*b.mp4 .* 0 .*cached" "$work/dry3.txt" || { cat "$work/dry3.txt"; fail "dry run: cached"; }
"$cli" batch "$work/jobs.jsonl" --budget 0 --out-dir "$out" --cache-dir "$cache" > "$work/cached.txt" 2>&1 \
  || { cat "$work/cached.txt"; fail "cached job over a zero budget"; }
expect_eq "cached job: no create" "$(stat creates)" $((creates + 3))
echo "ok: batch, re-run, dry run"

# Ctrl-C in a batch: the running tasks go on; the same batch again resumes
# them (poll-interval is not part of the request, so a faster one resumes
# the same tasks).
for i in 1 2; do
  echo "{\"output\": \"i$i.mp4\", \"prompt\": \"Batch interrupted $i\", \"images\": [\"$work/first.png\"], \"poll-interval\": 30}"
done > "$work/int.jsonl"
sed 's/"poll-interval": 30/"poll-interval": 0.1/' "$work/int.jsonl" > "$work/int-fast.jsonl"
creates=$(stat creates)
"$cli" batch "$work/int.jsonl" --jobs 2 --out-dir "$out" --cache-dir "$cache" > "$work/bint.txt" 2> "$work/bint.log" &
pid=$!
for _ in $(seq 100); do [ "$(grep -c "Submitted task" "$work/bint.log")" = 2 ] && break; sleep 0.1; done
kill -INT $pid
rc=0; wait $pid || rc=$?
cat "$work/bint.log" "$work/bint.txt"
expect_eq "batch Ctrl-C: exit status" "$rc" 130
expect_eq "batch Ctrl-C: stopped" "$(grep -c ' stopped ' "$work/bint.txt")" 2
grep -q "2 tasks go on at the API" "$work/bint.log" || fail "batch Ctrl-C message"
"$cli" batch "$work/int-fast.jsonl" --jobs 2 --out-dir "$out" --cache-dir "$cache" > "$work/bint2.txt" 2> "$work/bint2.log" \
  || { cat "$work/bint2.log" "$work/bint2.txt"; fail "batch resume"; }
expect_eq "batch resume: resumed" "$(grep -c "Resuming task" "$work/bint2.log")" 2
expect_eq "batch resume: no new create" "$(stat creates)" $((creates + 2))
echo "ok: batch Ctrl-C, then the same batch resumes"

# ---- budget ----------------------------------------------------------------
cat > "$work/budget.jsonl" <<EOF
{"output": "d.mp4", "prompt": "Budget D", "images": ["$work/first.png"], "poll-interval": 0.1}
{"output": "e.mp4", "prompt": "Budget E", "images": ["$work/first.png"], "poll-interval": 0.1}
EOF
creates=$(stat creates)
rc=0
"$cli" batch "$work/budget.jsonl" --budget 60 --jobs 2 --out-dir "$out" --cache-dir "$cache" \
  > "$work/budget.txt" 2> "$work/budget.log" || rc=$?
cat "$work/budget.txt"
expect_eq "budget: exit status" "$rc" 1
expect_eq "budget: creates" "$(stat creates)" $((creates + 1))
grep -q "^2 .*e.mp4 .*over budget" "$work/budget.txt" || fail "budget: e.mp4 not stopped"
[ -e "$out/d.mp4" ] && [ ! -e "$out/e.mp4" ] || fail "budget: outputs"
echo "ok: budget"

# ---- shards ----------------------------------------------------------------
for i in 1 2 3 4 5; do
  echo "{\"output\": \"s$i.mp4\", \"prompt\": \"Shard $i\", \"images\": [\"$work/first.png\"], \"poll-interval\": 0.1}"
done > "$work/shard.jsonl"
creates=$(stat creates)
"$cli" batch "$work/shard.jsonl" --shard 1/2 --jobs 3 --out-dir "$out" --cache-dir "$cache" > "$work/s1.txt" 2>&1
"$cli" batch "$work/shard.jsonl" --shard 2/2 --jobs 3 --out-dir "$out" --cache-dir "$cache" > "$work/s2.txt" 2>&1
cat "$work/s1.txt" "$work/s2.txt"
lines_of () { awk '$2 ~ /^s[0-9]\.mp4$/ && $3 == "done" { printf "%s ", $1 }' "$1"; }
expect_eq "shard 1/2 lines" "$(lines_of "$work/s1.txt")" "1 3 5 "
expect_eq "shard 2/2 lines" "$(lines_of "$work/s2.txt")" "2 4 "
expect_eq "shards: creates" "$(stat creates)" $((creates + 5))
for i in 1 2 3 4 5; do [ -s "$out/s$i.mp4" ] || fail "shards: s$i.mp4"; done
echo "ok: shards"

# ---- bad lines -------------------------------------------------------------
cat > "$work/bad.jsonl" <<EOF
{"output": "a.mp4", "prompt": "Batch A", "images": ["$work/first.png"], "poll-interval": 0.1}
{"output": "f.mp4", "prompt": "Bad", "colour": "red"}
{"output": "g.mp4", "prompt": "Bad JSON",
{"output": "h.mp4", "prompt": "Bad duration", "images": ["$work/first.png"], "duration": 7}
EOF
before=$(snapshot)
rc=0
"$cli" batch "$work/bad.jsonl" --out-dir "$out" --cache-dir "$cache" > "$work/bad.txt" 2> "$work/bad.log" || rc=$?
cat "$work/bad.txt" "$work/bad.log"
expect_eq "bad lines: exit status" "$rc" 1
grep -q '^line 2: unknown property "colour"' "$work/bad.log" || fail "line 2 not named"
grep -q '^line 3: not valid JSON' "$work/bad.log" || fail "line 3 not named"
grep -q '^line 4: .*duration' "$work/bad.log" || fail "line 4 not named"
grep -q "^1 .*skipped" "$work/bad.txt" || fail "the good line"
expect_eq "bad lines: no request" "$(snapshot)" "$before"
echo "ok: bad lines"
