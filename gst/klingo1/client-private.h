/* gst-klingo1: what the rest of the library (the download object) needs of
 * the client, not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>
#include <gst/klingo1/client.h>
#include <gst/klingo1/error.h>

#include "provider.h"
#include "session.h"

G_BEGIN_DECLS

/* A client on the shared session of @config (NULL: the defaults). A config
 * that cannot be used (an unreadable CA file, a malformed proxy URI) makes
 * every call fail with GST_KLINGO1_ERROR_INVALID_REQUEST saying why. */
GstKlingo1Client *gst_klingo1_client_new_full (const gchar * api_url,
                                               const gchar * api_key,
                                               const gchar * files_url,
                                               const GstKlingo1HttpConfig * config);

/* The service behind the URLs (default: gst_klingo1_provider_evolink()). Not
 * while calls run. */
void          gst_klingo1_client_set_provider (GstKlingo1Client * client,
                                               const GstKlingo1Provider * provider);

/* A new reference to the session the client sends on; NULL when its config
 * is unusable. */
SoupSession  *gst_klingo1_client_get_session (GstKlingo1Client * client);

/* A message on @client's shared session. The key is added (per hop,
 * redirects included) only when the URL has the API's or the Files API's
 * origin. FALSE/NULL with GST_KLINGO1_ERROR_INVALID_REQUEST for a URL that
 * is not http(s). */
SoupMessage  *gst_klingo1_client_new_message (GstKlingo1Client * client,
                                              const gchar * method,
                                              const gchar * url,
                                              GError ** error);

/* soup_session_send() on the client's shared session (libsoup >= 3.2 lets
 * any thread send), behind gst_klingo1_session_send()'s cancellable wait for
 * a free connection. Transport errors come back as libsoup reported them.
 * Close (or drop) the stream when done: the message holds its place in the
 * pool until it is finished. */
GInputStream *gst_klingo1_client_send (GstKlingo1Client * client,
                                       SoupMessage * msg,
                                       GCancellable * cancellable,
                                       GError ** error);

/* The GST_KLINGO1_ERROR for a non-2xx response: reads (bounded) what is left
 * of the body for the API's message. @retry_after receives Retry-After of a
 * 429/503, -1 when none. */
GError       *gst_klingo1_client_response_error (SoupMessage * msg,
                                                 GInputStream * stream,
                                                 GstKlingo1ErrorCode code,
                                                 gint * retry_after,
                                                 GCancellable * cancellable);

GstKlingo1ErrorCode gst_klingo1_client_error_code_for_status (guint status);

/* The one retry policy: TRUE when @err is worth another try (never for a
 * create that may have reached the server). */
gboolean      gst_klingo1_client_error_is_retryable (const GError * err,
                                                     gboolean is_create);

/* Backoff before retry @n (0-based), honouring @retry_after (>= 0). */
gdouble       gst_klingo1_client_backoff (guint n, gint retry_after);

/* The whole decision after failed try number @n (0-based) of @what, for
 * callers with a loop of their own (the download object), so that they
 * follow the client's max-retries, retry deadline and notify: when @err is
 * worth another try and there is time and budget for it, logs it, calls the
 * retry notify, sleeps the backoff and returns TRUE. Otherwise FALSE with
 * @error set: to the final form of @err (transport errors become
 * GST_KLINGO1_ERROR_HTTP "@what failed: ..."), or to G_IO_ERROR_CANCELLED. */
gboolean      gst_klingo1_client_retry_wait (GstKlingo1Client * client,
                                             const gchar * what,
                                             gboolean is_create,
                                             guint n,
                                             const GError * err,
                                             gint retry_after,
                                             GCancellable * cancellable,
                                             GError ** error);

/* Content-Range of a response: "bytes START-END/TOTAL" or "bytes * /TOTAL";
 * -1 for what is absent or unreadable. */
void          gst_klingo1_client_parse_content_range (SoupMessage * msg,
                                                      goffset * start,
                                                      goffset * total);

G_END_DECLS
