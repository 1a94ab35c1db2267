/* gst-klingo1: one result download into a growing file, readable while it
 * grows
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Transfers ("fetchers") each run in a thread of their own and write with
 * pwrite() where their bytes belong; a map of held byte ranges says what is
 * on disk. The first fetcher goes from the start to the end. A reader that
 * needs bytes far ahead of every fetcher (qtdemux looking for a trailing
 * moov, a seek) starts another one there with a Range request, the way
 * souphttpsrc answers a seek, instead of waiting for the first to get there.
 * A fetcher that runs into bytes another one already wrote moves on to the
 * next hole, or ends when the rest is being fetched by someone else.
 *
 * One lock guards the map and the fetcher list; one condition wakes readers
 * (and is broadcast when their cancellable fires, so every wait can be cut).
 */
/* fallocate() */
#define _GNU_SOURCE
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gst/gst.h>

#include "client-private.h"
#include "download.h"
#include "mp4check.h"
#include "watchdog.h"

GST_DEBUG_CATEGORY_STATIC (klingo1_download_debug);
#define GST_CAT_DEFAULT klingo1_download_debug

/* Large enough that a fast transfer is a few syscalls and wake-ups per
 * megabyte (the benchmark measured 128 KiB costing 20 % more CPU). */
#define CHUNK_SIZE (1024 * 1024)
/* At most this many transfers of one clip at once. */
#define MAX_FETCHERS 4
/* A read this far ahead of a transfer's front (or more than a second of
 * transfer at the current rate) gets a transfer of its own. */
#define AHEAD_WINDOW_MIN (512 * 1024)
/* The ranges map is saved for a later run after this much new data. */
#define SAVE_EVERY (8 * 1024 * 1024)
#define PROGRESS_INTERVAL_US (250 * 1000)
/* Bytes needed to judge whether a body is an MP4 (one box header). */
#define SNIFF_BYTES 16
#define DEFAULT_STALL_TIMEOUT 30
/* Fresh links asked for one download before its link is taken as dead. */
#define MAX_REFRESHES 3

typedef struct
{
  guint64 start;
  guint64 end;                  /* exclusive */
} Range;

typedef struct
{
  guint64 pos;                  /* the next byte this fetcher writes */
  guint64 end;                  /* end of its current request, G_MAXUINT64: open */
  gboolean active;
} Fetcher;

struct _GstKlingo1Download
{
  gint refcount;

  GMutex lock;
  GCond cond;

  GstKlingo1Client *client;
  gchar *url;                   /* lock: replaced by a refreshed link */
  gchar *path;
  gchar *ranges_path;
  guint64 max_size;
  gint64 deadline;
  guint stall_timeout;
  GstKlingo1DownloadProgressFunc progress;
  gpointer progress_data;
  GstKlingo1DownloadVerifyFunc verify;
  gpointer verify_data;
  GstKlingo1DownloadRefreshFunc refresh;
  gpointer refresh_data;

  int fd;
  GCancellable *stop;           /* cancels every transfer */

  /* lock */
  GArray *ranges;               /* of Range, sorted, disjoint, not touching */
  guint64 held;
  guint64 total;
  gboolean total_known;
  GstKlingo1DownloadState state;
  GError *error;
  GList *fetchers;              /* of Fetcher*, live */
  GPtrArray *threads;           /* every fetcher thread, joined at the end */
  guint requests;
  guint refreshes;
  gboolean discard;             /* failed its check: nothing to resume */
  guint64 saved_held;
  gint64 started;
  gint64 last_progress;
};

static void
ensure_debug_category (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (klingo1_download_debug, "klingo1download", 0,
        "Kling O1 result downloads");
    g_once_init_leave (&once, 1);
  }
}

/* ---- the map of held bytes (lock held) ---------------------------------- */

static void
ranges_add (GstKlingo1Download * dl, guint64 start, guint64 end)
{
  GArray *a = dl->ranges;
  guint i = 0, j;
  Range r = { start, end };

  if (start >= end)
    return;
  /* first range that ends at or after @start: it may touch or overlap */
  while (i < a->len && g_array_index (a, Range, i).end < start)
    i++;
  j = i;
  while (j < a->len && g_array_index (a, Range, j).start <= end) {
    Range *o = &g_array_index (a, Range, j);
    r.start = MIN (r.start, o->start);
    r.end = MAX (r.end, o->end);
    j++;
  }
  if (j > i)
    g_array_remove_range (a, i, j - i);
  g_array_insert_val (a, i, r);

  dl->held = 0;
  for (i = 0; i < a->len; i++)
    dl->held += g_array_index (a, Range, i).end -
        g_array_index (a, Range, i).start;
}

/* Bytes held from @offset on, without a hole. */
static guint64
ranges_held_from (GstKlingo1Download * dl, guint64 offset)
{
  guint i;

  for (i = 0; i < dl->ranges->len; i++) {
    Range *r = &g_array_index (dl->ranges, Range, i);
    if (r->start > offset)
      break;
    if (offset < r->end)
      return r->end - offset;
  }
  return 0;
}

/* The first hole at or after @pos: [*start, *end), *end G_MAXUINT64 when the
 * size is unknown and nothing is held after it. FALSE when there is none. */
static gboolean
ranges_next_gap (GstKlingo1Download * dl, guint64 pos, guint64 * start,
    guint64 * end)
{
  guint i;

  pos += ranges_held_from (dl, pos);
  if (dl->total_known && pos >= dl->total)
    return FALSE;
  *start = pos;
  *end = dl->total_known ? dl->total : G_MAXUINT64;
  for (i = 0; i < dl->ranges->len; i++) {
    Range *r = &g_array_index (dl->ranges, Range, i);
    if (r->start > pos) {
      *end = MIN (*end, r->start);
      break;
    }
  }
  return TRUE;
}

static gboolean
is_complete (GstKlingo1Download * dl)
{
  return dl->total_known && dl->held >= dl->total;
}

/* "klingo1-ranges 1 TOTAL" then one "START END" line per range. */
static void
ranges_save (GstKlingo1Download * dl)
{
  g_autoptr (GString) s = NULL;
  guint i;

  if (dl->ranges_path == NULL)
    return;
  s = g_string_new (NULL);
  g_string_append_printf (s, "klingo1-ranges 1 %" G_GINT64_FORMAT "\n",
      dl->total_known ? (gint64) dl->total : (gint64) - 1);
  for (i = 0; i < dl->ranges->len; i++) {
    Range *r = &g_array_index (dl->ranges, Range, i);
    g_string_append_printf (s, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
        "\n", r->start, r->end);
  }
  /* Written after the data it describes: after a crash it may say less
   * than the file holds, never more. */
  if (!g_file_set_contents (dl->ranges_path, s->str, s->len, NULL))
    GST_WARNING ("could not save the ranges map");
  dl->saved_held = dl->held;
}

/* What an earlier run left: its ranges map, or for a file without one (an
 * older version's download), its size as a prefix. */
static void
ranges_load (GstKlingo1Download * dl, guint64 file_size)
{
  g_autofree gchar *text = NULL;
  g_auto (GStrv) lines = NULL;
  guint i;
  gint64 total;

  if (dl->ranges_path == NULL
      || !g_file_get_contents (dl->ranges_path, &text, NULL, NULL)) {
    ranges_add (dl, 0, file_size);
    return;
  }
  lines = g_strsplit (text, "\n", -1);
  if (lines[0] == NULL || !g_str_has_prefix (lines[0], "klingo1-ranges 1 "))
    return;
  total = g_ascii_strtoll (lines[0] + strlen ("klingo1-ranges 1 "), NULL, 10);
  if (total > 0) {
    dl->total = total;
    dl->total_known = TRUE;
  }
  for (i = 1; lines[i] != NULL; i++) {
    guint64 start, end;
    gchar *e = NULL;

    if (*lines[i] == '\0')
      continue;
    start = g_ascii_strtoull (lines[i], &e, 10);
    if (e == NULL || *e != ' ')
      continue;
    end = g_ascii_strtoull (e + 1, NULL, 10);
    /* never trust a range beyond what the file really has */
    end = MIN (end, file_size);
    if (dl->total_known)
      end = MIN (end, dl->total);
    ranges_add (dl, start, end);
  }
}

/* ---- lifecycle ----------------------------------------------------------- */

GstKlingo1Download *
gst_klingo1_download_new (GstKlingo1Client * client, const gchar * url,
    const gchar * path, const gchar * ranges_path)
{
  GstKlingo1Download *dl;

  g_return_val_if_fail (GST_IS_KLINGO1_CLIENT (client), NULL);
  g_return_val_if_fail (url != NULL && path != NULL, NULL);
  ensure_debug_category ();

  dl = g_new0 (GstKlingo1Download, 1);
  dl->refcount = 1;
  g_mutex_init (&dl->lock);
  g_cond_init (&dl->cond);
  dl->client = g_object_ref (client);
  dl->url = g_strdup (url);
  dl->path = g_strdup (path);
  dl->ranges_path = g_strdup (ranges_path);
  dl->stall_timeout = DEFAULT_STALL_TIMEOUT;
  dl->fd = -1;
  dl->stop = g_cancellable_new ();
  dl->ranges = g_array_new (FALSE, FALSE, sizeof (Range));
  dl->threads = g_ptr_array_new ();
  dl->state = GST_KLINGO1_DOWNLOAD_IDLE;
  return dl;
}

GstKlingo1Download *
gst_klingo1_download_ref (GstKlingo1Download * dl)
{
  g_atomic_int_inc (&dl->refcount);
  return dl;
}

void
gst_klingo1_download_unref (GstKlingo1Download * dl)
{
  if (!g_atomic_int_dec_and_test (&dl->refcount))
    return;

  gst_klingo1_download_stop (dl);
  if (dl->fd >= 0)
    close (dl->fd);
  g_ptr_array_unref (dl->threads);
  g_array_unref (dl->ranges);
  g_list_free_full (dl->fetchers, g_free);
  g_clear_error (&dl->error);
  g_object_unref (dl->stop);
  g_object_unref (dl->client);
  g_free (dl->url);
  g_free (dl->path);
  g_free (dl->ranges_path);
  g_cond_clear (&dl->cond);
  g_mutex_clear (&dl->lock);
  g_free (dl);
}

void
gst_klingo1_download_set_max_size (GstKlingo1Download * dl, guint64 max_size)
{
  dl->max_size = max_size;
}

void
gst_klingo1_download_set_deadline (GstKlingo1Download * dl, gint64 deadline)
{
  dl->deadline = deadline;
}

void
gst_klingo1_download_set_stall_timeout (GstKlingo1Download * dl,
    guint seconds)
{
  dl->stall_timeout = seconds;
}

void
gst_klingo1_download_set_progress_func (GstKlingo1Download * dl,
    GstKlingo1DownloadProgressFunc func, gpointer user_data)
{
  dl->progress = func;
  dl->progress_data = user_data;
}

void
gst_klingo1_download_set_verify_func (GstKlingo1Download * dl,
    GstKlingo1DownloadVerifyFunc func, gpointer user_data)
{
  dl->verify = func;
  dl->verify_data = user_data;
}

void
gst_klingo1_download_set_refresh_func (GstKlingo1Download * dl,
    GstKlingo1DownloadRefreshFunc func, gpointer user_data)
{
  dl->refresh = func;
  dl->refresh_data = user_data;
}

/* ---- failing and finishing (lock held) ----------------------------------- */

static void
fail_locked (GstKlingo1Download * dl, GError * error)
{
  if (dl->state == GST_KLINGO1_DOWNLOAD_RUNNING
      || dl->state == GST_KLINGO1_DOWNLOAD_VERIFYING) {
    GST_WARNING ("download failed: %s", error->message);
    dl->state = GST_KLINGO1_DOWNLOAD_FAILED;
    if (g_strcmp0 (gst_klingo1_error_get_field (error), "max-size") == 0) {
      /* nothing of an oversized result is worth keeping for a resume */
      dl->discard = TRUE;
      if (ftruncate (dl->fd, 0) != 0)
        GST_WARNING ("could not truncate the download");
      g_unlink (dl->path);
      if (dl->ranges_path)
        g_unlink (dl->ranges_path);
    }
    g_clear_error (&dl->error);
    dl->error = error;
    /* the other transfers stop at their next chunk */
    g_cancellable_cancel (dl->stop);
    g_cond_broadcast (&dl->cond);
  } else {
    g_error_free (error);
  }
}

static void
notify_progress (GstKlingo1Download * dl, gboolean force)
{
  gint64 now = g_get_monotonic_time ();
  guint64 held, total;

  if (dl->progress == NULL)
    return;
  if (!force && now - dl->last_progress < PROGRESS_INTERVAL_US)
    return;
  dl->last_progress = now;
  held = dl->held;
  total = dl->total_known ? dl->total : 0;
  g_mutex_unlock (&dl->lock);
  dl->progress (held, total, dl->progress_data);
  g_mutex_lock (&dl->lock);
}

/* Every byte is held: check the file (off the lock, in this transfer's
 * thread) before readers may see its end. */
static void
finish_locked (GstKlingo1Download * dl)
{
  g_autoptr (GError) error = NULL;
  guint64 total = dl->total;
  gboolean ok = TRUE;

  if (dl->state != GST_KLINGO1_DOWNLOAD_RUNNING || !is_complete (dl))
    return;
  dl->state = GST_KLINGO1_DOWNLOAD_VERIFYING;
  ranges_save (dl);
  notify_progress (dl, TRUE);
  /* transfers still running only duplicate held bytes: stop them */
  g_cancellable_cancel (dl->stop);
  g_mutex_unlock (&dl->lock);

  GST_DEBUG ("all %" G_GUINT64_FORMAT " bytes held, verifying", total);
  if (dl->verify)
    ok = dl->verify (dl->fd, total, dl->verify_data, NULL, &error);

  g_mutex_lock (&dl->lock);
  if (dl->state != GST_KLINGO1_DOWNLOAD_VERIFYING)
    return;
  if (ok) {
    dl->state = GST_KLINGO1_DOWNLOAD_COMPLETE;
  } else {
    dl->state = GST_KLINGO1_DOWNLOAD_FAILED;
    dl->error = g_steal_pointer (&error);
    dl->discard = TRUE;
  }
  g_cond_broadcast (&dl->cond);
}

static gboolean
set_total_locked (GstKlingo1Download * dl, guint64 total, GError ** error)
{
  if (dl->total_known) {
    if (total == dl->total)
      return TRUE;
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "The result changed size during the download (%" G_GUINT64_FORMAT
        " bytes, then %" G_GUINT64_FORMAT ")", dl->total, total);
    return FALSE;
  }
  if (dl->max_size && total > dl->max_size) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "max-size: the result is %" G_GUINT64_FORMAT " bytes, more than the "
        "limit of %" G_GUINT64_FORMAT, total, dl->max_size);
    gst_klingo1_error_set_field (*error, "max-size");
    return FALSE;
  }
  GST_DEBUG ("size: %" G_GUINT64_FORMAT " bytes", total);
  dl->total = total;
  dl->total_known = TRUE;
  /* Reserve the blocks at once: allocating them write by write is most of
   * the CPU a fast download costs. KEEP_SIZE: the file's size must not run
   * ahead of its data (an older part file without a ranges map counts its
   * size as held). */
  if (dl->fd >= 0 && total > 0
      && fallocate (dl->fd, FALLOC_FL_KEEP_SIZE, 0, total) != 0)
    GST_DEBUG ("no preallocation: %s", g_strerror (errno));
  g_cond_broadcast (&dl->cond);
  return TRUE;
}

/* ---- one transfer ---------------------------------------------------------- */

/* The error for a request cut by the watchdog, or the error as it came. */
static GError *
transfer_error (GstKlingo1Download * dl, GstKlingo1Watchdog * wd,
    GError * error)
{
  switch (gst_klingo1_watchdog_get_reason (wd)) {
    case GST_KLINGO1_WATCHDOG_DEADLINE:
      g_clear_error (&error);
      return g_error_new (GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_TIMEOUT,
          "timeout: the download did not finish in time");
    case GST_KLINGO1_WATCHDOG_STALLED:
      g_clear_error (&error);
      /* a G_IO_ERROR, so the retry policy tries again (with Range) */
      return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
          "The download made no progress for %u s", dl->stall_timeout);
    default:
      return error;
  }
}

static gboolean
looks_like_a_page (SoupMessage * msg)
{
  const gchar *ct =
      soup_message_headers_get_content_type (soup_message_get_response_headers
      (msg), NULL);

  return ct && (g_str_has_prefix (ct, "text/")
      || g_str_has_suffix (ct, "/json") || g_str_has_suffix (ct, "+json")
      || g_str_has_suffix (ct, "/xml"));
}

static GError *
not_a_video_error (SoupMessage * msg, const guint8 * data, gsize len)
{
  const gchar *ct =
      soup_message_headers_get_content_type (soup_message_get_response_headers
      (msg), NULL);
  g_autofree gchar *start = NULL;
  gsize i, n = MIN (len, 24);

  start = g_malloc (n + 1);
  for (i = 0; i < n; i++)
    start[i] = g_ascii_isprint (data[i]) ? data[i] : '.';
  start[n] = '\0';
  return g_error_new (GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
      "The result link answered something that is not an MP4 video "
      "(Content-Type %s, starting with \"%s\")", ct ? ct : "none", start);
}

/* One HTTP request for [f->pos, f->end): writes what arrives where it
 * belongs, until the range is done, the next bytes are already held, or an
 * error. Runs without the lock. */
static gboolean
fetch_once (GstKlingo1Download * dl, Fetcher * f, gboolean * progressed,
    GError ** error)
{
  g_autoptr (GstKlingo1Watchdog) wd = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GInputStream) stream = NULL;
  g_autofree guint8 *buf = NULL;
  g_autofree gchar *url = NULL;
  SoupMessageHeaders *headers;
  GCancellable *cancellable;
  GError *err = NULL;
  guint64 start, end, wpos, expect_end;
  gint64 length, cr_start, cr_total;
  guint status;
  gboolean ranged, whole, stop_here = FALSE;

  g_mutex_lock (&dl->lock);
  start = f->pos;
  end = f->end;
  url = g_strdup (dl->url);
  /* a plain GET when it is the whole file: a server that ignores Range is
   * then no different from one that honours it */
  ranged = start > 0 || (end != G_MAXUINT64 && !(dl->total_known
          && end >= dl->total));
  dl->requests++;
  g_mutex_unlock (&dl->lock);

  msg = gst_klingo1_client_new_message (dl->client, SOUP_METHOD_GET, url,
      error);
  if (msg == NULL)
    return FALSE;
  /* byte ranges are offsets in the stored (encoded) representation */
  soup_message_disable_feature (msg, SOUP_TYPE_CONTENT_DECODER);
  if (ranged)
    soup_message_headers_set_range (soup_message_get_request_headers (msg),
        start, end == G_MAXUINT64 ? -1 : (goffset) end - 1);

  wd = gst_klingo1_watchdog_new (dl->stop, dl->deadline,
      (gint64) dl->stall_timeout * G_USEC_PER_SEC);
  cancellable = gst_klingo1_watchdog_get_cancellable (wd);

  GST_DEBUG ("GET bytes %" G_GUINT64_FORMAT "-%s%s", start,
      end == G_MAXUINT64 ? "" : "(bounded)", ranged ? "" : " (whole file)");
  stream = gst_klingo1_client_send (dl->client, msg, cancellable, &err);
  if (stream == NULL) {
    g_propagate_error (error, transfer_error (dl, wd, err));
    return FALSE;
  }

  status = soup_message_get_status (msg);
  headers = soup_message_get_response_headers (msg);
  length = soup_message_headers_get_encoding (headers) ==
      SOUP_ENCODING_CONTENT_LENGTH ?
      soup_message_headers_get_content_length (headers) : -1;

  whole = ranged && status == SOUP_STATUS_OK;
  if (status == SOUP_STATUS_OK) {
    /* the whole file, whatever was asked */
    wpos = 0;
    if (length >= 0) {
      g_mutex_lock (&dl->lock);
      if (!set_total_locked (dl, length, error)) {
        g_mutex_unlock (&dl->lock);
        return FALSE;
      }
      g_mutex_unlock (&dl->lock);
    }
  } else if (status == SOUP_STATUS_PARTIAL_CONTENT) {
    gst_klingo1_client_parse_content_range (msg, &cr_start, &cr_total);
    if (cr_start < 0) {
      g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
          "206 answer without a Content-Range");
      return FALSE;
    }
    /* written where the server says they belong, whatever we asked */
    wpos = cr_start;
    if (cr_total >= 0) {
      g_mutex_lock (&dl->lock);
      if (!set_total_locked (dl, cr_total, error)) {
        g_mutex_unlock (&dl->lock);
        return FALSE;
      }
      g_mutex_unlock (&dl->lock);
    }
  } else if (status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE) {
    gst_klingo1_client_parse_content_range (msg, &cr_start, &cr_total);
    g_input_stream_close (stream, NULL, NULL);
    g_mutex_lock (&dl->lock);
    if (cr_total >= 0 && (guint64) cr_total <= start) {
      /* we asked past the end: the end is where we are */
      gboolean ok = set_total_locked (dl, cr_total, error);
      g_mutex_unlock (&dl->lock);
      return ok;
    }
    g_mutex_unlock (&dl->lock);
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "The result link refused the range %" G_GUINT64_FORMAT "-", start);
    return FALSE;
  } else if ((status == 403 || status == 404 || status == 410)
      && dl->refresh) {
    g_autofree gchar *fresh = NULL;

    g_input_stream_close (stream, NULL, NULL);
    g_mutex_lock (&dl->lock);
    if (dl->refreshes++ >= MAX_REFRESHES) {
      g_mutex_unlock (&dl->lock);
      g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_EXPIRED,
          "The result link keeps answering HTTP %u", status);
      gst_klingo1_error_set_http_status (*error, status);
      return FALSE;
    }
    g_mutex_unlock (&dl->lock);
    GST_INFO ("the result link answered %u, asking for a fresh one", status);
    /* result links die after 24 h: the task may give a new one */
    fresh = dl->refresh (dl->refresh_data, cancellable, error);
    if (fresh == NULL)
      return FALSE;
    g_mutex_lock (&dl->lock);
    g_free (dl->url);
    dl->url = g_steal_pointer (&fresh);
    g_mutex_unlock (&dl->lock);
    /* not an attempt that failed: go again at once */
    *progressed = TRUE;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_AGAIN, "fresh link");
    return FALSE;
  } else {
    GstKlingo1ErrorCode code = (status == 403 || status == 404
        || status == 410) ? GST_KLINGO1_ERROR_EXPIRED :
        gst_klingo1_client_error_code_for_status (status);
    gint retry_after = -1;

    g_propagate_error (error, gst_klingo1_client_response_error (msg, stream,
            code, &retry_after, cancellable));
    g_input_stream_close (stream, NULL, NULL);
    return FALSE;
  }

  if (wpos == 0 && looks_like_a_page (msg)) {
    g_propagate_error (error, not_a_video_error (msg, (const guint8 *) "",
            0));
    g_input_stream_close (stream, NULL, NULL);
    return FALSE;
  }

  g_mutex_lock (&dl->lock);
  f->pos = wpos;
  expect_end = dl->total_known ? MIN (end, dl->total) : end;
  if (wpos != start)
    expect_end = dl->total_known ? dl->total : G_MAXUINT64;
  g_mutex_unlock (&dl->lock);

  buf = g_malloc (CHUNK_SIZE);
  for (;;) {
    gssize n = g_input_stream_read (stream, buf, CHUNK_SIZE, cancellable,
        &err);
    gssize done = 0;

    if (n < 0) {
      g_propagate_error (error, transfer_error (dl, wd, err));
      g_input_stream_close (stream, NULL, NULL);
      return FALSE;
    }
    if (n == 0)
      break;
    gst_klingo1_watchdog_kick (wd);

    /* the first box header must be whole to judge it, however the bytes
     * trickle in */
    while (wpos == 0 && n < SNIFF_BYTES) {
      gssize more = g_input_stream_read (stream, buf + n, SNIFF_BYTES - n,
          cancellable, &err);
      if (more < 0) {
        g_propagate_error (error, transfer_error (dl, wd, err));
        g_input_stream_close (stream, NULL, NULL);
        return FALSE;
      }
      if (more == 0)
        break;
      gst_klingo1_watchdog_kick (wd);
      n += more;
    }
    if (wpos == 0 && !gst_klingo1_mp4_sniff (buf, n)) {
      g_propagate_error (error, not_a_video_error (msg, buf, n));
      g_input_stream_close (stream, NULL, NULL);
      return FALSE;
    }
    if (dl->max_size && wpos + n > dl->max_size) {
      g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
          "max-size: the result grew past the limit of %" G_GUINT64_FORMAT
          " bytes", dl->max_size);
      gst_klingo1_error_set_field (*error, "max-size");
      g_input_stream_close (stream, NULL, NULL);
      return FALSE;
    }
    while (done < n) {
      gssize w = pwrite (dl->fd, buf + done, n - done, wpos + done);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0) {
        int errsv = errno;
        g_autofree gchar *name = g_filename_display_name (dl->path);
        g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
            "Cannot write %s: %s", name, g_strerror (errsv));
        g_input_stream_close (stream, NULL, NULL);
        return FALSE;
      }
      done += w;
    }

    g_mutex_lock (&dl->lock);
    ranges_add (dl, wpos, wpos + n);
    wpos += n;
    f->pos = wpos;
    *progressed = TRUE;
    g_cond_broadcast (&dl->cond);
    if (dl->held - dl->saved_held >= SAVE_EVERY)
      ranges_save (dl);
    notify_progress (dl, FALSE);
    /* ran into bytes another transfer wrote: that one has the rest (unless
     * the server ignores Range: then this body is the only way on) */
    stop_here = dl->state != GST_KLINGO1_DOWNLOAD_RUNNING
        || (!whole && wpos < expect_end && ranges_held_from (dl, wpos) > 0)
        || is_complete (dl);
    g_mutex_unlock (&dl->lock);

    if (stop_here || wpos >= expect_end)
      break;
  }
  /* closing a body early drops its connection, which is what we want */
  g_input_stream_close (stream, NULL, NULL);

  g_mutex_lock (&dl->lock);
  if (!stop_here && !dl->total_known && status == SOUP_STATUS_OK
      && length < 0) {
    /* a body of unknown length ends where it ends */
    if (!set_total_locked (dl, wpos, error)) {
      g_mutex_unlock (&dl->lock);
      return FALSE;
    }
  }
  if (dl->total_known)
    expect_end = MIN (expect_end, dl->total);
  g_mutex_unlock (&dl->lock);

  if (!stop_here && wpos < expect_end && expect_end != G_MAXUINT64) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
        "The connection closed at byte %" G_GUINT64_FORMAT " of %"
        G_GUINT64_FORMAT, wpos, expect_end);
    return FALSE;
  }
  return TRUE;
}

/* ---- fetchers --------------------------------------------------------------- */

static guint64
ahead_window (GstKlingo1Download * dl)
{
  gint64 elapsed = g_get_monotonic_time () - dl->started;
  guint64 rate = elapsed > 0 ? dl->held * G_USEC_PER_SEC / elapsed : 0;

  return MAX (AHEAD_WINDOW_MIN, rate);
}

/* Picks the next hole for @f at or after its position, leaving holes that
 * another transfer is about to fill to that one. FALSE: nothing left. */
static gboolean
choose_range (GstKlingo1Download * dl, Fetcher * f)
{
  guint64 pos = f->pos, gs, ge, window = ahead_window (dl);

  while (ranges_next_gap (dl, pos, &gs, &ge)) {
    Fetcher *claimer = NULL;
    GList *l;

    for (l = dl->fetchers; l; l = l->next) {
      Fetcher *o = l->data;
      if (o == f || !o->active)
        continue;
      if (o->pos <= gs && gs < o->end && gs - o->pos < window) {
        claimer = o;
        break;
      }
      /* stop where another transfer's front is: it goes on from there */
      if (o->pos > gs && o->pos < ge)
        ge = o->pos;
    }
    if (claimer == NULL) {
      f->pos = gs;
      f->end = ge;
      f->active = TRUE;
      return TRUE;
    }
    if (claimer->end == G_MAXUINT64)
      return FALSE;
    pos = claimer->end;
  }
  return FALSE;
}

static gpointer fetcher_thread (gpointer data);

typedef struct
{
  GstKlingo1Download *dl;
  Fetcher *f;
} FetcherStart;

static void
spawn_fetcher_locked (GstKlingo1Download * dl, guint64 pos)
{
  FetcherStart *fs = g_new0 (FetcherStart, 1);
  Fetcher *f = g_new0 (Fetcher, 1);
  GThread *thread;

  f->pos = pos;
  f->end = G_MAXUINT64;
  f->active = TRUE;
  dl->fetchers = g_list_prepend (dl->fetchers, f);
  fs->dl = gst_klingo1_download_ref (dl);
  fs->f = f;
  GST_DEBUG ("transfer from byte %" G_GUINT64_FORMAT, pos);
  thread = g_thread_new ("klingo1-dl", fetcher_thread, fs);
  g_ptr_array_add (dl->threads, thread);
}

static gpointer
fetcher_thread (gpointer data)
{
  FetcherStart *fs = data;
  GstKlingo1Download *dl = fs->dl;
  Fetcher *f = fs->f;
  guint failures = 0;

  g_free (fs);
  g_mutex_lock (&dl->lock);
  while (dl->state == GST_KLINGO1_DOWNLOAD_RUNNING && choose_range (dl, f)) {
    g_autoptr (GError) err = NULL;
    gboolean progressed = FALSE, ok;

    g_mutex_unlock (&dl->lock);
    ok = fetch_once (dl, f, &progressed, &err);
    g_mutex_lock (&dl->lock);

    if (progressed)
      failures = 0;
    if (ok) {
      finish_locked (dl);
      continue;
    }
    if (dl->state != GST_KLINGO1_DOWNLOAD_RUNNING)
      break;
    if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_AGAIN)) {
      GError *final = NULL;
      gboolean again;

      /* the client's one retry policy: which errors, how long, until the
       * deadline, logged and notified */
      g_mutex_unlock (&dl->lock);
      again = gst_klingo1_client_retry_wait (dl->client, "GET result",
          FALSE, failures++, err, -1, dl->stop, &final);
      g_mutex_lock (&dl->lock);
      if (!again) {
        if (dl->deadline && !g_error_matches (final, G_IO_ERROR,
                G_IO_ERROR_CANCELLED)
            && gst_klingo1_client_error_is_retryable (err, FALSE)) {
          /* it would have been tried again, but not before the deadline */
          GError *timeout = g_error_new (GST_KLINGO1_ERROR,
              GST_KLINGO1_ERROR_TIMEOUT, "timeout: the download did not "
              "finish in time (last: %s)", err->message);
          g_clear_error (&final);
          final = timeout;
        }
        if (dl->state == GST_KLINGO1_DOWNLOAD_RUNNING)
          fail_locked (dl, final ? final : g_error_copy (err));
        else
          g_clear_error (&final);
        break;
      }
    }
  }

  f->active = FALSE;
  dl->fetchers = g_list_remove (dl->fetchers, f);
  g_free (f);
  if (dl->state == GST_KLINGO1_DOWNLOAD_RUNNING) {
    if (is_complete (dl))
      finish_locked (dl);
    else if (dl->fetchers == NULL)
      /* the others ended on holes this one left to them: go over it all */
      spawn_fetcher_locked (dl, 0);
  }
  g_cond_broadcast (&dl->cond);
  g_mutex_unlock (&dl->lock);
  gst_klingo1_download_unref (dl);
  return NULL;
}

gboolean
gst_klingo1_download_start (GstKlingo1Download * dl, GError ** error)
{
  GStatBuf st;

  g_return_val_if_fail (dl->state == GST_KLINGO1_DOWNLOAD_IDLE, FALSE);

  dl->fd = g_open (dl->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (dl->fd < 0 || fstat (dl->fd, &st) != 0) {
    int errsv = errno;
    g_autofree gchar *name = g_filename_display_name (dl->path);

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "Cannot open %s: %s", name, g_strerror (errsv));
    return FALSE;
  }

  g_mutex_lock (&dl->lock);
  ranges_load (dl, st.st_size);
  dl->saved_held = dl->held;
  dl->started = g_get_monotonic_time ();
  dl->state = GST_KLINGO1_DOWNLOAD_RUNNING;
  if (dl->held > 0)
    GST_INFO ("resuming with %" G_GUINT64_FORMAT " bytes held", dl->held);
  spawn_fetcher_locked (dl, 0);
  g_mutex_unlock (&dl->lock);
  return TRUE;
}

void
gst_klingo1_download_stop (GstKlingo1Download * dl)
{
  GPtrArray *threads;
  guint i;

  g_mutex_lock (&dl->lock);
  if (dl->state == GST_KLINGO1_DOWNLOAD_VERIFYING
      || (dl->state == GST_KLINGO1_DOWNLOAD_RUNNING && is_complete (dl))) {
    /* Every byte is here: the reader may have reached the end (basesrc
     * ends the stream by itself at the known size) before the check and
     * commit ran. Let them finish, so that the paid clip is kept; the
     * transfer threads joined below do it. */
    GST_DEBUG ("stopped with every byte held: finishing the check first");
  } else if (dl->state == GST_KLINGO1_DOWNLOAD_RUNNING) {
    dl->state = GST_KLINGO1_DOWNLOAD_STOPPED;
    g_cancellable_cancel (dl->stop);
  } else {
    g_cancellable_cancel (dl->stop);
  }
  g_cond_broadcast (&dl->cond);
  threads = dl->threads;
  dl->threads = g_ptr_array_new ();
  g_mutex_unlock (&dl->lock);

  /* a thread never joins itself: the last unref may come from a fetcher */
  for (i = 0; i < threads->len; i++) {
    GThread *t = g_ptr_array_index (threads, i);
    if (t == g_thread_self ())
      g_thread_unref (t);
    else
      g_thread_join (t);
  }
  g_ptr_array_unref (threads);

  g_mutex_lock (&dl->lock);
  if (dl->fd >= 0 && dl->state != GST_KLINGO1_DOWNLOAD_COMPLETE
      && !dl->discard)
    ranges_save (dl);
  g_mutex_unlock (&dl->lock);
}

/* ---- readers ------------------------------------------------------------------ */

static void
reader_cancelled (GCancellable * cancellable, gpointer user_data)
{
  GstKlingo1Download *dl = user_data;

  g_mutex_lock (&dl->lock);
  g_cond_broadcast (&dl->cond);
  g_mutex_unlock (&dl->lock);
}

/* Why a wait ended without data (lock held); FALSE when it should go on. */
static gboolean
wait_failed_locked (GstKlingo1Download * dl, GCancellable * cancellable,
    GError ** error)
{
  if (dl->state == GST_KLINGO1_DOWNLOAD_FAILED) {
    g_propagate_error (error, g_error_copy (dl->error));
    return TRUE;
  }
  if (dl->state == GST_KLINGO1_DOWNLOAD_STOPPED
      || dl->state == GST_KLINGO1_DOWNLOAD_IDLE) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
        "The download was stopped");
    return TRUE;
  }
  return g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* Someone will write @offset soon: a transfer whose front is a little
 * before it. */
static gboolean
covered_soon_locked (GstKlingo1Download * dl, guint64 offset)
{
  guint64 window = ahead_window (dl);
  GList *l;

  for (l = dl->fetchers; l; l = l->next) {
    Fetcher *f = l->data;
    if (f->pos <= offset && offset < f->end && offset - f->pos < window)
      return TRUE;
  }
  return FALSE;
}

gboolean
gst_klingo1_download_wait_size (GstKlingo1Download * dl, guint64 * size,
    GCancellable * cancellable, GError ** error)
{
  gulong handler = 0;
  gboolean ok = FALSE;

  if (cancellable)
    handler = g_cancellable_connect (cancellable,
        G_CALLBACK (reader_cancelled), dl, NULL);
  g_mutex_lock (&dl->lock);
  while (TRUE) {
    if (dl->total_known) {
      *size = dl->total;
      ok = TRUE;
      break;
    }
    if (wait_failed_locked (dl, cancellable, error))
      break;
    g_cond_wait (&dl->cond, &dl->lock);
  }
  g_mutex_unlock (&dl->lock);
  if (handler)
    g_cancellable_disconnect (cancellable, handler);
  return ok;
}

gssize
gst_klingo1_download_read (GstKlingo1Download * dl, guint64 offset,
    guint8 * buf, gsize len, GCancellable * cancellable, GError ** error)
{
  gulong handler = 0;
  gssize ret = -1;
  guint64 avail = 0;

  if (cancellable)
    handler = g_cancellable_connect (cancellable,
        G_CALLBACK (reader_cancelled), dl, NULL);
  g_mutex_lock (&dl->lock);
  while (TRUE) {
    if (dl->total_known && offset >= dl->total) {
      /* the end is only told once the file is checked */
      if (dl->state == GST_KLINGO1_DOWNLOAD_COMPLETE) {
        ret = 0;
        break;
      }
    } else if ((avail = ranges_held_from (dl, offset)) > 0) {
      break;
    }
    if (wait_failed_locked (dl, cancellable, error))
      break;
    if (!(dl->total_known && offset >= dl->total)
        && !covered_soon_locked (dl, offset)
        && g_list_length (dl->fetchers) < MAX_FETCHERS)
      spawn_fetcher_locked (dl, offset);
    g_cond_wait (&dl->cond, &dl->lock);
  }
  g_mutex_unlock (&dl->lock);
  if (handler)
    g_cancellable_disconnect (cancellable, handler);

  if (avail > 0) {
    gsize want = MIN (len, avail);

    do {
      ret = pread (dl->fd, buf, want, offset);
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
      int errsv = errno;
      g_autofree gchar *name = g_filename_display_name (dl->path);

      g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
          "Cannot read %s: %s", name, g_strerror (errsv));
    }
  }
  return ret;
}

gboolean
gst_klingo1_download_wait_complete (GstKlingo1Download * dl,
    GCancellable * cancellable, GError ** error)
{
  gulong handler = 0;
  gboolean ok = FALSE;

  if (cancellable)
    handler = g_cancellable_connect (cancellable,
        G_CALLBACK (reader_cancelled), dl, NULL);
  g_mutex_lock (&dl->lock);
  while (TRUE) {
    if (dl->state == GST_KLINGO1_DOWNLOAD_COMPLETE) {
      ok = TRUE;
      break;
    }
    if (wait_failed_locked (dl, cancellable, error))
      break;
    g_cond_wait (&dl->cond, &dl->lock);
  }
  g_mutex_unlock (&dl->lock);
  if (handler)
    g_cancellable_disconnect (cancellable, handler);
  return ok;
}

GstKlingo1DownloadState
gst_klingo1_download_get_state (GstKlingo1Download * dl)
{
  GstKlingo1DownloadState state;

  g_mutex_lock (&dl->lock);
  state = dl->state;
  g_mutex_unlock (&dl->lock);
  return state;
}

guint64
gst_klingo1_download_get_held (GstKlingo1Download * dl)
{
  guint64 held;

  g_mutex_lock (&dl->lock);
  held = dl->held;
  g_mutex_unlock (&dl->lock);
  return held;
}

guint
gst_klingo1_download_get_requests (GstKlingo1Download * dl)
{
  guint n;

  g_mutex_lock (&dl->lock);
  n = dl->requests;
  g_mutex_unlock (&dl->lock);
  return n;
}
