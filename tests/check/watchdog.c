/* gst-klingo1: watchdog tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Timers are checked for what they do, not how punctually: a fired timer
 * must have fired after its expiry (that follows from the monotonic clock)
 * and well before a generous bound; a kicked timer is kicked many times per
 * stall timeout.
 */
#include <gst/check/gstcheck.h>
#include <gst/klingo1/client.h>

#include "watchdog.h"

#define MS (G_TIME_SPAN_MILLISECOND)
#define S (G_TIME_SPAN_SECOND)
/* far more than any of the expiries below, even on a loaded machine */
#define GENEROUS (60 * S)

/* Blocks like a download would, until the cancellable fires; returns how
 * long that took. */
static gint64
block_until_cancelled (GCancellable * cancellable)
{
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  fail_if (gst_klingo1_sleep (GENEROUS / (gdouble) S, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  return g_get_monotonic_time () - start;
}

static gboolean
wait_cancelled (GCancellable * cancellable, gint64 timeout)
{
  gint64 end = g_get_monotonic_time () + timeout;

  while (!g_cancellable_is_cancelled (cancellable)) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (5 * MS);
  }
  return TRUE;
}

GST_START_TEST (test_deadline)
{
  gint64 deadline = g_get_monotonic_time () + 200 * MS;
  g_autoptr (GstKlingo1Watchdog) wd =
      gst_klingo1_watchdog_new (NULL, deadline, 0);
  GCancellable *c = gst_klingo1_watchdog_get_cancellable (wd);
  gint64 took;

  fail_unless (G_IS_CANCELLABLE (c));
  fail_if (g_cancellable_is_cancelled (c));
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_OK);

  took = block_until_cancelled (c);
  fail_unless (g_get_monotonic_time () >= deadline);
  fail_unless (took < GENEROUS / 2);
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_DEADLINE);

  /* final: a rearm does not bring it back */
  gst_klingo1_watchdog_rearm (wd);
  fail_unless (gst_klingo1_watchdog_get_cancellable (wd) == c);
  fail_unless (g_cancellable_is_cancelled (c));
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_DEADLINE);
}

GST_END_TEST;

GST_START_TEST (test_deadline_past)
{
  g_autoptr (GstKlingo1Watchdog) wd =
      gst_klingo1_watchdog_new (NULL, g_get_monotonic_time () - S, 0);

  fail_unless (wait_cancelled (gst_klingo1_watchdog_get_cancellable (wd),
          GENEROUS));
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_DEADLINE);
}

GST_END_TEST;

GST_START_TEST (test_no_timers)
{
  g_autoptr (GCancellable) parent = g_cancellable_new ();
  g_autoptr (GstKlingo1Watchdog) wd = gst_klingo1_watchdog_new (parent, 0, 0);
  GCancellable *c = gst_klingo1_watchdog_get_cancellable (wd);

  /* no deadline, no stall timeout: nothing fires by itself, kicks and
   * rearms are harmless */
  gst_klingo1_watchdog_kick (wd);
  gst_klingo1_watchdog_rearm (wd);
  fail_unless (gst_klingo1_watchdog_get_cancellable (wd) == c);
  g_usleep (100 * MS);
  fail_if (g_cancellable_is_cancelled (c));
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_OK);

  g_cancellable_cancel (parent);
  fail_unless (g_cancellable_is_cancelled (c));
}

GST_END_TEST;

static gpointer
cancel_later (gpointer data)
{
  g_usleep (100 * MS);
  g_cancellable_cancel (data);
  return NULL;
}

GST_START_TEST (test_parent_cancel)
{
  g_autoptr (GCancellable) parent = g_cancellable_new ();
  /* a far deadline and stall timeout: the parent must win */
  g_autoptr (GstKlingo1Watchdog) wd = gst_klingo1_watchdog_new (parent,
      g_get_monotonic_time () + 10 * GENEROUS, 10 * GENEROUS);
  GCancellable *c = gst_klingo1_watchdog_get_cancellable (wd);
  GThread *thread;

  fail_unless (c != parent);
  thread = g_thread_new ("canceller", cancel_later, parent);
  fail_unless (block_until_cancelled (c) < GENEROUS / 2);
  g_thread_join (thread);
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_CANCELLED);

  /* final */
  gst_klingo1_watchdog_rearm (wd);
  fail_unless (gst_klingo1_watchdog_get_cancellable (wd) == c);
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_CANCELLED);
}

GST_END_TEST;

GST_START_TEST (test_parent_already_cancelled)
{
  g_autoptr (GCancellable) parent = g_cancellable_new ();
  g_autoptr (GstKlingo1Watchdog) wd = NULL;

  g_cancellable_cancel (parent);
  wd = gst_klingo1_watchdog_new (parent, 0, 10 * GENEROUS);
  fail_unless (g_cancellable_is_cancelled
      (gst_klingo1_watchdog_get_cancellable (wd)));
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_CANCELLED);
}

GST_END_TEST;

/* Kicks every 10 ms for two stall timeouts, then stops; returns the time of
 * the last kick. */
static gint64
kick_for_a_while (GstKlingo1Watchdog * wd, gint64 stall_timeout)
{
  GCancellable *c = gst_klingo1_watchdog_get_cancellable (wd);
  gint64 end = g_get_monotonic_time () + 2 * stall_timeout;
  gint64 last_kick;

  do {
    g_usleep (10 * MS);
    fail_if (g_cancellable_is_cancelled (c), "stalled while kicked");
    gst_klingo1_watchdog_kick (wd);
    last_kick = g_get_monotonic_time ();
  } while (last_kick < end);
  return last_kick;
}

GST_START_TEST (test_stall)
{
  /* 200 kicks per stall timeout */
  const gint64 stall = 2 * S;
  g_autoptr (GstKlingo1Watchdog) wd = gst_klingo1_watchdog_new (NULL, 0,
      stall);
  GCancellable *c = gst_klingo1_watchdog_get_cancellable (wd);
  gint64 last_kick;

  last_kick = kick_for_a_while (wd, stall);
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_OK);

  block_until_cancelled (c);
  fail_unless (g_get_monotonic_time () - last_kick >= stall);
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_STALLED);
}

GST_END_TEST;

GST_START_TEST (test_rearm)
{
  const gint64 stall = 300 * MS;
  g_autoptr (GCancellable) parent = g_cancellable_new ();
  g_autoptr (GstKlingo1Watchdog) wd = gst_klingo1_watchdog_new (parent, 0,
      stall);
  g_autoptr (GCancellable) first = NULL;
  GCancellable *second, *third;
  gint64 rearmed;

  first = g_object_ref (gst_klingo1_watchdog_get_cancellable (wd));
  block_until_cancelled (first);
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_STALLED);

  /* a fresh cancellable with a fresh stall timer */
  gst_klingo1_watchdog_rearm (wd);
  rearmed = g_get_monotonic_time ();
  second = gst_klingo1_watchdog_get_cancellable (wd);
  fail_unless (second != first);
  fail_unless (g_cancellable_is_cancelled (first));
  fail_if (g_cancellable_is_cancelled (second));
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_OK);

  /* it stalls again */
  block_until_cancelled (second);
  fail_unless (g_get_monotonic_time () - rearmed >= stall);
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_STALLED);

  /* the parent cancelled while stalled: the rearmed one starts cancelled */
  g_cancellable_cancel (parent);
  gst_klingo1_watchdog_rearm (wd);
  third = gst_klingo1_watchdog_get_cancellable (wd);
  fail_unless (third != second);
  fail_unless (g_cancellable_is_cancelled (third));
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (wd),
      GST_KLINGO1_WATCHDOG_CANCELLED);
}

GST_END_TEST;

GST_START_TEST (test_rearm_keeps_deadline)
{
  gint64 deadline = g_get_monotonic_time () + 1 * S;
  g_autoptr (GstKlingo1Watchdog) wd = gst_klingo1_watchdog_new (NULL,
      deadline, 20 * MS);
  g_autoptr (GstKlingo1Watchdog) late = NULL;
  guint stalls = 0;

  /* stalls and retries until the deadline, which then ends it for good */
  while (TRUE) {
    GCancellable *c = gst_klingo1_watchdog_get_cancellable (wd);
    GstKlingo1WatchdogReason reason;

    block_until_cancelled (c);
    reason = gst_klingo1_watchdog_get_reason (wd);
    if (reason == GST_KLINGO1_WATCHDOG_DEADLINE)
      break;
    fail_unless_equals_int (reason, GST_KLINGO1_WATCHDOG_STALLED);
    fail_unless (stalls++ < 10000);
    gst_klingo1_watchdog_rearm (wd);
  }
  fail_unless (g_get_monotonic_time () >= deadline);
  GST_INFO ("%u stalls before the deadline", stalls);

  /* rearmed after a stall when the deadline has passed meanwhile: the new
   * cancellable starts cancelled */
  deadline = g_get_monotonic_time () + 2 * S;
  late = gst_klingo1_watchdog_new (NULL, deadline, 20 * MS);
  block_until_cancelled (gst_klingo1_watchdog_get_cancellable (late));
  if (gst_klingo1_watchdog_get_reason (late) != GST_KLINGO1_WATCHDOG_STALLED) {
    /* the timer thread was starved past the deadline: also correct, but
     * nothing left to test */
    fail_unless_equals_int (gst_klingo1_watchdog_get_reason (late),
        GST_KLINGO1_WATCHDOG_DEADLINE);
    return;
  }
  /* a stalled watchdog does not fire again by itself */
  while (g_get_monotonic_time () < deadline + 100 * MS)
    g_usleep (50 * MS);
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (late),
      GST_KLINGO1_WATCHDOG_STALLED);
  gst_klingo1_watchdog_rearm (late);
  fail_unless (g_cancellable_is_cancelled
      (gst_klingo1_watchdog_get_cancellable (late)));
  fail_unless_equals_int (gst_klingo1_watchdog_get_reason (late),
      GST_KLINGO1_WATCHDOG_DEADLINE);
}

GST_END_TEST;

static void
free_watchdog_cb (GCancellable * cancellable, gpointer data)
{
  GstKlingo1Watchdog **wd = data;

  g_clear_pointer (wd, gst_klingo1_watchdog_free);
}

/* free () from within the parent's "cancelled" emission, on the
 * canceller's thread: g_cancellable_disconnect () would deadlock there. */
GST_START_TEST (test_free_in_parent_handler)
{
  guint order;

  for (order = 0; order < 2; order++) {
    g_autoptr (GCancellable) parent = g_cancellable_new ();
    GstKlingo1Watchdog *wd = NULL;
    gulong id = 0;

    if (order == 0)
      id = g_signal_connect (parent, "cancelled",
          G_CALLBACK (free_watchdog_cb), &wd);
    wd = gst_klingo1_watchdog_new (parent, 0, 10 * GENEROUS);
    if (order == 1)
      id = g_signal_connect (parent, "cancelled",
          G_CALLBACK (free_watchdog_cb), &wd);

    g_cancellable_cancel (parent);
    fail_unless (wd == NULL);
    g_signal_handler_disconnect (parent, id);
  }
}

GST_END_TEST;

typedef struct
{
  GMutex lock;
  GCond cond;
  GstKlingo1Watchdog *wd;
  gboolean done;
} FreeInTimer;

static void
free_in_timer_cb (GCancellable * cancellable, gpointer data)
{
  FreeInTimer *f = data;

  /* on the timer thread, within the firing watchdog's dispatch */
  g_clear_pointer (&f->wd, gst_klingo1_watchdog_free);
  g_mutex_lock (&f->lock);
  f->done = TRUE;
  g_cond_signal (&f->cond);
  g_mutex_unlock (&f->lock);
}

GST_START_TEST (test_free_in_own_handler)
{
  FreeInTimer f = { 0, };
  gint64 end = g_get_monotonic_time () + GENEROUS;

  g_mutex_init (&f.lock);
  g_cond_init (&f.cond);
  f.wd = gst_klingo1_watchdog_new (NULL, 0, 50 * MS);
  g_signal_connect (gst_klingo1_watchdog_get_cancellable (f.wd), "cancelled",
      G_CALLBACK (free_in_timer_cb), &f);

  g_mutex_lock (&f.lock);
  while (!f.done && g_cond_wait_until (&f.cond, &f.lock, end));
  fail_unless (f.done);
  g_mutex_unlock (&f.lock);
  fail_unless (f.wd == NULL);

  g_mutex_clear (&f.lock);
  g_cond_clear (&f.cond);
}

GST_END_TEST;

/* Every cancellable a watchdog handed out must be finalized once it is
 * freed: the watchdog holds the only reference, so a leaked watchdog (or
 * timer source, or parent handler holding it) leaks its cancellable. */
static gint live_cancellables;

static void
cancellable_finalized (gpointer data, GObject * where)
{
  g_atomic_int_add (&live_cancellables, -1);
}

static GCancellable *
track (GCancellable * cancellable)
{
  g_atomic_int_inc (&live_cancellables);
  g_object_weak_ref (G_OBJECT (cancellable), cancellable_finalized, NULL);
  return cancellable;
}

static gpointer
churn (gpointer data)
{
  GCancellable *parent = data;
  g_autoptr (GRand) rand = g_rand_new ();
  guint i;

  for (i = 0; i < 250; i++) {
    gint64 now = g_get_monotonic_time ();
    gint64 deadline = 0, stall = 0;
    GstKlingo1Watchdog *wd;
    GCancellable *c;

    /* expiries around now, so that timers fire while watchdogs are being
     * freed */
    if (g_rand_boolean (rand))
      deadline = now + g_rand_int_range (rand, -1000, 3000);
    if (g_rand_boolean (rand))
      stall = g_rand_int_range (rand, 1, 3000);

    wd = gst_klingo1_watchdog_new (g_rand_boolean (rand) ? parent : NULL,
        deadline, stall);
    c = track (gst_klingo1_watchdog_get_cancellable (wd));
    switch (g_rand_int_range (rand, 0, 4)) {
      case 0:
        break;
      case 1:
        gst_klingo1_watchdog_kick (wd);
        break;
      case 2:
        g_usleep (g_rand_int_range (rand, 0, 3000));
        break;
      case 3:
        /* rearm after whatever fired by now */
        g_usleep (g_rand_int_range (rand, 0, 3000));
        gst_klingo1_watchdog_rearm (wd);
        if (gst_klingo1_watchdog_get_cancellable (wd) != c)
          track (gst_klingo1_watchdog_get_cancellable (wd));
        break;
    }
    gst_klingo1_watchdog_free (wd);
  }
  return NULL;
}

GST_START_TEST (test_many_threads)
{
  g_autoptr (GCancellable) parent = g_cancellable_new ();
  GThread *threads[4];
  gint64 end;
  guint i, sig;

  for (i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("churn", churn, parent);
  /* the parent gets cancelled midway, while handlers are connected and
   * disconnected */
  g_usleep (g_random_int_range (0, 200 * MS));
  g_cancellable_cancel (parent);
  for (i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  /* a timer dispatch racing with the last free may hold its reference a
   * moment longer */
  end = g_get_monotonic_time () + GENEROUS;
  while (g_atomic_int_get (&live_cancellables) > 0 &&
      g_get_monotonic_time () < end)
    g_usleep (10 * MS);
  fail_unless_equals_int (g_atomic_int_get (&live_cancellables), 0);

  /* and no handler left on the parent */
  sig = g_signal_lookup ("cancelled", G_TYPE_CANCELLABLE);
  fail_unless_equals_int (g_signal_handler_find (parent, G_SIGNAL_MATCH_ID,
          sig, 0, NULL, NULL, NULL), 0);
}

GST_END_TEST;

static Suite *
watchdog_suite (void)
{
  Suite *s = suite_create ("klingo1-watchdog");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  /* the stall tests wait seconds on purpose */
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_deadline);
  tcase_add_test (tc, test_deadline_past);
  tcase_add_test (tc, test_no_timers);
  tcase_add_test (tc, test_parent_cancel);
  tcase_add_test (tc, test_parent_already_cancelled);
  tcase_add_test (tc, test_stall);
  tcase_add_test (tc, test_rearm);
  tcase_add_test (tc, test_rearm_keeps_deadline);
  tcase_add_test (tc, test_free_in_parent_handler);
  tcase_add_test (tc, test_free_in_own_handler);
  tcase_add_test (tc, test_many_threads);
  return s;
}

GST_CHECK_MAIN (watchdog);
