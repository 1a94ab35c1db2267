/* gst-klingo1: the process-wide HTTP sessions
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The servers (plain HTTP and HTTPS with a self-signed certificate) run in a
 * thread of their own with its own GMainContext; the clients block the test
 * thread or threads of the test.
 */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <libsoup/soup.h>
#include "request-private.h"
#include "task-private.h"
#include <gst/klingo1/client.h>
#include <gst/klingo1/error.h>

#include "client-private.h"
#include "session.h"

#define API_KEY "sk-evo-session-secret"

/* Self-signed for IP 127.0.0.1, valid 2000-2125, CA:TRUE so that it can be
 * its own trust anchor. */
static const gchar test_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBaTCCARCgAwIBAgIBATAKBggqhkjOPQQDAjAbMRkwFwYDVQQDDBBnc3Qta2xp\n"
    "bmdvMSB0ZXN0MCAXDTAwMDEwMTAwMDAwMFoYDzIxMjUwMTAxMDAwMDAwWjAbMRkw\n"
    "FwYDVQQDDBBnc3Qta2xpbmdvMSB0ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD\n"
    "QgAE3IFHWtC2JS9p+JuGl6FXP6lmOnUo953+0dqYfDJMlfM9K6V9MA31mNqUZ15E\n"
    "REInFLxvN/0BSJFn5UurJpqAw6NDMEEwDwYDVR0RBAgwBocEfwAAATAPBgNVHRMB\n"
    "Af8EBTADAQH/MB0GA1UdDgQWBBRg5DP2nUXWk9nMAyHiedQlDuzIcjAKBggqhkjO\n"
    "PQQDAgNHADBEAiAIhFRMArKfGIDerdFnT5OVBYAXONomPbxJ9MwR//+4dQIgefUD\n"
    "w5VQT1XCGttlujtgI5Z3mlZcksn3qad8kv/cvgo=\n"
    "-----END CERTIFICATE-----\n";

static const gchar test_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKvqkaLiuxj2rVLyC\n"
    "Wqe8aeMGu/qXbPdxY4Gsyyhho5yhRANCAATcgUda0LYlL2n4m4aXoVc/qWY6dSj3\n"
    "nf7R2ph8MkyV8z0rpX0wDfWY2pRnXkREQicUvG83/QFIkWflS6smmoDD\n"
    "-----END PRIVATE KEY-----\n";

static const gchar *processing_ok =
    "{\"created\":1757169743,\"id\":\"task-unified-1757169743-7cvnl5zw\","
    "\"model\":\"kling-o1-image-to-video\",\"object\":"
    "\"video.generation.task\",\"progress\":42,\"status\":\"processing\","
    "\"task_info\":{\"can_cancel\":false},\"type\":\"video\"}";

static const gchar *create_ok =
    "{\"created\":1757169743,\"id\":\"task-unified-1757169743-7cvnl5zw\","
    "\"model\":\"kling-o1-image-to-video\",\"object\":"
    "\"video.generation.task\",\"progress\":0,\"status\":\"pending\"}";

static struct
{
  GMutex lock;
  GCond cond;
  gboolean ready;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  gchar *http_base;
  gchar *https_base;

  guint requests;
  gchar *host;
  gchar *auth;
  /* connections the server holds open now (by socket), and the most ever */
  GHashTable *live;
  guint max_live;
  guint in_handler;
  guint max_in_handler;
} srv;

static void
socket_gone (gpointer data, GObject * where_the_socket_was)
{
  g_mutex_lock (&srv.lock);
  /* sockets may outlive a test's server by a little */
  if (srv.live != NULL)
    g_hash_table_remove (srv.live, where_the_socket_was);
  g_mutex_unlock (&srv.lock);
}

static void
respond (SoupServerMessage * msg, const gchar * type, const gchar * body)
{
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY, body,
      strlen (body));
}

static gboolean
answer_later (gpointer data)
{
  SoupServerMessage *msg = data;

  g_mutex_lock (&srv.lock);
  srv.in_handler--;
  g_mutex_unlock (&srv.lock);
  respond (msg, "application/json", processing_ok);
  soup_server_message_unpause (msg);
  g_object_unref (msg);
  return G_SOURCE_REMOVE;
}

/* One byte per second until the client goes. */
static gboolean
trickle_tick (gpointer data)
{
  SoupServerMessage *msg = data;

  soup_message_body_append (soup_server_message_get_response_body (msg),
      SOUP_MEMORY_STATIC, " ", 1);
  soup_server_message_unpause (msg);
  return G_SOURCE_CONTINUE;
}

static void
trickle_finished (SoupServerMessage * msg, GSource * source)
{
  g_source_destroy (source);
  g_source_unref (source);
}

static void
trickle (SoupServerMessage * msg)
{
  GSource *source = g_timeout_source_new (1000);

  soup_server_message_set_status (msg, 200, NULL);
  soup_message_headers_set_encoding (soup_server_message_get_response_headers
      (msg), SOUP_ENCODING_CHUNKED);
  soup_message_body_append (soup_server_message_get_response_body (msg),
      SOUP_MEMORY_STATIC, "{", 1);
  g_source_set_callback (source, trickle_tick, msg, NULL);
  g_source_attach (source, srv.context);
  g_signal_connect (msg, "finished", G_CALLBACK (trickle_finished), source);
}

static void
handler (SoupServer * server, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer user_data)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  GSocket *sock = soup_server_message_get_socket (msg);

  g_mutex_lock (&srv.lock);
  srv.requests++;
  g_free (srv.host);
  srv.host = g_strdup (g_uri_get_host (soup_server_message_get_uri (msg)));
  g_free (srv.auth);
  srv.auth = g_strdup (soup_message_headers_get_one (req, "Authorization"));
  if (sock != NULL && !g_hash_table_contains (srv.live, sock)) {
    g_hash_table_add (srv.live, sock);
    g_object_weak_ref (G_OBJECT (sock), socket_gone, NULL);
    srv.max_live = MAX (srv.max_live, g_hash_table_size (srv.live));
  }
  g_mutex_unlock (&srv.lock);

  if (g_str_equal (path, "/v1/tasks/trickle")) {
    trickle (msg);
  } else if (g_str_equal (path, "/v1/tasks/slow")) {
    GSource *source = g_timeout_source_new (20);

    /* hold the connection a while so that the clients queue up */
    g_mutex_lock (&srv.lock);
    srv.in_handler++;
    srv.max_in_handler = MAX (srv.max_in_handler, srv.in_handler);
    g_mutex_unlock (&srv.lock);
    soup_server_message_pause (msg);
    g_source_set_callback (source, answer_later, g_object_ref (msg), NULL);
    g_source_attach (source, srv.context);
    g_source_unref (source);
  } else if (g_str_has_prefix (path, "/v1/tasks/")) {
    respond (msg, "application/json", processing_ok);
  } else if (g_str_equal (path, "/v1/videos/generations")) {
    respond (msg, "application/json", create_ok);
  } else {
    respond (msg, "text/plain", "hello");
  }
}

static gchar *
listen_on (SoupServer * server, SoupServerListenOptions options,
    const gchar * scheme)
{
  g_autoptr (GError) error = NULL;
  GSList *uris;
  gchar *base;

  fail_unless (soup_server_listen_local (server, 0,
          SOUP_SERVER_LISTEN_IPV4_ONLY | options, &error), "%s",
      error ? error->message : "");
  uris = soup_server_get_uris (server);
  base = g_strdup_printf ("%s://127.0.0.1:%d", scheme,
      g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return base;
}

static gpointer
server_thread (gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) cert = NULL;
  g_autofree gchar *pem = g_strconcat (test_cert_pem, test_key_pem, NULL);
  SoupServer *http, *https;

  g_main_context_push_thread_default (srv.context);

  http = soup_server_new (NULL, NULL);
  soup_server_add_handler (http, NULL, handler, NULL, NULL);
  cert = g_tls_certificate_new_from_pem (pem, -1, &error);
  g_assert_no_error (error);
  https = soup_server_new ("tls-certificate", cert, NULL);
  soup_server_add_handler (https, NULL, handler, NULL, NULL);

  g_mutex_lock (&srv.lock);
  srv.http_base = listen_on (http, 0, "http");
  srv.https_base = listen_on (https, SOUP_SERVER_LISTEN_HTTPS, "https");
  srv.ready = TRUE;
  g_cond_signal (&srv.cond);
  g_mutex_unlock (&srv.lock);

  g_main_loop_run (srv.loop);

  g_object_unref (http);
  g_object_unref (https);
  g_main_context_pop_thread_default (srv.context);
  return NULL;
}

static void
setup (void)
{
  g_mutex_init (&srv.lock);
  g_cond_init (&srv.cond);
  srv.live = g_hash_table_new (NULL, NULL);
  srv.context = g_main_context_new ();
  srv.loop = g_main_loop_new (srv.context, FALSE);
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
  g_clear_pointer (&srv.http_base, g_free);
  g_clear_pointer (&srv.https_base, g_free);
  g_clear_pointer (&srv.host, g_free);
  g_clear_pointer (&srv.auth, g_free);
  g_mutex_lock (&srv.lock);
  g_clear_pointer (&srv.live, g_hash_table_unref);
  g_mutex_unlock (&srv.lock);
  srv.requests = srv.max_live = srv.in_handler = srv.max_in_handler = 0;
  srv.ready = FALSE;
}

GST_START_TEST (test_shared_session)
{
  g_autoptr (GstKlingo1Client) a = NULL;
  g_autoptr (GstKlingo1Client) b = NULL;
  g_autoptr (GstKlingo1Client) c = NULL;
  g_autoptr (SoupSession) sa = NULL;
  g_autoptr (SoupSession) sb = NULL;
  g_autoptr (SoupSession) sc = NULL;
  g_autoptr (SoupSession) sa2 = NULL;
  g_autoptr (SoupSession) defaults = NULL;
  g_autoptr (GError) error = NULL;
  GstKlingo1HttpConfig config;

  /* other URLs and keys, same settings: one pool */
  a = gst_klingo1_client_new (srv.http_base, API_KEY, NULL);
  b = gst_klingo1_client_new ("https://api.example.com", "sk-other",
      "https://files.example.com");
  sa = gst_klingo1_client_get_session (a);
  sb = gst_klingo1_client_get_session (b);
  fail_unless (sa != NULL);
  fail_unless (sa == sb);
  defaults = gst_klingo1_session_get (NULL, &error);
  g_assert_no_error (error);
  fail_unless (defaults == sa);

  /* other settings: another session, and never a changed shared one */
  gst_klingo1_http_config_init (&config);
  config.io_timeout = 7;
  c = gst_klingo1_client_new_full (srv.http_base, API_KEY, NULL, &config);
  sc = gst_klingo1_client_get_session (c);
  fail_unless (sc != sa);
  fail_unless_equals_int (soup_session_get_timeout (sc), 7);
  fail_unless_equals_int (soup_session_get_timeout (sa),
      GST_KLINGO1_HTTP_DEFAULT_IO_TIMEOUT);
  fail_unless_equals_int (soup_session_get_max_conns_per_host (sa),
      GST_KLINGO1_HTTP_DEFAULT_MAX_CONNS_PER_HOST);
  fail_unless_equals_int (soup_session_get_max_conns (sa),
      GST_KLINGO1_HTTP_DEFAULT_MAX_CONNS);
  fail_unless_equals_string (soup_session_get_user_agent (sa),
      "gst-klingo1/" VERSION);

  /* a timeout set later moves the client to the session of its settings */
  gst_klingo1_client_set_io_timeout (a, 7);
  sa2 = gst_klingo1_client_get_session (a);
  fail_unless (sa2 == sc);
  fail_unless_equals_int (soup_session_get_timeout (sb),
      GST_KLINGO1_HTTP_DEFAULT_IO_TIMEOUT);
}

GST_END_TEST;

typedef struct
{
  GstKlingo1HttpConfig *config;
  guint failures;
  GMutex lock;
  gchar *first_error;
} PoolRun;

static gpointer
poll_thread (gpointer data)
{
  PoolRun *run = data;
  g_autoptr (GstKlingo1Client) client = NULL;
  guint i;

  /* a client of its own, as each element has */
  client = gst_klingo1_client_new_full (srv.http_base, API_KEY, NULL,
      run->config);
  gst_klingo1_client_set_max_retries (client, 0);
  for (i = 0; i < 3; i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GstKlingo1Task) task = gst_klingo1_client_get_task (client,
        "slow", NULL, &error);

    if (task == NULL || task->progress != 42) {
      g_mutex_lock (&run->lock);
      run->failures++;
      if (run->first_error == NULL)
        run->first_error = g_strdup (error ? error->message : "wrong task");
      g_mutex_unlock (&run->lock);
    }
  }
  return NULL;
}

GST_START_TEST (test_pool_limit_threads)
{
  GstKlingo1HttpConfig config;
  PoolRun run = { 0, };
  GThread *threads[32];
  guint i;

  gst_klingo1_http_config_init (&config);
  config.max_conns_per_host = 2;
  run.config = &config;
  g_mutex_init (&run.lock);

  for (i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("poll", poll_thread, &run);
  for (i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  fail_unless_equals_int (run.failures, 0);
  fail_unless (run.first_error == NULL, "%s", run.first_error);
  g_mutex_lock (&srv.lock);
  fail_unless_equals_int (srv.requests, 32 * 3);
  fail_unless (srv.max_live >= 1 && srv.max_live <= 2, "%u connections",
      srv.max_live);
  fail_unless (srv.max_in_handler <= 2, "%u at once", srv.max_in_handler);
  g_mutex_unlock (&srv.lock);
  g_mutex_clear (&run.lock);
}

GST_END_TEST;


typedef struct
{
  GstKlingo1HttpConfig *config;
  GCancellable *cancellable;
  GError *error;
} Hog;

static gpointer
hog_thread (gpointer data)
{
  Hog *hog = data;
  g_autoptr (GstKlingo1Client) client = NULL;

  client = gst_klingo1_client_new_full (srv.http_base, API_KEY, NULL,
      hog->config);
  gst_klingo1_client_set_max_retries (client, 0);
  fail_unless (gst_klingo1_client_get_task (client, "trickle",
          hog->cancellable, &hog->error) == NULL);
  return NULL;
}

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

GST_START_TEST (test_cancel_waiting_for_connection)
{
  g_autoptr (GstKlingo1Client) client = NULL;
  g_autoptr (GCancellable) hog_cancellable = g_cancellable_new ();
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  GstKlingo1HttpConfig config;
  Hog hog = { &config, hog_cancellable, NULL };
  CancelLater cl = { cancellable, 1000, 0 };
  GThread *hog_th, *cancel_th;
  gint64 late;

  /* the only connection to the host is busy with a slow answer; a request
   * queued behind it must still give way to its cancellable */
  gst_klingo1_http_config_init (&config);
  config.max_conns_per_host = 1;
  hog_th = g_thread_new ("hog", hog_thread, &hog);
  for (late = 0;; late++) {
    guint requests;

    g_mutex_lock (&srv.lock);
    requests = srv.requests;
    g_mutex_unlock (&srv.lock);
    if (requests > 0)
      break;
    fail_unless (late < 500, "the slow request never arrived");
    g_usleep (10 * 1000);
  }

  client = gst_klingo1_client_new_full (srv.http_base, API_KEY, NULL,
      &config);
  gst_klingo1_client_set_max_retries (client, 0);
  cancel_th = g_thread_new ("cancel", cancel_later, &cl);
  fail_unless (gst_klingo1_client_get_task (client, "task-unified-1",
          cancellable, &error) == NULL);
  late = g_get_monotonic_time () - cl.cancelled_at;
  g_thread_join (cancel_th);
  fail_unless (late < G_USEC_PER_SEC, "returned %" G_GINT64_FORMAT
      " ms after the cancel", late / 1000);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED),
      "%s", error->message);

  g_cancellable_cancel (hog_cancellable);
  g_thread_join (hog_th);
  fail_unless (g_error_matches (hog.error, G_IO_ERROR,
          G_IO_ERROR_CANCELLED));
  g_clear_error (&hog.error);
}

GST_END_TEST;

static gchar *
write_tmp (const gchar * name, const gchar * data, gchar ** dir)
{
  g_autoptr (GError) error = NULL;
  gchar *path;

  *dir = g_dir_make_tmp ("klingo1-session-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (*dir, name, NULL);
  fail_unless (g_file_set_contents (path, data, -1, NULL));
  return path;
}

GST_START_TEST (test_ca_file)
{
  g_autofree gchar *dir = NULL;
  g_autofree gchar *ca = write_tmp ("ca.pem", test_cert_pem, &dir);
  g_autoptr (GstKlingo1Client) trusting = NULL;
  g_autoptr (GstKlingo1Client) system = NULL;
  g_autoptr (GstKlingo1Task) task = NULL;
  g_autoptr (GError) error = NULL;
  GstKlingo1HttpConfig config;
  gint64 start;

  gst_klingo1_http_config_init (&config);
  config.ca_file = ca;
  trusting = gst_klingo1_client_new_full (srv.https_base, API_KEY, NULL,
      &config);
  task = gst_klingo1_client_get_task (trusting, "task-unified-1", NULL,
      &error);
  g_assert_no_error (error);
  fail_unless_equals_int (task->progress, 42);
  fail_unless_equals_string (srv.auth, "Bearer " API_KEY);

  /* the system's authorities do not know it; that does not heal by
   * waiting, so it is not retried */
  system = gst_klingo1_client_new (srv.https_base, API_KEY, NULL);
  gst_klingo1_client_set_max_retries (system, 4);
  start = g_get_monotonic_time ();
  fail_unless (gst_klingo1_client_get_task (system, "task-unified-1", NULL,
          &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_HTTP), "%s", error->message);
  fail_unless (g_get_monotonic_time () - start < G_USEC_PER_SEC);
  fail_unless_equals_int (srv.requests, 1);

  g_unlink (ca);
  g_rmdir (dir);
}

GST_END_TEST;

GST_START_TEST (test_config_errors)
{
  static const gchar *const bad_proxies[] = {
    "http://user:s3cret@bad host:3128", "http://user:s3cret@[::1:3128",
    "ftp://user:s3cret@proxy:21", "user:s3cret@proxy:3128",
  };
  g_autoptr (GstKlingo1Client) client = NULL;
  g_autoptr (GError) error = NULL;
  GstKlingo1HttpConfig config;
  SoupSession *session;
  guint i;

  gst_klingo1_http_config_init (&config);
  config.ca_file = "/nonexistent/ca.pem";
  session = gst_klingo1_session_get (&config, &error);
  fail_unless (session == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_INVALID_REQUEST));
  fail_unless (strstr (error->message, "/nonexistent/ca.pem") != NULL, "%s",
      error->message);
  g_clear_error (&error);

  /* every call says why, none goes out */
  client = gst_klingo1_client_new_full (srv.http_base, API_KEY, NULL,
      &config);
  fail_unless (gst_klingo1_client_get_session (client) == NULL);
  fail_unless (gst_klingo1_client_get_task (client, "task-unified-1", NULL,
          &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_INVALID_REQUEST));
  fail_unless (strstr (error->message, "CA file") != NULL, "%s",
      error->message);
  fail_unless_equals_int (srv.requests, 0);
  g_clear_error (&error);

  /* a proxy URI may hold a password: it is not repeated */
  gst_klingo1_http_config_init (&config);
  for (i = 0; i < G_N_ELEMENTS (bad_proxies); i++) {
    config.proxy_uri = bad_proxies[i];
    session = gst_klingo1_session_get (&config, &error);
    fail_unless (session == NULL, "%s", bad_proxies[i]);
    fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
            GST_KLINGO1_ERROR_INVALID_REQUEST));
    fail_unless (strstr (error->message, "s3cret") == NULL, "%s",
        error->message);
    g_clear_error (&error);
  }
}

GST_END_TEST;

GST_START_TEST (test_proxy)
{
  g_autoptr (GstKlingo1Client) client = NULL;
  g_autoptr (GstKlingo1Task) task = NULL;
  g_autoptr (GError) error = NULL;
  GstKlingo1HttpConfig config;

  /* .invalid never resolves: the answer can only come through the proxy */
  gst_klingo1_http_config_init (&config);
  config.proxy_uri = srv.http_base;
  client = gst_klingo1_client_new_full ("http://api.invalid", API_KEY, NULL,
      &config);
  gst_klingo1_client_set_max_retries (client, 0);
  task = gst_klingo1_client_get_task (client, "task-unified-1", NULL,
      &error);
  g_assert_no_error (error);
  fail_unless_equals_int (task->progress, 42);
  fail_unless_equals_string (srv.host, "api.invalid");
  fail_unless_equals_string (srv.auth, "Bearer " API_KEY);
}

GST_END_TEST;

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

GST_START_TEST (test_traffic_log)
{
  g_autoptr (GstKlingo1Client) client = NULL;
  g_autoptr (GstKlingo1Task) task = NULL;
  g_autoptr (GstKlingo1Task) created = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) log = g_string_new (NULL);
  g_autofree gchar *dir = NULL;
  g_autofree gchar *dest = write_tmp ("clip.mp4", "", &dir);
  g_autofree gchar *signed_url = NULL;
  GstKlingo1HttpConfig config;

  /* the logger is attached when a session is made at LOG or more: settings
   * of its own make sure this one is new */
  gst_debug_set_threshold_for_name ("klingo1http", GST_LEVEL_TRACE);
  gst_debug_add_log_function (capture_http_log, log, NULL);
  gst_klingo1_http_config_init (&config);
  config.user_agent = "gst-klingo1-log-test";
  client = gst_klingo1_client_new_full (srv.http_base, API_KEY, NULL,
      &config);

  task = gst_klingo1_client_get_task (client, "task-unified-1", NULL,
      &error);
  g_assert_no_error (error);
  created = gst_klingo1_client_create_task (client,
      "{\"prompt\":\"a cat on a skateboard\"}", NULL, NULL, &error);
  g_assert_no_error (error);
  signed_url = g_strconcat (srv.http_base,
      "/r/clip.mp4?Expires=1&Signature=topsecret", NULL);
  fail_unless (gst_klingo1_client_download (client, signed_url, dest, NULL,
          NULL, NULL, &error));
  g_assert_no_error (error);

  gst_debug_remove_log_function (capture_http_log);
  g_mutex_lock (&log_lock);
  /* lines and headers at LOG */
  fail_unless (strstr (log->str, "LOG     > GET /v1/tasks/task-unified-1 "
          "HTTP/1.1") != NULL, "%s", log->str);
  fail_unless (strstr (log->str, "> User-Agent: gst-klingo1-log-test")
      != NULL, "%s", log->str);
  fail_unless (strstr (log->str, "< HTTP/1.1 200 OK") != NULL, "%s",
      log->str);
  /* bodies at TRACE, both ways */
  fail_unless (strstr (log->str, "TRACE   < {\"created\":1757169743") != NULL,
      "%s", log->str);
  fail_unless (strstr (log->str, "TRACE   > {\"prompt\":\"a cat on a "
          "skateboard\"}") != NULL, "%s", log->str);
  /* never the key, never a signed query */
  fail_unless (strstr (log->str, "> Authorization: <hidden>") != NULL, "%s",
      log->str);
  fail_unless (strstr (log->str, API_KEY) == NULL, "%s", log->str);
  fail_unless (strstr (log->str, "GET /r/clip.mp4?<hidden> HTTP/1.1")
      != NULL, "%s", log->str);
  fail_unless (strstr (log->str, "topsecret") == NULL, "%s", log->str);
  g_mutex_unlock (&log_lock);

  g_unlink (dest);
  g_rmdir (dir);
}

GST_END_TEST;


GST_START_TEST (test_pool_slots_given_back)
{
  g_autoptr (GstKlingo1Client) client = NULL;
  g_autoptr (GstKlingo1Client) dead = NULL;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *dest = write_tmp ("clip.mp4", "", &dir);
  g_autofree gchar *file_url = g_strconcat (srv.http_base, "/r/clip.mp4",
      NULL);
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback
      (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autofree gchar *dead_url = NULL;
  GstKlingo1HttpConfig config;
  guint i;

  /* one connection per host: a place not given back would hang the next
   * request for ever */
  gst_klingo1_http_config_init (&config);
  config.max_conns_per_host = 1;
  client = gst_klingo1_client_new_full (srv.http_base, API_KEY, NULL,
      &config);
  gst_klingo1_client_set_max_retries (client, 0);

  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  fail_unless (g_socket_bind (sock, addr, FALSE, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  dead_url = g_strdup_printf ("http://127.0.0.1:%u",
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  dead = gst_klingo1_client_new_full (dead_url, API_KEY, NULL, &config);
  gst_klingo1_client_set_max_retries (dead, 0);

  for (i = 0; i < 3; i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GstKlingo1Task) task = NULL;
    gdouble remaining;

    /* the connection is refused */
    fail_unless (gst_klingo1_client_get_task (dead, "task-unified-1", NULL,
            &error) == NULL);
    g_clear_error (&error);
    /* a 200 that is no credits answer */
    fail_if (gst_klingo1_client_get_credits (client, &remaining, NULL, NULL,
            &error));
    g_clear_error (&error);
    /* a download */
    fail_unless (gst_klingo1_client_download (client, file_url, dest, NULL,
            NULL, NULL, &error));
    g_assert_no_error (error);
    task = gst_klingo1_client_get_task (client, "task-unified-1", NULL,
        &error);
    g_assert_no_error (error);
  }
  g_unlink (dest);
  g_rmdir (dir);
}

GST_END_TEST;

static Suite *
session_suite (void)
{
  Suite *s = suite_create ("klingo1-session");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_shared_session);
  tcase_add_test (tc, test_pool_limit_threads);
  tcase_add_test (tc, test_cancel_waiting_for_connection);
  tcase_add_test (tc, test_pool_slots_given_back);
  tcase_add_test (tc, test_ca_file);
  tcase_add_test (tc, test_config_errors);
  tcase_add_test (tc, test_proxy);
  tcase_add_test (tc, test_traffic_log);
  return s;
}

GST_CHECK_MAIN (session);
