/* gst-klingo1: task objects of /v1/videos/generations and /v1/tasks/{id}
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The documentation of the API exists in several generations that disagree
 * (error.code integer or string, "cancelled" as a status or as a failed task
 * with error.code "request_cancelled", results as URL strings or objects), so
 * the parser accepts every documented shape and ignores what it does not know.
 * It only refuses what leaves nothing to act on: no id, no status.
 */
#include <string.h>
#include <json-glib/json-glib.h>

#include <math.h>

#include <gst/gst.h>
#include "task-private.h"
#include <gst/klingo1/task.h>
#include <gst/klingo1/error.h>

GST_DEBUG_CATEGORY_STATIC (klingo1_task_debug);
#define GST_CAT_DEFAULT klingo1_task_debug

static void
ensure_debug_category (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (klingo1_task_debug, "klingo1task", 0,
        "Kling O1 task and error bodies");
    g_once_init_leave (&once, 1);
  }
}

/* Reads a string member; NULL when absent, null or not a string. */
static const gchar *
get_string (JsonObject * obj, const gchar * name)
{
  JsonNode *node;

  if (obj == NULL || !json_object_has_member (obj, name))
    return NULL;
  node = json_object_get_member (obj, name);
  if (!JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* Reads a number given as integer, double or numeric string. */
static gboolean
get_number (JsonObject * obj, const gchar * name, gdouble * out)
{
  JsonNode *node;
  GType type;

  if (obj == NULL || !json_object_has_member (obj, name))
    return FALSE;
  node = json_object_get_member (obj, name);
  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;

  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64) {
    *out = (gdouble) json_node_get_int (node);
    return TRUE;
  } else if (type == G_TYPE_DOUBLE) {
    *out = json_node_get_double (node);
    return TRUE;
  } else if (type == G_TYPE_STRING) {
    const gchar *s = json_node_get_string (node);
    gchar *end = NULL;
    gdouble v;

    if (s == NULL || *s == '\0')
      return FALSE;
    v = g_ascii_strtod (s, &end);
    if (end == NULL || *end != '\0')
      return FALSE;
    *out = v;
    return TRUE;
  }
  return FALSE;
}

static JsonObject *
get_object (JsonObject * obj, const gchar * name)
{
  JsonNode *node;

  if (obj == NULL || !json_object_has_member (obj, name))
    return NULL;
  node = json_object_get_member (obj, name);
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_node_get_object (node);
}

static JsonArray *
get_array (JsonObject * obj, const gchar * name)
{
  JsonNode *node;

  if (obj == NULL || !json_object_has_member (obj, name))
    return NULL;
  node = json_object_get_member (obj, name);
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  return json_node_get_array (node);
}

/* error.code is an integer equal to the HTTP status in the older docs and a
 * string business code in the newer ones: keep both as a string. */
static gchar *
dup_code (JsonObject * obj, const gchar * name)
{
  JsonNode *node;
  GType type;

  if (obj == NULL || !json_object_has_member (obj, name))
    return NULL;
  node = json_object_get_member (obj, name);
  if (!JSON_NODE_HOLDS_VALUE (node))
    return NULL;

  type = json_node_get_value_type (node);
  if (type == G_TYPE_STRING)
    return g_strdup (json_node_get_string (node));
  if (type == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
  if (type == G_TYPE_DOUBLE) {
    gdouble d = json_node_get_double (node);

    /* Casting a double outside gint64's range is undefined: check first. */
    if (fabs (d) < 9.0e18 && d == (gdouble) (gint64) d)
      return g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) d);
    return g_strdup_printf ("%g", d);
  }
  return NULL;
}

static GstKlingo1TaskStatus
parse_status (const gchar * s)
{
  if (g_ascii_strcasecmp (s, "pending") == 0
      || g_ascii_strcasecmp (s, "queued") == 0)
    return GST_KLINGO1_TASK_STATUS_PENDING;
  if (g_ascii_strcasecmp (s, "processing") == 0
      || g_ascii_strcasecmp (s, "running") == 0
      || g_ascii_strcasecmp (s, "in_progress") == 0)
    return GST_KLINGO1_TASK_STATUS_PROCESSING;
  if (g_ascii_strcasecmp (s, "completed") == 0
      || g_ascii_strcasecmp (s, "succeeded") == 0)
    return GST_KLINGO1_TASK_STATUS_COMPLETED;
  if (g_ascii_strcasecmp (s, "failed") == 0)
    return GST_KLINGO1_TASK_STATUS_FAILED;
  if (g_ascii_strcasecmp (s, "cancelled") == 0
      || g_ascii_strcasecmp (s, "canceled") == 0)
    return GST_KLINGO1_TASK_STATUS_CANCELLED;
  return GST_KLINGO1_TASK_STATUS_UNKNOWN;
}

/* A result entry is a URL string, or (undocumented shapes seen in EvoLink's
 * own client) an object carrying the URL as "url" or "video_url". */
static void
collect_urls (JsonArray * array, GPtrArray * out)
{
  guint i, n;

  if (array == NULL)
    return;

  n = json_array_get_length (array);
  for (i = 0; i < n; i++) {
    JsonNode *node = json_array_get_element (array, i);
    const gchar *url = NULL;

    if (JSON_NODE_HOLDS_VALUE (node)
        && json_node_get_value_type (node) == G_TYPE_STRING) {
      url = json_node_get_string (node);
    } else if (JSON_NODE_HOLDS_OBJECT (node)) {
      JsonObject *o = json_node_get_object (node);

      url = get_string (o, "url");
      if (url == NULL)
        url = get_string (o, "video_url");
    }
    if (url != NULL && *url != '\0')
      g_ptr_array_add (out, g_strdup (url));
  }
}

static JsonNode *
parse_json (const gchar * data, gssize len, const gchar * what,
    GError ** error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) err = NULL;
  JsonNode *root;

  if (data == NULL) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Empty %s", what);
    return NULL;
  }
  if (len < 0)
    len = strlen (data);
  if ((gsize) len > GST_KLINGO1_MAX_RESPONSE_BYTES) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "%s of %" G_GSSIZE_FORMAT " bytes exceeds the limit of %d bytes",
        what, len, GST_KLINGO1_MAX_RESPONSE_BYTES);
    return NULL;
  }
  if (len == 0) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Empty %s", what);
    return NULL;
  }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, len, &err)) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Invalid JSON in %s: %s", what, err->message);
    return NULL;
  }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "%s is not a JSON object", what);
    return NULL;
  }
  return json_node_ref (root);
}

GstKlingo1Task *
gst_klingo1_task_new_from_json (const gchar * data, gssize len,
    GError ** error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GPtrArray) urls = NULL;
  JsonObject *obj, *info, *err_obj;
  const gchar *id, *status;
  GstKlingo1Task *task;
  gdouble v;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = parse_json (data, len, "task response", error);
  if (root == NULL)
    return NULL;
  obj = json_node_get_object (root);

  id = get_string (obj, "id");
  if (id == NULL || *id == '\0') {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Task response has no \"id\" string");
    return NULL;
  }
  status = get_string (obj, "status");
  if (status == NULL || *status == '\0') {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Task response for %s has no \"status\" string", id);
    return NULL;
  }

  task = g_new0 (GstKlingo1Task, 1);
  task->id = g_strdup (id);
  task->model = g_strdup (get_string (obj, "model"));
  task->status = parse_status (status);
  if (task->status == GST_KLINGO1_TASK_STATUS_UNKNOWN) {
    ensure_debug_category ();
    GST_DEBUG ("task %s: unknown status \"%s\"", id, status);
  }

  if (get_number (obj, "progress", &v)) {
    /* NaN fails both comparisons and ends up 0 */
    if (!(v > 0))
      v = 0;
    else if (v > 100)
      v = 100;
    task->progress = (gint) v;
  }

  if (get_number (obj, "created", &v) && v > 0 && v < 9.0e18)
    task->created = (gint64) v;

  task->estimated_time = -1;
  info = get_object (obj, "task_info");
  if (get_number (info, "estimated_time", &v) && v >= 0 && v < G_MAXINT)
    task->estimated_time = (gint) v;

  urls = g_ptr_array_new_with_free_func (g_free);
  collect_urls (get_array (obj, "results"), urls);
  if (urls->len == 0)
    collect_urls (get_array (obj, "result_data"), urls);
  if (urls->len > 0) {
    g_ptr_array_add (urls, NULL);
    task->results = (gchar **) g_ptr_array_steal (urls, NULL);
  }

  err_obj = get_object (obj, "error");
  if (err_obj != NULL) {
    task->error_code = dup_code (err_obj, "code");
    task->error_message = g_strdup (get_string (err_obj, "message"));
    task->error_type = g_strdup (get_string (err_obj, "type"));
  }

  /* A cancelled task may come back as failed + request_cancelled. */
  if (task->status == GST_KLINGO1_TASK_STATUS_FAILED
      && g_strcmp0 (task->error_code, "request_cancelled") == 0)
    task->status = GST_KLINGO1_TASK_STATUS_CANCELLED;

  return task;
}

GstKlingo1Task *
gst_klingo1_task_copy (const GstKlingo1Task * task)
{
  GstKlingo1Task *copy;

  if (task == NULL)
    return NULL;

  copy = g_new0 (GstKlingo1Task, 1);
  copy->id = g_strdup (task->id);
  copy->model = g_strdup (task->model);
  copy->status = task->status;
  copy->progress = task->progress;
  copy->created = task->created;
  copy->estimated_time = task->estimated_time;
  copy->results = g_strdupv (task->results);
  copy->error_code = g_strdup (task->error_code);
  copy->error_message = g_strdup (task->error_message);
  copy->error_type = g_strdup (task->error_type);
  return copy;
}

void
gst_klingo1_task_free (GstKlingo1Task * task)
{
  if (task == NULL)
    return;

  g_free (task->id);
  g_free (task->model);
  g_strfreev (task->results);
  g_free (task->error_code);
  g_free (task->error_message);
  g_free (task->error_type);
  g_free (task);
}

const gchar *
gst_klingo1_task_status_to_string (GstKlingo1TaskStatus status)
{
  switch (status) {
    case GST_KLINGO1_TASK_STATUS_PENDING:
      return "pending";
    case GST_KLINGO1_TASK_STATUS_PROCESSING:
      return "processing";
    case GST_KLINGO1_TASK_STATUS_COMPLETED:
      return "completed";
    case GST_KLINGO1_TASK_STATUS_FAILED:
      return "failed";
    case GST_KLINGO1_TASK_STATUS_CANCELLED:
      return "cancelled";
    case GST_KLINGO1_TASK_STATUS_UNKNOWN:
    default:
      return "unknown";
  }
}

gboolean
gst_klingo1_task_status_is_final (GstKlingo1TaskStatus status)
{
  return status == GST_KLINGO1_TASK_STATUS_COMPLETED
      || status == GST_KLINGO1_TASK_STATUS_FAILED
      || status == GST_KLINGO1_TASK_STATUS_CANCELLED;
}

GError *
gst_klingo1_task_to_error (const GstKlingo1Task * task)
{
  g_autoptr (GString) msg = NULL;
  GstKlingo1ErrorCode code;
  GError *error;

  g_return_val_if_fail (task != NULL, NULL);

  if (task->status == GST_KLINGO1_TASK_STATUS_FAILED)
    code = GST_KLINGO1_ERROR_TASK_FAILED;
  else if (task->status == GST_KLINGO1_TASK_STATUS_CANCELLED)
    code = GST_KLINGO1_ERROR_TASK_CANCELLED;
  else
    return NULL;

  msg = g_string_new (NULL);
  g_string_append_printf (msg, "Task %s %s", task->id,
      code == GST_KLINGO1_ERROR_TASK_FAILED ? "failed" : "was cancelled");
  if (task->error_message != NULL && *task->error_message != '\0')
    g_string_append_printf (msg, ": %s", task->error_message);
  if (task->error_code != NULL && *task->error_code != '\0')
    g_string_append_printf (msg, " (code %s)", task->error_code);

  error = g_error_new_literal (GST_KLINGO1_ERROR, code, msg->str);
  gst_klingo1_error_set_api_error (error, task->error_code,
      task->error_message, task->error_type);
  gst_klingo1_error_set_task_id (error, task->id);
  return error;
}

gboolean
gst_klingo1_api_error_parse (const gchar * data, gssize len, gchar ** code,
    gchar ** message, gchar ** type)
{
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *c = NULL;
  g_autofree gchar *m = NULL;
  g_autofree gchar *t = NULL;
  JsonObject *obj, *err_obj;
  JsonNode *success;

  if (code)
    *code = NULL;
  if (message)
    *message = NULL;
  if (type)
    *type = NULL;

  root = parse_json (data, len, "error body", NULL);
  if (root == NULL)
    return FALSE;
  obj = json_node_get_object (root);

  err_obj = get_object (obj, "error");
  success = json_object_has_member (obj, "success") ?
      json_object_get_member (obj, "success") : NULL;

  if (err_obj != NULL) {
    /* {"error":{"code","message","type"}}: both doc generations */
    c = dup_code (err_obj, "code");
    m = g_strdup (get_string (err_obj, "message"));
    t = g_strdup (get_string (err_obj, "type"));
  } else if (success != NULL && JSON_NODE_HOLDS_VALUE (success)
      && json_node_get_value_type (success) == G_TYPE_BOOLEAN
      && !json_node_get_boolean (success)) {
    /* Files API: {"success":false,"code":N,"msg":"..."} */
    c = dup_code (obj, "code");
    m = g_strdup (get_string (obj, "msg"));
    if (m == NULL)
      m = g_strdup (get_string (obj, "message"));
  } else {
    /* Gateways and proxies in front of the API answer with shapes of their
     * own: take a top-level message or a plain error string. */
    m = g_strdup (get_string (obj, "message"));
    if (m == NULL)
      m = g_strdup (get_string (obj, "error"));
    if (m != NULL) {
      c = dup_code (obj, "code");
      t = g_strdup (get_string (obj, "type"));
    }
  }

  if (c == NULL && m == NULL)
    return FALSE;

  if (code)
    *code = g_steal_pointer (&c);
  if (message)
    *message = g_steal_pointer (&m);
  if (type)
    *type = g_steal_pointer (&t);
  return TRUE;
}

/* ---- accessors ---------------------------------------------------------- */

const gchar *
gst_klingo1_task_get_id (const GstKlingo1Task * task)
{
  return task->id;
}

const gchar *
gst_klingo1_task_get_model (const GstKlingo1Task * task)
{
  return task->model;
}

GstKlingo1TaskStatus
gst_klingo1_task_get_status (const GstKlingo1Task * task)
{
  return task->status;
}

gint
gst_klingo1_task_get_progress (const GstKlingo1Task * task)
{
  return task->progress;
}

gint64
gst_klingo1_task_get_created (const GstKlingo1Task * task)
{
  return task->created;
}

gint
gst_klingo1_task_get_estimated_time (const GstKlingo1Task * task)
{
  return task->estimated_time;
}

const gchar *const *
gst_klingo1_task_get_results (const GstKlingo1Task * task)
{
  return (const gchar * const *) task->results;
}

const gchar *
gst_klingo1_task_get_error_code (const GstKlingo1Task * task)
{
  return task->error_code;
}

const gchar *
gst_klingo1_task_get_error_message (const GstKlingo1Task * task)
{
  return task->error_message;
}

const gchar *
gst_klingo1_task_get_error_type (const GstKlingo1Task * task)
{
  return task->error_type;
}
