/* gst-klingo1: one generation, from request to a clip that can be read
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/klingo1/klingo1.h>
#include "gstklingo1settings.h"

G_BEGIN_DECLS

typedef enum
{
  GST_KLINGO1_JOB_EVENT_WAITING,        /* another process holds this request */
  GST_KLINGO1_JOB_EVENT_UPLOADING,      /* text: the local input (display name) */
  GST_KLINGO1_JOB_EVENT_SUBMITTED,      /* task: the created task */
  GST_KLINGO1_JOB_EVENT_RESUMED,        /* task_id: journaled or attached task */
  GST_KLINGO1_JOB_EVENT_POLLED,         /* task: the latest state */
  GST_KLINGO1_JOB_EVENT_DOWNLOADING,    /* received/total bytes (any thread) */
  GST_KLINGO1_JOB_EVENT_DOWNLOADED,     /* the clip is complete and checked (any thread) */
  GST_KLINGO1_JOB_EVENT_DAMAGED,        /* text: the complete clip failed its check (any thread) */
  GST_KLINGO1_JOB_EVENT_CACHED,         /* text: the cached clip played as is */
  GST_KLINGO1_JOB_EVENT_WARNING,        /* text: something the user should know */
} GstKlingo1JobEventType;

typedef struct
{
  GstKlingo1JobEventType type;
  const gchar *task_id;
  const GstKlingo1Task *task;
  const gchar *text;
  guint64 received;
  guint64 total;
} GstKlingo1JobEvent;

/* Called from the thread that runs the job, except DOWNLOADING, DOWNLOADED
 * and DAMAGED, which come from the download's threads. */
typedef void (*GstKlingo1JobEventFunc) (const GstKlingo1JobEvent * event,
                                        gpointer user_data);

typedef struct _GstKlingo1Job GstKlingo1Job;

/* @settings must be resolved (gst_klingo1_settings_resolve); it is copied. */
GstKlingo1Job *gst_klingo1_job_new (const GstKlingo1Settings * settings,
                                    GstKlingo1JobEventFunc on_event,
                                    gpointer user_data);
/* Stops a download in flight (it resumes on the next run), unlocks the
 * request's store entry, removes a temporary clip. */
void           gst_klingo1_job_free (GstKlingo1Job * job);

/* Runs in the calling (streaming) thread until the clip can be read: a clip
 * from the cache, or a download under way whose size is known. Lock, cache,
 * journal, upload, create, poll happen here; the download goes on in its own
 * threads. Safe to call again after a cancel: the journal brings it back to
 * the same task. With submit-only it returns once the task exists. */
gboolean gst_klingo1_job_run (GstKlingo1Job * job, GCancellable * cancellable,
                              GError ** error);

/* After a successful run: the clip's size, and reads from it that wait for
 * the download (0 at the end of a checked clip). */
guint64  gst_klingo1_job_get_size (GstKlingo1Job * job);
gssize   gst_klingo1_job_read (GstKlingo1Job * job, guint64 offset,
                               guint8 * buf, gsize len,
                               GCancellable * cancellable, GError ** error);
/* The task, NULL while unknown (or for a cached clip whose journal is gone). */
const gchar *gst_klingo1_job_get_task_id (GstKlingo1Job * job);
gboolean gst_klingo1_job_is_ready (GstKlingo1Job * job);
/* submit-only: the task exists and nothing is to be read. */
gboolean gst_klingo1_job_is_submitted_only (GstKlingo1Job * job);

G_END_DECLS
