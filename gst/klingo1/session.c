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

  /* max-conns and max-conns-per-host are construct-only */
  session = g_object_new (SOUP_TYPE_SESSION,
      "timeout", config->io_timeout,
      "idle-timeout", IDLE_TIMEOUT,
      "user-agent", config->user_agent ? config->user_agent :
      "gst-klingo1/" VERSION,
      "max-conns", config->max_conns,
      "max-conns-per-host", config->max_conns_per_host, NULL);

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
