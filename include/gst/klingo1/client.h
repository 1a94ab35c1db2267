/* gst-klingo1: the HTTP client of the Kling O1 API (libsoup 3)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <gst/klingo1/request.h>
#include <gst/klingo1/task.h>

G_BEGIN_DECLS

#define GST_KLINGO1_DEFAULT_API_URL   "https://api.evolink.ai"
#define GST_KLINGO1_DEFAULT_FILES_URL "https://files-api.evolink.ai"

#define GST_TYPE_KLINGO1_CLIENT (gst_klingo1_client_get_type ())
G_DECLARE_FINAL_TYPE (GstKlingo1Client, gst_klingo1_client, GST,
    KLINGO1_CLIENT, GObject)

/**
 * gst_klingo1_client_new:
 * @api_url: base URL of the generation and task API
 * @api_key: the Bearer key; sent only to @api_url's and @files_url's origins
 * @files_url: base URL of the Files API, NULL for the default
 *
 * All calls are synchronous, meant for a worker or streaming thread; each
 * takes a GCancellable, which interrupts any wait (connecting, sending,
 * reading headers or body, backing off) when it fires, and each network wait
 * is bounded by the I/O timeout (default 30 s without progress). Clients with
 * the same HTTP settings share one process-wide connection pool; a client may
 * be used from several threads at once as long as no setter runs meanwhile.
 *
 * Transient failures of idempotent calls (task reads, downloads, uploads:
 * network errors, 429, 500, 502, 503, 504, a task read answered with
 * something that is no task) are retried here, in one policy, honouring
 * Retry-After (at most 30 s); a create is retried only when the server cannot
 * have created a task (429, connection never established).
 */
GstKlingo1Client *gst_klingo1_client_new (const gchar * api_url,
                                          const gchar * api_key,
                                          const gchar * files_url);

/* Seconds a connect, read or write may make no progress before the attempt
 * fails (retryable). Takes effect for the next call: the client moves to the
 * shared session of its new settings. */
void  gst_klingo1_client_set_io_timeout (GstKlingo1Client * client,
                                         guint seconds);
/* Retries of transient failures (default 4); 0 disables them. */
void  gst_klingo1_client_set_max_retries (GstKlingo1Client * client,
                                          guint retries);

/* A g_get_monotonic_time() deadline, 0 for none (the default). With one,
 * transient failures of idempotent calls (task reads, downloads, uploads) are
 * retried until it comes instead of max-retries times, at most 30 s apart;
 * no wait reaches past it, and the last failure is returned once the next try
 * would. Creates keep max-retries. It does not cut a request in flight: the
 * call's GCancellable does. */
void  gst_klingo1_client_set_retry_deadline (GstKlingo1Client * client,
                                             gint64 monotonic_deadline);

/**
 * GstKlingo1RetryNotify:
 * @what: the call, e.g. "GET /v1/tasks/task-unified-..." (no query string)
 * @attempt: 1 for the first retry
 * @error: why the last try failed (GST_KLINGO1_ERROR domain)
 * @delay: seconds until the retry
 *
 * Called in the calling thread before each wait, so that an element can post
 * a warning while the API is unreachable.
 */
typedef void (*GstKlingo1RetryNotify) (const gchar * what, guint attempt,
                                       const GError * error, gdouble delay,
                                       gpointer user_data);

void  gst_klingo1_client_set_retry_notify (GstKlingo1Client * client,
                                           GstKlingo1RetryNotify func,
                                           gpointer user_data);

/* POST /v1/videos/generations with @json_body. @idempotency_key, when not
 * NULL, is sent as Idempotency-Key. HTTP errors become GError with details
 * (status, API code/message/type); a 2xx answer that is no task fails with
 * GST_KLINGO1_ERROR_PROTOCOL and is not retried (the task may exist). */
GstKlingo1Task *gst_klingo1_client_create_task (GstKlingo1Client * client,
                                                const gchar * json_body,
                                                const gchar * idempotency_key,
                                                GCancellable * cancellable,
                                                GError ** error);

/* The create of @request (whose inputs are URLs), its body built by the
 * service's rules; otherwise as gst_klingo1_client_create_task(). */
GstKlingo1Task *gst_klingo1_client_create_task_for_request (GstKlingo1Client * client,
                                                            const GstKlingo1Request * request,
                                                            const gchar * idempotency_key,
                                                            GCancellable * cancellable,
                                                            GError ** error);

/* GET /v1/tasks/{task_id}. A 2xx answer that is no task (a proxy's HTML
 * page, a cut-off body) is retried like a 5xx; after the last retry the
 * GST_KLINGO1_ERROR_PROTOCOL error says the API answered something that is
 * not a task. */
GstKlingo1Task *gst_klingo1_client_get_task (GstKlingo1Client * client,
                                             const gchar * task_id,
                                             GCancellable * cancellable,
                                             GError ** error);

/* POST {files_url}/api/v1/files/upload/stream (multipart, field "file"),
 * streaming the file from disk (memory use does not grow with its size; each
 * try reads it once). Returns data.file_url; @expires_at (optional) receives
 * data.expires_at parsed, or now + 72 h when absent. */
gchar *gst_klingo1_client_upload_file (GstKlingo1Client * client,
                                       const gchar * path,
                                       GDateTime ** expires_at,
                                       GCancellable * cancellable,
                                       GError ** error);

/* GET /v1/credits: what the key can still spend and what it spent, in
 * credits. With a per-key limit (EvoLink "token" not unlimited) that is the
 * key's (never more than the account's balance); without, the account's. */
gboolean gst_klingo1_client_get_credits (GstKlingo1Client * client,
                                         gdouble * remaining,
                                         gdouble * used,
                                         GCancellable * cancellable,
                                         GError ** error);

typedef void (*GstKlingo1DownloadProgress) (guint64 received, guint64 total,
                                            gpointer user_data);

/* Downloads @url into @dest_path. When @dest_path already holds a prefix (an
 * interrupted download) it asks for the rest with Range and appends; a server
 * that ignores Range restarts the file. The key is never sent unless @url has
 * the API's or the Files API's origin, judged per hop (redirects included).
 * 403/404/410 fail with GST_KLINGO1_ERROR_EXPIRED. The data
 * is flushed to disk (fsync) before returning TRUE. */
gboolean gst_klingo1_client_download (GstKlingo1Client * client,
                                      const gchar * url,
                                      const gchar * dest_path,
                                      GstKlingo1DownloadProgress progress,
                                      gpointer user_data,
                                      GCancellable * cancellable,
                                      GError ** error);

/* Sleeps @seconds unless @cancellable fires first; FALSE (with
 * G_IO_ERROR_CANCELLED) when cancelled. Shared by the retry policy and polling. */
gboolean gst_klingo1_sleep (gdouble seconds, GCancellable * cancellable,
                            GError ** error);

G_END_DECLS
