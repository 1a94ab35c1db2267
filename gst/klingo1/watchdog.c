/* gst-klingo1: deadline and stall detection for blocking I/O
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libsoup's own timeouts cover connecting and idle sockets, not "this
 * download has made no progress for 30 s" nor "the whole job must end by
 * T".  A watchdog turns both into a GCancellable that the blocking calls
 * already take, so every wait stays interruptible by one mechanism.
 *
 * All watchdogs share one timer thread (a GMainContext of its own), each with
 * a GSource whose ready time is the next expiry.  Kicks only store a
 * timestamp: the source wakes at the old expiry, sees the newer kick and
 * sleeps again, so a busy download costs one wakeup per stall timeout, not
 * one per chunk.
 *
 * Lifetime: the watchdog is refcounted.  The owner, the timer source and the
 * parent's signal handler each hold a reference, so a timer or a parent
 * cancellation racing with free () never touches freed memory; free () only
 * marks the watchdog dead and drops what links to it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "watchdog.h"

#include <gst/gst.h>

GST_DEBUG_CATEGORY_STATIC (klingo1_watchdog_debug);
#define GST_CAT_DEFAULT klingo1_watchdog_debug

struct _GstKlingo1Watchdog
{
  gint ref_count;

  /* immutable after new () */
  GCancellable *parent;
  gulong parent_handler;
  gint64 deadline;
  gint64 stall_timeout;

  /* monotonic time of the last kick: lock-free, see kick () */
  gint64 last_kick;
  /* GstKlingo1WatchdogReason; written under the lock, read atomically */
  gint reason;

  GMutex lock;
  /* all under the lock */
  GCancellable *cancellable;
  GSource *source;
  gboolean freed;
};

typedef struct
{
  GSource source;
  GstKlingo1Watchdog *wd;
} WatchdogSource;

static const gchar *const reason_names[] = {
  "ok", "cancelled", "deadline", "stalled"
};

static GstKlingo1Watchdog *
watchdog_ref (GstKlingo1Watchdog * wd)
{
  g_atomic_int_inc (&wd->ref_count);
  return wd;
}

static void
watchdog_unref (GstKlingo1Watchdog * wd)
{
  if (!g_atomic_int_dec_and_test (&wd->ref_count))
    return;

  g_clear_object (&wd->cancellable);
  g_clear_object (&wd->parent);
  g_mutex_clear (&wd->lock);
  g_free (wd);
}

static gint64
get_last_kick (GstKlingo1Watchdog * wd)
{
  return __atomic_load_n (&wd->last_kick, __ATOMIC_RELAXED);
}

/* The next time the timer must look, -1 for never. */
static gint64
next_expiry (GstKlingo1Watchdog * wd)
{
  gint64 when = -1;

  if (wd->stall_timeout > 0)
    when = get_last_kick (wd) + wd->stall_timeout;
  if (wd->deadline > 0 && (when < 0 || wd->deadline < when))
    when = wd->deadline;
  return when;
}

/* Records why the current cancellable fires; returns it (a new reference)
 * for the caller to cancel once the lock is dropped: its handlers run
 * synchronously and may call back into the watchdog.  NULL if it has already
 * fired. */
static GCancellable *
fire_locked (GstKlingo1Watchdog * wd, GstKlingo1WatchdogReason reason)
{
  if (wd->freed || g_atomic_int_get (&wd->reason) != GST_KLINGO1_WATCHDOG_OK)
    return NULL;

  GST_DEBUG ("watchdog %p fires: %s", wd, reason_names[reason]);
  g_atomic_int_set (&wd->reason, reason);
  return g_object_ref (wd->cancellable);
}

static void
cancel_and_unref (GCancellable * cancellable)
{
  if (cancellable == NULL)
    return;
  g_cancellable_cancel (cancellable);
  g_object_unref (cancellable);
}

/* Fires when an expiry has passed, else reschedules; with the lock held.
 * Returns the cancellable to cancel, as fire_locked (). */
static GCancellable *
check_timers_locked (GstKlingo1Watchdog * wd, GSource * source)
{
  gint64 now = g_get_monotonic_time ();
  GCancellable *to_cancel = NULL;

  if (wd->freed)
    return NULL;

  if (g_atomic_int_get (&wd->reason) == GST_KLINGO1_WATCHDOG_OK) {
    if (wd->deadline > 0 && now >= wd->deadline)
      to_cancel = fire_locked (wd, GST_KLINGO1_WATCHDOG_DEADLINE);
    else if (wd->stall_timeout > 0 &&
        now - get_last_kick (wd) >= wd->stall_timeout)
      to_cancel = fire_locked (wd, GST_KLINGO1_WATCHDOG_STALLED);
  }

  /* Once fired there is nothing to watch until a rearm sets a new time. */
  if (g_atomic_int_get (&wd->reason) == GST_KLINGO1_WATCHDOG_OK)
    g_source_set_ready_time (source, next_expiry (wd));
  else
    g_source_set_ready_time (source, -1);
  return to_cancel;
}

static gboolean
watchdog_source_dispatch (GSource * source, GSourceFunc callback,
    gpointer user_data)
{
  GstKlingo1Watchdog *wd = ((WatchdogSource *) source)->wd;
  GCancellable *to_cancel;

  g_mutex_lock (&wd->lock);
  to_cancel = check_timers_locked (wd, source);
  g_mutex_unlock (&wd->lock);

  cancel_and_unref (to_cancel);
  return G_SOURCE_CONTINUE;
}

static void
watchdog_source_finalize (GSource * source)
{
  watchdog_unref (((WatchdogSource *) source)->wd);
}

static GSourceFuncs watchdog_source_funcs = {
  NULL, NULL, watchdog_source_dispatch, watchdog_source_finalize,
  NULL, NULL
};

static gpointer
timer_thread_func (gpointer data)
{
  GMainContext *context = data;
  GMainLoop *loop;

  g_main_context_push_thread_default (context);
  loop = g_main_loop_new (context, FALSE);
  /* never quits: the thread lives as long as the process, idle in poll ()
   * when no watchdog is armed */
  g_main_loop_run (loop);
  return NULL;
}

static GMainContext *
get_timer_context (void)
{
  static GMainContext *context = NULL;

  if (g_once_init_enter (&context)) {
    GMainContext *new_context;

    GST_DEBUG_CATEGORY_INIT (klingo1_watchdog_debug, "klingo1watchdog", 0,
        "Kling O1 I/O deadlines and stall detection");
    new_context = g_main_context_new ();
    g_thread_unref (g_thread_new ("klingo1-watchdog", timer_thread_func,
            g_main_context_ref (new_context)));
    g_once_init_leave (&context, new_context);
  }
  return context;
}

static void
on_parent_cancelled (GCancellable * parent, gpointer user_data)
{
  GstKlingo1Watchdog *wd = user_data;
  GCancellable *to_cancel;

  /* Runs in the canceller's thread, within the parent's emission: only take
   * our own lock, briefly, and never call back into the parent. */
  g_mutex_lock (&wd->lock);
  to_cancel = fire_locked (wd, GST_KLINGO1_WATCHDOG_CANCELLED);
  g_mutex_unlock (&wd->lock);

  cancel_and_unref (to_cancel);
}

GstKlingo1Watchdog *
gst_klingo1_watchdog_new (GCancellable * parent, gint64 deadline,
    gint64 stall_timeout)
{
  GstKlingo1Watchdog *wd;
  GMainContext *context;

  g_return_val_if_fail (parent == NULL || G_IS_CANCELLABLE (parent), NULL);

  /* also initialises the debug category */
  context = get_timer_context ();

  wd = g_new0 (GstKlingo1Watchdog, 1);
  wd->ref_count = 1;
  g_mutex_init (&wd->lock);
  wd->deadline = MAX (deadline, 0);
  wd->stall_timeout = MAX (stall_timeout, 0);
  wd->last_kick = g_get_monotonic_time ();
  wd->reason = GST_KLINGO1_WATCHDOG_OK;
  wd->cancellable = g_cancellable_new ();

  if (wd->deadline > 0 || wd->stall_timeout > 0) {
    GSource *source = g_source_new (&watchdog_source_funcs,
        sizeof (WatchdogSource));

    ((WatchdogSource *) source)->wd = watchdog_ref (wd);
    g_source_set_name (source, "klingo1-watchdog");
    g_source_set_ready_time (source, next_expiry (wd));
    wd->source = source;
    g_source_attach (source, context);
  }

  if (parent != NULL) {
    wd->parent = g_object_ref (parent);
    /* runs the handler at once (and returns 0) when already cancelled */
    wd->parent_handler = g_cancellable_connect (parent,
        G_CALLBACK (on_parent_cancelled), watchdog_ref (wd),
        (GDestroyNotify) watchdog_unref);
  }

  GST_DEBUG ("watchdog %p: deadline in %" G_GINT64_FORMAT " ms, stall "
      "timeout %" G_GINT64_FORMAT " ms, parent %p", wd,
      wd->deadline ? (wd->deadline - g_get_monotonic_time ()) / 1000 : -1,
      wd->stall_timeout ? wd->stall_timeout / 1000 : -1, parent);
  return wd;
}

GCancellable *
gst_klingo1_watchdog_get_cancellable (GstKlingo1Watchdog * wd)
{
  GCancellable *cancellable;

  g_return_val_if_fail (wd != NULL, NULL);

  g_mutex_lock (&wd->lock);
  cancellable = wd->cancellable;
  g_mutex_unlock (&wd->lock);
  return cancellable;
}

void
gst_klingo1_watchdog_kick (GstKlingo1Watchdog * wd)
{
  g_return_if_fail (wd != NULL);

  /* Relaxed is enough: the timer only needs to see some recent kick, and it
   * reads the clock itself.  (64-bit atomics: GLib has none.) */
  __atomic_store_n (&wd->last_kick, g_get_monotonic_time (),
      __ATOMIC_RELAXED);
}

void
gst_klingo1_watchdog_rearm (GstKlingo1Watchdog * wd)
{
  GCancellable *old = NULL, *to_cancel = NULL;
  GstKlingo1WatchdogReason reason;

  g_return_if_fail (wd != NULL);

  g_mutex_lock (&wd->lock);
  reason = g_atomic_int_get (&wd->reason);
  if (wd->freed || reason == GST_KLINGO1_WATCHDOG_CANCELLED ||
      reason == GST_KLINGO1_WATCHDOG_DEADLINE) {
    g_mutex_unlock (&wd->lock);
    return;
  }

  gst_klingo1_watchdog_kick (wd);
  if (reason == GST_KLINGO1_WATCHDOG_STALLED) {
    GST_DEBUG ("watchdog %p rearmed after a stall", wd);
    old = wd->cancellable;
    wd->cancellable = g_cancellable_new ();
    g_atomic_int_set (&wd->reason, GST_KLINGO1_WATCHDOG_OK);

    /* The parent's handler found the watchdog already fired and did
     * nothing: check here, under the lock, so that a cancellation before
     * this point is seen here and one after it by the handler. */
    if (wd->parent != NULL && g_cancellable_is_cancelled (wd->parent))
      to_cancel = fire_locked (wd, GST_KLINGO1_WATCHDOG_CANCELLED);
  }
  if (wd->source != NULL) {
    GCancellable *expired = check_timers_locked (wd, wd->source);

    if (to_cancel == NULL)
      to_cancel = expired;
    else
      g_clear_object (&expired);
  }
  g_mutex_unlock (&wd->lock);

  cancel_and_unref (to_cancel);
  g_clear_object (&old);
}

GstKlingo1WatchdogReason
gst_klingo1_watchdog_get_reason (GstKlingo1Watchdog * wd)
{
  g_return_val_if_fail (wd != NULL, GST_KLINGO1_WATCHDOG_OK);

  return g_atomic_int_get (&wd->reason);
}

void
gst_klingo1_watchdog_free (GstKlingo1Watchdog * wd)
{
  GSource *source;

  if (wd == NULL)
    return;

  g_mutex_lock (&wd->lock);
  wd->freed = TRUE;
  source = g_steal_pointer (&wd->source);
  g_mutex_unlock (&wd->lock);

  /* Not g_cancellable_disconnect (): it waits for a running emission of the
   * parent's "cancelled" to finish, which deadlocks when free () is called
   * from within that emission (a handler of the parent freeing the watchdog
   * on the canceller's thread).  A plain disconnect is enough: a handler
   * already running holds its own reference and finds the watchdog freed. */
  if (wd->parent_handler != 0)
    g_signal_handler_disconnect (wd->parent, wd->parent_handler);

  if (source != NULL) {
    /* safe from the timer thread too, even within this source's dispatch */
    g_source_destroy (source);
    g_source_unref (source);
  }

  GST_DEBUG ("watchdog %p freed", wd);
  watchdog_unref (wd);
}
