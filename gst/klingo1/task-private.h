/* gst-klingo1: the task's fields, for the library and the plugin only
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/klingo1/task.h>

G_BEGIN_DECLS

/**
 * GstKlingo1Task:
 * @id: task id
 * @model: model id as reported, may be NULL
 * @status: normalized: failed with error.code request_cancelled becomes CANCELLED
 * @progress: 0..100 (clamped)
 * @created: Unix seconds, 0 when absent
 * @estimated_time: task_info.estimated_time in seconds, -1 when absent
 * @results: (array zero-terminated=1): result URLs, NULL when none
 * @error_code: error.code as a string (integers are printed), or NULL
 * @error_message: error.message, or NULL
 * @error_type: error.type, or NULL
 */
struct _GstKlingo1Task
{
  gchar *id;
  gchar *model;
  GstKlingo1TaskStatus status;
  gint progress;
  gint64 created;
  gint estimated_time;
  gchar **results;
  gchar *error_code;
  gchar *error_message;
  gchar *error_type;
};

G_END_DECLS
