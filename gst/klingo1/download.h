/* gst-klingo1: one result download into a growing file, readable while it
 * grows
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <gst/klingo1/client.h>

G_BEGIN_DECLS

typedef enum
{
  GST_KLINGO1_DOWNLOAD_IDLE,
  GST_KLINGO1_DOWNLOAD_RUNNING,
  GST_KLINGO1_DOWNLOAD_VERIFYING,       /* every byte held, being checked */
  GST_KLINGO1_DOWNLOAD_COMPLETE,        /* held and checked */
  GST_KLINGO1_DOWNLOAD_FAILED,
  GST_KLINGO1_DOWNLOAD_STOPPED,
} GstKlingo1DownloadState;

typedef struct _GstKlingo1Download GstKlingo1Download;

/* Called (from a transfer thread) as bytes arrive: @held bytes of @total
 * (0 when not known yet) are on disk. */
typedef void (*GstKlingo1DownloadProgressFunc) (guint64 held, guint64 total,
    gpointer user_data);

/* Called once every byte is held, in a transfer thread, before readers are
 * told that the file ends: the place to check the clip and commit it. @fd is
 * open for reading; FALSE fails the download (readers get the error instead
 * of an end of stream). */
typedef gboolean (*GstKlingo1DownloadVerifyFunc) (int fd, guint64 size,
    gpointer user_data, GCancellable * cancellable, GError ** error);

/* Called (from a transfer thread) when the link answers 403/404/410: returns
 * a fresh URL for the same clip, or NULL with an error. */
typedef gchar *(*GstKlingo1DownloadRefreshFunc) (gpointer user_data,
    GCancellable * cancellable, GError ** error);

/**
 * gst_klingo1_download_new:
 * @client: speaks HTTP (shared session, key only to the API's origins)
 * @url: the result link
 * @path: the growing file; bytes already there count as held only when
 *   @ranges_path says so (or, when there is no ranges file, as a prefix of
 *   the file's size, the way an older version left it)
 * @ranges_path: (nullable): where the map of held byte ranges is kept for a
 *   later run to resume from
 */
GstKlingo1Download *gst_klingo1_download_new (GstKlingo1Client * client,
                                              const gchar * url,
                                              const gchar * path,
                                              const gchar * ranges_path);
GstKlingo1Download *gst_klingo1_download_ref (GstKlingo1Download * dl);
/* The last unref stops the transfers and waits for their threads. */
void     gst_klingo1_download_unref (GstKlingo1Download * dl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstKlingo1Download, gst_klingo1_download_unref)

/* Setters, before start(). */
void     gst_klingo1_download_set_max_size (GstKlingo1Download * dl,
                                            guint64 max_size);
void     gst_klingo1_download_set_deadline (GstKlingo1Download * dl,
                                            gint64 deadline);
void     gst_klingo1_download_set_stall_timeout (GstKlingo1Download * dl,
                                                 guint seconds);
void     gst_klingo1_download_set_progress_func (GstKlingo1Download * dl,
    GstKlingo1DownloadProgressFunc func, gpointer user_data);
void     gst_klingo1_download_set_verify_func (GstKlingo1Download * dl,
    GstKlingo1DownloadVerifyFunc func, gpointer user_data);
void     gst_klingo1_download_set_refresh_func (GstKlingo1Download * dl,
    GstKlingo1DownloadRefreshFunc func, gpointer user_data);

/* Opens the file and starts the sequential transfer in its own thread. */
gboolean gst_klingo1_download_start (GstKlingo1Download * dl,
                                     GError ** error);
/* Stops every transfer (the ranges map is saved); readers get CANCELLED. */
void     gst_klingo1_download_stop (GstKlingo1Download * dl);

/* Waits until the total size is known (the first answer's Content-Length or
 * Content-Range, or the end of a body of unknown length). */
gboolean gst_klingo1_download_wait_size (GstKlingo1Download * dl,
                                         guint64 * size,
                                         GCancellable * cancellable,
                                         GError ** error);

/* Reads up to @len bytes at @offset, waiting (cancellably) for them. A read
 * far ahead of every transfer (a trailing moov, a seek) starts a Range
 * transfer there at once instead of waiting for the sequential one. Returns
 * the number of bytes read, 0 at the end of a verified file, -1 on error. */
gssize   gst_klingo1_download_read (GstKlingo1Download * dl, guint64 offset,
                                    guint8 * buf, gsize len,
                                    GCancellable * cancellable,
                                    GError ** error);

/* Waits until the file is complete and verified, or failed. */
gboolean gst_klingo1_download_wait_complete (GstKlingo1Download * dl,
                                             GCancellable * cancellable,
                                             GError ** error);

GstKlingo1DownloadState gst_klingo1_download_get_state (GstKlingo1Download * dl);
/* Bytes held so far, and the number of HTTP requests made (for tests and
 * benchmarks). */
guint64  gst_klingo1_download_get_held (GstKlingo1Download * dl);
guint    gst_klingo1_download_get_requests (GstKlingo1Download * dl);

G_END_DECLS
