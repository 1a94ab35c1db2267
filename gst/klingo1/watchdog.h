/* gst-klingo1: deadline and stall detection for blocking I/O
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * GstKlingo1WatchdogReason:
 * @GST_KLINGO1_WATCHDOG_OK: the cancellable has not fired
 * @GST_KLINGO1_WATCHDOG_CANCELLED: the parent cancellable was cancelled
 * @GST_KLINGO1_WATCHDOG_DEADLINE: the deadline passed
 * @GST_KLINGO1_WATCHDOG_STALLED: no kick for the stall timeout
 *
 * Why the watchdog's current cancellable fired: the first of the three wins.
 */
typedef enum
{
  GST_KLINGO1_WATCHDOG_OK,
  GST_KLINGO1_WATCHDOG_CANCELLED,
  GST_KLINGO1_WATCHDOG_DEADLINE,
  GST_KLINGO1_WATCHDOG_STALLED,
} GstKlingo1WatchdogReason;

typedef struct _GstKlingo1Watchdog GstKlingo1Watchdog;

/* @parent: may be NULL; its cancellation is forwarded (at once when it is
 *     already cancelled)
 * @deadline: g_get_monotonic_time () value at which to fire, 0 for none
 * @stall_timeout: microseconds without a kick after which to fire, 0 for
 *     none; the stall timer starts now
 *
 * The timers run on one process-wide thread, started on first use. */
GstKlingo1Watchdog *gst_klingo1_watchdog_new (GCancellable * parent,
                                              gint64 deadline,
                                              gint64 stall_timeout);

/* The cancellable to pass to blocking calls (transfer none): valid until the
 * next gst_klingo1_watchdog_rearm () or gst_klingo1_watchdog_free (). */
GCancellable *gst_klingo1_watchdog_get_cancellable (GstKlingo1Watchdog * wd);

/* Progress was made: restarts the stall timer.  Cheap (a clock read and an
 * atomic store, no lock, no wakeup), meant to be called per received chunk,
 * from any thread. */
void          gst_klingo1_watchdog_kick (GstKlingo1Watchdog * wd);

/* After a STALLED firing: a fresh cancellable for the retry (same deadline,
 * stall timer restarted); it starts cancelled when the parent was cancelled
 * or the deadline passed meanwhile.  CANCELLED and DEADLINE are final: rearm
 * does nothing then.  Before any firing it only restarts the stall timer. */
void          gst_klingo1_watchdog_rearm (GstKlingo1Watchdog * wd);

/* Why the current cancellable fired, GST_KLINGO1_WATCHDOG_OK if it has not;
 * set before the cancellable is cancelled, so it is reliable once a blocking
 * call returned G_IO_ERROR_CANCELLED. */
GstKlingo1WatchdogReason gst_klingo1_watchdog_get_reason (GstKlingo1Watchdog *
                                                          wd);

/* From any thread, also from within a handler of the parent's or the
 * watchdog's own "cancelled" signal.  A timer firing at the same moment may
 * still cancel the cancellable handed out; nothing else happens after free
 * returns. */
void          gst_klingo1_watchdog_free (GstKlingo1Watchdog * wd);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstKlingo1Watchdog, gst_klingo1_watchdog_free)

G_END_DECLS
