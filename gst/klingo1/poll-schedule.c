/* gst-klingo1: when to read a task's status next
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every status read of an unfinished task costs the API a sync with its
 * provider, and a fixed poller is either wasteful (short interval) or slow to
 * notice completion (long interval).  The task tells us when it expects to be
 * done, so the automatic policy sleeps through the bulk of the work and polls
 * densely only around the expected end.
 *
 * The policy is a pure function of what the job knows after an answer: no
 * hidden state, so a resumed task (or a test with a virtual clock) gets the
 * same decisions.  The one thing it cannot see directly, how long a task has
 * been overdue, it bounds through the poll count: a task that has had more
 * reads than a 15 s poller would have made (plus two) gets gradually longer
 * intervals, up to 10 s, so that a long overdue task costs about what a 10 s
 * poller costs.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "poll-schedule.h"

#include <gst/gst.h>
#include <math.h>

GST_DEBUG_CATEGORY_STATIC (klingo1_poll_debug);
#define GST_CAT_DEFAULT klingo1_poll_debug

/* Arrive this long before the expected end: an estimate in whole seconds is
 * off by up to one either way. */
#define LEAD 1.0
/* Within this of the expected end, poll at the end interval. */
#define NEAR 3.0
/* An estimate of this many seconds or less, on a task that is not done, says
 * "any moment now" and nothing about how long it will still take (the
 * emulator keeps answering 1 while a slow render finishes). */
#define EXHAUSTED 1
/* Nothing known about the remaining time. */
#define DEFAULT_STEP 5.0
/* The poll budget: reads a poller with this interval would have made, plus
 * the allowance, before overdue intervals start to grow. */
#define BUDGET_INTERVAL 15.0
#define BUDGET_ALLOWANCE 2.0
/* Growth of the interval per read over the budget. */
#define BACKOFF_GROWTH 1.5

static void
init_debug (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (klingo1_poll_debug, "klingo1poll", 0,
        "Kling O1 poll schedule");
    g_once_init_leave (&done, 1);
  }
}

static gdouble
finite_or (gdouble value, gdouble fallback)
{
  return isfinite (value) ? value : fallback;
}

/* Remaining seconds projected from the progress rate between the last two
 * polls, or NAN.  Needs progress that moved forward: a stalled or
 * backwards-moving bar says nothing about the rate. */
static gdouble
remaining_from_progress (const GstKlingo1PollInput * in)
{
  gdouble dt = finite_or (in->since_prev_poll, -1);
  gdouble rate;

  if (in->progress < 0 || in->progress > 100 || in->prev_progress < 0 ||
      in->progress <= in->prev_progress || !(dt > 0))
    return NAN;

  rate = (in->progress - in->prev_progress) / dt;
  return (100 - in->progress) / rate;
}

static gdouble
retry_after_floor (const GstKlingo1PollInput * in)
{
  if (in->retry_after <= 0)
    return 0;
  /* A longer Retry-After is more likely a misconfigured proxy than a plan;
   * the job's deadline still bounds the whole wait. */
  return MIN ((gdouble) in->retry_after, GST_KLINGO1_POLL_MAX_RETRY_AFTER);
}

gdouble
gst_klingo1_poll_next_delay (const GstKlingo1PollInput * in)
{
  gdouble since_create, remaining, from_estimate, from_progress, delay;
  gdouble excess;
  gboolean overdue = FALSE;
  const gchar *why;

  g_return_val_if_fail (in != NULL, DEFAULT_STEP);

  init_debug ();

  if (in->fixed_interval > 0 && isfinite (in->fixed_interval))
    return MAX (in->fixed_interval, retry_after_floor (in));

  since_create = MAX (finite_or (in->since_create, 0), 0);
  from_estimate = in->estimated_time >= 0 ? in->estimated_time : NAN;
  from_progress = remaining_from_progress (in);

  if (in->estimated_time >= 0 && in->estimated_time <= EXHAUSTED) {
    /* At or past the advertised end: only the progress rate can tell how
     * much longer, and it may be wrong too, so never sleep long. */
    overdue = TRUE;
    remaining = from_progress;
  } else if (!isnan (from_estimate) && !isnan (from_progress)) {
    /* The earlier of the two: arriving early costs a read or two, arriving
     * late delays the clip by up to a whole sleep. */
    remaining = MIN (from_estimate, from_progress);
  } else {
    remaining = isnan (from_estimate) ? from_progress : from_estimate;
  }

  if (isnan (remaining)) {
    if (overdue) {
      delay = GST_KLINGO1_POLL_END_INTERVAL;
      why = "at the expected end";
    } else {
      delay = DEFAULT_STEP;
      why = "nothing known about the remaining time";
    }
  } else if (remaining <= NEAR) {
    delay = GST_KLINGO1_POLL_END_INTERVAL;
    why = "close to the expected end";
  } else {
    delay = MIN (remaining - LEAD, overdue ? GST_KLINGO1_POLL_OVERDUE_MAX_SLEEP
        : GST_KLINGO1_POLL_MAX_SLEEP);
    why = overdue ? "overdue, progress says more is left" :
        "sleeping until shortly before the expected end";
  }

  /* More reads than the budget: the task is late (or its estimates keep
   * being too short); back off gently, each read over budget making the
   * interval longer. */
  excess = in->polls - (BUDGET_ALLOWANCE + since_create / BUDGET_INTERVAL);
  if (excess > 0) {
    gdouble backoff = MIN (GST_KLINGO1_POLL_END_INTERVAL *
        pow (BACKOFF_GROWTH, excess), GST_KLINGO1_POLL_OVERDUE_MAX_SLEEP);

    if (backoff > delay) {
      delay = backoff;
      why = "over the poll budget, backing off";
    }
  }

  if (retry_after_floor (in) > delay) {
    delay = retry_after_floor (in);
    why = "Retry-After";
  }

  GST_LOG ("after %.1f s, %u polls, estimate %d, progress %d (was %d): "
      "next poll in %.2f s (%s)", since_create, in->polls, in->estimated_time,
      in->progress, in->prev_progress, delay, why);
  return delay;
}
