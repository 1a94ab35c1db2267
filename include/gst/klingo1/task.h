/* gst-klingo1: task objects of /v1/videos/generations and /v1/tasks/{id}
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Responses larger than this are refused unread (a task is a few hundred
 * bytes; this leaves room for long error texts). */
#define GST_KLINGO1_MAX_RESPONSE_BYTES (1024 * 1024)

typedef enum
{
  GST_KLINGO1_TASK_STATUS_UNKNOWN,
  GST_KLINGO1_TASK_STATUS_PENDING,
  GST_KLINGO1_TASK_STATUS_PROCESSING,
  GST_KLINGO1_TASK_STATUS_COMPLETED,
  GST_KLINGO1_TASK_STATUS_FAILED,
  GST_KLINGO1_TASK_STATUS_CANCELLED,
} GstKlingo1TaskStatus;

/**
 * GstKlingo1Task:
 *
 * A task as the API reported it, read through the accessors below.
 */
typedef struct _GstKlingo1Task GstKlingo1Task;

/* Tolerant parse: unknown fields ignored, error.code string or integer,
 * status "cancelled" accepted. Fails (GST_KLINGO1_ERROR_PROTOCOL) on invalid
 * JSON, a non-object, a missing id or status, or more than
 * GST_KLINGO1_MAX_RESPONSE_BYTES. @len may be -1 for NUL-terminated data. */
GstKlingo1Task *gst_klingo1_task_new_from_json (const gchar * data,
                                                gssize len, GError ** error);
GstKlingo1Task *gst_klingo1_task_copy (const GstKlingo1Task * task);
void            gst_klingo1_task_free (GstKlingo1Task * task);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstKlingo1Task, gst_klingo1_task_free)

/* Accessors; strings are owned by the task. */
const gchar *gst_klingo1_task_get_id (const GstKlingo1Task * task);
/* the model id as reported, may be NULL */
const gchar *gst_klingo1_task_get_model (const GstKlingo1Task * task);
/* normalized: failed with error.code request_cancelled is CANCELLED */
GstKlingo1TaskStatus gst_klingo1_task_get_status (const GstKlingo1Task * task);
/* 0..100 (clamped) */
gint         gst_klingo1_task_get_progress (const GstKlingo1Task * task);
/* Unix seconds, 0 when absent */
gint64       gst_klingo1_task_get_created (const GstKlingo1Task * task);
/* task_info.estimated_time in seconds (taken as the time left), -1 when
 * absent */
gint         gst_klingo1_task_get_estimated_time (const GstKlingo1Task * task);
/* (array zero-terminated=1): result URLs, NULL when none */
const gchar * const *gst_klingo1_task_get_results (const GstKlingo1Task * task);
/* error.code as a string (integers are printed), error.message, error.type;
 * NULL when absent */
const gchar *gst_klingo1_task_get_error_code (const GstKlingo1Task * task);
const gchar *gst_klingo1_task_get_error_message (const GstKlingo1Task * task);
const gchar *gst_klingo1_task_get_error_type (const GstKlingo1Task * task);

const gchar *gst_klingo1_task_status_to_string (GstKlingo1TaskStatus status);
gboolean     gst_klingo1_task_status_is_final (GstKlingo1TaskStatus status);

/* For a FAILED or CANCELLED task: a GError (TASK_FAILED / TASK_CANCELLED) whose
 * message quotes the API's message and code and whose details carry them and
 * the task id. NULL for other states. */
GError      *gst_klingo1_task_to_error (const GstKlingo1Task * task);

/* Reads an HTTP error body: {"error":{"code","message","type"}} (code string or
 * integer) or the Files API's {"success":false,"code":N,"msg":"..."}. Returns
 * FALSE when the body is neither; outputs may be NULL. */
gboolean     gst_klingo1_api_error_parse (const gchar * data, gssize len,
                                          gchar ** code, gchar ** message,
                                          gchar ** type);

G_END_DECLS
