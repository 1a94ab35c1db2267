/* gst-klingo1: the HTTP client of the Kling O1 API (libsoup 3)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
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
 * takes a GCancellable and each network wait is bounded by the I/O timeout
 * (default 30 s). Transient failures of idempotent calls (task reads,
 * downloads, uploads: network errors, 429, 500, 502, 503, 504) are retried
 * here, in one policy, honouring Retry-After (at most 30 s); a create is
 * retried only when the server cannot have created a task (429, connection
 * never established).
 */
GstKlingo1Client *gst_klingo1_client_new (const gchar * api_url,
                                          const gchar * api_key,
                                          const gchar * files_url);

void  gst_klingo1_client_set_io_timeout (GstKlingo1Client * client,
                                         guint seconds);
/* Retries of transient failures (default 4); 0 disables them (tests). */
void  gst_klingo1_client_set_max_retries (GstKlingo1Client * client,
                                          guint retries);

/* POST /v1/videos/generations with @json_body. @idempotency_key, when not
 * NULL, is sent as Idempotency-Key. HTTP errors become GError with details
 * (status, API code/message/type). */
GstKlingo1Task *gst_klingo1_client_create_task (GstKlingo1Client * client,
                                                const gchar * json_body,
                                                const gchar * idempotency_key,
                                                GCancellable * cancellable,
                                                GError ** error);

/* GET /v1/tasks/{task_id}. */
GstKlingo1Task *gst_klingo1_client_get_task (GstKlingo1Client * client,
                                             const gchar * task_id,
                                             GCancellable * cancellable,
                                             GError ** error);

/* POST {files_url}/api/v1/files/upload/stream (multipart, field "file"),
 * streaming the file from disk. Returns data.file_url; @expires_at (optional)
 * receives data.expires_at parsed, or now + 72 h when absent. */
gchar *gst_klingo1_client_upload_file (GstKlingo1Client * client,
                                       const gchar * path,
                                       GDateTime ** expires_at,
                                       GCancellable * cancellable,
                                       GError ** error);

typedef void (*GstKlingo1DownloadProgress) (guint64 received, guint64 total,
                                            gpointer user_data);

/* Downloads @url into @dest_path. When @dest_path already holds a prefix (an
 * interrupted download) it asks for the rest with Range and appends; a server
 * that ignores Range restarts the file. The key is never sent unless @url has
 * the API's origin. 403/404/410 fail with GST_KLINGO1_ERROR_EXPIRED. The data
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
