/* gst-klingo1: poll schedule tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tasks are simulated on a virtual clock: the schedule is a pure function,
 * so each scenario gives the same poll count and detection delay on any
 * machine, and the bounds below are about behaviour, not timing.
 */
#include <math.h>
#include <gst/check/gstcheck.h>

#include "poll-schedule.h"

typedef enum
{
  PROGRESS_NONE,
  /* floor (100 t / duration), capped at 99 until done */
  PROGRESS_LINEAR,
  /* the emulator's: 0 for the first 20 %, then 1..99 linearly */
  PROGRESS_EMULATOR,
} ProgressModel;

typedef struct
{
  const gchar *name;
  /* when the task really completes, s after create */
  gdouble duration;
  /* the total the API believes in, 0: it reports no estimate */
  gdouble estimate_total;
  /* smallest estimate reported while not done (the emulator's is 1) */
  gint estimate_floor;
  ProgressModel progress;
  gint retry_after;
  gdouble fixed_interval;
} Scenario;

typedef struct
{
  guint polls;
  /* from completion to the read that saw it */
  gdouble detection;
  gdouble shortest, longest;
  /* longest sleep taken past the end the estimate announced */
  gdouble longest_overdue;
} Outcome;

static gint
estimate_at (const Scenario * sc, gdouble t)
{
  if (sc->estimate_total <= 0)
    return -1;
  return MAX (sc->estimate_floor, (gint) ceil (sc->estimate_total - t));
}

static gint
progress_at (const Scenario * sc, gdouble t)
{
  switch (sc->progress) {
    case PROGRESS_LINEAR:
      return CLAMP ((gint) floor (100.0 * t / sc->duration), 0, 99);
    case PROGRESS_EMULATOR:
      if (t < 0.2 * sc->duration)
        return 0;
      return CLAMP (1 + (gint) (98.0 * (t - 0.2 * sc->duration) /
              (0.8 * sc->duration)), 1, 99);
    case PROGRESS_NONE:
    default:
      return -1;
  }
}

/* Runs a task from its create answer (t = 0, which also serves as the first
 * progress sample) to the read that sees it completed. */
static Outcome
simulate (const Scenario * sc)
{
  Outcome out = { 0, 0, G_MAXDOUBLE, 0, 0 };
  gdouble t = 0, prev_t = -1;
  gint estimate = estimate_at (sc, 0);
  gint progress = progress_at (sc, 0);
  gint prev_progress = -1;

  while (TRUE) {
    GstKlingo1PollInput in = {
      .fixed_interval = sc->fixed_interval,
      .since_create = t,
      .estimated_time = estimate,
      .progress = progress,
      .prev_progress = prev_progress,
      .since_prev_poll = prev_t < 0 ? -1 : t - prev_t,
      .retry_after = sc->retry_after,
      .polls = out.polls,
    };
    gdouble delay = gst_klingo1_poll_next_delay (&in);

    fail_unless (isfinite (delay) && delay > 0, "%s: delay %f", sc->name,
        delay);
    if (sc->retry_after > 0)
      fail_unless (delay >= sc->retry_after, "%s: %f under Retry-After",
          sc->name, delay);
    out.shortest = MIN (out.shortest, delay);
    out.longest = MAX (out.longest, delay);
    if (sc->estimate_total > 0 && t >= sc->estimate_total)
      out.longest_overdue = MAX (out.longest_overdue, delay);

    prev_t = t;
    prev_progress = progress;
    t += delay;
    out.polls++;
    if (t >= sc->duration) {
      out.detection = t - sc->duration;
      return out;
    }
    estimate = estimate_at (sc, t);
    progress = progress_at (sc, t);
    fail_unless (out.polls < 10000, "%s: never ends", sc->name);
  }
}

/* What a fixed poller with this interval needs for the same task. */
static guint
fixed_polls (gdouble interval, gdouble duration)
{
  return (guint) ceil (duration / interval);
}

static void
print_row (const Scenario * sc, const Outcome * o)
{
  g_print ("  %-44s %6.0f %6u %9.1f %7.1f-%.1f\n", sc->name, sc->duration,
      o->polls, o->detection, o->shortest, o->longest);
}

GST_START_TEST (test_scenarios)
{
  enum
  { HONEST, HONEST_EMU, LOW, LOW_PROGRESS, HIGH, HIGH_PROGRESS,
    PROGRESS_ONLY, NOTHING, RETRY_AFTER, LONG_OVERDUE, HONEST_LONG,
    FIXED_55, FIXED_110, N
  };
  const Scenario sc[N] = {
    [HONEST] = {"55 s, honest estimate", 55, 55, 0, PROGRESS_NONE, -1, 0},
    [HONEST_EMU] = {"55 s, emulator-like estimate and progress", 55, 55, 1,
        PROGRESS_EMULATOR, -1, 0},
    [LOW] = {"110 s, estimate 2x too low", 110, 55, 0, PROGRESS_NONE, -1, 0},
    [LOW_PROGRESS] = {"110 s, estimate 2x too low, linear progress", 110,
        55, 0, PROGRESS_LINEAR, -1, 0},
    [HIGH] = {"55 s, estimate 2x too high", 55, 110, 0, PROGRESS_NONE, -1, 0},
    [HIGH_PROGRESS] = {"55 s, estimate 2x too high, linear progress", 55,
        110, 0, PROGRESS_LINEAR, -1, 0},
    [PROGRESS_ONLY] = {"55 s, no estimate, linear progress", 55, 0, 0,
        PROGRESS_LINEAR, -1, 0},
    [NOTHING] = {"55 s, no estimate, no progress", 55, 0, 0, PROGRESS_NONE,
        -1, 0},
    [RETRY_AFTER] = {"55 s, honest estimate, Retry-After 20", 55, 55, 0,
        PROGRESS_NONE, 20, 0},
    [LONG_OVERDUE] = {"600 s, estimate says 55 s", 600, 55, 1,
        PROGRESS_NONE, -1, 0},
    [HONEST_LONG] = {"300 s, honest estimate", 300, 300, 0, PROGRESS_LINEAR,
        -1, 0},
    [FIXED_55] = {"55 s, fixed 10 s poller", 55, 55, 0, PROGRESS_NONE, -1, 10},
    [FIXED_110] = {"110 s, fixed 10 s poller", 110, 55, 0, PROGRESS_NONE,
        -1, 10},
  };
  Outcome o[N];
  guint i;

  g_print ("\n  %-44s %6s %6s %9s %s\n", "scenario", "task s", "polls",
      "seen +s", "sleeps s");
  for (i = 0; i < N; i++) {
    o[i] = simulate (&sc[i]);
    print_row (&sc[i], &o[i]);
  }

  /* the fixed poller itself: ceil (duration / 10) reads */
  fail_unless_equals_int (o[FIXED_55].polls, fixed_polls (10, 55));
  fail_unless_equals_int (o[FIXED_110].polls, fixed_polls (10, 110));

  /* the goal: fewer reads than a 10 s poller, seen within 3 s */
  fail_unless (o[HONEST].polls < fixed_polls (10, 55));
  fail_unless (o[HONEST].detection <= 3.0);
  fail_unless (o[HONEST_EMU].polls < fixed_polls (10, 55));
  fail_unless (o[HONEST_EMU].detection <= 3.0);
  fail_unless (o[HONEST_LONG].polls < fixed_polls (10, 300) / 2);
  fail_unless (o[HONEST_LONG].detection <= 3.0);
  for (i = 0; i < N; i++)
    if (sc[i].fixed_interval <= 0 && sc[i].retry_after <= 0)
      fail_unless (o[i].longest <= GST_KLINGO1_POLL_MAX_SLEEP);

  /* an optimistic estimate: dense reads near its end, then backing off;
   * never slower to notice than the overdue cap, and not many more reads
   * than a 10 s poller */
  fail_unless (o[LOW].detection <= GST_KLINGO1_POLL_OVERDUE_MAX_SLEEP);
  fail_unless (o[LOW].polls <= fixed_polls (10, 110) + 6);
  /* ... unless progress tells the real pace */
  fail_unless (o[LOW_PROGRESS].detection <= 3.0);
  fail_unless (o[LOW_PROGRESS].polls <= fixed_polls (10, 110));

  /* a pessimistic estimate alone can only be caught by the longest sleep */
  fail_unless (o[HIGH].detection <= GST_KLINGO1_POLL_MAX_SLEEP);
  fail_unless (o[HIGH].polls <= fixed_polls (10, 55));
  /* with progress the rate corrects it */
  fail_unless (o[HIGH_PROGRESS].polls < fixed_polls (10, 55));
  fail_unless (o[HIGH_PROGRESS].detection <= 3.0);

  /* progress alone is enough */
  fail_unless (o[PROGRESS_ONLY].polls < fixed_polls (10, 55));
  fail_unless (o[PROGRESS_ONLY].detection <= 3.0);

  /* nothing known: modest steps, longer ones once over the budget */
  fail_unless (o[NOTHING].shortest >= 5.0);
  fail_unless (o[NOTHING].longest <= GST_KLINGO1_POLL_OVERDUE_MAX_SLEEP);
  fail_unless (o[NOTHING].detection <= GST_KLINGO1_POLL_OVERDUE_MAX_SLEEP);
  fail_unless (o[NOTHING].polls <= fixed_polls (5, 55) + 1);

  /* Retry-After is a lower bound (checked per sleep in simulate ()) */
  fail_unless (o[RETRY_AFTER].shortest >= 20);
  fail_unless (o[RETRY_AFTER].detection <= 20);

  /* long overdue: the interval grows but stays capped, and the read count
   * stays close to a 10 s poller's */
  fail_unless (o[LONG_OVERDUE].longest_overdue > 5.0);
  fail_unless (o[LONG_OVERDUE].longest_overdue <=
      GST_KLINGO1_POLL_OVERDUE_MAX_SLEEP);
  fail_unless (o[LOW].longest_overdue <= GST_KLINGO1_POLL_OVERDUE_MAX_SLEEP);
  fail_unless (o[LONG_OVERDUE].detection <=
      GST_KLINGO1_POLL_OVERDUE_MAX_SLEEP);
  fail_unless (o[LONG_OVERDUE].polls <= fixed_polls (10, 600) + 10);
}

GST_END_TEST;

GST_START_TEST (test_fixed)
{
  GstKlingo1PollInput in = {.fixed_interval = 7.5,.since_create = 100,
    .estimated_time = 300,.progress = 10,.prev_progress = 5,
    .since_prev_poll = 7.5,.retry_after = -1,.polls = 3
  };

  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in), 7.5);
  /* the estimate does not matter */
  in.estimated_time = 0;
  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in), 7.5);
  in.polls = 1000;
  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in), 7.5);
  /* Retry-After is a lower bound, a shorter one changes nothing */
  in.retry_after = 20;
  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in), 20);
  in.retry_after = 2;
  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in), 7.5);
  /* an absurd one is capped */
  in.retry_after = 86400;
  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in),
      GST_KLINGO1_POLL_MAX_RETRY_AFTER);
}

GST_END_TEST;

GST_START_TEST (test_auto_decisions)
{
  GstKlingo1PollInput in = {.fixed_interval = 0,.since_create = 0,
    .estimated_time = 55,.progress = -1,.prev_progress = -1,
    .since_prev_poll = -1,.retry_after = -1,.polls = 0
  };
  gdouble d;

  /* a long estimate: one capped sleep */
  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in),
      GST_KLINGO1_POLL_MAX_SLEEP);
  /* a shorter one: wake up shortly before its end */
  in.estimated_time = 20;
  d = gst_klingo1_poll_next_delay (&in);
  fail_unless (d < 20 && d >= 15, "%f", d);
  /* near the end: the end interval */
  in.estimated_time = 2;
  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in),
      GST_KLINGO1_POLL_END_INTERVAL);
  /* an exhausted estimate: the end interval too */
  in.estimated_time = 0;
  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in),
      GST_KLINGO1_POLL_END_INTERVAL);
  /* ... unless progress says there is more to go; never long then */
  in.since_create = 60;
  in.progress = 50;
  in.prev_progress = 40;
  in.since_prev_poll = 10;
  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in),
      GST_KLINGO1_POLL_OVERDUE_MAX_SLEEP);

  /* no estimate: the progress rate, 1 %/s with 80 % to go */
  in.estimated_time = -1;
  in.since_create = 20;
  in.progress = 20;
  in.prev_progress = 10;
  in.since_prev_poll = 10;
  in.polls = 1;
  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in),
      GST_KLINGO1_POLL_MAX_SLEEP);
  in.progress = 90;
  in.prev_progress = 80;
  d = gst_klingo1_poll_next_delay (&in);
  fail_unless (d < 10 && d >= 5, "%f", d);
  /* the earlier of estimate and progress wins */
  in.estimated_time = 300;
  fail_unless (gst_klingo1_poll_next_delay (&in) < 10);
  /* progress that did not move is no rate */
  in.estimated_time = -1;
  in.prev_progress = 90;
  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in), 5.0);
  /* nor one going backwards */
  in.prev_progress = 95;
  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in), 5.0);

  /* many reads over the budget: backing off, capped */
  in.estimated_time = 1;
  in.progress = in.prev_progress = -1;
  in.since_create = 100;
  in.polls = 100;
  fail_unless_equals_float (gst_klingo1_poll_next_delay (&in),
      GST_KLINGO1_POLL_OVERDUE_MAX_SLEEP);
}

GST_END_TEST;

/* Whatever the job passes, the answer is a usable sleep. */
GST_START_TEST (test_garbage_in)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  const gdouble doubles[] = { -1, 0, 0.001, 1, 59.9, 1e9, -1e9, NAN,
    INFINITY, -INFINITY
  };
  const gint ints[] = { -1000, -1, 0, 1, 3, 42, 99, 100, 101, 3600,
    G_MAXINT, G_MININT
  };
  guint i;

  for (i = 0; i < 100000; i++) {
    GstKlingo1PollInput in = {
      .fixed_interval = g_rand_boolean (rand) ? 0 :
          doubles[g_rand_int_range (rand, 0, G_N_ELEMENTS (doubles))],
      .since_create = doubles[g_rand_int_range (rand, 0,
              G_N_ELEMENTS (doubles))],
      .estimated_time = ints[g_rand_int_range (rand, 0, G_N_ELEMENTS (ints))],
      .progress = ints[g_rand_int_range (rand, 0, G_N_ELEMENTS (ints))],
      .prev_progress = ints[g_rand_int_range (rand, 0, G_N_ELEMENTS (ints))],
      .since_prev_poll = doubles[g_rand_int_range (rand, 0,
              G_N_ELEMENTS (doubles))],
      .retry_after = ints[g_rand_int_range (rand, 0, G_N_ELEMENTS (ints))],
      .polls = g_rand_boolean (rand) ? (guint) g_rand_int_range (rand, 0, 50)
          : G_MAXUINT,
    };
    gdouble d = gst_klingo1_poll_next_delay (&in);

    fail_unless (isfinite (d) && d > 0, "delay %f", d);
    if (in.fixed_interval > 0 && isfinite (in.fixed_interval))
      continue;
    fail_unless (d >= GST_KLINGO1_POLL_END_INTERVAL, "delay %f", d);
    fail_unless (d <= MAX (GST_KLINGO1_POLL_MAX_SLEEP,
            GST_KLINGO1_POLL_MAX_RETRY_AFTER), "delay %f", d);
  }
}

GST_END_TEST;

static Suite *
poll_suite (void)
{
  Suite *s = suite_create ("klingo1-poll");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_scenarios);
  tcase_add_test (tc, test_fixed);
  tcase_add_test (tc, test_auto_decisions);
  tcase_add_test (tc, test_garbage_in);
  return s;
}

GST_CHECK_MAIN (poll);
