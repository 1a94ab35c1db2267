/* gst-klingo1: the process-wide HTTP sessions (libsoup 3)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One SoupSession per distinct GstKlingo1HttpConfig, for the whole process:
 * every element, job and download with the same settings shares one
 * connection pool (keep-alive, TLS sessions, the per-host limit). libsoup
 * >= 3.2 lets any thread send on a session, but every other session call,
 * features and properties included, belongs to the creating thread and must
 * come before the first request; so a session is configured completely here,
 * under the table lock, and never touched again. Sessions are never freed:
 * finalizing one in whatever thread drops the last reference would be such a
 * call from another thread, and a process has a handful of configs at most.
 *
 * Each session has a gate (see gst_klingo1_session_send()) that admits no
 * more messages per host and in all than it has connections, so that no
 * message ever reaches libsoup's uncancellable wait for a connection.
 */
#include "config.h"

#include <string.h>

#include <gst/klingo1/error.h>

#include "session.h"

GST_DEBUG_CATEGORY (gst_klingo1_http_debug);
#define GST_CAT_DEFAULT gst_klingo1_http_debug

/* A pooled connection unused this long is closed (servers drop idle ones
 * after about a minute anyway). */
#define IDLE_TIMEOUT 60
/* Bodies in the TRACE log are cut here; SoupLogger keeps this much of every
 * body in memory while the message runs. */
#define LOG_BODY_BYTES (16 * 1024)

/* Messages running per host and in all, for one session. */
typedef struct
{
  GMutex lock;
  GCond cond;
  GHashTable *per_host;         /* "scheme://host:port" -> count */
  guint total;
  guint max_per_host;
  guint max_total;
} Gate;

/* One admitted message. */
typedef struct
{
  Gate *gate;
  gchar *host;
  gboolean released;
} Slot;

static GMutex sessions_lock;
/* GstKlingo1HttpConfig (owned copy) -> SoupSession */
static GHashTable *sessions;

void
gst_klingo1_http_debug_init (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_klingo1_http_debug, "klingo1http", 0,
        "Kling O1 HTTP client and traffic");
    g_once_init_leave (&done, 1);
  }
}

/* ---- configs ------------------------------------------------------------ */

void
gst_klingo1_http_config_init (GstKlingo1HttpConfig * config)
{
  g_return_if_fail (config != NULL);

  memset (config, 0, sizeof (*config));
  config->io_timeout = GST_KLINGO1_HTTP_DEFAULT_IO_TIMEOUT;
  config->max_conns_per_host = GST_KLINGO1_HTTP_DEFAULT_MAX_CONNS_PER_HOST;
  config->max_conns = GST_KLINGO1_HTTP_DEFAULT_MAX_CONNS;
}

GstKlingo1HttpConfig *
gst_klingo1_http_config_copy (const GstKlingo1HttpConfig * config)
{
  GstKlingo1HttpConfig *copy = g_new0 (GstKlingo1HttpConfig, 1);

  if (config == NULL) {
    gst_klingo1_http_config_init (copy);
    return copy;
  }
  *copy = *config;
  copy->user_agent = g_strdup (config->user_agent);
  copy->proxy_uri = g_strdup (config->proxy_uri);
  copy->ca_file = g_strdup (config->ca_file);
  return copy;
}

void
gst_klingo1_http_config_free (GstKlingo1HttpConfig * config)
{
  if (config == NULL)
    return;
  /* a copy owns its strings; the const is for callers' literals */
  g_free ((gchar *) config->user_agent);
  g_free ((gchar *) config->proxy_uri);
  g_free ((gchar *) config->ca_file);
  g_free (config);
}

gboolean
gst_klingo1_http_config_equal (const GstKlingo1HttpConfig * a,
    const GstKlingo1HttpConfig * b)
{
  return g_strcmp0 (a->user_agent, b->user_agent) == 0
      && g_strcmp0 (a->proxy_uri, b->proxy_uri) == 0
      && g_strcmp0 (a->ca_file, b->ca_file) == 0
      && a->io_timeout == b->io_timeout
      && a->max_conns_per_host == b->max_conns_per_host
      && a->max_conns == b->max_conns;
}

static guint
str_hash0 (const gchar * s)
{
  return s ? g_str_hash (s) : 0;
}

static guint
config_hash (gconstpointer key)
{
  const GstKlingo1HttpConfig *c = key;
  guint h = str_hash0 (c->user_agent);

  h = h * 31 + str_hash0 (c->proxy_uri);
  h = h * 31 + str_hash0 (c->ca_file);
  h = h * 31 + c->io_timeout;
  h = h * 31 + c->max_conns_per_host;
  h = h * 31 + c->max_conns;
  return h;
}

static gboolean
config_equal (gconstpointer a, gconstpointer b)
{
  return gst_klingo1_http_config_equal (a, b);
}

/* ---- traffic log ----------------------------------------------------------- */

static gboolean
is_credential_header (const gchar * line)
{
  return g_ascii_strncasecmp (line, "Authorization:", 14) == 0
      || g_ascii_strncasecmp (line, "Proxy-Authorization:", 20) == 0;
}

/* Signed result and upload URLs carry their credentials in the query: keep
 * the path, hide the rest. @line is a request line or a Location header. */
static gchar *
hide_query (const gchar * line)
{
  const gchar *q = strchr (line, '?');
  const gchar *end;

  if (q == NULL)
    return NULL;
  end = strstr (q, " HTTP/");
  return g_strdup_printf ("%.*s?<hidden>%s", (gint) (q - line), line,
      end ? end : "");
}

/* Bodies may be binary (uploads, clips): as gstsouputils.c does, only
 * printable ASCII goes to the log. */
static gchar *
printable (const gchar * data)
{
  gchar *s = g_strdup (data);
  gchar *p;

  for (p = s; *p; p++) {
    if (!g_ascii_isprint (*p))
      *p = '.';
  }
  return s;
}

static void
log_printer (SoupLogger * logger, SoupLoggerLogLevel level, char direction,
    const char *data, gpointer user_data)
{
  GstDebugLevel gst_level = level == SOUP_LOGGER_LOG_BODY ? GST_LEVEL_TRACE :
      GST_LEVEL_LOG;
  g_autofree gchar *text = NULL;

  /* the level may have been lowered since the session was made */
  if (gst_debug_category_get_threshold (GST_CAT_DEFAULT) < gst_level)
    return;

  if (level == SOUP_LOGGER_LOG_BODY) {
    text = printable (data);
  } else if (direction == '>' && is_credential_header (data)) {
    /* libsoup only hides Basic credentials; a Bearer key or a JWT must
     * never reach a log */
    const gchar *colon = strchr (data, ':');

    text = g_strdup_printf ("%.*s: <hidden>", (gint) (colon - data), data);
  } else if ((direction == '>' && level == SOUP_LOGGER_LOG_MINIMAL)
      || (direction == '<' && g_ascii_strncasecmp (data, "Location:", 9) == 0)) {
    text = hide_query (data);
  }

  GST_CAT_LEVEL_LOG (GST_CAT_DEFAULT, gst_level, NULL, "%c %s", direction,
      text ? text : data);
}

/* SoupLogger (3.2) copies a request body for the log while it is written and
 * drops that copy only when it prints the request at body level: at any other
 * level the copy stays in the logger for good. So the filters always ask for
 * bodies (at most LOG_BODY_BYTES of them) and log_printer() decides, per line
 * and at the current threshold, what reaches the log. */
static SoupLoggerLogLevel
log_filter (SoupLogger * logger, SoupMessage * msg, gpointer user_data)
{
  return SOUP_LOGGER_LOG_BODY;
}

static SoupLogger *
new_logger (void)
{
  SoupLogger *logger = soup_logger_new (SOUP_LOGGER_LOG_BODY);

  soup_logger_set_max_body_size (logger,
      gst_debug_category_get_threshold (GST_CAT_DEFAULT) >= GST_LEVEL_TRACE ?
      LOG_BODY_BYTES : 0);
  soup_logger_set_request_filter (logger, log_filter, NULL, NULL);
  soup_logger_set_response_filter (logger, log_filter, NULL, NULL);
  soup_logger_set_printer (logger, log_printer, NULL, NULL);
  return logger;
}


/* ---- the connection gate ---------------------------------------------------- */

static GQuark
gate_quark (void)
{
  static gsize quark = 0;

  if (g_once_init_enter (&quark))
    g_once_init_leave (&quark, g_quark_from_static_string ("gst-klingo1-"
            "gate"));
  return (GQuark) quark;
}

static Gate *
gate_new (guint max_per_host, guint max_total)
{
  Gate *gate = g_new0 (Gate, 1);

  g_mutex_init (&gate->lock);
  g_cond_init (&gate->cond);
  gate->per_host = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  gate->max_per_host = max_per_host;
  gate->max_total = max_total;
  return gate;
}

static void
gate_free (Gate * gate)
{
  g_hash_table_unref (gate->per_host);
  g_mutex_clear (&gate->lock);
  g_cond_clear (&gate->cond);
  g_free (gate);
}

static void
gate_wake (GCancellable * cancellable, Gate * gate)
{
  /* under the lock, so that a waiter between its check and its wait does
   * not miss this */
  g_mutex_lock (&gate->lock);
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->lock);
}

static gboolean
gate_enter (Gate * gate, const gchar * host, GCancellable * cancellable,
    GError ** error)
{
  gulong handler = 0;
  gboolean ok = TRUE;
  guint n;

  /* runs the callback at once when already cancelled: not under the lock */
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (gate_wake),
        gate, NULL);

  g_mutex_lock (&gate->lock);
  for (;;) {
    n = GPOINTER_TO_UINT (g_hash_table_lookup (gate->per_host, host));
    if (n < gate->max_per_host && gate->total < gate->max_total)
      break;
    if (g_cancellable_is_cancelled (cancellable)) {
      ok = FALSE;
      break;
    }
    GST_LOG ("waiting for a connection to %s (%u running there, %u in all)",
        host, n, gate->total);
    g_cond_wait (&gate->cond, &gate->lock);
  }
  if (ok) {
    g_hash_table_replace (gate->per_host, g_strdup (host),
        GUINT_TO_POINTER (n + 1));
    gate->total++;
  }
  g_mutex_unlock (&gate->lock);

  /* waits for a callback running in another thread: it takes the lock */
  if (handler != 0)
    g_cancellable_disconnect (cancellable, handler);
  if (!ok)
    g_cancellable_set_error_if_cancelled (cancellable, error);
  return ok;
}

static void
slot_release (Slot * slot)
{
  Gate *gate = slot->gate;
  guint n;

  g_mutex_lock (&gate->lock);
  if (!slot->released) {
    slot->released = TRUE;
    n = GPOINTER_TO_UINT (g_hash_table_lookup (gate->per_host, slot->host));
    if (n <= 1)
      g_hash_table_remove (gate->per_host, slot->host);
    else
      g_hash_table_replace (gate->per_host, g_strdup (slot->host),
          GUINT_TO_POINTER (n - 1));
    gate->total--;
    g_cond_broadcast (&gate->cond);
  }
  g_mutex_unlock (&gate->lock);
}

static void
slot_free (gpointer data, GClosure * closure)
{
  Slot *slot = data;

  /* a message dropped unfinished frees its place too */
  slot_release (slot);
  g_free (slot->host);
  g_free (slot);
}

/* libsoup gives the connection back when the message finishes: the body
 * read to its end or closed, or the exchange failed. */
static void
on_finished (SoupMessage * msg, Slot * slot)
{
  slot_release (slot);
}

static gchar *
host_key (GUri * uri)
{
  return g_strdup_printf ("%s://%s:%d", g_uri_get_scheme (uri),
      g_uri_get_host (uri), g_uri_get_port (uri));
}

GInputStream *
gst_klingo1_session_send (SoupSession * session, SoupMessage * msg,
    GCancellable * cancellable, GError ** error)
{
  Gate *gate;
  Slot *slot;
  gulong handler;
  GInputStream *stream;

  g_return_val_if_fail (SOUP_IS_SESSION (session), NULL);
  g_return_val_if_fail (SOUP_IS_MESSAGE (msg), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gate = g_object_get_qdata (G_OBJECT (session), gate_quark ());
  if (gate == NULL)
    return soup_session_send (session, msg, cancellable, error);

  slot = g_new0 (Slot, 1);
  slot->gate = gate;
  slot->host = host_key (soup_message_get_uri (msg));
  if (!gate_enter (gate, slot->host, cancellable, error)) {
    g_free (slot->host);
    g_free (slot);
    return NULL;
  }
  handler = g_signal_connect_data (msg, "finished", G_CALLBACK (on_finished),
      slot, slot_free, 0);

  stream = soup_session_send (session, msg, cancellable, error);
  if (stream == NULL) {
    /* finished or not, this message holds no connection any more */
    g_signal_handler_disconnect (msg, handler);
  }
  return stream;
}

/* ---- sessions ----------------------------------------------------------- */

/* What GSimpleProxyResolver and GIO's proxies can use; anything else would
 * only fail later, at every connect. */
static gboolean
proxy_uri_is_usable (const gchar * proxy_uri)
{
  static const gchar *const schemes[] = { "http", "https", "socks", "socks4",
    "socks4a", "socks5"
  };
  g_autoptr (GUri) uri = g_uri_parse (proxy_uri, G_URI_FLAGS_NONE, NULL);
  const gchar *host;
  guint i;

  if (uri == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (g_uri_get_scheme (uri), "direct") == 0)
    return TRUE;
  host = g_uri_get_host (uri);
  if (host == NULL || *host == '\0' || strpbrk (host, " \t\r\n") != NULL)
    return FALSE;
  for (i = 0; i < G_N_ELEMENTS (schemes); i++) {
    if (g_ascii_strcasecmp (g_uri_get_scheme (uri), schemes[i]) == 0)
      return TRUE;
  }
  return FALSE;
}

static SoupSession *
new_session (const GstKlingo1HttpConfig * config, GError ** error)
{
  g_autoptr (GTlsDatabase) database = NULL;
  g_autoptr (GProxyResolver) resolver = NULL;
  SoupSession *session;

  if (config->ca_file != NULL) {
    g_autoptr (GError) err = NULL;

    database = g_tls_file_database_new (config->ca_file, &err);
    if (database == NULL) {
      g_autofree gchar *name = g_filename_display_name (config->ca_file);

      g_set_error (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_INVALID_REQUEST, "Cannot use CA file %s: %s",
          name, err->message);
      return NULL;
    }
  }

  if (config->proxy_uri != NULL) {
    if (!proxy_uri_is_usable (config->proxy_uri)) {
      /* the URI may hold a password: it never goes into a message */
      g_set_error_literal (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_INVALID_REQUEST, "The proxy is not a URI of an "
          "http, https or socks proxy, nor direct://");
      return NULL;
    }
    resolver = g_simple_proxy_resolver_new (config->proxy_uri, NULL);
  }

  /* max-conns and max-conns-per-host are construct-only; a limit of 0
   * would make every request wait for ever */
  session = g_object_new (SOUP_TYPE_SESSION,
      "timeout", config->io_timeout,
      "idle-timeout", IDLE_TIMEOUT,
      "user-agent", config->user_agent ? config->user_agent :
      "gst-klingo1/" VERSION,
      "max-conns", MAX (config->max_conns, 1),
      "max-conns-per-host", MAX (config->max_conns_per_host, 1), NULL);
  g_object_set_qdata_full (G_OBJECT (session), gate_quark (),
      gate_new (MAX (config->max_conns_per_host, 1),
          MAX (config->max_conns, 1)), (GDestroyNotify) gate_free);

  /* not set at all unless asked for: a NULL database would turn certificate
   * checks into failures, a NULL resolver would ignore the environment */
  if (database != NULL)
    soup_session_set_tls_database (session, database);
  if (resolver != NULL)
    soup_session_set_proxy_resolver (session, resolver);

  /* decided once: a session outlives any later change of the threshold,
   * which then only narrows what log_printer() lets through */
  if (gst_debug_category_get_threshold (GST_CAT_DEFAULT) >= GST_LEVEL_LOG) {
    g_autoptr (SoupLogger) logger = new_logger ();

    soup_session_add_feature (session, SOUP_SESSION_FEATURE (logger));
  }

  GST_DEBUG ("new session %p: timeout %u s, %u connections per host, %u in "
      "all, %s proxy, %s CA", session, config->io_timeout,
      config->max_conns_per_host, config->max_conns,
      config->proxy_uri ? "configured" : "environment's",
      config->ca_file ? "file's" : "system's");
  return session;
}

SoupSession *
gst_klingo1_session_get (const GstKlingo1HttpConfig * config, GError ** error)
{
  GstKlingo1HttpConfig defaults;
  SoupSession *session;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gst_klingo1_http_debug_init ();
  if (config == NULL) {
    gst_klingo1_http_config_init (&defaults);
    config = &defaults;
  }

  g_mutex_lock (&sessions_lock);
  if (sessions == NULL)
    sessions = g_hash_table_new_full (config_hash, config_equal,
        (GDestroyNotify) gst_klingo1_http_config_free, g_object_unref);

  session = g_hash_table_lookup (sessions, config);
  if (session == NULL) {
    session = new_session (config, error);
    if (session != NULL)
      g_hash_table_insert (sessions, gst_klingo1_http_config_copy (config),
          session);
  }
  if (session != NULL)
    g_object_ref (session);
  g_mutex_unlock (&sessions_lock);

  return session;
}
