/* gst-klingo1: the HTTP client of the Kling O1 API (libsoup 3)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every call is synchronous (soup_session_send) and meant for one worker or
 * streaming thread at a time: a client owns one SoupSession, created in the
 * constructor, and is not meant to be shared by concurrent calls.
 *
 * Each call is one "attempt" function run by run_with_retries(), the single
 * place where the retry policy lives. Attempts report transport failures with
 * their original GIO / resolver / TLS error so that the policy can tell a
 * connection that was never established from one that broke after a request
 * went out; run_with_retries() turns them into GST_KLINGO1_ERROR_HTTP last.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include <gst/klingo1/client.h>
#include <gst/klingo1/error.h>
#include <gst/klingo1/input.h>

#define DEFAULT_IO_TIMEOUT 30
#define DEFAULT_MAX_RETRIES 4
#define IDLE_TIMEOUT 60
#define MAX_BACKOFF 30
#define DOWNLOAD_CHUNK (64 * 1024)
/* The Files API takes at most 100 MB per file. */
#define MAX_UPLOAD_BYTES (100 * 1024 * 1024)
#define FILES_LIFETIME_HOURS 72

struct _GstKlingo1Client
{
  GObject parent;

  SoupSession *session;
  gchar *api_url;
  gchar *files_url;
  gchar *api_key;
  /* origins that may see the key */
  GUri *api_uri;
  GUri *files_uri;
  guint io_timeout;
  guint max_retries;
};

G_DEFINE_FINAL_TYPE (GstKlingo1Client, gst_klingo1_client, G_TYPE_OBJECT);

static void
gst_klingo1_client_finalize (GObject * object)
{
  GstKlingo1Client *self = GST_KLINGO1_CLIENT (object);

  g_clear_object (&self->session);
  g_free (self->api_url);
  g_free (self->files_url);
  if (self->api_key != NULL) {
    /* do not leave the key lying around in freed memory */
    memset (self->api_key, 0, strlen (self->api_key));
    g_free (self->api_key);
  }
  g_clear_pointer (&self->api_uri, g_uri_unref);
  g_clear_pointer (&self->files_uri, g_uri_unref);

  G_OBJECT_CLASS (gst_klingo1_client_parent_class)->finalize (object);
}

static void
gst_klingo1_client_class_init (GstKlingo1ClientClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_klingo1_client_finalize;
}

static void
gst_klingo1_client_init (GstKlingo1Client * self)
{
  self->io_timeout = DEFAULT_IO_TIMEOUT;
  self->max_retries = DEFAULT_MAX_RETRIES;
}

static gchar *
trim_base_url (const gchar * url)
{
  gchar *s = g_strdup (url);
  gsize len = strlen (s);

  while (len > 0 && s[len - 1] == '/')
    s[--len] = '\0';
  return s;
}

GstKlingo1Client *
gst_klingo1_client_new (const gchar * api_url, const gchar * api_key,
    const gchar * files_url)
{
  GstKlingo1Client *self;

  self = g_object_new (GST_TYPE_KLINGO1_CLIENT, NULL);
  self->api_url = trim_base_url (api_url ? api_url :
      GST_KLINGO1_DEFAULT_API_URL);
  self->files_url = trim_base_url (files_url ? files_url :
      GST_KLINGO1_DEFAULT_FILES_URL);
  self->api_key = (api_key != NULL && *api_key != '\0') ?
      g_strdup (api_key) : NULL;
  self->api_uri = g_uri_parse (self->api_url, SOUP_HTTP_URI_FLAGS, NULL);
  self->files_uri = g_uri_parse (self->files_url, SOUP_HTTP_URI_FLAGS, NULL);

  self->session = soup_session_new_with_options ("timeout", self->io_timeout,
      "idle-timeout", IDLE_TIMEOUT,
      "user-agent", "gst-klingo1/" VERSION, NULL);

  return self;
}

void
gst_klingo1_client_set_io_timeout (GstKlingo1Client * client, guint seconds)
{
  g_return_if_fail (GST_IS_KLINGO1_CLIENT (client));

  client->io_timeout = seconds;
  g_object_set (client->session, "timeout", seconds, NULL);
}

void
gst_klingo1_client_set_max_retries (GstKlingo1Client * client, guint retries)
{
  g_return_if_fail (GST_IS_KLINGO1_CLIENT (client));

  client->max_retries = retries;
}

/* ---- sleeping ------------------------------------------------------- */

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean cancelled;
} SleepState;

static void
sleep_cancelled_cb (GCancellable * cancellable, gpointer user_data)
{
  SleepState *state = user_data;

  g_mutex_lock (&state->lock);
  state->cancelled = TRUE;
  g_cond_signal (&state->cond);
  g_mutex_unlock (&state->lock);
}

gboolean
gst_klingo1_sleep (gdouble seconds, GCancellable * cancellable,
    GError ** error)
{
  SleepState state = { 0, };
  gint64 end;
  gulong handler;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (!(seconds > 0))
    return TRUE;

  if (cancellable == NULL) {
    g_usleep ((gulong) (seconds * G_USEC_PER_SEC));
    return TRUE;
  }

  g_mutex_init (&state.lock);
  g_cond_init (&state.cond);
  end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);

  /* runs the callback at once when already cancelled; the lock is not held
   * here, so that is fine */
  handler = g_cancellable_connect (cancellable,
      G_CALLBACK (sleep_cancelled_cb), &state, NULL);

  g_mutex_lock (&state.lock);
  while (!state.cancelled) {
    if (!g_cond_wait_until (&state.cond, &state.lock, end))
      break;
  }
  g_mutex_unlock (&state.lock);

  /* waits for a callback running in another thread, so the state on the
   * stack stays valid until then */
  g_cancellable_disconnect (cancellable, handler);
  g_mutex_clear (&state.lock);
  g_cond_clear (&state.cond);

  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* ---- retry policy ------------------------------------------------------ */

/* One try of a call. On failure it sets @error to a GST_KLINGO1_ERROR for
 * HTTP statuses and bad responses, or to the transport error as libsoup
 * reported it. @retry_after receives a 429's Retry-After, -1 when none. */
typedef gboolean (*GstKlingo1Attempt) (GstKlingo1Client * client,
    gpointer data, gint * retry_after, GCancellable * cancellable,
    GError ** error);

/* The request cannot have reached the server: safe to resend even a create. */
static gboolean
connection_never_established (const GError * err)
{
  if (err->domain == G_RESOLVER_ERROR)
    return TRUE;
  return g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)
      || g_error_matches (err, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE)
      || g_error_matches (err, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE)
      || g_error_matches (err, G_IO_ERROR, G_IO_ERROR_HOST_NOT_FOUND);
}

static gboolean
error_is_retryable (const GError * err, gboolean is_create)
{
  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return FALSE;

  if (err->domain == GST_KLINGO1_ERROR) {
    guint status;

    /* a 429 was refused before any work started */
    if (err->code == GST_KLINGO1_ERROR_RATE_LIMITED)
      return TRUE;
    /* a 5xx on create may come after the task was created (and billed) */
    if (is_create || err->code != GST_KLINGO1_ERROR_SERVER)
      return FALSE;
    status = gst_klingo1_error_get_http_status (err);
    return status == 500 || status == 502 || status == 503 || status == 504;
  }

  if (connection_never_established (err))
    return TRUE;
  if (is_create)
    return FALSE;

  /* certificate problems and broken redirects do not heal by waiting */
  if (err->domain == G_TLS_ERROR)
    return FALSE;
  if (err->domain == SOUP_SESSION_ERROR)
    return err->code == SOUP_SESSION_ERROR_PARSING
        || err->code == SOUP_SESSION_ERROR_ENCODING;
  return TRUE;
}

static gboolean
run_with_retries (GstKlingo1Client * client, const gchar * what,
    gboolean is_create, GstKlingo1Attempt attempt, gpointer data,
    GCancellable * cancellable, GError ** error)
{
  guint n;

  for (n = 0;; n++) {
    g_autoptr (GError) err = NULL;
    gint retry_after = -1;
    guint delay;

    if (g_cancellable_set_error_if_cancelled (cancellable, error))
      return FALSE;

    if (attempt (client, data, &retry_after, cancellable, &err))
      return TRUE;

    /* whatever libsoup made of an interrupted transfer, the caller asked
     * for it: report a cancellation as such */
    if (g_cancellable_set_error_if_cancelled (cancellable, error))
      return FALSE;

    if (n >= client->max_retries || !error_is_retryable (err, is_create)) {
      if (err->domain == GST_KLINGO1_ERROR) {
        g_propagate_error (error, g_steal_pointer (&err));
      } else {
        g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_HTTP,
            "%s failed: %s", what, err->message);
      }
      return FALSE;
    }

    if (retry_after >= 0)
      delay = MIN ((guint) retry_after, MAX_BACKOFF);
    else
      delay = n < 5 ? MIN (1u << n, MAX_BACKOFF) : MAX_BACKOFF;

    g_debug ("%s: %s; retry %u of %u in %u s", what, err->message, n + 1,
        client->max_retries, delay);

    if (!gst_klingo1_sleep (delay, cancellable, error))
      return FALSE;
  }
}

/* ---- HTTP helpers ----------------------------------------------------- */

static gint
uri_port (GUri * uri)
{
  gint port = g_uri_get_port (uri);

  if (port > 0)
    return port;
  return g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0 ? 443 : 80;
}

static gboolean
same_origin (GUri * a, GUri * b)
{
  if (a == NULL || b == NULL)
    return FALSE;
  return g_ascii_strcasecmp (g_uri_get_scheme (a), g_uri_get_scheme (b)) == 0
      && g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0
      && uri_port (a) == uri_port (b);
}

/* Called before every send, redirects included: libsoup keeps request
 * headers across a redirect, so the key is added or removed per hop. */
static void
on_message_starting (SoupMessage * msg, GstKlingo1Client * client)
{
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);
  GUri *uri = soup_message_get_uri (msg);

  if (client->api_key != NULL && (same_origin (uri, client->api_uri)
          || same_origin (uri, client->files_uri))) {
    g_autofree gchar *auth = g_strdup_printf ("Bearer %s", client->api_key);

    soup_message_headers_replace (headers, "Authorization", auth);
  } else {
    soup_message_headers_remove (headers, "Authorization");
  }
}

static SoupMessage *
new_message (GstKlingo1Client * client, const gchar * method,
    const gchar * url, GError ** error)
{
  g_autoptr (GUri) uri = NULL;
  SoupMessage *msg;

  uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL
      || (g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") != 0
          && g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") != 0)) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
        "Not an http(s) URL: %s", url);
    return NULL;
  }

  msg = soup_message_new_from_uri (method, uri);
  g_signal_connect (msg, "starting", G_CALLBACK (on_message_starting),
      client);
  return msg;
}

/* "HTTP-method /path" for messages: no query string, since signed result
 * URLs carry credentials there. */
static gchar *
describe_message (SoupMessage * msg)
{
  return g_strdup_printf ("%s %s", soup_message_get_method (msg),
      g_uri_get_path (soup_message_get_uri (msg)));
}

/* Reads a response body of at most GST_KLINGO1_MAX_RESPONSE_BYTES. */
static GBytes *
read_body (SoupMessage * msg, GInputStream * stream,
    GCancellable * cancellable, GError ** error)
{
  SoupMessageHeaders *headers = soup_message_get_response_headers (msg);
  g_autoptr (GByteArray) buf = NULL;
  guint8 chunk[8192];

  if (soup_message_headers_get_encoding (headers) ==
      SOUP_ENCODING_CONTENT_LENGTH
      && soup_message_headers_get_content_length (headers) >
      GST_KLINGO1_MAX_RESPONSE_BYTES) {
    g_autofree gchar *what = describe_message (msg);

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Response of %" G_GOFFSET_FORMAT " bytes from %s exceeds the limit "
        "of %d bytes", soup_message_headers_get_content_length (headers),
        what, GST_KLINGO1_MAX_RESPONSE_BYTES);
    return NULL;
  }

  buf = g_byte_array_new ();
  for (;;) {
    gssize n = g_input_stream_read (stream, chunk, sizeof (chunk),
        cancellable, error);

    if (n < 0)
      return NULL;
    if (n == 0)
      break;
    if (buf->len + (gsize) n > GST_KLINGO1_MAX_RESPONSE_BYTES) {
      g_autofree gchar *what = describe_message (msg);

      g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
          "Response from %s exceeds the limit of %d bytes", what,
          GST_KLINGO1_MAX_RESPONSE_BYTES);
      return NULL;
    }
    g_byte_array_append (buf, chunk, n);
  }
  return g_byte_array_free_to_bytes (g_steal_pointer (&buf));
}

/* Seconds, or an HTTP date; -1 when absent or unreadable. */
static gint
parse_retry_after (SoupMessage * msg)
{
  const gchar *value =
      soup_message_headers_get_one (soup_message_get_response_headers (msg),
      "Retry-After");
  g_autoptr (GDateTime) date = NULL;
  g_autoptr (GDateTime) now = NULL;
  gchar *end = NULL;
  guint64 secs;
  GTimeSpan diff;

  if (value == NULL)
    return -1;
  while (g_ascii_isspace (*value))
    value++;

  if (g_ascii_isdigit (*value)) {
    secs = g_ascii_strtoull (value, &end, 10);
    if (end != NULL && (*end == '\0' || g_ascii_isspace (*end)))
      return (gint) MIN (secs, G_MAXINT);
    return -1;
  }

  date = soup_date_time_new_from_http_string (value);
  if (date == NULL)
    return -1;
  now = g_date_time_new_now_utc ();
  diff = g_date_time_difference (date, now);
  if (diff <= 0)
    return 0;
  return (gint) MIN ((diff + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC, G_MAXINT);
}

static GstKlingo1ErrorCode
error_code_for_status (guint status)
{
  switch (status) {
    case 401:
    case 403:
      return GST_KLINGO1_ERROR_AUTH;
    case 402:
      return GST_KLINGO1_ERROR_QUOTA;
    case 404:
      return GST_KLINGO1_ERROR_NOT_FOUND;
    case 429:
      return GST_KLINGO1_ERROR_RATE_LIMITED;
    default:
      return (status >= 500 && status < 600) ? GST_KLINGO1_ERROR_SERVER :
          GST_KLINGO1_ERROR_HTTP;
  }
}

/* The error for a response of status @status whose (possibly NULL) body
 * explains it: the message quotes the API's message, code and type. */
static GError *
status_error (const gchar * what, const gchar * reason,
    GstKlingo1ErrorCode code, guint status, GBytes * body, gint retry_after)
{
  g_autofree gchar *api_code = NULL;
  g_autofree gchar *api_message = NULL;
  g_autofree gchar *api_type = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  GError *error;

  if (body != NULL)
    gst_klingo1_api_error_parse (g_bytes_get_data (body, NULL),
        g_bytes_get_size (body), &api_code, &api_message, &api_type);

  g_string_append_printf (text, "HTTP %u from %s", status, what);
  if (api_message != NULL && *api_message != '\0')
    g_string_append_printf (text, ": %s", api_message);
  else if (reason != NULL && *reason != '\0')
    g_string_append_printf (text, ": %s", reason);

  if (api_code != NULL && api_type != NULL)
    g_string_append_printf (text, " (code %s, %s)", api_code, api_type);
  else if (api_code != NULL)
    g_string_append_printf (text, " (code %s)", api_code);
  else if (api_type != NULL)
    g_string_append_printf (text, " (%s)", api_type);

  error = g_error_new_literal (GST_KLINGO1_ERROR, code, text->str);
  gst_klingo1_error_set_http_status (error, status);
  if (api_code != NULL || api_message != NULL || api_type != NULL)
    gst_klingo1_error_set_api_error (error, api_code, api_message, api_type);
  if (retry_after >= 0)
    gst_klingo1_error_set_retry_after (error, retry_after);
  return error;
}

/* Reads what is left of an error response (bounded) and builds the error. */
static GError *
response_error (SoupMessage * msg, GInputStream * stream,
    GstKlingo1ErrorCode code, gint * retry_after, GCancellable * cancellable)
{
  guint status = soup_message_get_status (msg);
  g_autofree gchar *what = describe_message (msg);
  g_autoptr (GBytes) body = NULL;

  if (status == 429)
    *retry_after = parse_retry_after (msg);
  /* an unreadable error body is no reason to hide the status */
  body = read_body (msg, stream, cancellable, NULL);
  return status_error (what, soup_message_get_reason_phrase (msg), code,
      status, body, *retry_after);
}

/* ---- JSON calls: create, get, upload ---------------------------------- */

typedef struct
{
  const gchar *method;
  const gchar *url;
  GBytes *body;                 /* JSON request body, or NULL */
  SoupMultipart *multipart;     /* or a multipart one */
  const gchar *idempotency_key;
  gboolean is_create;
  guint status;                 /* out */
  GBytes *response;             /* out */
} JsonCall;

static gboolean
json_attempt (GstKlingo1Client * client, gpointer data, gint * retry_after,
    GCancellable * cancellable, GError ** error)
{
  JsonCall *call = data;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GInputStream) stream = NULL;
  SoupMessageHeaders *headers;
  guint status;

  if (call->multipart != NULL) {
    msg = soup_message_new_from_multipart (call->url, call->multipart);
    if (msg == NULL) {
      g_set_error (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_INVALID_REQUEST, "Not an http(s) URL: %s",
          call->url);
      return FALSE;
    }
    g_signal_connect (msg, "starting", G_CALLBACK (on_message_starting),
        client);
  } else {
    msg = new_message (client, call->method, call->url, error);
    if (msg == NULL)
      return FALSE;
    if (call->body != NULL)
      soup_message_set_request_body_from_bytes (msg, "application/json",
          call->body);
  }

  headers = soup_message_get_request_headers (msg);
  soup_message_headers_replace (headers, "Accept", "application/json");
  if (call->idempotency_key != NULL)
    soup_message_headers_replace (headers, "Idempotency-Key",
        call->idempotency_key);
  /* libsoup silently resends a request that failed on a reused keep-alive
   * connection; a create must never be sent twice behind our back */
  if (call->is_create)
    soup_message_add_flags (msg, SOUP_MESSAGE_NEW_CONNECTION);

  stream = soup_session_send (client->session, msg, cancellable, error);
  if (stream == NULL)
    return FALSE;

  status = soup_message_get_status (msg);
  call->status = status;
  if (!SOUP_STATUS_IS_SUCCESSFUL (status)) {
    g_propagate_error (error, response_error (msg, stream,
            error_code_for_status (status), retry_after, cancellable));
    g_input_stream_close (stream, NULL, NULL);
    return FALSE;
  }

  call->response = read_body (msg, stream, cancellable, error);
  g_input_stream_close (stream, NULL, NULL);
  return call->response != NULL;
}

static GstKlingo1Task *
task_call (GstKlingo1Client * client, JsonCall * call, const gchar * what,
    GCancellable * cancellable, GError ** error)
{
  g_autoptr (GBytes) response = NULL;
  GstKlingo1Task *task;

  if (!run_with_retries (client, what, call->is_create, json_attempt, call,
          cancellable, error))
    return NULL;

  response = g_steal_pointer (&call->response);
  task = gst_klingo1_task_new_from_json (g_bytes_get_data (response, NULL),
      g_bytes_get_size (response), error);
  return task;
}

GstKlingo1Task *
gst_klingo1_client_create_task (GstKlingo1Client * client,
    const gchar * json_body, const gchar * idempotency_key,
    GCancellable * cancellable, GError ** error)
{
  g_autofree gchar *url = NULL;
  g_autoptr (GBytes) body = NULL;
  JsonCall call = { 0, };

  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), NULL);
  g_return_val_if_fail (json_body != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  url = g_strconcat (client->api_url, "/v1/videos/generations", NULL);
  body = g_bytes_new (json_body, strlen (json_body));

  call.method = SOUP_METHOD_POST;
  call.url = url;
  call.body = body;
  call.idempotency_key = idempotency_key;
  call.is_create = TRUE;

  return task_call (client, &call, "POST /v1/videos/generations",
      cancellable, error);
}

GstKlingo1Task *
gst_klingo1_client_get_task (GstKlingo1Client * client,
    const gchar * task_id, GCancellable * cancellable, GError ** error)
{
  g_autofree gchar *escaped = NULL;
  g_autofree gchar *url = NULL;
  g_autofree gchar *what = NULL;
  JsonCall call = { 0, };

  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (task_id == NULL || *task_id == '\0') {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
        "Empty task id");
    return NULL;
  }

  escaped = g_uri_escape_string (task_id, NULL, FALSE);
  url = g_strconcat (client->api_url, "/v1/tasks/", escaped, NULL);
  what = g_strconcat ("GET /v1/tasks/", escaped, NULL);

  call.method = SOUP_METHOD_GET;
  call.url = url;

  return task_call (client, &call, what, cancellable, error);
}

/* Files API bodies: {"success":true,"data":{"file_url","expires_at",...}} */
static gchar *
parse_upload_response (GBytes * response, GDateTime ** expires_at,
    GError ** error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) err = NULL;
  JsonNode *root, *node;
  JsonObject *obj, *data = NULL;
  const gchar *file_url = NULL, *expires = NULL;

  if (!json_parser_load_from_data (parser, g_bytes_get_data (response, NULL),
          g_bytes_get_size (response), &err)) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Invalid JSON in upload response: %s", err->message);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Upload response is not a JSON object");
    return NULL;
  }
  obj = json_node_get_object (root);

  node = json_object_get_member (obj, "data");
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    data = json_node_get_object (node);
  if (data != NULL) {
    file_url = json_object_get_string_member_with_default (data, "file_url",
        NULL);
    expires = json_object_get_string_member_with_default (data,
        "expires_at", NULL);
  }
  if (file_url == NULL || *file_url == '\0') {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Upload response has no data.file_url");
    return NULL;
  }

  if (expires_at != NULL) {
    GDateTime *when = NULL;

    if (expires != NULL)
      when = g_date_time_new_from_iso8601 (expires, NULL);
    if (when == NULL) {
      g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

      when = g_date_time_add_hours (now, FILES_LIFETIME_HOURS);
    }
    *expires_at = when;
  }
  return g_strdup (file_url);
}

/* The Files API may answer 200 with {"success":false,"code":N,"msg":..}. */
static gboolean
upload_refused (const gchar * what, guint status, GBytes * response,
    GError ** error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root, *success;
  g_autofree gchar *code = NULL;
  guint64 n;
  GError *err;

  if (!json_parser_load_from_data (parser, g_bytes_get_data (response, NULL),
          g_bytes_get_size (response), NULL))
    return FALSE;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  success = json_object_get_member (json_node_get_object (root), "success");
  if (success == NULL || !JSON_NODE_HOLDS_VALUE (success)
      || json_node_get_value_type (success) != G_TYPE_BOOLEAN
      || json_node_get_boolean (success))
    return FALSE;

  /* the Files API's code mirrors an HTTP status: classify by it */
  gst_klingo1_api_error_parse (g_bytes_get_data (response, NULL),
      g_bytes_get_size (response), &code, NULL, NULL);
  n = code ? g_ascii_strtoull (code, NULL, 10) : 0;
  err = status_error (what, NULL, (n >= 400 && n < 600) ?
      error_code_for_status (n) : GST_KLINGO1_ERROR_HTTP, status, response,
      -1);
  g_propagate_error (error, err);
  return TRUE;
}

typedef struct
{
  JsonCall json;
  GDateTime *expires_at;
  gchar *file_url;
} UploadCall;

static gboolean
upload_attempt (GstKlingo1Client * client, gpointer data, gint * retry_after,
    GCancellable * cancellable, GError ** error)
{
  UploadCall *call = data;
  g_autoptr (GBytes) response = NULL;

  if (!json_attempt (client, &call->json, retry_after, cancellable, error))
    return FALSE;
  response = g_steal_pointer (&call->json.response);

  if (upload_refused ("POST /api/v1/files/upload/stream", call->json.status,
          response, error))
    return FALSE;

  call->file_url = parse_upload_response (response, &call->expires_at, error);
  return call->file_url != NULL;
}

gchar *
gst_klingo1_client_upload_file (GstKlingo1Client * client,
    const gchar * path, GDateTime ** expires_at, GCancellable * cancellable,
    GError ** error)
{
  g_autoptr (GMappedFile) mapped = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *basename = NULL;
  g_autofree gchar *url = NULL;
  g_autofree gchar *guessed = NULL;
  SoupMultipart *multipart;
  const gchar *content_type;
  UploadCall call = { {0,}, };
  gboolean ok;

  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* at most 100 MB: a read-only mapping keeps it out of the heap */
  mapped = g_mapped_file_new (path, FALSE, &err);
  if (mapped == NULL) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "Cannot read %s: %s", path, err->message);
    return NULL;
  }
  if (g_mapped_file_get_length (mapped) > MAX_UPLOAD_BYTES) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
        "%s is %" G_GSIZE_FORMAT " bytes, the Files API takes at most %d",
        path, g_mapped_file_get_length (mapped), MAX_UPLOAD_BYTES);
    return NULL;
  }
  bytes = g_mapped_file_get_bytes (mapped);

  /* by content, like the server will; the name is only a fallback */
  content_type = gst_klingo1_input_format_to_mime
      (gst_klingo1_input_sniff_format (g_bytes_get_data (bytes, NULL),
          g_bytes_get_size (bytes)));
  if (content_type == NULL) {
    g_autofree gchar *ct = g_content_type_guess (path, NULL, 0, NULL);

    guessed = g_content_type_get_mime_type (ct);
    content_type = guessed ? guessed : "application/octet-stream";
  }

  basename = g_path_get_basename (path);
  url = g_strconcat (client->files_url, "/api/v1/files/upload/stream", NULL);

  multipart = soup_multipart_new (SOUP_FORM_MIME_TYPE_MULTIPART);
  soup_multipart_append_form_file (multipart, "file", basename, content_type,
      bytes);

  call.json.method = SOUP_METHOD_POST;
  call.json.url = url;
  call.json.multipart = multipart;

  ok = run_with_retries (client, "POST /api/v1/files/upload/stream", FALSE,
      upload_attempt, &call, cancellable, error);
  soup_multipart_free (multipart);

  if (!ok) {
    g_clear_pointer (&call.expires_at, g_date_time_unref);
    return NULL;
  }
  if (expires_at != NULL)
    *expires_at = call.expires_at;
  else
    g_clear_pointer (&call.expires_at, g_date_time_unref);
  return call.file_url;
}

/* ---- download ----------------------------------------------------------- */

typedef struct
{
  const gchar *url;
  const gchar *dest_path;
  GstKlingo1DownloadProgress progress;
  gpointer user_data;
} DownloadCall;

static gboolean
set_io_error (GError ** error, const gchar * what, const gchar * path,
    int errsv)
{
  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
      "Cannot %s %s: %s", what, path, g_strerror (errsv));
  return FALSE;
}

/* Size of the partial file, 0 when there is none. */
static gboolean
current_size (const gchar * path, goffset * size, GError ** error)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0) {
    int errsv = errno;

    if (errsv == ENOENT) {
      *size = 0;
      return TRUE;
    }
    return set_io_error (error, "stat", path, errsv);
  }
  *size = st.st_size;
  return TRUE;
}

static gboolean
truncate_file (const gchar * path, GError ** error)
{
  int fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

  if (fd < 0)
    return set_io_error (error, "truncate", path, errno);
  g_close (fd, NULL);
  return TRUE;
}

/* Content-Range: bytes START-END/TOTAL or bytes * /TOTAL; -1 when unknown */
static void
parse_content_range (SoupMessage * msg, goffset * start, goffset * total)
{
  const gchar *value =
      soup_message_headers_get_one (soup_message_get_response_headers (msg),
      "Content-Range");
  const gchar *slash;

  *start = -1;
  *total = -1;
  if (value == NULL)
    return;
  while (g_ascii_isspace (*value))
    value++;
  if (g_ascii_strncasecmp (value, "bytes", 5) != 0)
    return;
  value += 5;
  while (g_ascii_isspace (*value))
    value++;

  if (g_ascii_isdigit (*value))
    *start = g_ascii_strtoll (value, NULL, 10);
  slash = strchr (value, '/');
  if (slash != NULL && g_ascii_isdigit (slash[1]))
    *total = g_ascii_strtoll (slash + 1, NULL, 10);
}

static gboolean
write_all (int fd, const guint8 * data, gsize len, const gchar * path,
    GError ** error)
{
  while (len > 0) {
    gssize n = write (fd, data, len);

    if (n < 0) {
      if (errno == EINTR)
        continue;
      return set_io_error (error, "write", path, errno);
    }
    data += n;
    len -= n;
  }
  return TRUE;
}

static gboolean
sync_and_close (int fd, const gchar * path, GError ** error)
{
  if (g_fsync (fd) != 0) {
    int errsv = errno;

    g_close (fd, NULL);
    return set_io_error (error, "sync", path, errsv);
  }
  if (!g_close (fd, NULL))
    return set_io_error (error, "close", path, errno);
  return TRUE;
}

/* Streams the body into @fd; transport errors are returned as they are so
 * that the retry resumes from what reached the disk. */
static gboolean
receive_into (DownloadCall * call, SoupMessage * msg, GInputStream * stream,
    int fd, guint64 received, guint64 total, GCancellable * cancellable,
    GError ** error)
{
  g_autofree guint8 *buf = g_malloc (DOWNLOAD_CHUNK);

  if (call->progress)
    call->progress (received, total, call->user_data);

  for (;;) {
    gssize n = g_input_stream_read (stream, buf, DOWNLOAD_CHUNK, cancellable,
        error);

    if (n < 0)
      return FALSE;
    if (n == 0)
      break;
    if (!write_all (fd, buf, n, call->dest_path, error))
      return FALSE;
    received += n;
    if (call->progress)
      call->progress (received, total, call->user_data);
  }

  if (total > 0 && received < total) {
    g_autofree gchar *what = describe_message (msg);

    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
        "Connection closed after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
        " bytes of %s", received, total, what);
    return FALSE;
  }
  return TRUE;
}

static gboolean
download_attempt (GstKlingo1Client * client, gpointer data,
    gint * retry_after, GCancellable * cancellable, GError ** error)
{
  DownloadCall *call = data;
  guint round;

  /* a second round only follows a restart (range not satisfiable or not
   * where we asked) */
  for (round = 0; round < 2; round++) {
    g_autoptr (SoupMessage) msg = NULL;
    g_autoptr (GInputStream) stream = NULL;
    SoupMessageHeaders *headers;
    goffset have, start, total, length;
    guint status;
    gboolean ok;
    int fd;

    if (!current_size (call->dest_path, &have, error))
      return FALSE;

    msg = new_message (client, SOUP_METHOD_GET, call->url, error);
    if (msg == NULL)
      return FALSE;
    /* byte ranges are offsets in the stored (encoded) representation */
    soup_message_disable_feature (msg, SOUP_TYPE_CONTENT_DECODER);
    if (have > 0)
      soup_message_headers_set_range (soup_message_get_request_headers (msg),
          have, -1);

    stream = soup_session_send (client->session, msg, cancellable, error);
    if (stream == NULL)
      return FALSE;

    status = soup_message_get_status (msg);
    headers = soup_message_get_response_headers (msg);
    length = soup_message_headers_get_encoding (headers) ==
        SOUP_ENCODING_CONTENT_LENGTH ?
        soup_message_headers_get_content_length (headers) : -1;

    if (status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE && have > 0) {
      parse_content_range (msg, &start, &total);
      g_input_stream_close (stream, NULL, NULL);
      if (total == have) {
        /* the previous run got it all but did not get to say so */
        if (call->progress)
          call->progress (have, have, call->user_data);
        fd = g_open (call->dest_path, O_WRONLY, 0);
        if (fd < 0)
          return set_io_error (error, "open", call->dest_path, errno);
        return sync_and_close (fd, call->dest_path, error);
      }
      g_debug ("stored prefix of %" G_GOFFSET_FORMAT " bytes does not fit, "
          "restarting", have);
      if (!truncate_file (call->dest_path, error))
        return FALSE;
      continue;
    }

    if (status == SOUP_STATUS_PARTIAL_CONTENT && have > 0) {
      parse_content_range (msg, &start, &total);
      if (start != have) {
        g_input_stream_close (stream, NULL, NULL);
        if (!truncate_file (call->dest_path, error))
          return FALSE;
        continue;
      }
      if (total < 0 && length >= 0)
        total = have + length;
      fd = g_open (call->dest_path, O_WRONLY | O_APPEND, 0);
      if (fd < 0)
        return set_io_error (error, "open", call->dest_path, errno);
      ok = receive_into (call, msg, stream, fd, have, MAX (total, 0),
          cancellable, error);
    } else if (status == SOUP_STATUS_OK) {
      /* no Range asked or Range ignored: the whole file, from the start */
      fd = g_open (call->dest_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0)
        return set_io_error (error, "create", call->dest_path, errno);
      ok = receive_into (call, msg, stream, fd, 0, MAX (length, 0),
          cancellable, error);
    } else {
      GstKlingo1ErrorCode code;

      /* result links die after 24 h, and the CDN says so in these ways */
      if (status == 403 || status == 404 || status == 410)
        code = GST_KLINGO1_ERROR_EXPIRED;
      else
        code = error_code_for_status (status);
      g_propagate_error (error, response_error (msg, stream, code,
              retry_after, cancellable));
      g_input_stream_close (stream, NULL, NULL);
      return FALSE;
    }

    g_input_stream_close (stream, NULL, NULL);
    if (!ok) {
      g_close (fd, NULL);
      return FALSE;
    }
    return sync_and_close (fd, call->dest_path, error);
  }

  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
      "Server keeps answering ranges that do not fit the stored prefix");
  return FALSE;
}

gboolean
gst_klingo1_client_download (GstKlingo1Client * client, const gchar * url,
    const gchar * dest_path, GstKlingo1DownloadProgress progress,
    gpointer user_data, GCancellable * cancellable, GError ** error)
{
  g_autoptr (GUri) uri = NULL;
  g_autofree gchar *what = NULL;
  DownloadCall call = { 0, };

  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), FALSE);
  g_return_val_if_fail (url != NULL, FALSE);
  g_return_val_if_fail (dest_path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  what = g_strdup_printf ("GET %s", uri ? g_uri_get_path (uri) : "?");

  call.url = url;
  call.dest_path = dest_path;
  call.progress = progress;
  call.user_data = user_data;

  return run_with_retries (client, what, FALSE, download_attempt, &call,
      cancellable, error);
}
