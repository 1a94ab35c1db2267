/* gst-klingo1: the HTTP client of the Kling O1 API (libsoup 3)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every call is synchronous (gst_klingo1_session_send(), soup_session_send()
 * behind a cancellable wait for a free connection) on the process-wide session
 * of the client's HTTP settings (session.c), so all clients share one
 * connection pool; what the service expects on the wire comes from the
 * client's provider (provider.h), what happens on the wire stays here.
 *
 * Each call is one "attempt" function run by run_with_retries(); whether and
 * when to try again is decided in one place, retry_wait(), which the
 * download object reaches through gst_klingo1_client_retry_wait(). Attempts
 * report transport failures with their original GIO / resolver / TLS error so
 * that the policy can tell a connection that was never established from one
 * that broke after a request went out; they become GST_KLINGO1_ERROR_HTTP
 * only when the call gives up.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "request-private.h"
#include "task-private.h"
#include <gst/klingo1/client.h>
#include <gst/klingo1/error.h>
#include <gst/klingo1/input.h>

#include "client-private.h"
#include "multipart-stream.h"
#include "provider.h"
#include "session.h"

#define GST_CAT_DEFAULT gst_klingo1_http_debug

#define DEFAULT_MAX_RETRIES 4
#define MAX_BACKOFF 30
#define DOWNLOAD_CHUNK (64 * 1024)
/* The Files API takes at most 100 MB per file. */
#define MAX_UPLOAD_BYTES (100 * 1024 * 1024)

/* What a message needs to put the key on each hop. Messages hold their own
 * reference, so one that outlives its client (or a provider change) still
 * knows where the key may go. */
typedef struct
{
  gchar *key;
  /* origins that may see the key */
  GUri *api_uri;
  GUri *files_uri;
  const GstKlingo1Provider *provider;
} Auth;

struct _GstKlingo1Client
{
  GObject parent;

  /* guards session, session_error and config: set_io_timeout() may swap
   * them while another thread sends */
  GMutex lock;
  SoupSession *session;
  GError *session_error;
  GstKlingo1HttpConfig *config;

  const GstKlingo1Provider *provider;
  Auth *auth;
  gchar *api_url;
  gchar *files_url;
  guint max_retries;
  gint64 retry_deadline;
  GstKlingo1RetryNotify retry_notify;
  gpointer retry_notify_data;
};

G_DEFINE_FINAL_TYPE (GstKlingo1Client, gst_klingo1_client, G_TYPE_OBJECT);

/* What kind of call failed: the retry policy depends on it. */
typedef enum
{
  CALL_CREATE,                  /* may have made (and billed) a task */
  CALL_READ_TASK,               /* a task read: idempotent, answers a task */
  CALL_OTHER,                   /* idempotent: uploads, downloads, credits */
} CallKind;

static GQuark
provider_quark (void)
{
  static gsize quark = 0;

  if (g_once_init_enter (&quark))
    g_once_init_leave (&quark, g_quark_from_static_string ("gst-klingo1-"
            "provider"));
  return (GQuark) quark;
}

/* ---- credentials -------------------------------------------------------- */

static void
auth_clear (Auth * auth)
{
  if (auth->key != NULL) {
    /* do not leave the key lying around in freed memory */
    memset (auth->key, 0, strlen (auth->key));
    g_free (auth->key);
  }
  g_clear_pointer (&auth->api_uri, g_uri_unref);
  g_clear_pointer (&auth->files_uri, g_uri_unref);
}

static Auth *
auth_new (const gchar * key, const gchar * api_url, const gchar * files_url,
    const GstKlingo1Provider * provider)
{
  Auth *auth = g_atomic_rc_box_new0 (Auth);

  auth->key = (key != NULL && *key != '\0') ? g_strdup (key) : NULL;
  auth->api_uri = g_uri_parse (api_url, SOUP_HTTP_URI_FLAGS, NULL);
  auth->files_uri = g_uri_parse (files_url, SOUP_HTTP_URI_FLAGS, NULL);
  auth->provider = provider;
  return auth;
}

static void
auth_unref (gpointer data, GClosure * closure)
{
  g_atomic_rc_box_release_full (data, (GDestroyNotify) auth_clear);
}

/* ---- object ------------------------------------------------------------- */

static void
gst_klingo1_client_finalize (GObject * object)
{
  GstKlingo1Client *self = GST_KLINGO1_CLIENT (object);

  g_clear_object (&self->session);
  g_clear_error (&self->session_error);
  gst_klingo1_http_config_free (self->config);
  g_mutex_clear (&self->lock);
  g_free (self->api_url);
  g_free (self->files_url);
  auth_unref (self->auth, NULL);

  G_OBJECT_CLASS (gst_klingo1_client_parent_class)->finalize (object);
}

static void
gst_klingo1_client_class_init (GstKlingo1ClientClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_klingo1_client_finalize;

  gst_klingo1_http_debug_init ();
}

static void
gst_klingo1_client_init (GstKlingo1Client * self)
{
  g_mutex_init (&self->lock);
  self->max_retries = DEFAULT_MAX_RETRIES;
  self->provider = gst_klingo1_provider_evolink ();
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

/* Moves the client to the shared session of @config. */
static void
use_config (GstKlingo1Client * client, GstKlingo1HttpConfig * config)
{
  GError *error = NULL;
  SoupSession *session = gst_klingo1_session_get (config, &error);

  g_mutex_lock (&client->lock);
  gst_klingo1_http_config_free (client->config);
  client->config = config;
  g_clear_object (&client->session);
  g_clear_error (&client->session_error);
  client->session = session;
  client->session_error = error;
  g_mutex_unlock (&client->lock);
}

GstKlingo1Client *
gst_klingo1_client_new_full (const gchar * api_url, const gchar * api_key,
    const gchar * files_url, const GstKlingo1HttpConfig * config)
{
  GstKlingo1Client *self;

  self = g_object_new (GST_TYPE_KLINGO1_CLIENT, NULL);
  self->api_url = trim_base_url (api_url ? api_url :
      GST_KLINGO1_DEFAULT_API_URL);
  self->files_url = trim_base_url (files_url ? files_url :
      GST_KLINGO1_DEFAULT_FILES_URL);
  self->auth = auth_new (api_key, self->api_url, self->files_url,
      self->provider);
  use_config (self, gst_klingo1_http_config_copy (config));

  return self;
}

GstKlingo1Client *
gst_klingo1_client_new (const gchar * api_url, const gchar * api_key,
    const gchar * files_url)
{
  return gst_klingo1_client_new_full (api_url, api_key, files_url, NULL);
}

void
gst_klingo1_client_set_provider (GstKlingo1Client * client,
    const GstKlingo1Provider * provider)
{
  Auth *auth;

  g_return_if_fail (GST_IS_KLINGO1_CLIENT (client));
  g_return_if_fail (provider != NULL);

  /* messages in flight keep the old one */
  auth = auth_new (client->auth->key, client->api_url, client->files_url,
      provider);
  auth_unref (client->auth, NULL);
  client->auth = auth;
  client->provider = provider;
}

SoupSession *
gst_klingo1_client_get_session (GstKlingo1Client * client)
{
  SoupSession *session;

  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), NULL);

  g_mutex_lock (&client->lock);
  session = client->session ? g_object_ref (client->session) : NULL;
  g_mutex_unlock (&client->lock);
  return session;
}

void
gst_klingo1_client_set_io_timeout (GstKlingo1Client * client, guint seconds)
{
  GstKlingo1HttpConfig *config;

  g_return_if_fail (GST_IS_KLINGO1_CLIENT (client));

  /* a session is shared and configured once: a new timeout is a new
   * config, hence the session of that config */
  g_mutex_lock (&client->lock);
  config = gst_klingo1_http_config_copy (client->config);
  g_mutex_unlock (&client->lock);
  config->io_timeout = seconds;
  use_config (client, config);
}

void
gst_klingo1_client_set_max_retries (GstKlingo1Client * client, guint retries)
{
  g_return_if_fail (GST_IS_KLINGO1_CLIENT (client));

  client->max_retries = retries;
}

void
gst_klingo1_client_set_retry_deadline (GstKlingo1Client * client,
    gint64 monotonic_deadline)
{
  g_return_if_fail (GST_IS_KLINGO1_CLIENT (client));

  client->retry_deadline = MAX (monotonic_deadline, 0);
}

void
gst_klingo1_client_set_retry_notify (GstKlingo1Client * client,
    GstKlingo1RetryNotify func, gpointer user_data)
{
  g_return_if_fail (GST_IS_KLINGO1_CLIENT (client));

  client->retry_notify = func;
  client->retry_notify_data = user_data;
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
 * reported it. @retry_after receives a 429's or 503's Retry-After, -1 when
 * none. */
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
is_retryable (const GError * err, CallKind kind)
{
  gboolean is_create = kind == CALL_CREATE;

  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return FALSE;

  if (err->domain == GST_KLINGO1_ERROR) {
    guint status = gst_klingo1_error_get_http_status (err);

    /* a 429 was refused before any work started */
    if (err->code == GST_KLINGO1_ERROR_RATE_LIMITED)
      return TRUE;
    /* a task read answered 2xx with something else (a proxy's or a captive
     * portal's page, a cut-off body): the task is still there to read. A
     * create must not be sent again: the task may exist */
    if (err->code == GST_KLINGO1_ERROR_PROTOCOL)
      return kind == CALL_READ_TASK && status >= 200 && status < 300;
    /* a 5xx on create may come after the task was created (and billed) */
    if (is_create || err->code != GST_KLINGO1_ERROR_SERVER)
      return FALSE;
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
  /* time-outs, resets, closed connections: the network, not the request */
  return TRUE;
}

gboolean
gst_klingo1_client_error_is_retryable (const GError * err, gboolean is_create)
{
  g_return_val_if_fail (err != NULL, FALSE);

  return is_retryable (err, is_create ? CALL_CREATE : CALL_OTHER);
}

gdouble
gst_klingo1_client_backoff (guint n, gint retry_after)
{
  if (retry_after >= 0)
    return MIN (retry_after, MAX_BACKOFF);
  return n < 5 ? MIN (1u << n, MAX_BACKOFF) : MAX_BACKOFF;
}

/* The error a call ends with: ours as it is, a transport error named after
 * the call. */
static GError *
final_error (const gchar * what, const GError * err)
{
  if (err->domain == GST_KLINGO1_ERROR
      || g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_copy (err);
  return g_error_new (GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_HTTP,
      "%s failed: %s", what, err->message);
}

static gboolean
retry_wait (GstKlingo1Client * client, const gchar * what, CallKind kind,
    guint n, const GError * err, gint retry_after, GCancellable * cancellable,
    GError ** error)
{
  g_autoptr (GError) final = NULL;
  gint64 deadline = client->retry_deadline;
  const gchar *prefix, *sep;
  gdouble delay;

  /* whatever libsoup made of an interrupted transfer, the caller asked for
   * it: report a cancellation as such */
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  final = final_error (what, err);
  if (!is_retryable (err, kind))
    goto give_up;

  /* our messages mostly name the call already */
  prefix = strstr (final->message, what) ? "" : what;
  sep = *prefix ? ": " : "";

  delay = gst_klingo1_client_backoff (n, retry_after);
  if (deadline > 0 && kind != CALL_CREATE) {
    /* until the deadline rather than a number of times: an outage of a few
     * minutes should not fail a job that may still finish in time */
    if (g_get_monotonic_time () + (gint64) (delay * G_USEC_PER_SEC) >=
        deadline) {
      GST_INFO ("no retry, the deadline comes first: %s%s%s", prefix, sep,
          final->message);
      goto give_up;
    }
    GST_INFO ("retry %u in %.1f s (until the deadline): %s%s%s", n + 1,
        delay, prefix, sep, final->message);
  } else {
    if (n >= client->max_retries)
      goto give_up;
    GST_INFO ("retry %u of %u in %.1f s: %s%s%s", n + 1, client->max_retries,
        delay, prefix, sep, final->message);
  }

  if (client->retry_notify != NULL)
    client->retry_notify (what, n + 1, final, delay,
        client->retry_notify_data);

  return gst_klingo1_sleep (delay, cancellable, error);

give_up:
  g_propagate_error (error, g_steal_pointer (&final));
  return FALSE;
}

gboolean
gst_klingo1_client_retry_wait (GstKlingo1Client * client, const gchar * what,
    gboolean is_create, guint n, const GError * err, gint retry_after,
    GCancellable * cancellable, GError ** error)
{
  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), FALSE);
  g_return_val_if_fail (what != NULL, FALSE);
  g_return_val_if_fail (err != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return retry_wait (client, what, is_create ? CALL_CREATE : CALL_OTHER, n,
      err, retry_after, cancellable, error);
}

static gboolean
run_with_retries (GstKlingo1Client * client, const gchar * what,
    CallKind kind, GstKlingo1Attempt attempt, gpointer data,
    GCancellable * cancellable, GError ** error)
{
  guint n;

  for (n = 0;; n++) {
    g_autoptr (GError) err = NULL;
    gint retry_after = -1;

    if (g_cancellable_set_error_if_cancelled (cancellable, error))
      return FALSE;

    if (attempt (client, data, &retry_after, cancellable, &err))
      return TRUE;

    if (!retry_wait (client, what, kind, n, err, retry_after, cancellable,
            error))
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
on_message_starting (SoupMessage * msg, Auth * auth)
{
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);
  GUri *uri = soup_message_get_uri (msg);

  if (auth->key != NULL && (same_origin (uri, auth->api_uri)
          || same_origin (uri, auth->files_uri))) {
    auth->provider->authorize (headers, auth->key);
  } else {
    /* every provider so far authenticates with this header */
    soup_message_headers_remove (headers, "Authorization");
  }
}

SoupMessage *
gst_klingo1_client_new_message (GstKlingo1Client * client,
    const gchar * method, const gchar * url, GError ** error)
{
  g_autoptr (GUri) uri = NULL;
  SoupMessage *msg;

  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), NULL);
  g_return_val_if_fail (method != NULL, NULL);
  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL
      || (g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") != 0
          && g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") != 0)) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
        "Not an http(s) URL: %s", url);
    return NULL;
  }

  msg = soup_message_new_from_uri (method, uri);
  g_signal_connect_data (msg, "starting", G_CALLBACK (on_message_starting),
      g_atomic_rc_box_acquire (client->auth), auth_unref, 0);
  /* for gst_klingo1_client_response_error(), which has no client */
  g_object_set_qdata (G_OBJECT (msg), provider_quark (),
      (gpointer) client->provider);
  return msg;
}

GInputStream *
gst_klingo1_client_send (GstKlingo1Client * client, SoupMessage * msg,
    GCancellable * cancellable, GError ** error)
{
  g_autoptr (SoupSession) session = NULL;

  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), NULL);
  g_return_val_if_fail (SOUP_IS_MESSAGE (msg), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_mutex_lock (&client->lock);
  if (client->session != NULL)
    session = g_object_ref (client->session);
  else if (error != NULL)
    *error = g_error_copy (client->session_error);
  g_mutex_unlock (&client->lock);

  if (session == NULL)
    return NULL;
  return gst_klingo1_session_send (session, msg, cancellable, error);
}

/* "HTTP-method /path" for messages: no query string, since signed result
 * URLs carry credentials there. */
static gchar *
describe_message (SoupMessage * msg)
{
  return g_strdup_printf ("%s %s", soup_message_get_method (msg),
      g_uri_get_path (soup_message_get_uri (msg)));
}

static GError *
oversize_error (SoupMessage * msg, goffset announced)
{
  g_autofree gchar *what = describe_message (msg);
  GError *error;

  if (announced >= 0)
    error = g_error_new (GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Response of %" G_GOFFSET_FORMAT " bytes from %s exceeds the limit "
        "of %d bytes", announced, what, GST_KLINGO1_MAX_RESPONSE_BYTES);
  else
    error = g_error_new (GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Response from %s exceeds the limit of %d bytes", what,
        GST_KLINGO1_MAX_RESPONSE_BYTES);
  /* the policy tells a bad 2xx answer from a bad error answer by it */
  gst_klingo1_error_set_http_status (error, soup_message_get_status (msg));
  return error;
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
    g_propagate_error (error, oversize_error (msg,
            soup_message_headers_get_content_length (headers)));
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
      g_propagate_error (error, oversize_error (msg, -1));
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

GstKlingo1ErrorCode
gst_klingo1_client_error_code_for_status (guint status)
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
status_error (const GstKlingo1Provider * provider, const gchar * what,
    const gchar * reason, GstKlingo1ErrorCode code, guint status,
    GBytes * body, gint retry_after)
{
  g_autofree gchar *api_code = NULL;
  g_autofree gchar *api_message = NULL;
  g_autofree gchar *api_type = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  GError *error;

  if (body != NULL)
    provider->parse_error (g_bytes_get_data (body, NULL),
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

GError *
gst_klingo1_client_response_error (SoupMessage * msg, GInputStream * stream,
    GstKlingo1ErrorCode code, gint * retry_after, GCancellable * cancellable)
{
  const GstKlingo1Provider *provider;
  guint status;
  g_autofree gchar *what = NULL;
  g_autoptr (GBytes) body = NULL;
  gint after = -1;

  g_return_val_if_fail (SOUP_IS_MESSAGE (msg), NULL);

  provider = g_object_get_qdata (G_OBJECT (msg), provider_quark ());
  if (provider == NULL)
    provider = gst_klingo1_provider_evolink ();
  status = soup_message_get_status (msg);
  what = describe_message (msg);

  /* both say "not now" and may say until when */
  if (status == 429 || status == 503)
    after = parse_retry_after (msg);
  if (retry_after != NULL)
    *retry_after = after;
  /* an unreadable error body is no reason to hide the status */
  if (stream != NULL)
    body = read_body (msg, stream, cancellable, NULL);
  return status_error (provider, what, soup_message_get_reason_phrase (msg),
      code, status, body, after);
}

/* ---- JSON calls: create, get, upload, credits -------------------------- */

typedef struct
{
  const gchar *method;
  const gchar *url;
  GBytes *body;                 /* JSON request body, or NULL */
  const gchar *idempotency_key;
  gboolean is_create;
  guint status;                 /* out */
  gchar *content_type;          /* out */
  GBytes *response;             /* out */
} JsonCall;

static void
json_call_clear (JsonCall * call)
{
  g_clear_pointer (&call->content_type, g_free);
  g_clear_pointer (&call->response, g_bytes_unref);
}

/* Sends @msg and reads a 2xx answer (bounded) into @call; any other status
 * becomes its error. */
static gboolean
exchange (GstKlingo1Client * client, SoupMessage * msg, JsonCall * call,
    gint * retry_after, GCancellable * cancellable, GError ** error)
{
  g_autoptr (GInputStream) stream = NULL;
  SoupMessageHeaders *headers;
  guint status;

  soup_message_headers_replace (soup_message_get_request_headers (msg),
      "Accept", "application/json");

  stream = gst_klingo1_client_send (client, msg, cancellable, error);
  if (stream == NULL)
    return FALSE;

  status = soup_message_get_status (msg);
  headers = soup_message_get_response_headers (msg);
  json_call_clear (call);
  call->status = status;
  call->content_type = g_strdup (soup_message_headers_get_content_type
      (headers, NULL));

  if (!SOUP_STATUS_IS_SUCCESSFUL (status)) {
    g_propagate_error (error, gst_klingo1_client_response_error (msg, stream,
            gst_klingo1_client_error_code_for_status (status), retry_after,
            cancellable));
    g_input_stream_close (stream, NULL, NULL);
    return FALSE;
  }

  call->response = read_body (msg, stream, cancellable, error);
  /* closing an unfinished body drops the connection without reading on */
  g_input_stream_close (stream, NULL, NULL);
  return call->response != NULL;
}

static gboolean
json_attempt (GstKlingo1Client * client, gpointer data, gint * retry_after,
    GCancellable * cancellable, GError ** error)
{
  JsonCall *call = data;
  g_autoptr (SoupMessage) msg = NULL;

  msg = gst_klingo1_client_new_message (client, call->method, call->url,
      error);
  if (msg == NULL)
    return FALSE;
  if (call->body != NULL)
    soup_message_set_request_body_from_bytes (msg, "application/json",
        call->body);
  if (call->idempotency_key != NULL
      && client->provider->idempotency_header != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg),
        client->provider->idempotency_header, call->idempotency_key);
  /* libsoup silently resends a request that failed on a reused keep-alive
   * connection; a create must never be sent twice behind our back */
  if (call->is_create)
    soup_message_add_flags (msg, SOUP_MESSAGE_NEW_CONNECTION);

  return exchange (client, msg, call, retry_after, cancellable, error);
}

typedef struct
{
  JsonCall json;
  const gchar *what;
  GstKlingo1Task *task;         /* out */
} TaskCall;

/* A task call's answer is read and judged within the try, so that a task
 * read answered with something else is tried again like a 5xx. */
static gboolean
task_attempt (GstKlingo1Client * client, gpointer data, gint * retry_after,
    GCancellable * cancellable, GError ** error)
{
  TaskCall *call = data;
  g_autoptr (GError) err = NULL;
  GBytes *response;

  if (!json_attempt (client, &call->json, retry_after, cancellable, error))
    return FALSE;

  response = call->json.response;
  call->task = client->provider->parse_task (g_bytes_get_data (response,
          NULL), g_bytes_get_size (response), &err);
  if (call->task != NULL)
    return TRUE;

  /* an HTML page or a cut-off body says nothing about the task; the
   * parser's words say what it was instead */
  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
      "%s: the API answered something that is not a task (HTTP %u, %s, %"
      G_GSIZE_FORMAT " bytes): %s", call->what, call->json.status,
      call->json.content_type ? call->json.content_type : "no content type",
      g_bytes_get_size (response), err->message);
  gst_klingo1_error_set_http_status (*error, call->json.status);
  return FALSE;
}

static GstKlingo1Task *
task_call (GstKlingo1Client * client, TaskCall * call, CallKind kind,
    GCancellable * cancellable, GError ** error)
{
  gboolean ok;

  ok = run_with_retries (client, call->what, kind, task_attempt, call,
      cancellable, error);
  json_call_clear (&call->json);
  if (!ok) {
    g_clear_pointer (&call->task, gst_klingo1_task_free);
    return NULL;
  }
  return call->task;
}

GstKlingo1Task *
gst_klingo1_client_create_task (GstKlingo1Client * client,
    const gchar * json_body, const gchar * idempotency_key,
    GCancellable * cancellable, GError ** error)
{
  const GstKlingo1Provider *provider;
  g_autofree gchar *url = NULL;
  g_autofree gchar *what = NULL;
  g_autoptr (GBytes) body = NULL;
  TaskCall call = { {0,}, };

  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), NULL);
  g_return_val_if_fail (json_body != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  provider = client->provider;
  url = g_strconcat (client->api_url, provider->create_path, NULL);
  what = g_strconcat ("POST ", provider->create_path, NULL);
  body = g_bytes_new (json_body, strlen (json_body));

  call.json.method = SOUP_METHOD_POST;
  call.json.url = url;
  call.json.body = body;
  call.json.idempotency_key = idempotency_key;
  call.json.is_create = TRUE;
  call.what = what;

  return task_call (client, &call, CALL_CREATE, cancellable, error);
}

GstKlingo1Task *
gst_klingo1_client_create_task_for_request (GstKlingo1Client * client,
    const GstKlingo1Request * request, const gchar * idempotency_key,
    GCancellable * cancellable, GError ** error)
{
  g_autofree gchar *body = NULL;

  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), NULL);
  g_return_val_if_fail (request != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  body = client->provider->build_create_body (request, error);
  if (body == NULL)
    return NULL;
  return gst_klingo1_client_create_task (client, body, idempotency_key,
      cancellable, error);
}

GstKlingo1Task *
gst_klingo1_client_get_task (GstKlingo1Client * client,
    const gchar * task_id, GCancellable * cancellable, GError ** error)
{
  const GstKlingo1Provider *provider;
  g_autofree gchar *escaped = NULL;
  g_autofree gchar *url = NULL;
  g_autofree gchar *what = NULL;
  TaskCall call = { {0,}, };

  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (task_id == NULL || *task_id == '\0') {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
        "Empty task id");
    return NULL;
  }

  provider = client->provider;
  escaped = g_uri_escape_string (task_id, NULL, FALSE);
  url = g_strconcat (client->api_url, provider->task_path, escaped, NULL);
  what = g_strconcat ("GET ", provider->task_path, escaped, NULL);

  call.json.method = SOUP_METHOD_GET;
  call.json.url = url;
  call.what = what;

  return task_call (client, &call, CALL_READ_TASK, cancellable, error);
}

typedef struct
{
  JsonCall json;
  gdouble remaining;            /* out */
  gdouble used;                 /* out */
} CreditsCall;

static gboolean
credits_attempt (GstKlingo1Client * client, gpointer data,
    gint * retry_after, GCancellable * cancellable, GError ** error)
{
  CreditsCall *call = data;
  GBytes *response;

  if (!json_attempt (client, &call->json, retry_after, cancellable, error))
    return FALSE;
  response = call->json.response;
  return client->provider->parse_credits (g_bytes_get_data (response, NULL),
      g_bytes_get_size (response), &call->remaining, &call->used, error);
}

gboolean
gst_klingo1_client_get_credits (GstKlingo1Client * client,
    gdouble * remaining, gdouble * used, GCancellable * cancellable,
    GError ** error)
{
  const GstKlingo1Provider *provider;
  g_autofree gchar *url = NULL;
  g_autofree gchar *what = NULL;
  CreditsCall call = { {0,}, };
  gboolean ok;

  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  provider = client->provider;
  if (provider->credits_path == NULL || provider->parse_credits == NULL) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
        "The %s API has no credits call", provider->name);
    return FALSE;
  }

  url = g_strconcat (client->api_url, provider->credits_path, NULL);
  what = g_strconcat ("GET ", provider->credits_path, NULL);
  call.json.method = SOUP_METHOD_GET;
  call.json.url = url;

  ok = run_with_retries (client, what, CALL_OTHER, credits_attempt, &call,
      cancellable, error);
  json_call_clear (&call.json);
  if (!ok)
    return FALSE;
  if (remaining != NULL)
    *remaining = call.remaining;
  if (used != NULL)
    *used = call.used;
  return TRUE;
}

/* ---- upload ------------------------------------------------------------- */

typedef struct
{
  GstKlingo1Client *client;
  const gchar *path;
  const gchar *url;
  const gchar *what;
  JsonCall json;
  GCancellable *cancellable;
  GError *reopen_error;         /* of a restart, see on_upload_restarted() */
  GDateTime *expires_at;        /* out */
  gchar *file_url;              /* out */
} UploadCall;

static GstKlingo1MultipartStream *
open_upload_body (GstKlingo1Client * client, UploadCall * call,
    GError ** error)
{
  g_autoptr (GstKlingo1MultipartStream) body = NULL;
  goffset size;

  body = gst_klingo1_multipart_stream_new (call->path,
      client->provider->upload_field, call->cancellable, error);
  if (body == NULL)
    return NULL;

  size = gst_klingo1_multipart_stream_get_file_size (body);
  if (size > MAX_UPLOAD_BYTES) {
    g_autofree gchar *name = g_filename_display_name (call->path);

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
        "%s is %" G_GOFFSET_FORMAT " bytes, the Files API takes at most %d",
        name, size, MAX_UPLOAD_BYTES);
    return NULL;
  }
  return g_steal_pointer (&body);
}

static void
set_upload_body (SoupMessage * msg, GstKlingo1MultipartStream * body)
{
  soup_message_set_request_body (msg,
      gst_klingo1_multipart_stream_get_content_type (body),
      G_INPUT_STREAM (body), gst_klingo1_multipart_stream_get_length (body));
}

/* libsoup drops the (consumed) body of a message it restarts: one that goes
 * out again as a POST (a misdirected HTTP/2 request, an authentication
 * retry) needs a fresh one. A 301/302/303 turns the POST into a GET without
 * a body, which must stay so. */
static void
on_upload_restarted (SoupMessage * msg, gpointer user_data)
{
  UploadCall *call = user_data;
  g_autoptr (GstKlingo1MultipartStream) body = NULL;

  if (soup_message_get_method (msg) != SOUP_METHOD_POST)
    return;
  g_clear_error (&call->reopen_error);
  body = open_upload_body (call->client, call, &call->reopen_error);
  if (body != NULL)
    set_upload_body (msg, body);
  else
    /* the restart goes out without a body and fails; the try then reports
     * why */
    soup_message_set_request_body (msg, NULL, NULL, 0);
}

static gboolean
upload_attempt (GstKlingo1Client * client, gpointer data, gint * retry_after,
    GCancellable * cancellable, GError ** error)
{
  UploadCall *call = data;
  g_autoptr (GstKlingo1MultipartStream) body = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  GBytes *response;
  guint refused = 0;
  gboolean ok;

  /* each try sends the file from its start: a body stream is consumed by
   * the try before */
  call->cancellable = cancellable;
  body = open_upload_body (client, call, error);
  if (body == NULL)
    return FALSE;
  msg = gst_klingo1_client_new_message (client, SOUP_METHOD_POST, call->url,
      error);
  if (msg == NULL)
    return FALSE;
  set_upload_body (msg, body);
  g_signal_connect (msg, "restarted", G_CALLBACK (on_upload_restarted), call);

  ok = exchange (client, msg, &call->json, retry_after, cancellable, error);
  g_signal_handlers_disconnect_by_func (msg, on_upload_restarted, call);
  if (call->reopen_error != NULL) {
    /* the restart went out without its body; whatever the server made of
     * that, this is why */
    g_clear_error (error);
    g_propagate_error (error, g_steal_pointer (&call->reopen_error));
    return FALSE;
  }
  if (!ok)
    return FALSE;

  response = call->json.response;
  call->file_url = client->provider->parse_upload (g_bytes_get_data (response,
          NULL), g_bytes_get_size (response), &call->expires_at, &refused,
      error);
  if (call->file_url != NULL)
    return TRUE;
  if (error != NULL && *error != NULL)
    return FALSE;

  /* refused with a 2xx status: classify by the status the body names */
  g_propagate_error (error, status_error (client->provider, call->what, NULL,
          refused ? gst_klingo1_client_error_code_for_status (refused) :
          GST_KLINGO1_ERROR_HTTP, call->json.status, response, -1));
  return FALSE;
}

gchar *
gst_klingo1_client_upload_file (GstKlingo1Client * client,
    const gchar * path, GDateTime ** expires_at, GCancellable * cancellable,
    GError ** error)
{
  const GstKlingo1Provider *provider;
  g_autofree gchar *url = NULL;
  g_autofree gchar *what = NULL;
  UploadCall call = { 0, };
  gboolean ok;

  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  provider = client->provider;
  if (provider->upload_path == NULL || provider->parse_upload == NULL) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
        "The %s API takes no local files; give the input as an http(s) URL",
        provider->name);
    return NULL;
  }

  url = g_strconcat (client->files_url, provider->upload_path, NULL);
  what = g_strconcat ("POST ", provider->upload_path, NULL);
  call.client = client;
  call.path = path;
  call.url = url;
  call.what = what;

  ok = run_with_retries (client, what, CALL_OTHER, upload_attempt, &call,
      cancellable, error);
  json_call_clear (&call.json);
  g_clear_error (&call.reopen_error);

  if (!ok) {
    g_clear_pointer (&call.expires_at, g_date_time_unref);
    g_clear_pointer (&call.file_url, g_free);
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
  /* a path is bytes; a message is UTF-8 */
  g_autofree gchar *name = g_filename_display_name (path);

  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
      "Cannot %s %s: %s", what, name, g_strerror (errsv));
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
void
gst_klingo1_client_parse_content_range (SoupMessage * msg, goffset * start,
    goffset * total)
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

    msg = gst_klingo1_client_new_message (client, SOUP_METHOD_GET, call->url,
        error);
    if (msg == NULL)
      return FALSE;
    /* byte ranges are offsets in the stored (encoded) representation */
    soup_message_disable_feature (msg, SOUP_TYPE_CONTENT_DECODER);
    if (have > 0)
      soup_message_headers_set_range (soup_message_get_request_headers (msg),
          have, -1);

    stream = gst_klingo1_client_send (client, msg, cancellable, error);
    if (stream == NULL)
      return FALSE;

    status = soup_message_get_status (msg);
    headers = soup_message_get_response_headers (msg);
    length = soup_message_headers_get_encoding (headers) ==
        SOUP_ENCODING_CONTENT_LENGTH ?
        soup_message_headers_get_content_length (headers) : -1;

    if (status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE && have > 0) {
      gst_klingo1_client_parse_content_range (msg, &start, &total);
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
      GST_DEBUG ("stored prefix of %" G_GOFFSET_FORMAT " bytes does not fit, "
          "restarting", have);
      if (!truncate_file (call->dest_path, error))
        return FALSE;
      continue;
    }

    if (status == SOUP_STATUS_PARTIAL_CONTENT && have > 0) {
      gst_klingo1_client_parse_content_range (msg, &start, &total);
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
        code = gst_klingo1_client_error_code_for_status (status);
      g_propagate_error (error, gst_klingo1_client_response_error (msg,
              stream, code, retry_after, cancellable));
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

  return run_with_retries (client, what, CALL_OTHER, download_attempt, &call,
      cancellable, error);
}
