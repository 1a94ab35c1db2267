/* gst-klingo1: HTTP client tests against an in-process SoupServer
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The client is synchronous and blocks the test thread, so the servers run in
 * a thread of their own with its own GMainContext. Two servers give two
 * origins: "api" plays the generation, task and Files API; "cdn" plays the
 * host of result links, which must never see the key.
 */
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <libsoup/soup.h>
#include "request-private.h"
#include "task-private.h"
#include <gst/klingo1/client.h>
#include <gst/klingo1/error.h>
#include <gst/klingo1/request.h>

#include "client-private.h"

#define API_KEY "sk-evo-test-secret"

typedef struct
{
  guint status;
  gchar *body;
  gchar *retry_after;
  gboolean chunked;
} Scripted;

static struct
{
  GMutex lock;
  GCond cond;
  gboolean ready;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  gchar *api_base;
  gchar *cdn_base;

  /* API server: scripted answers and what it saw */
  GQueue script;
  guint requests;
  gchar *method;
  gchar *path;
  gchar *auth;
  gchar *idempotency_key;
  gchar *body;

  /* upload */
  gchar *upload_filename;
  gchar *upload_type;
  GBytes *upload_data;

  /* result files */
  GBytes *content;
  gboolean honour_range;
  guint content_requests;
  gboolean content_auth_seen;
  gboolean cdn_auth_seen;
  guint cdn_requests;
  gchar *content_range;
} srv;

static void
scripted_free (Scripted * s)
{
  g_free (s->body);
  g_free (s->retry_after);
  g_free (s);
}

static void
script (guint status, const gchar * body, const gchar * retry_after)
{
  Scripted *s = g_new0 (Scripted, 1);

  s->status = status;
  s->body = g_strdup (body);
  s->retry_after = g_strdup (retry_after);
  g_mutex_lock (&srv.lock);
  g_queue_push_tail (&srv.script, s);
  g_mutex_unlock (&srv.lock);
}

static guint
get_requests (void)
{
  guint n;

  g_mutex_lock (&srv.lock);
  n = srv.requests;
  g_mutex_unlock (&srv.lock);
  return n;
}

/* Drops the answers nobody asked for; returns how many there were. */
static guint
clear_script (void)
{
  guint n;

  g_mutex_lock (&srv.lock);
  n = g_queue_get_length (&srv.script);
  g_queue_clear_full (&srv.script, (GDestroyNotify) scripted_free);
  g_mutex_unlock (&srv.lock);
  return n;
}

static void
respond (SoupServerMessage * msg, guint status, const gchar * body,
    gsize len)
{
  soup_server_message_set_status (msg, status, NULL);
  if (body != NULL)
    soup_server_message_set_response (msg, "application/json",
        SOUP_MEMORY_COPY, body, len);
}

static void
serve_content (SoupServerMessage * msg, const gchar * path)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  const gchar *range = soup_message_headers_get_one (req, "Range");
  const gchar *data;
  gsize size;
  guint64 start;

  g_mutex_lock (&srv.lock);
  srv.content_requests++;
  if (soup_message_headers_get_one (req, "Authorization") != NULL)
    srv.content_auth_seen = TRUE;
  g_free (srv.content_range);
  srv.content_range = g_strdup (range);
  g_mutex_unlock (&srv.lock);

  if (g_str_has_suffix (path, "/expired.mp4")) {
    const gchar *body = "<html>Not Found</html>";

    soup_server_message_set_status (msg, 404, NULL);
    soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC,
        body, strlen (body));
    return;
  }

  data = g_bytes_get_data (srv.content, &size);
  if (srv.honour_range && range != NULL
      && g_str_has_prefix (range, "bytes=")) {
    g_autofree gchar *cr = NULL;

    start = g_ascii_strtoull (range + 6, NULL, 10);
    if (start >= size) {
      cr = g_strdup_printf ("bytes */%" G_GSIZE_FORMAT, size);
      soup_message_headers_replace (resp, "Content-Range", cr);
      soup_server_message_set_status (msg, 416, NULL);
      return;
    }
    cr = g_strdup_printf ("bytes %" G_GUINT64_FORMAT "-%" G_GSIZE_FORMAT
        "/%" G_GSIZE_FORMAT, start, size - 1, size);
    soup_message_headers_replace (resp, "Content-Range", cr);
    soup_server_message_set_status (msg, 206, NULL);
    soup_server_message_set_response (msg, "video/mp4", SOUP_MEMORY_COPY,
        data + start, size - start);
    return;
  }

  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "video/mp4", SOUP_MEMORY_COPY,
      data, size);
}

static void
record_upload (SoupServerMessage * msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  SoupMultipart *multipart;
  gint i;

  multipart = soup_multipart_new_from_message
      (soup_server_message_get_request_headers (msg), bytes);
  if (multipart == NULL)
    return;

  for (i = 0; i < soup_multipart_get_length (multipart); i++) {
    SoupMessageHeaders *headers;
    GBytes *part;
    g_autofree gchar *disposition = NULL;
    GHashTable *params = NULL;

    if (!soup_multipart_get_part (multipart, i, &headers, &part))
      continue;
    if (soup_message_headers_get_content_disposition (headers, &disposition,
            &params)) {
      if (g_strcmp0 (g_hash_table_lookup (params, "name"), "file") == 0) {
        g_free (srv.upload_filename);
        srv.upload_filename = g_strdup (g_hash_table_lookup (params,
                "filename"));
        g_free (srv.upload_type);
        srv.upload_type = g_strdup (soup_message_headers_get_content_type
            (headers, NULL));
        g_clear_pointer (&srv.upload_data, g_bytes_unref);
        srv.upload_data = g_bytes_ref (part);
      }
      g_hash_table_destroy (params);
    }
  }
  soup_multipart_free (multipart);
}

/* A response that sends one byte per second: headers first, then the body
 * (chunked, so that it never looks complete). Stops when the client goes. */
typedef struct
{
  SoupServerMessage *msg;
  GSource *source;
} Trickle;

static void
trickle_finished (SoupServerMessage * msg, Trickle * t)
{
  g_source_destroy (t->source);
  g_source_unref (t->source);
  g_free (t);
}

static gboolean
trickle_tick (gpointer data)
{
  Trickle *t = data;

  soup_message_body_append (soup_server_message_get_response_body (t->msg),
      SOUP_MEMORY_STATIC, " ", 1);
  soup_server_message_unpause (t->msg);
  return G_SOURCE_CONTINUE;
}

static void
trickle_body (SoupServerMessage * msg, const gchar * content_type)
{
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  Trickle *t = g_new0 (Trickle, 1);

  soup_server_message_set_status (msg, 200, NULL);
  soup_message_headers_set_encoding (resp, SOUP_ENCODING_CHUNKED);
  soup_message_headers_set_content_type (resp, content_type, NULL);
  soup_message_body_append (soup_server_message_get_response_body (msg),
      SOUP_MEMORY_STATIC, "{", 1);
  t->msg = msg;
  t->source = g_timeout_source_new (1000);
  g_source_set_callback (t->source, trickle_tick, t, NULL);
  g_source_attach (t->source, srv.context);
  g_signal_connect (msg, "finished", G_CALLBACK (trickle_finished), t);
}

/* Headers, the first byte of the body, then nothing, ever. */
static void
stall_body (SoupServerMessage * msg)
{
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);

  soup_server_message_set_status (msg, 200, NULL);
  soup_message_headers_set_encoding (resp, SOUP_ENCODING_CHUNKED);
  soup_message_body_append (soup_server_message_get_response_body (msg),
      SOUP_MEMORY_STATIC, "{", 1);
  soup_server_message_pause (msg);
}

static void
api_handler (SoupServer * server, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer user_data)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  Scripted *s;

  if (g_str_equal (path, "/files/trickle.mp4")) {
    trickle_body (msg, "video/mp4");
    return;
  }
  if (g_str_equal (path, "/files/redirect.mp4")) {
    g_autofree gchar *to = g_strconcat (srv.cdn_base, "/files/v.mp4", NULL);

    /* the API hands out a link on another host */
    soup_server_message_set_redirect (msg, 302, to);
    return;
  }
  if (g_str_has_prefix (path, "/files/")) {
    serve_content (msg, path);
    return;
  }

  g_mutex_lock (&srv.lock);
  srv.requests++;
  g_free (srv.method);
  srv.method = g_strdup (soup_server_message_get_method (msg));
  g_free (srv.path);
  srv.path = g_strdup (path);
  g_free (srv.auth);
  srv.auth = g_strdup (soup_message_headers_get_one (req, "Authorization"));
  g_free (srv.idempotency_key);
  srv.idempotency_key = g_strdup (soup_message_headers_get_one (req,
          "Idempotency-Key"));
  g_free (srv.body);
  srv.body = g_strndup (body->data, body->length);
  if (g_str_equal (path, "/api/v1/files/upload/stream"))
    record_upload (msg);
  if (g_str_equal (path, "/v1/tasks/trickle-body")) {
    g_mutex_unlock (&srv.lock);
    trickle_body (msg, "application/json");
    return;
  }
  if (g_str_equal (path, "/v1/tasks/stall-once") && srv.requests == 1) {
    g_mutex_unlock (&srv.lock);
    stall_body (msg);
    return;
  }
  s = g_queue_pop_head (&srv.script);
  g_mutex_unlock (&srv.lock);

  if (s == NULL) {
    if (g_str_equal (path, "/api/v1/files/upload/stream")) {
      const gchar *ok = "{\"success\":true,\"code\":200,\"msg\":\"File "
          "uploaded successfully\",\"data\":{\"file_id\":\"file_abc123\","
          "\"file_url\":\"https://files.example.com/a/frame.png\","
          "\"expires_at\":\"2025-10-12T00:00:00+08:00\"}}";
      respond (msg, 200, ok, strlen (ok));
    } else {
      const gchar *err = "{\"error\":{\"code\":\"unscripted\","
          "\"message\":\"no scripted answer\",\"type\":\"test\"}}";
      respond (msg, 500, err, strlen (err));
    }
    return;
  }

  if (s->retry_after)
    soup_message_headers_replace (soup_server_message_get_response_headers
        (msg), "Retry-After", s->retry_after);
  if (s->chunked)
    soup_message_headers_set_encoding (soup_server_message_get_response_headers
        (msg), SOUP_ENCODING_CHUNKED);
  respond (msg, s->status, s->body, s->body ? strlen (s->body) : 0);
  scripted_free (s);
}

static void
cdn_handler (SoupServer * server, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer user_data)
{
  g_mutex_lock (&srv.lock);
  srv.cdn_requests++;
  if (soup_message_headers_get_one (soup_server_message_get_request_headers
          (msg), "Authorization") != NULL)
    srv.cdn_auth_seen = TRUE;
  g_mutex_unlock (&srv.lock);

  if (g_str_equal (path, "/files/trickle.mp4"))
    trickle_body (msg, "video/mp4");
  else
    serve_content (msg, path);
}

static gchar *
listen_on (SoupServer * server)
{
  g_autoptr (GError) error = NULL;
  GSList *uris;
  gchar *base;

  fail_unless (soup_server_listen_local (server, 0,
          SOUP_SERVER_LISTEN_IPV4_ONLY, &error), "%s",
      error ? error->message : "");
  uris = soup_server_get_uris (server);
  base = g_strdup_printf ("http://127.0.0.1:%d",
      g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return base;
}

static gpointer
server_thread (gpointer data)
{
  SoupServer *api, *cdn;

  g_main_context_push_thread_default (srv.context);

  api = soup_server_new (NULL, NULL);
  soup_server_add_handler (api, NULL, api_handler, NULL, NULL);
  cdn = soup_server_new (NULL, NULL);
  soup_server_add_handler (cdn, NULL, cdn_handler, NULL, NULL);

  g_mutex_lock (&srv.lock);
  srv.api_base = listen_on (api);
  srv.cdn_base = listen_on (cdn);
  srv.ready = TRUE;
  g_cond_signal (&srv.cond);
  g_mutex_unlock (&srv.lock);

  g_main_loop_run (srv.loop);

  g_object_unref (api);
  g_object_unref (cdn);
  g_main_context_pop_thread_default (srv.context);
  return NULL;
}

static void
setup (void)
{
  GByteArray *content = g_byte_array_new ();
  guint i;

  g_mutex_init (&srv.lock);
  g_cond_init (&srv.cond);
  g_queue_init (&srv.script);
  srv.context = g_main_context_new ();
  srv.loop = g_main_loop_new (srv.context, FALSE);
  srv.honour_range = TRUE;

  /* 300 KiB + a bit: several 64 KiB chunks, not a multiple of them */
  for (i = 0; i < 300 * 1024 + 123; i++) {
    guint8 b = (guint8) (i * 7 + i / 251);

    g_byte_array_append (content, &b, 1);
  }
  srv.content = g_byte_array_free_to_bytes (content);

  srv.thread = g_thread_new ("servers", server_thread, NULL);
  g_mutex_lock (&srv.lock);
  while (!srv.ready)
    g_cond_wait (&srv.cond, &srv.lock);
  g_mutex_unlock (&srv.lock);
}

static gboolean
quit_server (gpointer data)
{
  g_main_loop_quit (srv.loop);
  return G_SOURCE_REMOVE;
}

static void
teardown (void)
{
  /* from within the loop: a quit before the server thread reached
   * g_main_loop_run() would be lost and the join would wait for ever */
  g_main_context_invoke (srv.context, quit_server, NULL);
  g_thread_join (srv.thread);
  g_main_loop_unref (srv.loop);
  g_main_context_unref (srv.context);
  g_queue_clear_full (&srv.script, (GDestroyNotify) scripted_free);
  g_clear_pointer (&srv.api_base, g_free);
  g_clear_pointer (&srv.cdn_base, g_free);
  g_clear_pointer (&srv.method, g_free);
  g_clear_pointer (&srv.path, g_free);
  g_clear_pointer (&srv.auth, g_free);
  g_clear_pointer (&srv.idempotency_key, g_free);
  g_clear_pointer (&srv.body, g_free);
  g_clear_pointer (&srv.upload_filename, g_free);
  g_clear_pointer (&srv.upload_type, g_free);
  g_clear_pointer (&srv.upload_data, g_bytes_unref);
  g_clear_pointer (&srv.content, g_bytes_unref);
  g_clear_pointer (&srv.content_range, g_free);
  srv.requests = srv.content_requests = srv.cdn_requests = 0;
  srv.content_auth_seen = srv.cdn_auth_seen = srv.ready = FALSE;
}

static GstKlingo1Client *
new_client (guint retries)
{
  GstKlingo1Client *client;

  client = gst_klingo1_client_new (srv.api_base, API_KEY, srv.api_base);
  gst_klingo1_client_set_max_retries (client, retries);
  gst_klingo1_client_set_io_timeout (client, 10);
  return client;
}

static const gchar *create_ok =
    "{\"created\":1757169743,\"id\":\"task-unified-1757169743-7cvnl5zw\","
    "\"model\":\"kling-o1-image-to-video\",\"object\":"
    "\"video.generation.task\",\"progress\":0,\"status\":\"pending\","
    "\"task_info\":{\"can_cancel\":true,\"estimated_time\":300,"
    "\"video_duration\":9},\"type\":\"video\",\"usage\":{\"billing_rule\":"
    "\"per_call\",\"credits_reserved\":7,\"user_group\":\"default\"}}";

static const gchar *processing_ok =
    "{\"created\":1757169743,\"id\":\"task-unified-1757169743-7cvnl5zw\","
    "\"model\":\"kling-o1-image-to-video\",\"object\":"
    "\"video.generation.task\",\"progress\":42,\"status\":\"processing\","
    "\"task_info\":{\"can_cancel\":false},\"type\":\"video\"}";

static const gchar *create_body =
    "{\"model\":\"kling-o1-image-to-video\",\"prompt\":\"a cat\"}";

GST_START_TEST (test_create_and_get)
{
  g_autoptr (GstKlingo1Client) client = NULL;
  g_autoptr (GstKlingo1Task) task = NULL;
  g_autoptr (GstKlingo1Task) polled = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *base = g_strconcat (srv.api_base, "/", NULL);

  /* a trailing slash on the base URL is trimmed */
  client = gst_klingo1_client_new (base, API_KEY, NULL);

  script (200, create_ok, NULL);
  task = gst_klingo1_client_create_task (client, create_body, "idem-123",
      NULL, &error);
  g_assert_no_error (error);
  fail_unless_equals_string (task->id, "task-unified-1757169743-7cvnl5zw");
  fail_unless_equals_int (task->status, GST_KLINGO1_TASK_STATUS_PENDING);
  fail_unless_equals_string (srv.method, "POST");
  fail_unless_equals_string (srv.path, "/v1/videos/generations");
  fail_unless_equals_string (srv.auth, "Bearer " API_KEY);
  fail_unless_equals_string (srv.idempotency_key, "idem-123");
  fail_unless_equals_string (srv.body, create_body);

  script (200, processing_ok, NULL);
  polled = gst_klingo1_client_get_task (client, task->id, NULL, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (polled->status, GST_KLINGO1_TASK_STATUS_PROCESSING);
  fail_unless_equals_int (polled->progress, 42);
  fail_unless_equals_string (srv.method, "GET");
  fail_unless_equals_string (srv.path,
      "/v1/tasks/task-unified-1757169743-7cvnl5zw");
  fail_unless_equals_string (srv.auth, "Bearer " API_KEY);
  fail_unless (srv.idempotency_key == NULL);
  fail_unless_equals_int (get_requests (), 2);
}

GST_END_TEST;

typedef struct
{
  guint status;
  const gchar *body;
  const gchar *retry_after;
  GstKlingo1ErrorCode code;
  const gchar *api_code;
  const gchar *api_message;
  guint retry_after_value;
} ErrorCase;

static const ErrorCase error_cases[] = {
  {401, "{\"error\":{\"code\":401,\"message\":\"Invalid or expired token\","
        "\"type\":\"authentication_error\"}}", NULL,
      GST_KLINGO1_ERROR_AUTH, "401", "Invalid or expired token", 0},
  {401, "{\"error\":{\"code\":\"unauthorized\",\"message\":\"Invalid or "
        "expired token\",\"type\":\"authentication_error\"}}", NULL,
      GST_KLINGO1_ERROR_AUTH, "unauthorized", "Invalid or expired token", 0},
  {403, "{\"error\":{\"code\":\"permission_denied\",\"message\":\"Access "
        "denied\",\"type\":\"invalid_request_error\"}}", NULL,
      GST_KLINGO1_ERROR_AUTH, "permission_denied", "Access denied", 0},
  {402, "{\"error\":{\"code\":\"quota_exceeded\",\"message\":\"Insufficient "
        "quota\",\"type\":\"insufficient_quota\"}}", NULL,
      GST_KLINGO1_ERROR_QUOTA, "quota_exceeded", "Insufficient quota", 0},
  {404, "{\"error\":{\"code\":404,\"message\":\"Task not found or expired\","
        "\"type\":\"not_found_error\",\"param\":\"task_id\"}}", NULL,
      GST_KLINGO1_ERROR_NOT_FOUND, "404", "Task not found or expired", 0},
  {404, "{\"error\":{\"code\":\"task_not_found\",\"message\":\"Task not "
        "found\",\"type\":\"invalid_request_error\"}}", NULL,
      GST_KLINGO1_ERROR_NOT_FOUND, "task_not_found", "Task not found", 0},
  {429, "{\"error\":{\"code\":429,\"message\":\"Rate limit exceeded\","
        "\"type\":\"rate_limit_error\",\"fallback_suggestion\":\"retry after "
        "60 seconds\"}}", "1",
      GST_KLINGO1_ERROR_RATE_LIMITED, "429", "Rate limit exceeded", 1},
  {429, "{\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"Rate "
        "limit exceeded\",\"type\":\"evo_api_error\"}}", "0",
      GST_KLINGO1_ERROR_RATE_LIMITED, "rate_limit_exceeded",
      "Rate limit exceeded", 0},
  {500, "{\"error\":{\"code\":\"internal_error\",\"message\":\"Internal "
        "error\",\"type\":\"api_error\"}}", NULL,
      GST_KLINGO1_ERROR_SERVER, "internal_error", "Internal error", 0},
  {503, "{\"error\":{\"code\":503,\"message\":\"Service unavailable\","
        "\"type\":\"service_unavailable_error\"}}", NULL,
      GST_KLINGO1_ERROR_SERVER, "503", "Service unavailable", 0},
  {400, "{\"error\":{\"code\":\"invalid_task_id\",\"message\":\"Invalid "
        "task ID format\",\"type\":\"invalid_request_error\"}}", NULL,
      GST_KLINGO1_ERROR_HTTP, "invalid_task_id", "Invalid task ID format", 0},
};

GST_START_TEST (test_http_errors)
{
  g_autoptr (GstKlingo1Client) client = new_client (0);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (error_cases); i++) {
    const ErrorCase *c = &error_cases[i];
    g_autoptr (GError) error = NULL;
    GstKlingo1Task *task;

    script (c->status, c->body, c->retry_after);
    task = gst_klingo1_client_get_task (client, "task-unified-1-x", NULL,
        &error);
    fail_unless (task == NULL);
    fail_unless (g_error_matches (error, GST_KLINGO1_ERROR, c->code),
        "case %u: %s", i, error ? error->message : "no error");
    fail_unless_equals_int (gst_klingo1_error_get_http_status (error),
        c->status);
    fail_unless_equals_string (gst_klingo1_error_get_api_code (error),
        c->api_code);
    fail_unless_equals_string (gst_klingo1_error_get_api_message (error),
        c->api_message);
    fail_unless (strstr (error->message, c->api_message) != NULL, "%s",
        error->message);
    fail_unless (strstr (error->message, c->api_code) != NULL, "%s",
        error->message);
    fail_unless (strstr (error->message, "/v1/tasks/task-unified-1-x")
        != NULL, "%s", error->message);
    fail_unless (strstr (error->message, API_KEY) == NULL);
    fail_unless_equals_int (gst_klingo1_error_get_retry_after (error),
        c->retry_after_value);
  }
  fail_unless_equals_int (get_requests (), G_N_ELEMENTS (error_cases));
}

GST_END_TEST;

GST_START_TEST (test_error_message_format)
{
  g_autoptr (GstKlingo1Client) client = new_client (0);
  g_autoptr (GError) error = NULL;

  script (402, "{\"error\":{\"code\":402,\"message\":\"Insufficient quota\","
      "\"type\":\"insufficient_quota_error\",\"fallback_suggestion\":"
      "\"https://evolink.ai/dashboard/billing\"}}", NULL);
  fail_unless (gst_klingo1_client_create_task (client, create_body, NULL,
          NULL, &error) == NULL);
  fail_unless_equals_string (error->message,
      "HTTP 402 from POST /v1/videos/generations: Insufficient quota "
      "(code 402, insufficient_quota_error)");
  fail_unless_equals_string (gst_klingo1_error_get_api_type (error),
      "insufficient_quota_error");
  g_clear_error (&error);

  /* a body that is no API error still gives the status */
  script (502, "<html>Bad Gateway</html>", NULL);
  fail_unless (gst_klingo1_client_get_task (client, "task-unified-2", NULL,
          &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_SERVER));
  fail_unless (g_str_has_prefix (error->message,
          "HTTP 502 from GET /v1/tasks/task-unified-2"), "%s",
      error->message);
  fail_unless_equals_int (gst_klingo1_error_get_http_status (error), 502);
}

GST_END_TEST;

GST_START_TEST (test_get_retries)
{
  g_autoptr (GstKlingo1Client) client = new_client (4);
  g_autoptr (GstKlingo1Task) task = NULL;
  g_autoptr (GstKlingo1Task) task2 = NULL;
  g_autoptr (GError) error = NULL;

  script (429, "{\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":"
      "\"Rate limit exceeded\",\"type\":\"rate_limit_error\"}}", "0");
  script (200, processing_ok, NULL);
  task = gst_klingo1_client_get_task (client, "task-unified-1", NULL, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (task->progress, 42);
  fail_unless_equals_int (get_requests (), 2);

  script (503, "{\"error\":{\"code\":503,\"message\":\"busy\"}}", "0");
  script (502, "{\"error\":{\"code\":502,\"message\":\"upstream\"}}", "0");
  script (200, processing_ok, NULL);
  task2 = gst_klingo1_client_get_task (client, "task-unified-1", NULL,
      &error);
  g_assert_no_error (error);
  fail_unless_equals_int (get_requests (), 5);
}

GST_END_TEST;

GST_START_TEST (test_get_retries_exhausted)
{
  g_autoptr (GstKlingo1Client) client = new_client (2);
  g_autoptr (GError) error = NULL;

  script (429, "{\"error\":{\"code\":429,\"message\":\"slow down\"}}", "0");
  script (429, "{\"error\":{\"code\":429,\"message\":\"slow down\"}}", "0");
  script (429, "{\"error\":{\"code\":429,\"message\":\"slow down\"}}", "0");
  script (200, processing_ok, NULL);
  fail_unless (gst_klingo1_client_get_task (client, "task-unified-1", NULL,
          &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_RATE_LIMITED));
  /* the first try and two retries */
  fail_unless_equals_int (get_requests (), 3);
  fail_unless_equals_int (clear_script (), 1);
}

GST_END_TEST;

GST_START_TEST (test_create_not_retried_on_5xx)
{
  g_autoptr (GstKlingo1Client) client = new_client (4);
  g_autoptr (GError) error = NULL;

  script (500, "{\"error\":{\"code\":\"internal_error\",\"message\":"
      "\"Internal error\",\"type\":\"api_error\"}}", "0");
  script (200, create_ok, NULL);
  fail_unless (gst_klingo1_client_create_task (client, create_body, NULL,
          NULL, &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_SERVER));
  fail_unless_equals_int (get_requests (), 1);
  fail_unless_equals_int (clear_script (), 1);
  g_clear_error (&error);

  script (503, "{\"error\":{\"code\":503,\"message\":\"busy\"}}", "0");
  script (200, create_ok, NULL);
  fail_unless (gst_klingo1_client_create_task (client, create_body, NULL,
          NULL, &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_SERVER));
  fail_unless_equals_int (get_requests (), 2);
  fail_unless_equals_int (clear_script (), 1);
}

GST_END_TEST;

GST_START_TEST (test_create_retried_on_429)
{
  g_autoptr (GstKlingo1Client) client = new_client (4);
  g_autoptr (GstKlingo1Task) task = NULL;
  g_autoptr (GError) error = NULL;

  script (429, "{\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":"
      "\"Rate limit exceeded\",\"type\":\"rate_limit_error\"}}", "0");
  script (200, create_ok, NULL);
  task = gst_klingo1_client_create_task (client, create_body, "k", NULL,
      &error);
  g_assert_no_error (error);
  fail_unless_equals_string (task->id, "task-unified-1757169743-7cvnl5zw");
  fail_unless_equals_int (get_requests (), 2);
  fail_unless_equals_string (srv.idempotency_key, "k");
}

GST_END_TEST;

static guint16
unused_port (void)
{
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback
      (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  fail_unless (g_socket_bind (sock, addr, FALSE, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

GST_START_TEST (test_create_connection_refused)
{
  g_autoptr (GstKlingo1Client) client = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u",
      unused_port ());
  gint64 start;

  client = gst_klingo1_client_new (url, API_KEY, NULL);
  gst_klingo1_client_set_max_retries (client, 1);

  start = g_get_monotonic_time ();
  fail_unless (gst_klingo1_client_create_task (client, create_body, NULL,
          NULL, &error) == NULL);
  /* one retry after the 1 s backoff */
  fail_unless (g_get_monotonic_time () - start >= 900 * G_TIME_SPAN_MILLISECOND);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_HTTP), "%s", error->message);
  fail_unless_equals_int (gst_klingo1_error_get_http_status (error), 0);
  fail_unless (strstr (error->message, API_KEY) == NULL);
  fail_unless_equals_int (get_requests (), 0);
}

GST_END_TEST;

GST_START_TEST (test_oversize_response)
{
  g_autoptr (GstKlingo1Client) client = new_client (0);
  g_autoptr (GError) error = NULL;
  gsize size = GST_KLINGO1_MAX_RESPONSE_BYTES + 100;
  g_autofree gchar *big = g_malloc (size + 1);
  Scripted *s;

  memset (big, ' ', size);
  big[0] = '{';
  big[size - 1] = '}';
  big[size] = '\0';

  /* announced by Content-Length */
  script (200, big, NULL);
  fail_unless (gst_klingo1_client_get_task (client, "task-unified-1", NULL,
          &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_PROTOCOL));
  fail_unless (strstr (error->message, "exceeds") != NULL, "%s",
      error->message);
  g_clear_error (&error);

  /* chunked: found while reading */
  s = g_new0 (Scripted, 1);
  s->status = 200;
  s->body = g_strdup (big);
  s->chunked = TRUE;
  g_mutex_lock (&srv.lock);
  g_queue_push_tail (&srv.script, s);
  g_mutex_unlock (&srv.lock);
  fail_unless (gst_klingo1_client_get_task (client, "task-unified-1", NULL,
          &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_PROTOCOL));
  fail_unless (strstr (error->message, "exceeds") != NULL, "%s",
      error->message);
}

GST_END_TEST;

static void
on_progress (guint64 received, guint64 total, gpointer user_data)
{
  guint64 *last = user_data;

  fail_unless (received >= last[0]);
  last[0] = received;
  last[1] = total;
}

static gchar *
make_tmp_dir (void)
{
  g_autoptr (GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("klingo1-client-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
assert_file_is_content (const gchar * path)
{
  g_autofree gchar *data = NULL;
  gsize len;

  fail_unless (g_file_get_contents (path, &data, &len, NULL));
  fail_unless_equals_int (len, g_bytes_get_size (srv.content));
  fail_unless (memcmp (data, g_bytes_get_data (srv.content, NULL), len) == 0);
}

static void
prefill_half (const gchar * path)
{
  gsize size = g_bytes_get_size (srv.content);

  fail_unless (g_file_set_contents (path, g_bytes_get_data (srv.content,
              NULL), size / 2, NULL));
}

GST_START_TEST (test_download_resume)
{
  g_autoptr (GstKlingo1Client) client = new_client (0);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = make_tmp_dir ();
  g_autofree gchar *path = g_build_filename (dir, "clip.mp4", NULL);
  g_autofree gchar *url = g_strconcat (srv.cdn_base, "/r/video.mp4", NULL);
  g_autofree gchar *expect_range = NULL;
  gsize size = g_bytes_get_size (srv.content);
  guint64 last[2] = { 0, 0 };

  /* fresh download */
  fail_unless (gst_klingo1_client_download (client, url, path, on_progress,
          last, NULL, &error));
  g_assert_no_error (error);
  assert_file_is_content (path);
  fail_unless (srv.content_range == NULL);
  fail_unless_equals_uint64 (last[0], size);
  fail_unless_equals_uint64 (last[1], size);

  /* resumed: the server honours Range */
  prefill_half (path);
  last[0] = last[1] = 0;
  fail_unless (gst_klingo1_client_download (client, url, path, on_progress,
          last, NULL, &error));
  g_assert_no_error (error);
  assert_file_is_content (path);
  expect_range = g_strdup_printf ("bytes=%" G_GSIZE_FORMAT "-", size / 2);
  fail_unless_equals_string (srv.content_range, expect_range);
  fail_unless_equals_uint64 (last[0], size);
  fail_unless_equals_uint64 (last[1], size);

  /* already complete: 416 with the matching total */
  fail_unless (gst_klingo1_client_download (client, url, path, NULL, NULL,
          NULL, &error));
  g_assert_no_error (error);
  assert_file_is_content (path);

  /* a stale longer file: 416 with another total restarts */
  fail_unless (g_file_set_contents (path, "x", 1, NULL));
  {
    g_autofree gchar *longer = g_malloc0 (size + 10);

    fail_unless (g_file_set_contents (path, longer, size + 10, NULL));
  }
  fail_unless (gst_klingo1_client_download (client, url, path, NULL, NULL,
          NULL, &error));
  g_assert_no_error (error);
  assert_file_is_content (path);

  /* the server ignores Range: the file is rewritten from the start */
  srv.honour_range = FALSE;
  prefill_half (path);
  fail_unless (gst_klingo1_client_download (client, url, path, NULL, NULL,
          NULL, &error));
  g_assert_no_error (error);
  assert_file_is_content (path);
  fail_unless_equals_string (srv.content_range, expect_range);

  fail_unless (!srv.content_auth_seen);
  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;

GST_START_TEST (test_download_expired)
{
  g_autoptr (GstKlingo1Client) client = new_client (2);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = make_tmp_dir ();
  g_autofree gchar *path = g_build_filename (dir, "clip.mp4", NULL);
  g_autofree gchar *url = g_strconcat (srv.cdn_base, "/r/expired.mp4", NULL);

  fail_if (gst_klingo1_client_download (client, url, path, NULL, NULL, NULL,
          &error));
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_EXPIRED), "%s", error->message);
  fail_unless_equals_int (gst_klingo1_error_get_http_status (error), 404);
  /* not retried */
  fail_unless_equals_int (srv.content_requests, 1);
  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;

GST_START_TEST (test_auth_only_to_api_origin)
{
  g_autoptr (GstKlingo1Client) client = new_client (0);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = make_tmp_dir ();
  g_autofree gchar *path = g_build_filename (dir, "clip.mp4", NULL);
  g_autofree gchar *cdn_url = g_strconcat (srv.cdn_base, "/files/v.mp4",
      NULL);
  g_autofree gchar *api_url = g_strconcat (srv.api_base, "/files/v.mp4",
      NULL);

  /* another origin (same host, another port): no key */
  fail_unless (gst_klingo1_client_download (client, cdn_url, path, NULL,
          NULL, NULL, &error));
  g_assert_no_error (error);
  fail_unless (!srv.content_auth_seen);

  /* the API's origin: the key */
  g_unlink (path);
  fail_unless (gst_klingo1_client_download (client, api_url, path, NULL,
          NULL, NULL, &error));
  g_assert_no_error (error);
  fail_unless (srv.content_auth_seen);
  assert_file_is_content (path);

  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;


GST_START_TEST (test_auth_not_across_redirect)
{
  g_autoptr (GstKlingo1Client) client = new_client (0);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = make_tmp_dir ();
  g_autofree gchar *path = g_build_filename (dir, "clip.mp4", NULL);
  g_autofree gchar *url = g_strconcat (srv.api_base, "/files/redirect.mp4",
      NULL);

  /* the first hop has the API's origin, the second not: the key is added
   * and removed per hop */
  fail_unless (gst_klingo1_client_download (client, url, path, NULL, NULL,
          NULL, &error));
  g_assert_no_error (error);
  assert_file_is_content (path);
  fail_unless_equals_int (srv.cdn_requests, 1);
  fail_unless (!srv.cdn_auth_seen);

  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;

GST_START_TEST (test_upload)
{
  g_autoptr (GstKlingo1Client) client = new_client (0);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDateTime) expires = NULL;
  g_autoptr (GDateTime) expected = NULL;
  g_autofree gchar *dir = make_tmp_dir ();
  g_autofree gchar *path = g_build_filename (dir, "frame.png", NULL);
  g_autofree gchar *url = NULL;
  static const guint8 png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
    0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 1, 0, 0, 0, 1, 0, 8, 2, 0, 0, 0,
    1, 2, 3, 4, 0xff, 0xfe, 0
  };

  fail_unless (g_file_set_contents (path, (const gchar *) png, sizeof (png),
          NULL));

  url = gst_klingo1_client_upload_file (client, path, &expires, NULL,
      &error);
  g_assert_no_error (error);
  fail_unless_equals_string (url, "https://files.example.com/a/frame.png");
  expected = g_date_time_new_from_iso8601 ("2025-10-12T00:00:00+08:00",
      NULL);
  fail_unless (g_date_time_equal (expires, expected));

  fail_unless_equals_string (srv.method, "POST");
  fail_unless_equals_string (srv.path, "/api/v1/files/upload/stream");
  fail_unless_equals_string (srv.auth, "Bearer " API_KEY);
  fail_unless_equals_string (srv.upload_filename, "frame.png");
  fail_unless_equals_string (srv.upload_type, "image/png");
  fail_unless (srv.upload_data != NULL);
  fail_unless_equals_int (g_bytes_get_size (srv.upload_data), sizeof (png));
  fail_unless (memcmp (g_bytes_get_data (srv.upload_data, NULL), png,
          sizeof (png)) == 0);
  g_clear_pointer (&url, g_free);
  g_clear_pointer (&expires, g_date_time_unref);

  /* no expires_at: now + 72 h */
  script (200, "{\"success\":true,\"data\":{\"file_url\":\"https://f/x\"}}",
      NULL);
  url = gst_klingo1_client_upload_file (client, path, &expires, NULL,
      &error);
  g_assert_no_error (error);
  {
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
    GTimeSpan left = g_date_time_difference (expires, now);

    fail_unless (left > 71 * G_TIME_SPAN_HOUR && left <= 72 * G_TIME_SPAN_HOUR);
  }
  g_clear_pointer (&url, g_free);

  /* refused with HTTP 200 */
  script (200, "{\"success\":false,\"code\":403,\"msg\":\"File quota "
      "exceeded\"}", NULL);
  url = gst_klingo1_client_upload_file (client, path, NULL, NULL, &error);
  fail_unless (url == NULL);
  fail_unless (error != NULL && error->domain == GST_KLINGO1_ERROR);
  fail_unless (strstr (error->message, "File quota exceeded") != NULL, "%s",
      error->message);
  fail_unless_equals_string (gst_klingo1_error_get_api_code (error), "403");
  g_clear_error (&error);

  /* refused with an HTTP status */
  script (413, "{\"success\":false,\"code\":413,\"msg\":\"File too large\"}",
      NULL);
  url = gst_klingo1_client_upload_file (client, path, NULL, NULL, &error);
  fail_unless (url == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_HTTP));
  fail_unless_equals_int (gst_klingo1_error_get_http_status (error), 413);
  fail_unless_equals_string (gst_klingo1_error_get_api_message (error),
      "File too large");
  g_clear_error (&error);

  /* a missing file */
  g_unlink (path);
  url = gst_klingo1_client_upload_file (client, path, NULL, NULL, &error);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_IO));
  g_rmdir (dir);
}

GST_END_TEST;

typedef struct
{
  GCancellable *cancellable;
  guint delay_ms;
  gint64 cancelled_at;
} CancelLater;

static gpointer
cancel_later (gpointer data)
{
  CancelLater *cl = data;

  g_usleep (cl->delay_ms * 1000);
  cl->cancelled_at = g_get_monotonic_time ();
  g_cancellable_cancel (cl->cancellable);
  return NULL;
}

GST_START_TEST (test_sleep_cancel)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  CancelLater cl = { cancellable, 100, 0 };
  GThread *thread;
  gint64 start = g_get_monotonic_time ();

  /* a short sleep without cancellation just sleeps */
  fail_unless (gst_klingo1_sleep (0.05, cancellable, &error));
  fail_unless (g_get_monotonic_time () - start >= 45 * G_TIME_SPAN_MILLISECOND);

  thread = g_thread_new ("cancel", cancel_later, &cl);
  fail_if (gst_klingo1_sleep (10, cancellable, &error));
  fail_unless (g_get_monotonic_time () - cl.cancelled_at <
      200 * G_TIME_SPAN_MILLISECOND);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_thread_join (thread);
  g_clear_error (&error);

  /* already cancelled: at once */
  fail_if (gst_klingo1_sleep (10, cancellable, &error));
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
}

GST_END_TEST;

/* A server that accepts connections (the kernel does, from the backlog) and
 * never answers. */
static GSocket *
stalling_server (gchar ** base)
{
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback
      (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  GSocket *sock;

  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  fail_unless (g_socket_bind (sock, addr, TRUE, NULL));
  fail_unless (g_socket_listen (sock, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  *base = g_strdup_printf ("http://127.0.0.1:%u",
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  return sock;
}

GST_START_TEST (test_cancel_stalled_get)
{
  g_autofree gchar *base = NULL;
  g_autoptr (GSocket) sock = stalling_server (&base);
  g_autoptr (GstKlingo1Client) client = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  CancelLater cl = { cancellable, 200, 0 };
  GThread *thread;

  client = gst_klingo1_client_new (base, API_KEY, NULL);
  /* retries would not help: cancellation must win anyway */
  gst_klingo1_client_set_max_retries (client, 4);

  thread = g_thread_new ("cancel", cancel_later, &cl);
  fail_unless (gst_klingo1_client_get_task (client, "task-unified-1",
          cancellable, &error) == NULL);
  fail_unless (g_get_monotonic_time () - cl.cancelled_at <
      500 * G_TIME_SPAN_MILLISECOND);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED),
      "%s", error->message);
  g_thread_join (thread);
}

GST_END_TEST;

GST_START_TEST (test_io_timeout)
{
  g_autofree gchar *base = NULL;
  g_autoptr (GSocket) sock = stalling_server (&base);
  g_autoptr (GstKlingo1Client) client = NULL;
  g_autoptr (GError) error = NULL;
  gint64 start;

  client = gst_klingo1_client_new (base, API_KEY, NULL);
  gst_klingo1_client_set_max_retries (client, 0);
  gst_klingo1_client_set_io_timeout (client, 1);

  start = g_get_monotonic_time ();
  fail_unless (gst_klingo1_client_get_task (client, "task-unified-1", NULL,
          &error) == NULL);
  fail_unless (g_get_monotonic_time () - start < 5 * G_TIME_SPAN_SECOND);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_HTTP), "%s", error->message);
  fail_unless (strstr (error->message, "GET /v1/tasks/task-unified-1")
      != NULL, "%s", error->message);
}

GST_END_TEST;


/* ---- fault matrix -------------------------------------------------------- */

static const gchar *html_page =
    "<html><head><title>502 Bad Gateway</title></head><body>nginx</body>"
    "</html>";

GST_START_TEST (test_poll_not_a_task_retried)
{
  g_autoptr (GstKlingo1Client) client = new_client (2);
  g_autoptr (GstKlingo1Task) task = NULL;
  g_autoptr (GError) error = NULL;

  /* a proxy's page with a 200, then the task */
  script (200, html_page, NULL);
  script (200, "{\"id\":\"x\"", NULL);
  script (200, processing_ok, NULL);
  task = gst_klingo1_client_get_task (client, "task-unified-1", NULL, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (task->progress, 42);
  fail_unless_equals_int (get_requests (), 3);
}

GST_END_TEST;

GST_START_TEST (test_poll_not_a_task_exhausted)
{
  g_autoptr (GstKlingo1Client) client = new_client (2);
  g_autoptr (GError) error = NULL;

  script (200, html_page, NULL);
  script (200, html_page, NULL);
  script (200, "[1,2,3]", NULL);
  script (200, processing_ok, NULL);
  fail_unless (gst_klingo1_client_get_task (client, "task-unified-1", NULL,
          &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_PROTOCOL), "%s", error->message);
  fail_unless (strstr (error->message, "not a task") != NULL, "%s",
      error->message);
  fail_unless (strstr (error->message, "GET /v1/tasks/task-unified-1")
      != NULL, "%s", error->message);
  fail_unless_equals_int (gst_klingo1_error_get_http_status (error), 200);
  /* the first try and two retries */
  fail_unless_equals_int (get_requests (), 3);
  fail_unless_equals_int (clear_script (), 1);
}

GST_END_TEST;

GST_START_TEST (test_create_not_a_task_not_retried)
{
  g_autoptr (GstKlingo1Client) client = new_client (4);
  g_autoptr (GError) error = NULL;

  /* the task may exist: sending the create again could pay twice */
  script (200, html_page, NULL);
  script (200, create_ok, NULL);
  fail_unless (gst_klingo1_client_create_task (client, create_body, "k",
          NULL, &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_PROTOCOL), "%s", error->message);
  fail_unless (strstr (error->message, "not a task") != NULL, "%s",
      error->message);
  fail_unless_equals_int (get_requests (), 1);
  fail_unless_equals_int (clear_script (), 1);
}

GST_END_TEST;

/* Accepts one connection, reads the request and sends the status line of
 * the answer one byte per second until the client hangs up. */
typedef struct
{
  GSocket *listener;
  gchar *base;
  GThread *thread;
} TrickleHeaders;

static gpointer
trickle_headers_thread (gpointer data)
{
  TrickleHeaders *th = data;
  g_autoptr (GSocket) conn = g_socket_accept (th->listener, NULL, NULL);
  const gchar *status = "HTTP/1.1 200 OK\r\nContent-Type: application/json"
      "\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  gchar buf[4096];
  const gchar *p;

  if (conn == NULL)
    return NULL;
  g_socket_receive (conn, buf, sizeof (buf), NULL, NULL);
  for (p = status; *p; p++) {
    if (g_socket_send (conn, p, 1, NULL, NULL) < 0)
      break;
    g_usleep (G_USEC_PER_SEC);
    if (g_socket_condition_check (conn, G_IO_IN | G_IO_HUP))
      break;
  }
  return NULL;
}

static void
trickle_headers_start (TrickleHeaders * th)
{
  th->listener = stalling_server (&th->base);
  th->thread = g_thread_new ("trickle", trickle_headers_thread, th);
}

static void
trickle_headers_stop (TrickleHeaders * th)
{
  g_socket_close (th->listener, NULL);
  g_thread_join (th->thread);
  g_object_unref (th->listener);
  g_free (th->base);
}

static void
assert_cancelled_promptly (CancelLater * cl, GThread * thread,
    const GError * error)
{
  gint64 late = g_get_monotonic_time () - cl->cancelled_at;

  g_thread_join (thread);
  fail_unless (cl->cancelled_at > 0);
  fail_unless (late < G_USEC_PER_SEC, "returned %" G_GINT64_FORMAT
      " ms after the cancel", late / 1000);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED),
      "%s", error->message);
}

GST_START_TEST (test_cancel_trickled_headers)
{
  TrickleHeaders th = { 0, };
  g_autoptr (GstKlingo1Client) client = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  CancelLater cl = { cancellable, 1000, 0 };
  GThread *thread;

  trickle_headers_start (&th);
  client = gst_klingo1_client_new (th.base, API_KEY, NULL);
  gst_klingo1_client_set_max_retries (client, 4);

  thread = g_thread_new ("cancel", cancel_later, &cl);
  fail_unless (gst_klingo1_client_get_task (client, "task-unified-1",
          cancellable, &error) == NULL);
  assert_cancelled_promptly (&cl, thread, error);
  trickle_headers_stop (&th);
}

GST_END_TEST;

GST_START_TEST (test_cancel_trickled_body)
{
  g_autoptr (GstKlingo1Client) client = new_client (4);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  CancelLater cl = { cancellable, 1000, 0 };
  GThread *thread;

  thread = g_thread_new ("cancel", cancel_later, &cl);
  fail_unless (gst_klingo1_client_get_task (client, "trickle-body",
          cancellable, &error) == NULL);
  assert_cancelled_promptly (&cl, thread, error);
}

GST_END_TEST;

GST_START_TEST (test_cancel_trickled_download)
{
  g_autoptr (GstKlingo1Client) client = new_client (4);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = make_tmp_dir ();
  g_autofree gchar *path = g_build_filename (dir, "clip.mp4", NULL);
  g_autofree gchar *url = g_strconcat (srv.cdn_base, "/files/trickle.mp4",
      NULL);
  CancelLater cl = { cancellable, 1000, 0 };
  GThread *thread;

  thread = g_thread_new ("cancel", cancel_later, &cl);
  fail_if (gst_klingo1_client_download (client, url, path, NULL, NULL,
          cancellable, &error));
  assert_cancelled_promptly (&cl, thread, error);
  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;

GST_START_TEST (test_stalled_body_times_out_and_retries)
{
  g_autoptr (GstKlingo1Client) client = new_client (1);
  g_autoptr (GstKlingo1Task) task = NULL;
  g_autoptr (GError) error = NULL;
  gint64 start;

  /* headers, one byte, silence: no progress for the I/O timeout fails the
   * try, and a task read is tried again */
  gst_klingo1_client_set_io_timeout (client, 1);
  script (200, processing_ok, NULL);
  start = g_get_monotonic_time ();
  task = gst_klingo1_client_get_task (client, "stall-once", NULL, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (task->progress, 42);
  fail_unless_equals_int (get_requests (), 2);
  /* 1 s of silence, 1 s of backoff */
  fail_unless (g_get_monotonic_time () - start < 5 * G_USEC_PER_SEC);
}

GST_END_TEST;

/* ---- retry deadline ------------------------------------------------------ */

typedef struct
{
  guint calls;
  guint attempts[8];
  GError *errors[8];
  gdouble delays[8];
  gchar *what;
} Notified;

static void
on_retry (const gchar * what, guint attempt, const GError * error,
    gdouble delay, gpointer user_data)
{
  Notified *n = user_data;

  if (n->calls < G_N_ELEMENTS (n->attempts)) {
    n->attempts[n->calls] = attempt;
    n->errors[n->calls] = g_error_copy (error);
    n->delays[n->calls] = delay;
  }
  g_free (n->what);
  n->what = g_strdup (what);
  n->calls++;
}

static void
notified_clear (Notified * n)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (n->errors); i++)
    g_clear_error (&n->errors[i]);
  g_clear_pointer (&n->what, g_free);
  n->calls = 0;
}

static GMutex log_lock;

static void
capture_http_log (GstDebugCategory * category, GstDebugLevel level,
    const gchar * file, const gchar * function, gint line, GObject * object,
    GstDebugMessage * message, gpointer user_data)
{
  GString *log = user_data;

  if (g_strcmp0 (gst_debug_category_get_name (category), "klingo1http") != 0)
    return;
  g_mutex_lock (&log_lock);
  g_string_append_printf (log, "%s %s\n", gst_debug_level_get_name (level),
      gst_debug_message_get (message));
  g_mutex_unlock (&log_lock);
}

GST_START_TEST (test_retry_deadline)
{
  g_autoptr (GstKlingo1Client) client = new_client (0);
  g_autoptr (GstKlingo1Task) task = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) log = g_string_new (NULL);
  Notified n = { 0, };

  gst_debug_set_threshold_for_name ("klingo1http", GST_LEVEL_INFO);
  gst_debug_add_log_function (capture_http_log, log, NULL);

  /* max-retries is 0, but the deadline is far: transient failures of a read
   * are retried until it works */
  gst_klingo1_client_set_retry_deadline (client, g_get_monotonic_time () +
      10 * G_USEC_PER_SEC);
  gst_klingo1_client_set_retry_notify (client, on_retry, &n);
  script (503, "{\"error\":{\"code\":503,\"message\":\"busy\"}}", "0");
  script (502, "{\"error\":{\"code\":502,\"message\":\"upstream\"}}", "0");
  script (429, "{\"error\":{\"code\":429,\"message\":\"slow\"}}", "0");
  script (200, processing_ok, NULL);
  task = gst_klingo1_client_get_task (client, "task-unified-1", NULL, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (get_requests (), 4);

  fail_unless_equals_int (n.calls, 3);
  fail_unless_equals_string (n.what, "GET /v1/tasks/task-unified-1");
  fail_unless_equals_int (n.attempts[0], 1);
  fail_unless_equals_int (n.attempts[2], 3);
  fail_unless (g_error_matches (n.errors[0], GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_SERVER));
  fail_unless_equals_int (gst_klingo1_error_get_http_status (n.errors[1]),
      502);
  fail_unless (g_error_matches (n.errors[2], GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_RATE_LIMITED));
  fail_unless (n.delays[0] == 0.0);

  gst_debug_remove_log_function (capture_http_log);
  g_mutex_lock (&log_lock);
  /* each retry at INFO, with its reason */
  fail_unless (strstr (log->str, "retry 1 in 0.0 s (until the deadline): "
          "HTTP 503 from GET /v1/tasks/task-unified-1: busy") != NULL, "%s",
      log->str);
  fail_unless (strstr (log->str, "INFO") != NULL, "%s", log->str);
  fail_unless (strstr (log->str, "retry 3 in") != NULL, "%s", log->str);
  g_mutex_unlock (&log_lock);
  notified_clear (&n);
}

GST_END_TEST;

GST_START_TEST (test_retry_deadline_not_passed)
{
  g_autoptr (GstKlingo1Client) client = new_client (0);
  g_autoptr (GError) error = NULL;
  Notified n = { 0, };
  gint64 start = g_get_monotonic_time ();

  /* Retry-After 2 s, deadline in 3 s: one retry; the next wait would end
   * past the deadline, so the call ends now with the last failure */
  gst_klingo1_client_set_retry_deadline (client, start + 3 *
      G_USEC_PER_SEC);
  gst_klingo1_client_set_retry_notify (client, on_retry, &n);
  script (503, "{\"error\":{\"code\":503,\"message\":\"busy\"}}", "2");
  script (503, "{\"error\":{\"code\":503,\"message\":\"busy\"}}", "2");
  script (200, processing_ok, NULL);
  fail_unless (gst_klingo1_client_get_task (client, "task-unified-1", NULL,
          &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_SERVER), "%s", error->message);
  fail_unless_equals_int (get_requests (), 2);
  fail_unless_equals_int (n.calls, 1);
  fail_unless (n.delays[0] == 2.0);
  fail_unless (g_get_monotonic_time () - start < 3 * G_USEC_PER_SEC);
  fail_unless_equals_int (clear_script (), 1);
  g_clear_error (&error);
  notified_clear (&n);

  /* the deadline is gone: no retry at all */
  gst_klingo1_client_set_retry_deadline (client, g_get_monotonic_time ());
  script (503, "{\"error\":{\"code\":503,\"message\":\"busy\"}}", "0");
  fail_unless (gst_klingo1_client_get_task (client, "task-unified-1", NULL,
          &error) == NULL);
  fail_unless_equals_int (get_requests (), 3);
  fail_unless_equals_int (n.calls, 0);
}

GST_END_TEST;

GST_START_TEST (test_retry_deadline_create_keeps_max_retries)
{
  g_autoptr (GstKlingo1Client) client = new_client (0);
  g_autoptr (GError) error = NULL;

  gst_klingo1_client_set_retry_deadline (client, g_get_monotonic_time () +
      10 * G_USEC_PER_SEC);
  script (429, "{\"error\":{\"code\":429,\"message\":\"slow\"}}", "0");
  script (200, create_ok, NULL);
  fail_unless (gst_klingo1_client_create_task (client, create_body, "k",
          NULL, &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_RATE_LIMITED));
  fail_unless_equals_int (get_requests (), 1);
  fail_unless_equals_int (clear_script (), 1);
}

GST_END_TEST;

GST_START_TEST (test_retry_deadline_unreachable)
{
  g_autoptr (GstKlingo1Client) client = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u",
      unused_port ());
  Notified n = { 0, };
  gint64 start = g_get_monotonic_time ();

  client = gst_klingo1_client_new (url, API_KEY, NULL);
  gst_klingo1_client_set_max_retries (client, 0);
  gst_klingo1_client_set_retry_notify (client, on_retry, &n);
  /* backoff 1 s, then 2 s: the second wait would pass the deadline */
  gst_klingo1_client_set_retry_deadline (client, start + 2500 *
      G_TIME_SPAN_MILLISECOND);
  fail_unless (gst_klingo1_client_get_task (client, "task-unified-1", NULL,
          &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_HTTP), "%s", error->message);
  fail_unless (strstr (error->message, "GET /v1/tasks/task-unified-1 failed")
      != NULL, "%s", error->message);
  fail_unless_equals_int (n.calls, 1);
  /* the element gets an error of the library's domain to post */
  fail_unless (g_error_matches (n.errors[0], GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_HTTP));
  fail_unless (g_get_monotonic_time () - start < 2500 *
      G_TIME_SPAN_MILLISECOND);
  notified_clear (&n);
}

GST_END_TEST;

GST_START_TEST (test_retry_wait)
{
  g_autoptr (GstKlingo1Client) client = new_client (1);
  g_autoptr (GError) refused = g_error_new_literal (G_IO_ERROR,
      G_IO_ERROR_CONNECTION_REFUSED, "Connection refused");
  g_autoptr (GError) reset = g_error_new_literal (G_IO_ERROR,
      G_IO_ERROR_CONNECTION_CLOSED, "Connection reset");
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();

  /* the download object's loop: same budget, same final errors */
  fail_unless (gst_klingo1_client_retry_wait (client, "GET /x", FALSE, 0,
          reset, 0, NULL, &error));
  g_assert_no_error (error);
  fail_if (gst_klingo1_client_retry_wait (client, "GET /x", FALSE, 1,
          reset, 0, NULL, &error));
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_HTTP));
  fail_unless_equals_string (error->message,
      "GET /x failed: Connection reset");
  g_clear_error (&error);

  /* a create: only what never reached the server */
  fail_if (gst_klingo1_client_retry_wait (client, "POST /c", TRUE, 0, reset,
          0, NULL, &error));
  g_clear_error (&error);
  fail_unless (gst_klingo1_client_retry_wait (client, "POST /c", TRUE, 0,
          refused, 0, NULL, &error));

  g_cancellable_cancel (cancellable);
  fail_if (gst_klingo1_client_retry_wait (client, "GET /x", FALSE, 0,
          reset, 0, cancellable, &error));
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));

  fail_unless (gst_klingo1_client_backoff (0, -1) == 1.0);
  fail_unless (gst_klingo1_client_backoff (3, -1) == 8.0);
  fail_unless (gst_klingo1_client_backoff (9, -1) == 30.0);
  fail_unless (gst_klingo1_client_backoff (0, 120) == 30.0);
}

GST_END_TEST;

/* ---- credits ------------------------------------------------------------- */

typedef struct
{
  const gchar *body;
  gdouble remaining;
  gdouble used;
} CreditsCase;

static const CreditsCase credits_cases[] = {
  /* a key with a limit: its own numbers */
  {"{\"success\":true,\"data\":{\"user\":{\"remaining_credits\":1000.5,"
        "\"used_credits\":20},\"token\":{\"remaining_credits\":300,"
        "\"used_credits\":7,\"unlimited_credits\":false}}}", 300, 7},
  /* its limit is above what the account has left */
  {"{\"success\":true,\"data\":{\"user\":{\"remaining_credits\":50,"
        "\"used_credits\":20},\"token\":{\"remaining_credits\":300,"
        "\"used_credits\":7,\"unlimited_credits\":false}}}", 50, 7},
  /* a key without a limit spends the account's balance */
  {"{\"success\":true,\"data\":{\"user\":{\"remaining_credits\":1000,"
        "\"used_credits\":20},\"token\":{\"remaining_credits\":0,"
        "\"used_credits\":7,\"unlimited_credits\":true}}}", 1000, 20},
  {"{\"success\":true,\"data\":{\"user\":{\"remaining_credits\":\"12.5\","
        "\"used_credits\":3}}}", 12.5, 3},
};

GST_START_TEST (test_credits)
{
  g_autoptr (GstKlingo1Client) client = new_client (0);
  g_autoptr (GError) error = NULL;
  gdouble remaining, used;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (credits_cases); i++) {
    script (200, credits_cases[i].body, NULL);
    fail_unless (gst_klingo1_client_get_credits (client, &remaining, &used,
            NULL, &error), "case %u: %s", i, error ? error->message : "");
    fail_unless (remaining == credits_cases[i].remaining, "case %u: %f", i,
        remaining);
    fail_unless (used == credits_cases[i].used, "case %u: %f", i, used);
  }
  fail_unless_equals_string (srv.method, "GET");
  fail_unless_equals_string (srv.path, "/v1/credits");
  fail_unless_equals_string (srv.auth, "Bearer " API_KEY);

  script (200, "{\"success\":true,\"data\":{}}", NULL);
  fail_if (gst_klingo1_client_get_credits (client, &remaining, &used, NULL,
          &error));
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_PROTOCOL));
  g_clear_error (&error);

  script (401, "{\"error\":{\"code\":\"unauthorized\",\"message\":\"Invalid "
      "token\",\"type\":\"authentication_error\"}}", NULL);
  fail_if (gst_klingo1_client_get_credits (client, &remaining, &used, NULL,
          &error));
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_AUTH));
  fail_unless (strstr (error->message, "GET /v1/credits") != NULL);
}

GST_END_TEST;

/* ---- provider seam ------------------------------------------------------- */

static void
key_authorize (SoupMessageHeaders * headers, const gchar * credentials)
{
  g_autofree gchar *value = g_strdup_printf ("Key %s", credentials);

  soup_message_headers_replace (headers, "Authorization", value);
}

GST_START_TEST (test_provider_seam)
{
  g_autoptr (GstKlingo1Client) client = new_client (0);
  g_autoptr (GstKlingo1Task) task = NULL;
  g_autoptr (GstKlingo1Task) polled = NULL;
  g_autoptr (GstKlingo1Request) request =
      gst_klingo1_request_new (GST_KLINGO1_MODEL_IMAGE_TO_VIDEO);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *expected_body = NULL;
  GstKlingo1Provider other = *gst_klingo1_provider_evolink ();
  gchar *url;

  other.name = "other";
  other.create_path = "/v9/generate";
  other.task_path = "/v9/generate/";
  other.credits_path = NULL;
  other.upload_path = NULL;
  other.idempotency_header = NULL;
  other.authorize = key_authorize;
  gst_klingo1_client_set_provider (client, &other);

  request->prompt = g_strdup ("a cat");
  g_ptr_array_add (request->images, g_strdup ("https://example.com/a.png"));
  expected_body = gst_klingo1_request_to_json (request);

  script (200, create_ok, NULL);
  task = gst_klingo1_client_create_task_for_request (client, request, "k",
      NULL, &error);
  g_assert_no_error (error);
  fail_unless_equals_string (srv.path, "/v9/generate");
  fail_unless_equals_string (srv.auth, "Key " API_KEY);
  fail_unless_equals_string (srv.body, expected_body);
  /* this service has no idempotency header */
  fail_unless (srv.idempotency_key == NULL);

  script (200, processing_ok, NULL);
  polled = gst_klingo1_client_get_task (client, task->id, NULL, &error);
  g_assert_no_error (error);
  fail_unless_equals_string (srv.path,
      "/v9/generate/task-unified-1757169743-7cvnl5zw");

  url = gst_klingo1_client_upload_file (client, "/nonexistent", NULL, NULL,
      &error);
  fail_unless (url == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_INVALID_REQUEST));
  fail_unless (strstr (error->message, "other") != NULL, "%s",
      error->message);
  g_clear_error (&error);
  fail_if (gst_klingo1_client_get_credits (client, NULL, NULL, NULL, &error));
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_INVALID_REQUEST));
  fail_unless_equals_int (get_requests (), 2);
}

GST_END_TEST;

static Suite *
client_suite (void)
{
  Suite *s = suite_create ("klingo1-client");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_create_and_get);
  tcase_add_test (tc, test_http_errors);
  tcase_add_test (tc, test_error_message_format);
  tcase_add_test (tc, test_get_retries);
  tcase_add_test (tc, test_get_retries_exhausted);
  tcase_add_test (tc, test_create_not_retried_on_5xx);
  tcase_add_test (tc, test_create_retried_on_429);
  tcase_add_test (tc, test_create_connection_refused);
  tcase_add_test (tc, test_oversize_response);
  tcase_add_test (tc, test_download_resume);
  tcase_add_test (tc, test_download_expired);
  tcase_add_test (tc, test_auth_only_to_api_origin);
  tcase_add_test (tc, test_auth_not_across_redirect);
  tcase_add_test (tc, test_upload);
  tcase_add_test (tc, test_sleep_cancel);
  tcase_add_test (tc, test_cancel_stalled_get);
  tcase_add_test (tc, test_io_timeout);
  tcase_add_test (tc, test_poll_not_a_task_retried);
  tcase_add_test (tc, test_poll_not_a_task_exhausted);
  tcase_add_test (tc, test_create_not_a_task_not_retried);
  tcase_add_test (tc, test_cancel_trickled_headers);
  tcase_add_test (tc, test_cancel_trickled_body);
  tcase_add_test (tc, test_cancel_trickled_download);
  tcase_add_test (tc, test_stalled_body_times_out_and_retries);
  tcase_add_test (tc, test_retry_deadline);
  tcase_add_test (tc, test_retry_deadline_not_passed);
  tcase_add_test (tc, test_retry_deadline_create_keeps_max_retries);
  tcase_add_test (tc, test_retry_deadline_unreachable);
  tcase_add_test (tc, test_retry_wait);
  tcase_add_test (tc, test_credits);
  tcase_add_test (tc, test_provider_seam);
  return s;
}

GST_CHECK_MAIN (client);
