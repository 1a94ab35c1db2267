/* gst-klingo1: when to read a task's status next
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * GstKlingo1PollInput:
 * @fixed_interval: > 0: the user set poll-interval, always wait this long;
 *     <= 0: the automatic policy
 * @since_create: seconds since the task was created (or first seen, when a
 *     journaled task is resumed)
 * @estimated_time: `task_info.estimated_time` of the latest answer, in
 *     seconds, -1 when that answer had none.  Taken as the time *remaining*
 *     (as EvoLink's own client reads it and the emulator reports it)
 * @progress: `progress` of the latest answer, 0..100, -1 unknown
 * @prev_progress: `progress` at the poll before, -1 none
 * @since_prev_poll: seconds between the poll before and the latest one, -1
 *     none
 * @retry_after: Retry-After of the latest answer in seconds, -1 none
 * @polls: status reads made so far for this task (the create is not one)
 *
 * What the job knows about a task after an answer (the create's or a poll's).
 */
typedef struct
{
  gdouble fixed_interval;
  gdouble since_create;
  gint estimated_time;
  gint progress;
  gint prev_progress;
  gdouble since_prev_poll;
  gint retry_after;
  guint polls;
} GstKlingo1PollInput;

/* The longest single sleep of the automatic policy, and the longest one once
 * the task is at or past its expected end. */
#define GST_KLINGO1_POLL_MAX_SLEEP 30.0
#define GST_KLINGO1_POLL_OVERDUE_MAX_SLEEP 10.0
/* How often the automatic policy polls around the expected end. */
#define GST_KLINGO1_POLL_END_INTERVAL 1.5
/* The longest Retry-After that is honoured. */
#define GST_KLINGO1_POLL_MAX_RETRY_AFTER 300.0

/* Seconds to wait before the next status read (always > 0).
 *
 * Fixed mode (@fixed_interval > 0) waits @fixed_interval.  The automatic
 * policy sleeps until shortly before the expected end (now + the estimate,
 * or a projection of the progress rate between the last two polls; a 5 s
 * step when neither is known), at most GST_KLINGO1_POLL_MAX_SLEEP at a time,
 * then polls every GST_KLINGO1_POLL_END_INTERVAL so that completion is seen
 * within seconds.  A task that stays overdue is polled less and less often
 * (up to GST_KLINGO1_POLL_OVERDUE_MAX_SLEEP) once it has had more reads than
 * a 15 s poller would have made, plus two.  In both modes Retry-After is a
 * lower bound. */
gdouble gst_klingo1_poll_next_delay (const GstKlingo1PollInput * in);

G_END_DECLS
