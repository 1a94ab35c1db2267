/* klingo1-emulator: a fake Kling O1 (EvoLink) server on loopback.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * It implements the parts of the EvoLink API the gst-klingo1 client uses
 * (video generation tasks, task polling, result links, stream upload of
 * files) closely enough for the project's tests and quickstart, and renders
 * real H.264 MP4 files from the request's inputs so that downstream
 * elements get genuine media.
 *
 * Threading: all HTTP handling happens on the main loop; each accepted
 * task is rendered in a worker thread of a small pool.  Everything the
 * workers share with the handlers is guarded by Emulator.lock.
 *
 * Bodies of result links and files are streamed (see Transfer): written in
 * chunks from a shared GBytes (the rendered MP4, an uploaded file or the
 * mmapped --result-file), paced by a timer when throttled, so a slow or
 * stalled client never holds the main loop and a large body is never
 * copied per request.
 *
 * See README.md next to this file for the CLI, endpoints and the magic
 * prompt markers that make the emulator misbehave on purpose.
 */
#include <gst/gst.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu-render.h"

#define TASK_ID_PREFIX "task-unified-"
#define MAX_PROMPT_CHARS 5000
#define MAX_CALLBACK_URL 2048
#define FILE_LIFETIME_SECONDS (72 * 3600)

/* Unthrottled bodies are queued PUMP_CHUNK at a time, at most PUMP_WINDOW
 * ahead of what the socket took, so a client that stops reading costs at
 * most that much memory (and nothing for mmapped or in-memory sources). */
#define PUMP_CHUNK (256 * 1024)
#define PUMP_WINDOW (1024 * 1024)
/* [result-endless] default pace: fills no disk fast */
#define ENDLESS_BPS (1024 * 1024)
/* Credits per billed second of the edit models (emulator assumption) */
#define EDIT_CREDITS_PER_SECOND 8

typedef enum
{
  KIND_I2V,
  KIND_EDIT,
  KIND_EDIT_FAST,
} ModelKind;

/* How a task ends, decided at create time from the prompt markers */
typedef enum
{
  END_COMPLETE,
  END_FAIL,                     /* [fail:CODE] */
  END_CANCEL_AS_FAILED,         /* [cancel] */
  END_CANCELLED,                /* [cancelled-status] */
} EndMode;

/* How a result link's body misbehaves, from the prompt markers */
typedef enum
{
  RESULT_OK,
  RESULT_ENDLESS,               /* [result-endless] */
  RESULT_TRICKLE,               /* [result-trickle] */
  RESULT_STALL,                 /* [result-stall]: first GET only */
  RESULT_LIE,                   /* [result-lie] */
  RESULT_LIE_ONCE,              /* [result-lie-once] */
  RESULT_HTML,                  /* [result-html] */
} ResultFault;

/* How one streamed body is written */
typedef enum
{
  BODY_NORMAL,
  BODY_ENDLESS,                 /* the source, then zeros forever, chunked */
  BODY_STALL,                   /* up to the stop offset, then nothing */
  BODY_LIE,                     /* up to the stop offset, then close */
} BodyMode;

typedef struct _Emulator Emulator;

typedef struct
{
  Emulator *emu;
  char *id;
  char *model;
  ModelKind kind;
  gint64 created_unix;
  gint64 created_mono;
  int duration;
  char *aspect;
  GPtrArray *image_urls;
  char *video_url;
  gboolean keep_sound;
  int credits;
  EndMode end;
  char *fail_code;
  /* [poll-http:NNNxK]: the next K polls answer HTTP NNN (main thread only) */
  guint poll_fail_status;
  guint poll_fail_left;
  /* Other fault markers; main thread only */
  gboolean poll_404;            /* [poll-404] */
  guint poll_html_left;         /* [poll-html:K] */
  gboolean poll_trickle;        /* [poll-trickle], until the first poll */
  double outage_seconds;        /* [outage:S] / [outage-close:S] */
  gboolean outage_close;
  ResultFault result_fault;
  guint dead_status;            /* [result-403|404|410], [result-gone:N] */
  gboolean dead_forever;        /* [result-gone:N] */
  guint link_gen;               /* > 0: polls give ?fresh=<link_gen> */
  guint result_gets;            /* GETs that reached a live body */

  /* Written by the render worker, read by handlers: under emu->lock */
  gboolean render_done;
  gint64 render_done_mono;
  GBytes *mp4;
  char *err_code;
  char *err_msg;
  int video_duration;
  int credits_charged;          /* settled by the render for the edits */
} Task;

typedef struct
{
  char *id;
  char *name;
  char *original_name;
  char *mime;
  char *upload_path;
  GBytes *data;
} StoredFile;

struct _Emulator
{
  /* options */
  int port;
  char *key;
  double task_seconds;
  double link_ttl;
  gboolean string_errors;
  char *static_dir;
  char *result_file;
  gint64 download_bps;
  double estimate_factor;
  gint64 credits;
  gboolean ignore_idempotency_key;

  SoupServer *server;
  GMainLoop *loop;
  char *base_url;
  char *tmpdir;
  GThreadPool *pool;
  GMappedFile *result_map;      /* --result-file, mapped once, shared */
  GBytes *result_bytes;
  GBytes *zeros;                /* filler of [result-endless] */

  GMutex lock;
  GHashTable *tasks;            /* id -> Task (atomic rc box) */
  GHashTable *idempotency;      /* Idempotency-Key -> task id */
  GHashTable *files;            /* file id -> StoredFile */
  GHashTable *http_marker_hits; /* prompt -> count, for [http:NNNxK] */
  GHashTable *lost_once;        /* keys of [lose-create-answer-once] */

  guint creates;
  guint create_requests;
  guint polls;
  guint downloads;
  guint uploads;
  guint result_requests;
  guint range_requests;
  guint64 bytes_sent;
  gint64 credits_used;          /* under lock: the render settles edits */
};

/* ------------------------------------------------------------------ */
/* Tasks and files                                                     */

static void
task_clear (Task * t)
{
  g_free (t->id);
  g_free (t->model);
  g_free (t->aspect);
  g_clear_pointer (&t->image_urls, g_ptr_array_unref);
  g_free (t->video_url);
  g_free (t->fail_code);
  g_clear_pointer (&t->mp4, g_bytes_unref);
  g_free (t->err_code);
  g_free (t->err_msg);
}

static Task *
task_ref (Task * t)
{
  return g_atomic_rc_box_acquire (t);
}

static void
task_unref (Task * t)
{
  g_atomic_rc_box_release_full (t, (GDestroyNotify) task_clear);
}

static void
stored_file_free (StoredFile * f)
{
  g_free (f->id);
  g_free (f->name);
  g_free (f->original_name);
  g_free (f->mime);
  g_free (f->upload_path);
  g_bytes_unref (f->data);
  g_free (f);
}

/* ------------------------------------------------------------------ */
/* JSON helpers                                                        */

static void
reply_json (SoupServerMessage * msg, guint status, JsonNode * root)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  char *body;
  gsize len;

  json_generator_set_root (gen, root);
  body = json_generator_to_data (gen, &len);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
      body, len);
}

static void
reply_builder (SoupServerMessage * msg, guint status, JsonBuilder * b)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);

  reply_json (msg, status, root);
}

/* Documented error bodies, per HTTP status, in both doc generations:
 * int style = older O1 pages (code = HTTP status, param,
 * fallback_suggestion); string style = newer task/O3 pages. */
typedef struct
{
  guint status;
  const char *int_type;
  const char *str_code;
  const char *str_type;
  const char *message;
  const char *fallback;
} ErrInfo;

static const ErrInfo err_table[] = {
  {400, "invalid_request_error", "invalid_request", "invalid_request_error",
      "Invalid request parameter", NULL},
  {401, "authentication_error", "unauthorized", "authentication_error",
      "Invalid or expired token", NULL},
  {402, "insufficient_quota_error", "insufficient_quota",
      "insufficient_quota", "Insufficient quota",
      "https://evolink.ai/dashboard/billing"},
  {403, "permission_error", "model_access_denied", "invalid_request_error",
      "Access denied for this model", NULL},
  {404, "not_found_error", "not_found", "invalid_request_error",
      "Not found", NULL},
  {409, "invalid_request_error", "idempotency_conflict",
      "invalid_request_error", "Conflict", NULL},
  {413, "request_too_large_error", "request_too_large",
      "invalid_request_error", "Request entity too large", NULL},
  {429, "rate_limit_error", "rate_limit_exceeded", "rate_limit_error",
      "Rate limit exceeded", "retry after 60 seconds"},
  {500, "internal_server_error", "internal_error", "api_error",
      "Internal server error", "try again later"},
  {502, "upstream_error", "upstream_error", "api_error",
      "Upstream AI service unavailable", "try different model"},
  {503, "service_unavailable_error", "service_unavailable", "api_error",
      "Service temporarily unavailable", "retry after 30 seconds"},
  {504, "internal_server_error", "gateway_timeout", "api_error",
      "Gateway timeout", "try again later"},
};

/* @str_code/@message/@param/@fallback override the table when non-NULL */
static void
reply_error_full (Emulator * emu, SoupServerMessage * msg, guint status,
    const char *str_code, const char *message, const char *param,
    const char *fallback)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  const ErrInfo *info = NULL;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (err_table); i++)
    if (err_table[i].status == status)
      info = &err_table[i];

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  if (emu->string_errors)
    json_builder_add_string_value (b, str_code ? str_code :
        info ? info->str_code : "api_error");
  else
    json_builder_add_int_value (b, status);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message ? message :
      info ? info->message : soup_status_get_phrase (status));
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, info ? (emu->string_errors ?
          info->str_type : info->int_type) : "api_error");
  if (param) {
    json_builder_set_member_name (b, "param");
    json_builder_add_string_value (b, param);
  }
  if (!emu->string_errors && (fallback || (info && info->fallback))) {
    json_builder_set_member_name (b, "fallback_suggestion");
    json_builder_add_string_value (b, fallback ? fallback : info->fallback);
  }
  json_builder_end_object (b);
  json_builder_end_object (b);

  /* EvoLink's own client honours Retry-After; keep it short for tests */
  if (status == 429 || status == 503)
    soup_message_headers_replace (soup_server_message_get_response_headers
        (msg), "Retry-After", "1");
  reply_builder (msg, status, b);
}

static void
reply_error (Emulator * emu, SoupServerMessage * msg, guint status,
    const char *str_code, const char *message, const char *param)
{
  reply_error_full (emu, msg, status, str_code, message, param, NULL);
}

static void
reply_invalid (Emulator * emu, SoupServerMessage * msg, const char *param,
    const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static void
reply_invalid (Emulator * emu, SoupServerMessage * msg, const char *param,
    const char *fmt, ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  va_start (ap, fmt);
  text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  reply_error (emu, msg, 400, "invalid_request", text, param);
}

static gboolean
check_auth (Emulator * emu, SoupServerMessage * msg)
{
  const char *auth =
      soup_message_headers_get_one (soup_server_message_get_request_headers
      (msg), "Authorization");
  g_autofree char *expected = g_strdup_printf ("Bearer %s", emu->key);

  if (auth && g_str_equal (auth, expected))
    return TRUE;
  reply_error (emu, msg, 401, "unauthorized", "Invalid or expired token",
      NULL);
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* Task state                                                          */

typedef enum
{
  ST_PENDING,
  ST_PROCESSING,
  ST_COMPLETED,
  ST_FAILED,
  ST_CANCELLED,
} TaskStatus;

static const char *status_names[] = {
  "pending", "processing", "completed", "failed", "cancelled"
};

typedef struct
{
  TaskStatus status;
  int progress;
  int remaining;                /* reported estimated_time, seconds */
  const char *err_code;
  char *err_msg;                /* owned */
  gint64 completed_mono;
} TaskState;

static const struct
{
  const char *code;
  const char *text;
} fail_texts[] = {
  {"content_policy_violation", "Content policy violation.\nYour request was "
        "blocked by safety filters"},
  {"invalid_parameters", "Invalid request parameters"},
  {"image_processing_error", "Image could not be processed"},
  {"image_dimension_mismatch", "Image dimensions do not match the request"},
  {"request_cancelled", "The request was cancelled"},
  {"generation_failed_no_content", "The model produced no content"},
  {"service_error", "Internal service error, please retry later"},
  {"generation_timeout", "Processing timed out, please retry later"},
  {"resource_exhausted", "Upstream capacity depleted, please retry later"},
  {"quota_exceeded", "Rate limit or quota exceeded"},
  {"service_unavailable", "Service temporarily unavailable"},
  {"resource_not_found", "Task id invalid or expired"},
  {"unknown_error", "Unknown error"},
};

static char *
fail_message (const char *code)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (fail_texts); i++)
    if (g_str_equal (fail_texts[i].code, code))
      return g_strdup_printf ("%s (emulated)", fail_texts[i].text);
  return g_strdup_printf ("Task failed with code %s (emulated)", code);
}

/* estimated_time as reported: the true remaining time scaled by
 * --estimate-factor, so tests can simulate an API that guesses wrong */
static int
reported_remaining (Emulator * emu, double remaining)
{
  return (int) ceil (MAX (remaining, 0) * emu->estimate_factor - 1e-9);
}

/* Call with emu->lock held.  The timeline is a pure function of the
 * elapsed time (plus whether rendering finished), so polls are cheap and
 * the emulator needs no timers. */
static void
task_state (Emulator * emu, Task * t, gint64 now, TaskState * st)
{
  double T = emu->task_seconds;
  double elapsed = (now - t->created_mono) / (double) G_USEC_PER_SEC;
  gboolean waiting_render = t->end == END_COMPLETE && !t->render_done;

  memset (st, 0, sizeof (*st));
  if (elapsed < 0.2 * T) {
    st->status = ST_PENDING;
    st->progress = 0;
    st->remaining = reported_remaining (emu, T - elapsed);
    return;
  }
  if (elapsed < T || waiting_render) {
    st->status = ST_PROCESSING;
    /* 1 at the end of pending, 99 just before T: rises with every poll
     * that is at least 1 % of the processing time later */
    if (elapsed < T)
      st->progress = CLAMP (1 + (int) (98.0 * (elapsed - 0.2 * T) /
              (0.8 * T)), 1, 99);
    else
      st->progress = 99;
    /* rendering slower than --task-seconds: claim one more second */
    st->remaining = reported_remaining (emu, elapsed < T ? T - elapsed : 1);
    return;
  }

  switch (t->end) {
    case END_COMPLETE:
      if (t->err_code) {
        st->status = ST_FAILED;
        st->err_code = t->err_code;
        st->err_msg = g_strdup (t->err_msg);
      } else {
        st->status = ST_COMPLETED;
        st->progress = 100;
        st->completed_mono = MAX (t->created_mono +
            (gint64) (T * G_USEC_PER_SEC), t->render_done_mono);
      }
      break;
    case END_FAIL:
      st->status = ST_FAILED;
      st->err_code = t->fail_code;
      st->err_msg = fail_message (t->fail_code);
      break;
    case END_CANCEL_AS_FAILED:
      st->status = ST_FAILED;
      st->err_code = "request_cancelled";
      st->err_msg = fail_message ("request_cancelled");
      break;
    case END_CANCELLED:
      st->status = ST_CANCELLED;
      break;
  }
}

/* After a [result-403] style dead link was fetched, polls hand out a
 * fresh link (another URL for the same bytes), as a CDN re-signs one. */
static char *
result_url (Emulator * emu, Task * t)
{
  if (t->link_gen > 0)
    return g_strdup_printf ("%s/results/%s.mp4?fresh=%u", emu->base_url,
        t->id, t->link_gen);
  return g_strdup_printf ("%s/results/%s.mp4", emu->base_url, t->id);
}

/* Task JSON as returned by create and GET /v1/tasks/{id}; call with the
 * lock held. */
static JsonNode *
task_to_json (Emulator * emu, Task * t, gint64 now)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  TaskState st;

  task_state (emu, t, now, &st);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "created");
  json_builder_add_int_value (b, t->created_unix);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, t->id);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, t->model);
  json_builder_set_member_name (b, "object");
  json_builder_add_string_value (b, "video.generation.task");
  json_builder_set_member_name (b, "progress");
  json_builder_add_int_value (b, st.progress);
  if (st.status == ST_COMPLETED) {
    g_autofree char *url = result_url (emu, t);

    json_builder_set_member_name (b, "results");
    json_builder_begin_array (b);
    json_builder_add_string_value (b, url);
    json_builder_end_array (b);
  }
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, status_names[st.status]);
  if (st.err_code) {
    json_builder_set_member_name (b, "error");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "code");
    json_builder_add_string_value (b, st.err_code);
    json_builder_set_member_name (b, "message");
    json_builder_add_string_value (b, st.err_msg);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, "task_error");
    json_builder_end_object (b);
  }
  json_builder_set_member_name (b, "task_info");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "can_cancel");
  json_builder_add_boolean_value (b, st.status == ST_PENDING);
  if (st.status == ST_PENDING || st.status == ST_PROCESSING) {
    json_builder_set_member_name (b, "estimated_time");
    json_builder_add_int_value (b, st.remaining);
  }
  json_builder_set_member_name (b, "video_duration");
  json_builder_add_int_value (b, t->video_duration);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "video");
  json_builder_set_member_name (b, "usage");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "billing_rule");
  json_builder_add_string_value (b, "per_call");
  json_builder_set_member_name (b, "credits_reserved");
  json_builder_add_int_value (b, t->credits);
  if (st.status == ST_COMPLETED) {
    json_builder_set_member_name (b, "credits_used");
    json_builder_add_int_value (b, t->credits_charged);
  }
  json_builder_set_member_name (b, "user_group");
  json_builder_add_string_value (b, "default");
  json_builder_end_object (b);
  json_builder_end_object (b);

  g_free (st.err_msg);
  return json_builder_get_root (b);
}

/* ------------------------------------------------------------------ */
/* Input fetching and rendering (worker threads)                       */

/* Inputs that live on this very server are read from memory: a
 * synchronous HTTP request to ourselves would work too, but would also
 * count as a download in the stats that tests check. */
static GBytes *
fetch_local (Emulator * emu, const char *path, gboolean * handled)
{
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  GBytes *bytes = NULL;

  *handled = FALSE;
  /* parts[0] is "" because the path starts with '/' */
  if (g_strv_length (parts) >= 3 && g_str_equal (parts[1], "files")) {
    StoredFile *f;

    *handled = TRUE;
    g_mutex_lock (&emu->lock);
    f = g_hash_table_lookup (emu->files, parts[2]);
    if (f)
      bytes = g_bytes_ref (f->data);
    g_mutex_unlock (&emu->lock);
  } else if (g_strv_length (parts) == 3 && g_str_equal (parts[1], "static")
      && emu->static_dir) {
    g_autofree char *name = g_uri_unescape_string (parts[2], NULL);
    char *data;
    gsize len;

    *handled = TRUE;
    if (name && !strchr (name, '/') && !g_str_equal (name, "..")) {
      g_autofree char *file = g_build_filename (emu->static_dir, name, NULL);

      if (g_file_get_contents (file, &data, &len, NULL))
        bytes = g_bytes_new_take (data, len);
    }
  } else if (g_strv_length (parts) == 3 && g_str_equal (parts[1], "results")
      && g_str_has_suffix (parts[2], ".mp4")) {
    g_autofree char *id = g_strndup (parts[2], strlen (parts[2]) - 4);
    Task *t;

    *handled = TRUE;
    g_mutex_lock (&emu->lock);
    t = g_hash_table_lookup (emu->tasks, id);
    if (t && t->mp4)
      bytes = g_bytes_ref (t->mp4);
    g_mutex_unlock (&emu->lock);
  }
  return bytes;
}

static GBytes *
fetch_url (Emulator * emu, const char *url, GError ** error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  g_autoptr (SoupSession) session = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  GBytes *bytes;

  if (uri == NULL || g_uri_get_host (uri) == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "not a valid URL");
    return NULL;
  }
  if ((g_str_equal (g_uri_get_host (uri), "127.0.0.1") ||
          g_str_equal (g_uri_get_host (uri), "localhost")) &&
      g_uri_get_port (uri) == emu->port) {
    gboolean handled;

    bytes = fetch_local (emu, g_uri_get_path (uri), &handled);
    if (handled) {
      if (bytes == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
            "HTTP 404 Not Found");
      return bytes;
    }
  }

  /* A private session per fetch: this runs in a pool thread and a
   * SoupSession must stay in the thread that uses it. */
  session = soup_session_new_with_options ("timeout", 30,
      "user-agent", "klingo1-emulator-fetch", NULL);
  msg = soup_message_new ("GET", url);
  if (msg == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "not a valid URL");
    return NULL;
  }
  bytes = soup_session_send_and_read (session, msg, NULL, error);
  if (bytes == NULL)
    return NULL;
  if (!SOUP_STATUS_IS_SUCCESSFUL (soup_message_get_status (msg))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "HTTP %u %s",
        soup_message_get_status (msg), soup_message_get_reason_phrase (msg));
    g_bytes_unref (bytes);
    return NULL;
  }
  return bytes;
}

static void
render_task (gpointer data, gpointer user_data)
{
  Task *t = data;
  Emulator *emu = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) mp4 = NULL;
  g_autofree char *err_code = NULL;
  g_autofree char *err_msg = NULL;
  double in_duration = -1;

  if (t->kind == KIND_I2V) {
    GBytes *images[2] = { NULL, NULL };
    guint i, n = MIN (t->image_urls->len, 2);

    for (i = 0; i < n && !err_code; i++) {
      g_autoptr (GError) ferr = NULL;

      images[i] = fetch_url (emu, g_ptr_array_index (t->image_urls, i), &ferr);
      if (images[i] == NULL) {
        err_code = g_strdup ("image_processing_error");
        err_msg = g_strdup_printf ("Failed to fetch image_urls[%u] (%s): %s "
            "(emulated)", i, (char *) g_ptr_array_index (t->image_urls, i),
            ferr->message);
      }
    }
    if (!err_code) {
      mp4 = emu_render_i2v (images, n, t->aspect, t->duration, emu->tmpdir,
          &error);
      if (mp4 == NULL) {
        err_code = g_strdup (error->code == EMU_RENDER_ERROR_ENCODE ?
            "service_error" : "image_processing_error");
        err_msg = g_strdup_printf ("%s (emulated)", error->message);
      }
    }
    for (i = 0; i < 2; i++)
      if (images[i])
        g_bytes_unref (images[i]);
  } else {
    g_autoptr (GError) ferr = NULL;
    g_autoptr (GBytes) video = fetch_url (emu, t->video_url, &ferr);
    g_autoptr (GBytes) ref = NULL;

    if (video == NULL) {
      err_code = g_strdup ("invalid_parameters");
      err_msg = g_strdup_printf ("Failed to fetch video_urls[0] (%s): %s "
          "(emulated)", t->video_url, ferr->message);
    } else {
      guint i;

      /* Every reference must be fetchable, but only the first one is
       * drawn (as a corner thumbnail). */
      for (i = 0; i < t->image_urls->len && !err_code; i++) {
        g_autoptr (GBytes) img = fetch_url (emu,
            g_ptr_array_index (t->image_urls, i), &ferr);

        if (img == NULL) {
          err_code = g_strdup ("image_processing_error");
          err_msg = g_strdup_printf ("Failed to fetch image_urls[%u] (%s): "
              "%s (emulated)", i, (char *) g_ptr_array_index (t->image_urls,
                  i), ferr->message);
        } else if (i == 0) {
          ref = g_steal_pointer (&img);
        }
      }
    }
    if (video && !err_code) {
      mp4 = emu_render_edit (video, ref, t->keep_sound, emu->tmpdir,
          &in_duration, &error);
      if (mp4 == NULL) {
        err_code = g_strdup (error->code == EMU_RENDER_ERROR_ENCODE ?
            "service_error" : error->code == EMU_RENDER_ERROR_IMAGE ?
            "image_processing_error" : "invalid_parameters");
        err_msg = g_strdup_printf ("%s (emulated)", error->message);
      }
    }
  }

  if (err_code)
    g_printerr ("klingo1-emulator: task %s failed: %s\n", t->id, err_msg);

  g_mutex_lock (&emu->lock);
  t->render_done = TRUE;
  t->render_done_mono = g_get_monotonic_time ();
  t->mp4 = g_steal_pointer (&mp4);
  t->err_code = g_steal_pointer (&err_code);
  t->err_msg = g_steal_pointer (&err_msg);
  if (in_duration >= 0) {
    t->video_duration = MAX (1, (int) lround (in_duration));
    /* The edits are billed on the input length, known only now: settle
     * the charge made at create (the window's maximum) */
    if (t->kind != KIND_I2V) {
      int billed = EDIT_CREDITS_PER_SECOND * (t->kind == KIND_EDIT ?
          CLAMP (t->video_duration, 3, 10) : CLAMP (t->video_duration, 6,
              20));

      emu->credits_used += billed - t->credits_charged;
      t->credits_charged = billed;
    }
  }
  g_mutex_unlock (&emu->lock);

  task_unref (t);
}

/* ------------------------------------------------------------------ */
/* POST /v1/videos/generations                                         */

/* Parses "[name:VALUE]" out of @prompt; returns VALUE or NULL */
static char *
find_marker (const char *prompt, const char *name)
{
  g_autofree char *open = g_strdup_printf ("[%s:", name);
  const char *start = strstr (prompt, open);
  const char *end;

  if (start == NULL)
    return NULL;
  start += strlen (open);
  end = strchr (start, ']');
  if (end == NULL || end == start)
    return NULL;
  return g_strndup (start, end - start);
}

static gboolean
is_http_url (const char *s)
{
  g_autoptr (GUri) uri = g_uri_parse (s, G_URI_FLAGS_NONE, NULL);

  return uri && g_uri_get_host (uri) && *g_uri_get_host (uri) &&
      (g_str_equal (g_uri_get_scheme (uri), "http") ||
      g_str_equal (g_uri_get_scheme (uri), "https"));
}

/* Validates an optional/required array of URL strings.  Returns FALSE
 * after replying 400. */
static gboolean
get_url_array (Emulator * emu, SoupServerMessage * msg, JsonObject * obj,
    const char *field, guint min, guint max, GPtrArray ** out)
{
  JsonNode *node = json_object_get_member (obj, field);
  JsonArray *arr;
  guint i, n;

  *out = g_ptr_array_new_with_free_func (g_free);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node)) {
    if (min > 0) {
      reply_invalid (emu, msg, field, "%s is required", field);
      return FALSE;
    }
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_ARRAY (node)) {
    reply_invalid (emu, msg, field, "%s must be an array of URLs", field);
    return FALSE;
  }
  arr = json_node_get_array (node);
  n = json_array_get_length (arr);
  if (n < min || n > max) {
    if (min == max)
      reply_invalid (emu, msg, field, "%s must contain exactly %u item%s",
          field, min, min == 1 ? "" : "s");
    else
      reply_invalid (emu, msg, field, "%s must contain %u to %u items",
          field, min, max);
    return FALSE;
  }
  for (i = 0; i < n; i++) {
    JsonNode *el = json_array_get_element (arr, i);
    const char *s;

    if (!JSON_NODE_HOLDS_VALUE (el) ||
        json_node_get_value_type (el) != G_TYPE_STRING) {
      reply_invalid (emu, msg, field, "%s[%u] must be a string", field, i);
      return FALSE;
    }
    s = json_node_get_string (el);
    if (!is_http_url (s)) {
      reply_invalid (emu, msg, field, "%s[%u] must be an http(s) URL",
          field, i);
      return FALSE;
    }
    g_ptr_array_add (*out, g_strdup (s));
  }
  return TRUE;
}

static gboolean
member_present (JsonObject * obj, const char *field)
{
  JsonNode *node = json_object_get_member (obj, field);

  return node != NULL && !JSON_NODE_HOLDS_NULL (node);
}

static char *
random_suffix (void)
{
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  char s[9];
  int i;

  for (i = 0; i < 8; i++)
    s[i] = alphabet[g_random_int_range (0, sizeof (alphabet) - 1)];
  s[8] = '\0';
  return g_strdup (s);
}

/* Handles [http:NNN] and [http:NNNxK] (only the first K requests with
 * this prompt fail, so client retry logic can be tested).  Returns TRUE
 * after replying. */
static gboolean
handle_http_marker (Emulator * emu, SoupServerMessage * msg,
    const char *prompt)
{
  g_autofree char *value = find_marker (prompt, "http");
  char *end = NULL;
  guint64 status;
  guint64 limit = 0;

  if (value == NULL)
    return FALSE;
  status = g_ascii_strtoull (value, &end, 10);
  if (end && (*end == 'x' || *end == '*'))
    limit = g_ascii_strtoull (end + 1, NULL, 10);
  if (status < 400 || status > 599)
    return FALSE;
  if (limit > 0) {
    guint hits = GPOINTER_TO_UINT (g_hash_table_lookup
        (emu->http_marker_hits, prompt));

    if (hits >= limit)
      return FALSE;
    g_hash_table_replace (emu->http_marker_hits, g_strdup (prompt),
        GUINT_TO_POINTER (hits + 1));
  }

  switch (status) {
    case 403:
      reply_error (emu, msg, 403, "model_access_denied",
          "Access denied for this model", "model");
      break;
    case 404:
      reply_error (emu, msg, 404, "model_not_found",
          "Specified model not found", "model");
      break;
    default:
      reply_error (emu, msg, (guint) status, NULL, NULL, NULL);
      break;
  }
  return TRUE;
}

/* Closes the connection without an answer, as a proxy that drops it.
 * Shutting the socket down makes libsoup's write of the (never seen) 500
 * fail, after which libsoup cleans the connection up by itself. */
static void
drop_connection (SoupServerMessage * msg)
{
  GSocket *sock = soup_server_message_get_socket (msg);

  if (sock)
    g_socket_shutdown (sock, TRUE, TRUE, NULL);
  soup_server_message_set_status (msg, 500, NULL);
}

/* Parses "[name:N]" as an unsigned number; returns @def when absent */
static guint64
find_marker_uint (const char *prompt, const char *name, guint64 def)
{
  g_autofree char *value = find_marker (prompt, name);

  return value ? g_ascii_strtoull (value, NULL, 10) : def;
}

/* The fault markers that shape polls and result links */
static void
parse_fault_markers (Task * t, const char *prompt)
{
  g_autofree char *outage = NULL;
  guint64 gone;

  t->poll_404 = strstr (prompt, "[poll-404]") != NULL;
  t->poll_html_left = strstr (prompt, "[poll-html]") ? G_MAXUINT :
      (guint) find_marker_uint (prompt, "poll-html", 0);
  t->poll_trickle = strstr (prompt, "[poll-trickle]") != NULL;
  if ((outage = find_marker (prompt, "outage"))) {
    t->outage_seconds = g_ascii_strtod (outage, NULL);
  } else if ((outage = find_marker (prompt, "outage-close"))) {
    t->outage_seconds = g_ascii_strtod (outage, NULL);
    t->outage_close = TRUE;
  }

  if (strstr (prompt, "[result-endless]"))
    t->result_fault = RESULT_ENDLESS;
  else if (strstr (prompt, "[result-trickle]"))
    t->result_fault = RESULT_TRICKLE;
  else if (strstr (prompt, "[result-stall]"))
    t->result_fault = RESULT_STALL;
  else if (strstr (prompt, "[result-lie]"))
    t->result_fault = RESULT_LIE;
  else if (strstr (prompt, "[result-lie-once]"))
    t->result_fault = RESULT_LIE_ONCE;
  else if (strstr (prompt, "[result-html]"))
    t->result_fault = RESULT_HTML;

  gone = find_marker_uint (prompt, "result-gone", 0);
  if (gone == 403 || gone == 404 || gone == 410) {
    t->dead_status = (guint) gone;
    t->dead_forever = TRUE;
  } else if (strstr (prompt, "[result-403]")) {
    t->dead_status = 403;
  } else if (strstr (prompt, "[result-404]")) {
    t->dead_status = 404;
  } else if (strstr (prompt, "[result-410]")) {
    t->dead_status = 410;
  }
}

static void
reply_task (Emulator * emu, SoupServerMessage * msg, Task * t)
{
  g_autoptr (JsonNode) node = NULL;

  g_mutex_lock (&emu->lock);
  node = task_to_json (emu, t, g_get_monotonic_time ());
  g_mutex_unlock (&emu->lock);
  reply_json (msg, 200, node);
}

static void
handle_create (Emulator * emu, SoupServerMessage * msg)
{
  g_autoptr (GBytes) body = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) image_urls = NULL;
  g_autoptr (GPtrArray) video_urls = NULL;
  g_autofree char *fail_code = NULL;
  JsonNode *root, *node;
  JsonObject *obj;
  const char *model, *prompt, *idem_key;
  const char *aspect = NULL;
  ModelKind kind;
  int duration = 5;
  gboolean keep_sound = TRUE;
  int credits;
  gint64 balance;
  Task *t;

  emu->create_requests++;
  if (!check_auth (emu, msg))
    return;

  body = soup_message_body_flatten (soup_server_message_get_request_body
      (msg));
  if (!json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), &error)) {
    reply_invalid (emu, msg, NULL, "Request body is not valid JSON: %s",
        error->message);
    return;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    reply_invalid (emu, msg, NULL, "Request body must be a JSON object");
    return;
  }
  obj = json_node_get_object (root);

  /* Replays come before anything else: the real gateway answers a
   * retried request with the original task. */
  idem_key =
      soup_message_headers_get_one (soup_server_message_get_request_headers
      (msg), "Idempotency-Key");
  if (idem_key && *idem_key && !emu->ignore_idempotency_key) {
    const char *id = g_hash_table_lookup (emu->idempotency, idem_key);

    if (id && (t = g_hash_table_lookup (emu->tasks, id))) {
      soup_message_headers_replace (soup_server_message_get_response_headers
          (msg), "idempotency-replayed", "true");
      reply_task (emu, msg, t);
      return;
    }
  }

  node = json_object_get_member (obj, "prompt");
  prompt = node && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING ?
      json_node_get_string (node) : NULL;
  if (prompt && handle_http_marker (emu, msg, prompt))
    return;

  node = json_object_get_member (obj, "model");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node)) {
    reply_invalid (emu, msg, "model", "model is required");
    return;
  }
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING) {
    reply_invalid (emu, msg, "model", "model must be a string");
    return;
  }
  model = json_node_get_string (node);
  if (g_str_equal (model, "kling-o1-image-to-video"))
    kind = KIND_I2V;
  else if (g_str_equal (model, "kling-o1-video-edit"))
    kind = KIND_EDIT;
  else if (g_str_equal (model, "kling-o1-video-edit-fast"))
    kind = KIND_EDIT_FAST;
  else {
    reply_error_full (emu, msg, 404, "model_not_found",
        "Specified model not found", "model", "kling-o1-image-to-video");
    return;
  }

  if (prompt == NULL) {
    reply_invalid (emu, msg, "prompt", member_present (obj, "prompt") ?
        "prompt must be a string" : "prompt is required");
    return;
  }
  if (*prompt == '\0') {
    reply_invalid (emu, msg, "prompt", "prompt must not be empty");
    return;
  }
  if (!g_utf8_validate (prompt, -1, NULL) ||
      g_utf8_strlen (prompt, -1) > MAX_PROMPT_CHARS) {
    reply_invalid (emu, msg, "prompt",
        "prompt must be at most %d characters", MAX_PROMPT_CHARS);
    return;
  }

  node = json_object_get_member (obj, "aspect_ratio");
  if (node && !JSON_NODE_HOLDS_NULL (node)) {
    if (!JSON_NODE_HOLDS_VALUE (node) ||
        json_node_get_value_type (node) != G_TYPE_STRING ||
        !g_strv_contains ((const char *[]) {"16:9", "9:16", "1:1", NULL},
            json_node_get_string (node))) {
      reply_invalid (emu, msg, "aspect_ratio",
          "aspect_ratio must be one of 16:9, 9:16, 1:1");
      return;
    }
    aspect = json_node_get_string (node);
  }

  if (kind == KIND_I2V) {
    if (!get_url_array (emu, msg, obj, "image_urls", 1, 2, &image_urls))
      return;
    if (member_present (obj, "video_urls")) {
      reply_invalid (emu, msg, "video_urls",
          "video_urls is not supported by %s", model);
      return;
    }
    node = json_object_get_member (obj, "duration");
    if (node && !JSON_NODE_HOLDS_NULL (node)) {
      if (!JSON_NODE_HOLDS_VALUE (node) ||
          json_node_get_value_type (node) != G_TYPE_INT64 ||
          (json_node_get_int (node) != 5 && json_node_get_int (node) != 10)) {
        reply_invalid (emu, msg, "duration",
            "duration must be the integer 5 or 10");
        return;
      }
      duration = (int) json_node_get_int (node);
    }
    if (member_present (obj, "keep_original_sound")) {
      reply_invalid (emu, msg, "keep_original_sound",
          "keep_original_sound is not supported by %s", model);
      return;
    }
  } else {
    if (!get_url_array (emu, msg, obj, "video_urls", 1, 1, &video_urls))
      return;
    if (!get_url_array (emu, msg, obj, "image_urls", 0, 4, &image_urls))
      return;
    if (member_present (obj, "image_urls") && image_urls->len == 0) {
      reply_invalid (emu, msg, "image_urls",
          "image_urls must contain 1 to 4 items");
      return;
    }
    if (member_present (obj, "duration")) {
      reply_invalid (emu, msg, "duration",
          "duration is not supported by %s (output length follows the "
          "input video)", model);
      return;
    }
    node = json_object_get_member (obj, "keep_original_sound");
    if (node && !JSON_NODE_HOLDS_NULL (node)) {
      if (!JSON_NODE_HOLDS_VALUE (node) ||
          json_node_get_value_type (node) != G_TYPE_BOOLEAN) {
        reply_invalid (emu, msg, "keep_original_sound",
            "keep_original_sound must be a boolean");
        return;
      }
      keep_sound = json_node_get_boolean (node);
    }
  }

  node = json_object_get_member (obj, "callback_url");
  if (node && !JSON_NODE_HOLDS_NULL (node)) {
    const char *cb = NULL;

    if (JSON_NODE_HOLDS_VALUE (node) &&
        json_node_get_value_type (node) == G_TYPE_STRING)
      cb = json_node_get_string (node);
    if (cb == NULL || !g_str_has_prefix (cb, "https://") ||
        !is_http_url (cb)) {
      reply_invalid (emu, msg, "callback_url",
          "callback_url must be an HTTPS URL");
      return;
    }
    if (strlen (cb) > MAX_CALLBACK_URL) {
      reply_invalid (emu, msg, "callback_url",
          "callback_url must be at most %d characters", MAX_CALLBACK_URL);
      return;
    }
  }

  if (kind == KIND_I2V)
    credits = duration == 10 ? 80 : 40;
  else
    /* billed on the input length, unknown until it is probed: reserve the
     * top of the billing window, the render settles the charge */
    credits = EDIT_CREDITS_PER_SECOND * (kind == KIND_EDIT ? 10 : 20);
  g_mutex_lock (&emu->lock);
  balance = emu->credits - emu->credits_used;
  g_mutex_unlock (&emu->lock);
  if (credits > balance) {
    g_autofree char *text = g_strdup_printf ("Insufficient quota: this "
        "request needs %d credits, %" G_GINT64_FORMAT " remaining", credits,
        MAX (balance, 0));

    reply_error (emu, msg, 402, "insufficient_quota", text, NULL);
    return;
  }

  t = g_atomic_rc_box_new0 (Task);
  t->emu = emu;
  t->created_unix = g_get_real_time () / G_USEC_PER_SEC;
  t->created_mono = g_get_monotonic_time ();
  do {
    g_autofree char *suffix = random_suffix ();

    g_free (t->id);
    t->id = g_strdup_printf (TASK_ID_PREFIX "%" G_GINT64_FORMAT "-%s",
        t->created_unix, suffix);
  } while (g_hash_table_contains (emu->tasks, t->id));
  t->model = g_strdup (model);
  t->kind = kind;
  t->duration = duration;
  t->aspect = g_strdup (aspect);
  t->image_urls = g_steal_pointer (&image_urls);
  t->video_url = video_urls ? g_strdup (g_ptr_array_index (video_urls, 0))
      : NULL;
  t->keep_sound = keep_sound;
  t->credits = credits;
  t->credits_charged = credits;
  /* for the edits the real length is only known once the input is probed */
  t->video_duration = kind == KIND_I2V ? duration : 5;

  if (strstr (prompt, "[cancelled-status]"))
    t->end = END_CANCELLED;
  else if (strstr (prompt, "[cancel]"))
    t->end = END_CANCEL_AS_FAILED;
  else if ((fail_code = find_marker (prompt, "fail"))) {
    t->end = END_FAIL;
    t->fail_code = g_steal_pointer (&fail_code);
  } else
    t->end = END_COMPLETE;

  {
    g_autofree char *pf = find_marker (prompt, "poll-http");

    if (pf) {
      char *end = NULL;

      t->poll_fail_status = (guint) g_ascii_strtoull (pf, &end, 10);
      t->poll_fail_left = end && (*end == 'x' || *end == '*') ?
          (guint) g_ascii_strtoull (end + 1, NULL, 10) : G_MAXUINT;
      if (t->poll_fail_status < 400 || t->poll_fail_status > 599)
        t->poll_fail_status = 0;
    }
  }

  parse_fault_markers (t, prompt);

  /* --result-file: nothing to render, the task completes on time alone */
  if (emu->result_bytes && t->end == END_COMPLETE) {
    t->render_done = TRUE;
    t->render_done_mono = t->created_mono;
    t->mp4 = g_bytes_ref (emu->result_bytes);
  }

  g_mutex_lock (&emu->lock);
  g_hash_table_insert (emu->tasks, t->id, t);
  if (idem_key && *idem_key && !emu->ignore_idempotency_key)
    g_hash_table_replace (emu->idempotency, g_strdup (idem_key),
        g_strdup (t->id));
  emu->creates++;
  emu->credits_used += credits;
  g_mutex_unlock (&emu->lock);

  /* Tasks that end in failure by marker have nothing to render */
  if (t->end == END_COMPLETE && !t->render_done)
    g_thread_pool_push (emu->pool, task_ref (t), NULL);

  /* [lose-create-answer-once]: the task is made (and paid) but the
   * connection closes before the answer, once per Idempotency-Key (per
   * prompt without one).  Keyed apart from the replay table, so that with
   * --ignore-idempotency-key the re-sent create makes a second task. */
  if (strstr (prompt, "[lose-create-answer-once]")) {
    g_autofree char *lose_key = idem_key && *idem_key ?
        g_strdup_printf ("key:%s", idem_key) :
        g_strdup_printf ("prompt:%s", prompt);

    if (!g_hash_table_contains (emu->lost_once, lose_key)) {
      g_hash_table_add (emu->lost_once, g_steal_pointer (&lose_key));
      drop_connection (msg);
      return;
    }
  }

  /* [lose-create-answer]: the task is made (and paid) but the client hears
   * a gateway error, as when a proxy drops the answer. Only a replay of the
   * same Idempotency-Key (answered above) gets the task back. */
  if (strstr (prompt, "[lose-create-answer]")) {
    reply_error (emu, msg, 502, "upstream_error",
        "Upstream AI service unavailable", NULL);
    return;
  }

  reply_task (emu, msg, t);
}

/* ------------------------------------------------------------------ */
/* Streamed bodies                                                     */

/* One response body being written.  Chunks are slices of @src (no copy),
 * queued a window ahead of what the socket took (wrote-body-data), or, when
 * throttled, as a main-context timer grants them.  libsoup pauses the
 * message by itself when it runs out of chunks; unpausing after queueing
 * resumes it.  The Transfer lives until the message's "finished". */
typedef struct
{
  Emulator *emu;
  SoupServerMessage *msg;
  GBytes *src;
  BodyMode mode;
  guint64 pos;                  /* next offset of @src to queue */
  guint64 stop;                 /* where the part of @src to send ends */
  guint64 bps;                  /* 0: as fast as the client reads */
  gint64 pace_start;
  guint64 paced;                /* bytes the pacer has let through */
  guint64 credit;               /* bytes it allows to queue right now */
  guint64 queued;
  guint64 written;
  gboolean is_result;           /* counts in stats.bytes_sent */
  gboolean headers_written;
  gboolean done_queueing;
  guint timer_id;
  guint close_id;
} Transfer;

static void
transfer_free (Transfer * tr)
{
  if (tr->timer_id)
    g_source_remove (tr->timer_id);
  if (tr->close_id)
    g_source_remove (tr->close_id);
  g_signal_handlers_disconnect_by_data (tr->msg, tr);
  g_object_unref (tr->msg);
  g_bytes_unref (tr->src);
  g_free (tr);
}

static gboolean
transfer_close_cb (gpointer data)
{
  Transfer *tr = data;
  GSocket *sock = soup_server_message_get_socket (tr->msg);
  g_autoptr (GBytes) one = g_bytes_new_from_bytes (tr->emu->zeros, 0, 1);

  tr->close_id = 0;
  /* FIN after the bytes already sent.  The byte queued next can only fail
   * to be written, which makes libsoup finish the message and drop the
   * connection rather than wait for more body forever. */
  if (sock)
    g_socket_shutdown (sock, FALSE, TRUE, NULL);
  soup_message_body_append_bytes (soup_server_message_get_response_body
      (tr->msg), one);
  soup_server_message_unpause (tr->msg);
  return G_SOURCE_REMOVE;
}

/* [result-lie]: close once everything up to the cut has left */
static void
transfer_check_cut (Transfer * tr)
{
  if (tr->mode == BODY_LIE && tr->done_queueing && tr->headers_written &&
      tr->written == tr->queued && tr->close_id == 0)
    tr->close_id = g_idle_add (transfer_close_cb, tr);
}

static void
transfer_pump (Transfer * tr)
{
  SoupMessageBody *body = soup_server_message_get_response_body (tr->msg);
  guint64 window = tr->bps ? MAX (4 * MAX (tr->bps / 5, 1), PUMP_CHUNK) :
      PUMP_WINDOW;
  gboolean queued_any = FALSE;

  while (!tr->done_queueing && tr->queued - tr->written < window) {
    guint64 n = PUMP_CHUNK;
    GBytes *chunk;

    if (tr->bps) {
      if (tr->credit == 0)
        break;
      n = MIN (n, tr->credit);
    }
    if (tr->pos < tr->stop) {
      n = MIN (n, tr->stop - tr->pos);
      chunk = g_bytes_new_from_bytes (tr->src, tr->pos, n);
      tr->pos += n;
    } else if (tr->mode == BODY_ENDLESS) {
      n = MIN (n, g_bytes_get_size (tr->emu->zeros));
      chunk = g_bytes_new_from_bytes (tr->emu->zeros, 0, n);
    } else {
      /* BODY_STALL and BODY_LIE simply queue nothing more */
      tr->done_queueing = TRUE;
      if (tr->mode == BODY_NORMAL) {
        soup_message_body_complete (body);
        queued_any = TRUE;
      }
      break;
    }
    soup_message_body_append_bytes (body, chunk);
    g_bytes_unref (chunk);
    tr->queued += n;
    if (tr->bps) {
      tr->credit -= n;
      tr->paced += n;
    }
    queued_any = TRUE;
  }
  if (queued_any)
    soup_server_message_unpause (tr->msg);
  transfer_check_cut (tr);
}

static gboolean
transfer_tick (gpointer data)
{
  Transfer *tr = data;
  gint64 now = g_get_monotonic_time ();
  guint64 allowed = (guint64) ((now - tr->pace_start) * (double) tr->bps /
      G_USEC_PER_SEC);
  guint64 burst = MAX (tr->bps / 5, 1);

  tr->credit = allowed > tr->paced ? allowed - tr->paced : 0;
  /* A client that paused reading must not get a burst when it resumes */
  if (tr->credit > burst) {
    tr->paced = allowed - burst;
    tr->credit = burst;
  }
  transfer_pump (tr);
  /* all queued (or a stall): nothing left to pace */
  if (tr->done_queueing) {
    tr->timer_id = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
transfer_wrote_headers (SoupServerMessage * msg, Transfer * tr)
{
  tr->headers_written = TRUE;
  transfer_check_cut (tr);
}

static void
transfer_wrote_body_data (SoupServerMessage * msg, guint size, Transfer * tr)
{
  tr->written += size;
  if (tr->is_result)
    tr->emu->bytes_sent += size;
  if (tr->bps == 0)
    transfer_pump (tr);
  else
    transfer_check_cut (tr);
}

static void
transfer_finished (SoupServerMessage * msg, Transfer * tr)
{
  transfer_free (tr);
}

/* Streams @src[@start, @stop) (then zeros forever for BODY_ENDLESS) as the
 * response body; status and headers must already be set. */
static void
transfer_start (Emulator * emu, SoupServerMessage * msg, GBytes * src,
    guint64 start, guint64 stop, BodyMode mode, guint64 bps,
    gboolean is_result)
{
  Transfer *tr = g_new0 (Transfer, 1);

  tr->emu = emu;
  tr->msg = g_object_ref (msg);
  tr->src = g_bytes_ref (src);
  tr->mode = mode;
  tr->pos = start;
  tr->stop = stop;
  tr->bps = bps;
  tr->is_result = is_result;
  tr->pace_start = g_get_monotonic_time ();

  /* Written chunks are dropped, so an endless body does not pile up, and
   * SoupServer leaves Range handling to us (it only does it for bodies
   * accumulated in full). */
  soup_message_body_set_accumulate (soup_server_message_get_response_body
      (msg), FALSE);
  g_signal_connect (msg, "wrote-headers", G_CALLBACK (transfer_wrote_headers),
      tr);
  g_signal_connect (msg, "wrote-body-data",
      G_CALLBACK (transfer_wrote_body_data), tr);
  g_signal_connect (msg, "finished", G_CALLBACK (transfer_finished), tr);

  if (bps > 0) {
    /* ticks of 100 ms, slower below 10 B/s so each tick has a byte */
    guint interval = bps >= 10 ? 100 : (guint) MAX (100, 1000 / bps);

    tr->timer_id = g_timeout_add (interval, transfer_tick, tr);
  } else {
    transfer_pump (tr);
  }
}

typedef enum
{
  RANGE_NONE,                   /* no Range header, or one to ignore */
  RANGE_OK,
  RANGE_UNSATISFIABLE,
} RangeResult;

/* Parses a Range header against @total.  Several ranges are coalesced
 * into the one span that covers them, sent as a single part whose
 * Content-Range says what came (no multipart/byteranges: the clients under
 * test ask for one range).  Syntax errors make the header ignored, as RFC
 * 9110 allows. */
static RangeResult
parse_range (const char *header, guint64 total, guint64 * first,
    guint64 * last)
{
  g_auto (GStrv) specs = NULL;
  gboolean any = FALSE;
  guint i;

  if (header == NULL)
    return RANGE_NONE;
  while (g_ascii_isspace (*header))
    header++;
  if (!g_str_has_prefix (header, "bytes="))
    return RANGE_NONE;
  specs = g_strsplit (header + strlen ("bytes="), ",", -1);
  for (i = 0; specs[i]; i++) {
    char *spec = g_strstrip (specs[i]);
    char *dash = strchr (spec, '-');
    char *end = NULL;
    guint64 a, b;

    if (dash == NULL)
      return RANGE_NONE;
    if (dash == spec) {
      /* suffix: the last N bytes */
      guint64 n = g_ascii_strtoull (dash + 1, &end, 10);

      if (end == dash + 1 || *end)
        return RANGE_NONE;
      if (n == 0 || total == 0)
        continue;
      a = n >= total ? 0 : total - n;
      b = total - 1;
    } else {
      a = g_ascii_strtoull (spec, &end, 10);
      if (end != dash)
        return RANGE_NONE;
      if (dash[1] == '\0') {
        b = G_MAXUINT64;
      } else {
        b = g_ascii_strtoull (dash + 1, &end, 10);
        if (*end || b < a)
          return RANGE_NONE;
      }
      if (a >= total)
        continue;
      b = MIN (b, total - 1);
    }
    if (!any || a < *first)
      *first = a;
    if (!any || b > *last)
      *last = b;
    any = TRUE;
  }
  return any ? RANGE_OK : RANGE_UNSATISFIABLE;
}

/* Serves @src with Range support (206, 416 with "bytes * /TOTAL"),
 * Content-Length and Accept-Ranges, streamed at @bps (0 = unthrottled).
 * BODY_STALL stops halfway through what was asked; BODY_LIE stops at the
 * middle of the whole resource and closes; BODY_ENDLESS ignores Range and
 * never ends. */
static void
serve_body (Emulator * emu, SoupServerMessage * msg, const char *mime,
    GBytes * src, BodyMode mode, guint64 bps, gboolean is_result,
    gboolean ranges)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  gboolean head = g_str_equal (soup_server_message_get_method (msg), "HEAD");
  guint64 total = g_bytes_get_size (src);
  guint64 first = 0, last = 0, len, stop;

  if (mode == BODY_ENDLESS) {
    soup_server_message_set_status (msg, 200, NULL);
    soup_message_headers_set_content_type (h, mime, NULL);
    soup_message_headers_set_encoding (h, SOUP_ENCODING_CHUNKED);
    if (!head)
      transfer_start (emu, msg, src, 0, total, mode, bps, is_result);
    return;
  }

  switch (ranges ? parse_range (soup_message_headers_get_one
          (soup_server_message_get_request_headers (msg), "Range"), total,
          &first, &last) : RANGE_NONE) {
    case RANGE_UNSATISFIABLE:{
      g_autofree char *cr = g_strdup_printf ("bytes */%" G_GUINT64_FORMAT,
          total);

      soup_server_message_set_status (msg, 416, NULL);
      soup_message_headers_replace (h, "Content-Range", cr);
      soup_message_headers_replace (h, "Accept-Ranges", "bytes");
      soup_message_headers_set_content_length (h, 0);
      return;
    }
    case RANGE_OK:
      soup_server_message_set_status (msg, 206, NULL);
      soup_message_headers_set_content_range (h, first, last, total);
      break;
    case RANGE_NONE:
      soup_server_message_set_status (msg, 200, NULL);
      first = 0;
      last = total - 1;         /* unused when total is 0 */
      break;
  }
  len = total ? last - first + 1 : 0;
  soup_message_headers_set_content_type (h, mime, NULL);
  if (ranges)
    soup_message_headers_replace (h, "Accept-Ranges", "bytes");
  soup_message_headers_set_content_length (h, len);
  if (head || len == 0)
    return;

  stop = first + len;
  if (mode == BODY_STALL)
    stop = first + len / 2;
  else if (mode == BODY_LIE)
    stop = CLAMP (total / 2, first, first + len);
  transfer_start (emu, msg, src, first, stop, mode, bps, is_result);
}

/* Files and static files: whole, as fast as --download-bps allows */
static void
reply_bytes (Emulator * emu, SoupServerMessage * msg, const char *mime,
    GBytes * bytes)
{
  serve_body (emu, msg, mime, bytes, BODY_NORMAL, emu->download_bps, FALSE,
      TRUE);
}

static const char dead_body_403[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied"
    "</Code><Message>Request has expired</Message></Error>\n";

static void
reply_dead_link (SoupServerMessage * msg, guint status)
{
  if (status == 403)
    soup_server_message_set_response (msg, "application/xml",
        SOUP_MEMORY_STATIC, dead_body_403, strlen (dead_body_403));
  else
    soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY,
        status == 410 ? "Gone\n" : "Not found\n", status == 410 ? 5 : 10);
  soup_server_message_set_status (msg, status, NULL);
}

static const char html_page[] =
    "<!DOCTYPE html>\n<html><head><title>Download</title></head><body>\n"
    "<h1>Your video is ready</h1>\n<p>Please sign in to download it.</p>\n"
    "</body></html>\n";

/* ------------------------------------------------------------------ */
/* GET /v1/tasks/{id}, GET /results/{id}.mp4                            */

static void
handle_task_query (Emulator * emu, SoupServerMessage * msg, const char *id)
{
  Task *t;

  emu->polls++;
  if (!check_auth (emu, msg))
    return;
  if (!g_str_has_prefix (id, TASK_ID_PREFIX)) {
    reply_error (emu, msg, 400, "invalid_task_id", "Invalid task ID format",
        "task_id");
    return;
  }
  t = g_hash_table_lookup (emu->tasks, id);
  /* [poll-404]: a task the API forgot answers like one it never had */
  if (t == NULL || t->poll_404) {
    reply_error (emu, msg, 404, "task_not_found", "Task not found or expired",
        "task_id");
    return;
  }
  if (t->outage_seconds > 0 && g_get_monotonic_time () - t->created_mono <
      (gint64) (t->outage_seconds * G_USEC_PER_SEC)) {
    if (t->outage_close)
      drop_connection (msg);
    else
      reply_error (emu, msg, 503, NULL, NULL, NULL);
    return;
  }
  if (t->poll_fail_status && t->poll_fail_left > 0) {
    if (t->poll_fail_left != G_MAXUINT)
      t->poll_fail_left--;
    reply_error (emu, msg, t->poll_fail_status, NULL, NULL, NULL);
    return;
  }
  if (t->poll_html_left > 0) {
    /* a captive portal or a CDN error page in front of the API */
    if (t->poll_html_left != G_MAXUINT)
      t->poll_html_left--;
    soup_server_message_set_status (msg, 200, NULL);
    soup_server_message_set_response (msg, "text/html; charset=utf-8",
        SOUP_MEMORY_STATIC, html_page, strlen (html_page));
    return;
  }
  if (t->poll_trickle) {
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    g_autoptr (JsonNode) node = NULL;
    g_autoptr (GBytes) body = NULL;
    char *data;
    gsize len;

    t->poll_trickle = FALSE;
    g_mutex_lock (&emu->lock);
    node = task_to_json (emu, t, g_get_monotonic_time ());
    g_mutex_unlock (&emu->lock);
    json_generator_set_root (gen, node);
    data = json_generator_to_data (gen, &len);
    body = g_bytes_new_take (data, len);
    serve_body (emu, msg, "application/json", body, BODY_NORMAL, 1, FALSE,
        FALSE);
    return;
  }
  reply_task (emu, msg, t);
}

static void
reply_not_found (SoupServerMessage * msg, const char *text)
{
  soup_server_message_set_status (msg, 404, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY,
      text, strlen (text));
}

static void
handle_result (Emulator * emu, SoupServerMessage * msg, const char *name,
    GHashTable * query)
{
  g_autofree char *id = NULL;
  g_autoptr (GBytes) mp4 = NULL;
  const char *fresh = query ? g_hash_table_lookup (query, "fresh") : NULL;
  BodyMode mode = BODY_NORMAL;
  guint64 bps = emu->download_bps;
  TaskState st;
  Task *t;

  emu->downloads++;
  emu->result_requests++;
  if (soup_message_headers_get_one (soup_server_message_get_request_headers
          (msg), "Range"))
    emu->range_requests++;
  if (!g_str_has_suffix (name, ".mp4")) {
    reply_not_found (msg, "Not found\n");
    return;
  }
  id = g_strndup (name, strlen (name) - 4);
  t = g_hash_table_lookup (emu->tasks, id);
  if (t == NULL) {
    reply_not_found (msg, "Not found\n");
    return;
  }

  g_mutex_lock (&emu->lock);
  task_state (emu, t, g_get_monotonic_time (), &st);
  if (st.status == ST_COMPLETED &&
      g_get_monotonic_time () - st.completed_mono <=
      (gint64) (emu->link_ttl * G_USEC_PER_SEC))
    mp4 = g_bytes_ref (t->mp4);
  g_mutex_unlock (&emu->lock);
  g_free (st.err_msg);

  if (mp4 == NULL) {
    reply_not_found (msg, st.status == ST_COMPLETED ?
        "Link expired\n" : "Not found\n");
    return;
  }

  /* The first link stays dead; once it was tried, polls hand out a fresh
   * one (?fresh=N), which works.  [result-gone:N] never does that. */
  if (t->dead_status && (t->dead_forever || fresh == NULL ||
          g_ascii_strtoull (fresh, NULL, 10) == 0)) {
    if (!t->dead_forever && t->link_gen == 0)
      t->link_gen = 1;
    reply_dead_link (msg, t->dead_status);
    return;
  }

  switch (t->result_fault) {
    case RESULT_OK:
      break;
    case RESULT_ENDLESS:
      mode = BODY_ENDLESS;
      bps = emu->download_bps ? emu->download_bps : ENDLESS_BPS;
      break;
    case RESULT_TRICKLE:
      bps = 1;
      break;
    case RESULT_STALL:
      if (t->result_gets == 0)
        mode = BODY_STALL;
      break;
    case RESULT_LIE:
      mode = BODY_LIE;
      break;
    case RESULT_LIE_ONCE:
      if (t->result_gets == 0)
        mode = BODY_LIE;
      break;
    case RESULT_HTML:{
      g_autoptr (GBytes) page = g_bytes_new_static (html_page,
          strlen (html_page));

      /* no Range support: a login page knows nothing of byte ranges */
      serve_body (emu, msg, "text/html; charset=utf-8", page, BODY_NORMAL,
          bps, TRUE, FALSE);
      return;
    }
  }
  if (g_str_equal (soup_server_message_get_method (msg), "GET"))
    t->result_gets++;
  serve_body (emu, msg, "video/mp4", mp4, mode, bps, TRUE, TRUE);
}

/* ------------------------------------------------------------------ */
/* Files API                                                           */

static char *
iso8601 (GDateTime * dt)
{
  return g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
}

static void
reply_files_error (SoupServerMessage * msg, guint status, const char *text)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "success");
  json_builder_add_boolean_value (b, FALSE);
  json_builder_set_member_name (b, "code");
  json_builder_add_int_value (b, status);
  json_builder_set_member_name (b, "msg");
  json_builder_add_string_value (b, text);
  json_builder_end_object (b);
  reply_builder (msg, status, b);
}

/* Keeps only the last path component so a name can never escape the
 * URL path segment it is served under. */
static char *
sanitize_name (const char *name)
{
  g_autofree char *base = NULL;

  if (name == NULL || *name == '\0')
    return NULL;
  base = g_path_get_basename (name);
  if (g_str_equal (base, ".") || g_str_equal (base, "..") ||
      g_str_equal (base, "/"))
    return NULL;
  return g_steal_pointer (&base);
}

static void
store_and_reply (Emulator * emu, SoupServerMessage * msg, GBytes * data,
    const char *original_name, const char *file_name, const char *mime,
    const char *upload_path)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) expires = g_date_time_add_seconds (now,
      FILE_LIFETIME_SECONDS);
  g_autofree char *now_s = iso8601 (now);
  g_autofree char *exp_s = iso8601 (expires);
  g_autofree char *escaped = NULL;
  g_autofree char *url = NULL;
  g_autofree char *guessed = NULL;
  StoredFile *f = g_new0 (StoredFile, 1);

  f->id = g_strdup_printf ("file_%08x%08x", g_random_int (), g_random_int ());
  f->original_name = g_strdup (original_name ? original_name : "upload.bin");
  f->name = sanitize_name (file_name ? file_name : f->original_name);
  if (f->name == NULL)
    f->name = g_strdup ("upload.bin");
  if (mime == NULL || g_str_equal (mime, "application/octet-stream")) {
    g_autofree char *ctype = g_content_type_guess (f->name,
        g_bytes_get_data (data, NULL), g_bytes_get_size (data), NULL);

    guessed = g_content_type_get_mime_type (ctype);
    mime = guessed ? guessed : "application/octet-stream";
  }
  f->mime = g_strdup (mime);
  f->upload_path = g_strdup (upload_path && *upload_path ? upload_path :
      "uploads");
  f->data = g_bytes_ref (data);

  escaped = g_uri_escape_string (f->name, NULL, FALSE);
  url = g_strdup_printf ("%s/files/%s/%s", emu->base_url, f->id, escaped);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "success");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "code");
  json_builder_add_int_value (b, 200);
  json_builder_set_member_name (b, "msg");
  json_builder_add_string_value (b, "File uploaded successfully");
  json_builder_set_member_name (b, "data");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "file_id");
  json_builder_add_string_value (b, f->id);
  json_builder_set_member_name (b, "file_name");
  json_builder_add_string_value (b, f->name);
  json_builder_set_member_name (b, "original_name");
  json_builder_add_string_value (b, f->original_name);
  json_builder_set_member_name (b, "file_size");
  json_builder_add_int_value (b, g_bytes_get_size (data));
  json_builder_set_member_name (b, "mime_type");
  json_builder_add_string_value (b, f->mime);
  json_builder_set_member_name (b, "upload_path");
  json_builder_add_string_value (b, f->upload_path);
  json_builder_set_member_name (b, "file_url");
  json_builder_add_string_value (b, url);
  json_builder_set_member_name (b, "download_url");
  json_builder_add_string_value (b, url);
  json_builder_set_member_name (b, "upload_time");
  json_builder_add_string_value (b, now_s);
  json_builder_set_member_name (b, "expires_at");
  json_builder_add_string_value (b, exp_s);
  json_builder_end_object (b);
  json_builder_end_object (b);

  g_mutex_lock (&emu->lock);
  g_hash_table_insert (emu->files, f->id, f);
  emu->uploads++;
  g_mutex_unlock (&emu->lock);

  reply_builder (msg, 200, b);
}

static void
handle_upload_stream (Emulator * emu, SoupServerMessage * msg)
{
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GBytes) file_data = NULL;
  g_autofree char *original = NULL;
  g_autofree char *file_name = NULL;
  g_autofree char *upload_path = NULL;
  g_autofree char *part_mime = NULL;
  SoupMultipart *mp;
  int i, n;

  if (!check_auth (emu, msg))
    return;
  body = soup_message_body_flatten (soup_server_message_get_request_body
      (msg));
  mp = soup_multipart_new_from_message (soup_server_message_get_request_headers
      (msg), body);
  if (mp == NULL) {
    reply_files_error (msg, 400, "Request must be multipart/form-data");
    return;
  }
  n = soup_multipart_get_length (mp);
  for (i = 0; i < n; i++) {
    SoupMessageHeaders *ph;
    GBytes *pb;
    g_autoptr (GHashTable) params = NULL;
    const char *name;

    if (!soup_multipart_get_part (mp, i, &ph, &pb))
      continue;
    if (!soup_message_headers_get_content_disposition (ph, NULL, &params))
      continue;
    name = g_hash_table_lookup (params, "name");
    if (name == NULL)
      continue;
    if (g_str_equal (name, "file")) {
      const char *ct = soup_message_headers_get_content_type (ph, NULL);

      g_clear_pointer (&file_data, g_bytes_unref);
      file_data = g_bytes_ref (pb);
      g_free (original);
      original = g_strdup (g_hash_table_lookup (params, "filename"));
      g_free (part_mime);
      part_mime = g_strdup (ct);
    } else if (g_str_equal (name, "upload_path") ||
        g_str_equal (name, "uploadPath")) {
      g_free (upload_path);
      upload_path = g_strndup (g_bytes_get_data (pb, NULL),
          g_bytes_get_size (pb));
    } else if (g_str_equal (name, "file_name") ||
        g_str_equal (name, "fileName")) {
      g_free (file_name);
      file_name = g_strndup (g_bytes_get_data (pb, NULL),
          g_bytes_get_size (pb));
    }
  }
  soup_multipart_free (mp);

  if (file_data == NULL) {
    reply_files_error (msg, 400, "Missing required field: file");
    return;
  }
  if (g_bytes_get_size (file_data) == 0) {
    reply_files_error (msg, 400, "Uploaded file is empty");
    return;
  }
  store_and_reply (emu, msg, file_data, original, file_name, part_mime,
      upload_path);
}

/* POST /api/v1/files/upload/base64: {"base64_data": "data:...;base64,..."
 * or plain base64, "upload_path", "file_name"}; images only per the docs. */
static void
handle_upload_base64 (Emulator * emu, SoupServerMessage * msg)
{
  g_autoptr (GBytes) body = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GBytes) data = NULL;
  g_autofree char *mime = NULL;
  JsonObject *obj;
  const char *b64, *comma;
  guchar *raw;
  gsize len = 0;

  if (!check_auth (emu, msg))
    return;
  body = soup_message_body_flatten (soup_server_message_get_request_body
      (msg));
  if (!json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    reply_files_error (msg, 400, "Request body must be a JSON object");
    return;
  }
  obj = json_node_get_object (json_parser_get_root (parser));
  b64 = json_object_get_string_member_with_default (obj, "base64_data", NULL);
  if (b64 == NULL || *b64 == '\0') {
    reply_files_error (msg, 400, "Missing required field: base64_data");
    return;
  }
  if (g_str_has_prefix (b64, "data:") && (comma = strchr (b64, ','))) {
    const char *semi = strchr (b64, ';');

    if (semi && semi < comma)
      mime = g_strndup (b64 + 5, semi - (b64 + 5));
    b64 = comma + 1;
  }
  raw = g_base64_decode (b64, &len);
  if (len == 0) {
    g_free (raw);
    reply_files_error (msg, 400, "base64_data could not be decoded");
    return;
  }
  data = g_bytes_new_take (raw, len);
  store_and_reply (emu, msg, data, json_object_get_string_member_with_default
      (obj, "file_name", NULL), json_object_get_string_member_with_default
      (obj, "file_name", NULL), mime,
      json_object_get_string_member_with_default (obj, "upload_path", NULL));
}

static void
handle_file_get (Emulator * emu, SoupServerMessage * msg, const char *rest)
{
  g_auto (GStrv) parts = g_strsplit (rest, "/", 2);
  g_autoptr (GBytes) data = NULL;
  g_autofree char *mime = NULL;
  StoredFile *f;

  g_mutex_lock (&emu->lock);
  f = parts[0] ? g_hash_table_lookup (emu->files, parts[0]) : NULL;
  if (f) {
    data = g_bytes_ref (f->data);
    mime = g_strdup (f->mime);
  }
  g_mutex_unlock (&emu->lock);
  if (data == NULL) {
    reply_not_found (msg, "File not found\n");
    return;
  }
  reply_bytes (emu, msg, mime, data);
}

static void
handle_static (Emulator * emu, SoupServerMessage * msg, const char *rest)
{
  g_autofree char *name = g_uri_unescape_string (rest, NULL);
  g_autofree char *path = NULL;
  g_autofree char *ctype = NULL;
  g_autofree char *mime = NULL;
  g_autoptr (GMappedFile) map = NULL;
  g_autoptr (GBytes) bytes = NULL;

  if (emu->static_dir == NULL || name == NULL || *name == '\0' ||
      strchr (name, '/') || g_str_equal (name, "..")) {
    reply_not_found (msg, "Not found\n");
    return;
  }
  path = g_build_filename (emu->static_dir, name, NULL);
  /* mapped, not read: static files may be large videos */
  map = g_file_test (path, G_FILE_TEST_IS_REGULAR) ?
      g_mapped_file_new (path, FALSE, NULL) : NULL;
  if (map == NULL) {
    reply_not_found (msg, "Not found\n");
    return;
  }
  bytes = g_mapped_file_get_bytes (map);
  ctype = g_content_type_guess (name, g_bytes_get_data (bytes, NULL),
      MIN (g_bytes_get_size (bytes), 4096), NULL);
  mime = g_content_type_get_mime_type (ctype);
  reply_bytes (emu, msg, mime ? mime : "application/octet-stream", bytes);
}

static void
handle_stats (Emulator * emu, SoupServerMessage * msg)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  g_mutex_lock (&emu->lock);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "creates");
  json_builder_add_int_value (b, emu->creates);
  json_builder_set_member_name (b, "create_requests");
  json_builder_add_int_value (b, emu->create_requests);
  json_builder_set_member_name (b, "polls");
  json_builder_add_int_value (b, emu->polls);
  json_builder_set_member_name (b, "downloads");
  json_builder_add_int_value (b, emu->downloads);
  json_builder_set_member_name (b, "uploads");
  json_builder_add_int_value (b, emu->uploads);
  json_builder_set_member_name (b, "tasks");
  json_builder_add_int_value (b, g_hash_table_size (emu->tasks));
  json_builder_set_member_name (b, "files");
  json_builder_add_int_value (b, g_hash_table_size (emu->files));
  json_builder_set_member_name (b, "result_requests");
  json_builder_add_int_value (b, emu->result_requests);
  json_builder_set_member_name (b, "range_requests");
  json_builder_add_int_value (b, emu->range_requests);
  json_builder_set_member_name (b, "bytes_sent");
  json_builder_add_int_value (b, (gint64) emu->bytes_sent);
  json_builder_set_member_name (b, "credits_used");
  json_builder_add_int_value (b, emu->credits_used);
  json_builder_end_object (b);
  g_mutex_unlock (&emu->lock);
  reply_builder (msg, 200, b);
}

static void
add_credit_counts (JsonBuilder * b, gint64 remaining, gint64 used)
{
  json_builder_set_member_name (b, "remaining_credits");
  json_builder_add_int_value (b, remaining);
  json_builder_set_member_name (b, "used_credits");
  json_builder_add_int_value (b, used);
}

/* GET /v1/credits, shape from EvoLink's own client; the emulator has one
 * user with one token, so both report the same balance. */
static void
handle_credits (Emulator * emu, SoupServerMessage * msg)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  gint64 used;

  if (!check_auth (emu, msg))
    return;
  g_mutex_lock (&emu->lock);
  used = emu->credits_used;
  g_mutex_unlock (&emu->lock);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "success");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "data");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "user");
  json_builder_begin_object (b);
  add_credit_counts (b, emu->credits - used, used);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "token");
  json_builder_begin_object (b);
  add_credit_counts (b, emu->credits - used, used);
  json_builder_set_member_name (b, "unlimited_credits");
  json_builder_add_boolean_value (b, FALSE);
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  reply_builder (msg, 200, b);
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */

static void
handle_request (SoupServer * server, SoupServerMessage * msg,
    const char *path, GHashTable * query, gpointer user_data)
{
  Emulator *emu = user_data;
  const char *method = soup_server_message_get_method (msg);
  gboolean is_get = g_str_equal (method, "GET") || g_str_equal (method,
      "HEAD");
  gboolean is_post = g_str_equal (method, "POST");

  /* Real clients and proxies sometimes add a trailing slash */
  if (g_str_equal (path, "/v1/videos/generations") ||
      g_str_equal (path, "/v1/videos/generations/")) {
    if (is_post)
      handle_create (emu, msg);
    else
      soup_server_message_set_status (msg, 405, NULL);
  } else if (g_str_has_prefix (path, "/v1/tasks/")) {
    if (is_get)
      handle_task_query (emu, msg, path + strlen ("/v1/tasks/"));
    else
      soup_server_message_set_status (msg, 405, NULL);
  } else if (g_str_has_prefix (path, "/results/")) {
    if (is_get)
      handle_result (emu, msg, path + strlen ("/results/"), query);
    else
      soup_server_message_set_status (msg, 405, NULL);
  } else if (g_str_equal (path, "/api/v1/files/upload/stream")) {
    if (is_post)
      handle_upload_stream (emu, msg);
    else
      soup_server_message_set_status (msg, 405, NULL);
  } else if (g_str_equal (path, "/api/v1/files/upload/base64")) {
    if (is_post)
      handle_upload_base64 (emu, msg);
    else
      soup_server_message_set_status (msg, 405, NULL);
  } else if (g_str_has_prefix (path, "/files/") && is_get) {
    handle_file_get (emu, msg, path + strlen ("/files/"));
  } else if (g_str_has_prefix (path, "/static/") && is_get) {
    handle_static (emu, msg, path + strlen ("/static/"));
  } else if (g_str_equal (path, "/emulator/stats") && is_get) {
    handle_stats (emu, msg);
  } else if (g_str_equal (path, "/v1/credits")) {
    if (is_get)
      handle_credits (emu, msg);
    else
      soup_server_message_set_status (msg, 405, NULL);
  } else {
    reply_error (emu, msg, 404, "not_found", "Not found", NULL);
  }
}

/* ------------------------------------------------------------------ */
/* main                                                                */

static gboolean
on_signal (gpointer user_data)
{
  Emulator *emu = user_data;

  g_main_loop_quit (emu->loop);
  return G_SOURCE_REMOVE;
}

static void
remove_tmpdir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d) {
    while ((name = g_dir_read_name (d))) {
      g_autofree char *p = g_build_filename (dir, name, NULL);

      g_unlink (p);
    }
  }
  g_rmdir (dir);
}

/* Temp dirs are named klingo1-emulator-<pid>-XXXXXX.  Test harnesses often
 * SIGKILL the emulator, which leaves its dir behind; remove the dirs of
 * emulators that no longer run so repeated test runs don't pile up. */
static void
remove_stale_tmpdirs (void)
{
  const char *tmp = g_get_tmp_dir ();
  g_autoptr (GDir) d = g_dir_open (tmp, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d))) {
    g_autofree char *path = NULL;
    char *end = NULL;
    GStatBuf st;
    gint64 pid;

    if (!g_str_has_prefix (name, "klingo1-emulator-"))
      continue;
    pid = g_ascii_strtoll (name + strlen ("klingo1-emulator-"), &end, 10);
    if (pid <= 0 || end == NULL || *end != '-')
      continue;
    if (kill ((pid_t) pid, 0) == 0 || errno != ESRCH)
      continue;
    path = g_build_filename (tmp, name, NULL);
    if (g_lstat (path, &st) == 0 && S_ISDIR (st.st_mode) &&
        st.st_uid == getuid ())
      remove_tmpdir (path);
  }
}

int
main (int argc, char **argv)
{
  Emulator emu = { 0, };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) addr = NULL;
  g_autofree char *error_style = NULL;
  GSList *uris;
  gboolean busy;
  GOptionEntry entries[] = {
    {"port", 'p', 0, G_OPTION_ARG_INT, &emu.port,
        "TCP port on 127.0.0.1 (0 = any free port)", "N"},
    {"key", 'k', 0, G_OPTION_ARG_STRING, &emu.key,
        "Accepted Bearer API key (default sk-emulator)", "KEY"},
    {"task-seconds", 't', 0, G_OPTION_ARG_DOUBLE, &emu.task_seconds,
        "Seconds from create to completed (default 3)", "S"},
    {"link-ttl", 0, 0, G_OPTION_ARG_DOUBLE, &emu.link_ttl,
        "Seconds a result link stays valid (default 86400)", "S"},
    {"error-style", 0, 0, G_OPTION_ARG_STRING, &error_style,
        "error.code as HTTP status integer (int) or string code (string)",
        "int|string"},
    {"static-dir", 0, 0, G_OPTION_ARG_FILENAME, &emu.static_dir,
        "Directory served under /static/", "DIR"},
    {"result-file", 0, 0, G_OPTION_ARG_FILENAME, &emu.result_file,
        "Serve this file as every task's result (no rendering)", "PATH"},
    {"download-bps", 0, 0, G_OPTION_ARG_INT64, &emu.download_bps,
        "Throttle result and file bodies to N bytes/s per connection "
          "(default 0 = unthrottled)", "N"},
    {"estimate-factor", 0, 0, G_OPTION_ARG_DOUBLE, &emu.estimate_factor,
        "Report estimated_time as remaining seconds times F (default 1)",
        "F"},
    {"credits", 0, 0, G_OPTION_ARG_INT64, &emu.credits,
        "Initial credit balance (default 100000)", "N"},
    {"ignore-idempotency-key", 0, 0, G_OPTION_ARG_NONE,
          &emu.ignore_idempotency_key,
        "Ignore Idempotency-Key: a re-sent create makes another task", NULL},
    {NULL}
  };

  emu.task_seconds = 3;
  emu.link_ttl = 86400;
  emu.estimate_factor = 1.0;
  emu.credits = 100000;

  ctx = g_option_context_new ("- fake Kling O1 (EvoLink) API server");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("klingo1-emulator: %s\n", error->message);
    return 2;
  }
  if (emu.key == NULL)
    emu.key = g_strdup ("sk-emulator");
  if (error_style == NULL || g_str_equal (error_style, "int"))
    emu.string_errors = FALSE;
  else if (g_str_equal (error_style, "string"))
    emu.string_errors = TRUE;
  else {
    g_printerr ("klingo1-emulator: --error-style must be int or string\n");
    return 2;
  }
  if (emu.task_seconds < 0 || emu.link_ttl < 0 || emu.port < 0 ||
      emu.port > 65535 || emu.download_bps < 0 || emu.estimate_factor < 0 ||
      emu.credits < 0) {
    g_printerr ("klingo1-emulator: invalid --port/--task-seconds/"
        "--link-ttl/--download-bps/--estimate-factor/--credits\n");
    return 2;
  }
  if (emu.result_file) {
    emu.result_map = g_mapped_file_new (emu.result_file, FALSE, &error);
    if (emu.result_map == NULL) {
      g_printerr ("klingo1-emulator: --result-file: %s\n", error->message);
      return 2;
    }
    /* One mapping shared by every task and request: the pages are read
     * from disk as they are sent, never copied per request */
    emu.result_bytes = g_mapped_file_get_bytes (emu.result_map);
  }
  emu.zeros = g_bytes_new_take (g_malloc0 (64 * 1024), 64 * 1024);
  /* Writes to a client that went away must fail, not kill us */
  signal (SIGPIPE, SIG_IGN);

  remove_stale_tmpdirs ();
  {
    g_autofree char *tmpl = g_strdup_printf ("klingo1-emulator-%d-XXXXXX",
        (int) getpid ());

    emu.tmpdir = g_dir_make_tmp (tmpl, &error);
  }
  if (emu.tmpdir == NULL) {
    g_printerr ("klingo1-emulator: %s\n", error->message);
    return 1;
  }
  g_mutex_init (&emu.lock);
  emu.tasks = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) task_unref);
  emu.idempotency = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  emu.files = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) stored_file_free);
  emu.http_marker_hits = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, NULL);
  emu.lost_once = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  /* A few renders in parallel is plenty; more would just thrash x264 */
  emu.pool = g_thread_pool_new (render_task, &emu,
      CLAMP ((int) g_get_num_processors (), 2, 4), FALSE, NULL);

  emu.server = soup_server_new ("server-header", "klingo1-emulator ", NULL);
  soup_server_add_handler (emu.server, NULL, handle_request, &emu, NULL);
  addr = g_inet_socket_address_new_from_string ("127.0.0.1", emu.port);
  if (!soup_server_listen (emu.server, addr, 0, &error)) {
    g_printerr ("klingo1-emulator: cannot listen on 127.0.0.1:%d: %s\n",
        emu.port, error->message);
    remove_tmpdir (emu.tmpdir);
    return 1;
  }
  uris = soup_server_get_uris (emu.server);
  emu.port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  emu.base_url = g_strdup_printf ("http://127.0.0.1:%d", emu.port);

  /* Tests read this first line to find the server */
  printf ("%s\n", emu.base_url);
  fflush (stdout);

  emu.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_signal, &emu);
  g_unix_signal_add (SIGINT, on_signal, &emu);
  g_main_loop_run (emu.loop);

  soup_server_disconnect (emu.server);
  busy = g_thread_pool_get_num_threads (emu.pool) > 0;
  /* Drop queued renders and don't wait for running ones: they only touch
   * memory and temp files, and the process is about to exit. */
  g_thread_pool_free (emu.pool, TRUE, FALSE);
  remove_tmpdir (emu.tmpdir);
  if (busy) {
    /* Running exit handlers under a live GStreamer pipeline can crash;
     * tests expect a clean exit status, so skip them. */
    fflush (NULL);
    _exit (0);
  }
  /* Nothing runs any more: what main () owns goes, so that a leak checker
   * at exit reports only real leaks. */
  g_main_loop_unref (emu.loop);
  g_free (emu.base_url);
  g_free (emu.tmpdir);
  g_free (emu.key);
  g_free (emu.static_dir);
  g_free (emu.result_file);
  return 0;
}
