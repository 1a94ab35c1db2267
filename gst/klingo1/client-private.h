/* gst-klingo1: what the rest of the library (the download object) needs of
 * the client, not installed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>
#include <gst/klingo1/client.h>
#include <gst/klingo1/error.h>

G_BEGIN_DECLS

/* A message on @client's shared session. The key is added (per hop,
 * redirects included) only when the URL has the API's or the Files API's
 * origin. FALSE/NULL with GST_KLINGO1_ERROR_INVALID_REQUEST for a URL that
 * is not http(s). */
SoupMessage  *gst_klingo1_client_new_message (GstKlingo1Client * client,
                                              const gchar * method,
                                              const gchar * url,
                                              GError ** error);

/* soup_session_send() on the client's shared session (libsoup >= 3.2 lets
 * any thread send). Transport errors come back as libsoup reported them. */
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

G_END_DECLS
