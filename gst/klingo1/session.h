/* gst-klingo1: the process-wide HTTP sessions (libsoup 3), not installed
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* "klingo1http": every line of HTTP code (client, sessions, traffic). */
GST_DEBUG_CATEGORY_EXTERN (gst_klingo1_http_debug);

#define GST_KLINGO1_HTTP_DEFAULT_IO_TIMEOUT         30
#define GST_KLINGO1_HTTP_DEFAULT_MAX_CONNS_PER_HOST 6
#define GST_KLINGO1_HTTP_DEFAULT_MAX_CONNS          64

/**
 * GstKlingo1HttpConfig:
 * @user_agent: NULL for "gst-klingo1/" VERSION
 * @proxy_uri: NULL for the environment's proxy settings (libsoup's default
 *   GProxyResolver); "direct://" for none; else e.g. "http://host:3128"
 * @ca_file: NULL for the system's TLS database; else a PEM file of the only
 *   certificate authorities to trust
 * @io_timeout: seconds a connect, read or write may make no progress
 * @max_conns_per_host: connections to one host, all clients together
 * @max_conns: connections in all, all clients together
 *
 * Everything that configures a SoupSession. Clients with equal configs share
 * one session (and its connection pool). Plain and caller-owned: the strings
 * are copied where they are kept.
 */
typedef struct
{
  const gchar *user_agent;
  const gchar *proxy_uri;
  const gchar *ca_file;
  guint io_timeout;
  guint max_conns_per_host;
  guint max_conns;
} GstKlingo1HttpConfig;

/* Fills @config with the defaults. */
void          gst_klingo1_http_config_init (GstKlingo1HttpConfig * config);

/* A deep copy (NULL: the defaults); free with gst_klingo1_http_config_free. */
GstKlingo1HttpConfig *gst_klingo1_http_config_copy (const GstKlingo1HttpConfig * config);
void          gst_klingo1_http_config_free (GstKlingo1HttpConfig * config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstKlingo1HttpConfig, gst_klingo1_http_config_free)

gboolean      gst_klingo1_http_config_equal (const GstKlingo1HttpConfig * a,
                                             const GstKlingo1HttpConfig * b);

/* A new reference to the process-wide session of @config (NULL: the
 * defaults), made on first use and kept for the life of the process. Fails
 * (GST_KLINGO1_ERROR_INVALID_REQUEST) when @ca_file cannot be loaded or
 * @proxy_uri is no URI; nothing is kept then. Any thread. */
SoupSession  *gst_klingo1_session_get (const GstKlingo1HttpConfig * config,
                                       GError ** error);

/* soup_session_send() on a session of gst_klingo1_session_get(), except that
 * the wait for a free connection honours @cancellable: libsoup (3.2) waits
 * for one without looking at any cancellable, so a request queued behind
 * busy connections could not be cancelled. The message is admitted when
 * fewer of the session's messages to its host (and in all) are running than
 * the session has connections; it counts as running until it is finished
 * (its body read or closed, or the send failed). */
GInputStream *gst_klingo1_session_send (SoupSession * session,
                                        SoupMessage * msg,
                                        GCancellable * cancellable,
                                        GError ** error);

/* Registers the debug category; safe to call more than once. */
void          gst_klingo1_http_debug_init (void);

G_END_DECLS
