/* gst-klingo1: one generation, from request to a clip on disk
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/klingo1/klingo1.h>
#include "gstklingo1src.h"

G_BEGIN_DECLS

typedef enum
{
  GST_KLINGO1_JOB_EVENT_WAITING,        /* another process holds this request */
  GST_KLINGO1_JOB_EVENT_UPLOADING,      /* text: the local input */
  GST_KLINGO1_JOB_EVENT_SUBMITTED,      /* task: the created task */
  GST_KLINGO1_JOB_EVENT_RESUMED,        /* task_id: journaled or attached task */
  GST_KLINGO1_JOB_EVENT_POLLED,         /* task: the latest state */
  GST_KLINGO1_JOB_EVENT_DOWNLOADING,    /* received/total bytes */
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

typedef void (*GstKlingo1JobEventFunc) (const GstKlingo1JobEvent * event,
                                        gpointer user_data);

/* Everything the element hands over; the job owns none of the strings. */
typedef struct
{
  const GstKlingo1Request *request;     /* NULL when attaching */
  const gchar *attach_task_id;          /* non-NULL: poll this task, create none */
  const gchar *api_url;
  const gchar *api_key;
  const gchar *files_url;
  const gchar *cache_dir;               /* NULL: the user's cache dir */
  GstKlingo1CacheMode cache_mode;
  gdouble poll_interval;                /* seconds */
  gint64 deadline;                      /* g_get_monotonic_time() units, 0: none */
  GstKlingo1JobEventFunc on_event;
  gpointer user_data;
} GstKlingo1JobParams;

typedef struct
{
  gchar *clip_path;             /* the finished clip */
  gboolean clip_is_temporary;   /* delete it when done (cache disabled) */
  gchar *task_id;               /* NULL when served from the cache unseen */
} GstKlingo1JobResult;

void     gst_klingo1_job_result_clear (GstKlingo1JobResult * result);

/* Runs in the calling (streaming) thread until the clip is on disk, an error,
 * the deadline, or @cancellable. Safe to call again after a cancel: the
 * journal makes it resume the same task. */
gboolean gst_klingo1_job_run (const GstKlingo1JobParams * params,
                              GstKlingo1JobResult * result,
                              GCancellable * cancellable, GError ** error);

G_END_DECLS
