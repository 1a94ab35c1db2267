/* gst-klingo1: one generation, from request to a clip that can be read
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The order of steps is what protects the user's money:
 *   lock the request's store entry (one process works on a request at a time)
 *   -> paid and lost before?  fail, saying so (refresh pays again)
 *   -> a finished clip that still matches its checksum?  play it, no API call
 *   -> a journaled task? resume it, no create
 *   -> upload local inputs (reusing earlier uploads to the same server),
 *      create with an Idempotency-Key recorded first, journal the id before
 *      the first poll
 *   -> poll (following the task's estimate) -> download into the entry's
 *      part file while the element reads it -> check and commit the clip.
 * A create is never resent by this code: after any fault the journal (or the
 * recorded Idempotency-Key) is the way back to the task.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "request-private.h"
#include "task-private.h"
#include "gstklingo1job.h"
#include "client-private.h"
#include "download.h"
#include "mp4check.h"
#include "poll-schedule.h"
#include "session.h"
#include "watchdog.h"

GST_DEBUG_CATEGORY_EXTERN (gst_klingo1_src_debug);
#define GST_CAT_DEFAULT gst_klingo1_src_debug

/* An uploaded input is reused while it stays valid for this long: the server
 * fetches inputs when the task starts, well within an hour. */
#define UPLOAD_MIN_REMAINING_SECONDS (60 * 60)

struct _GstKlingo1Job
{
  GstKlingo1Settings settings;
  GstKlingo1JobEventFunc on_event;
  gpointer user_data;

  GstKlingo1Client *client;
  GstKlingo1Store *store;
  GstKlingo1StoreEntry *entry;  /* locked from the first run to the end */
  gint64 deadline;
  gboolean entry_ready;         /* locked (and refreshed) once */
  GCancellable *cancellable;    /* of the run in progress */

  gchar *task_id;
  gchar *result_url;            /* lock: the link the download uses */
  GMutex lock;

  /* What is read: a kept clip, or a download under way. */
  int clip_fd;
  guint64 size;
  GstKlingo1Download *download;
  gchar *tmp_path;              /* cache disabled: the growing file */
  gboolean submitted_only;
  gboolean cache_damaged;       /* the kept clip failed its checksum */
};

static void
emit (GstKlingo1Job * job, GstKlingo1JobEvent * event)
{
  if (job->on_event)
    job->on_event (event, job->user_data);
}

static void
emit_text (GstKlingo1Job * job, GstKlingo1JobEventType type,
    const gchar * text)
{
  GstKlingo1JobEvent event = {.type = type,.text = text };
  emit (job, &event);
}

GstKlingo1Job *
gst_klingo1_job_new (const GstKlingo1Settings * settings,
    GstKlingo1JobEventFunc on_event, gpointer user_data)
{
  GstKlingo1Job *job = g_new0 (GstKlingo1Job, 1);

  gst_klingo1_settings_copy (settings, &job->settings);
  job->on_event = on_event;
  job->user_data = user_data;
  job->clip_fd = -1;
  g_mutex_init (&job->lock);
  if (settings->timeout)
    job->deadline = g_get_monotonic_time () +
        (gint64) settings->timeout * G_USEC_PER_SEC;
  return job;
}

static void on_retry (const gchar * what, guint attempt, const GError * error,
    gdouble delay, gpointer user_data);

/* The HTTP client, made when the first request is due: a clip played from
 * the cache never pays for it (GIO loads its proxy modules then). */
static void
ensure_client (GstKlingo1Job * job)
{
  GstKlingo1HttpConfig http;

  if (job->client)
    return;
  gst_klingo1_http_config_init (&http);
  http.user_agent = job->settings.user_agent;
  http.proxy_uri = job->settings.proxy;
  http.ca_file = job->settings.ca_file;
  http.io_timeout = job->settings.io_timeout;
  job->client = gst_klingo1_client_new_full (job->settings.api_url,
      job->settings.api_key, job->settings.files_url, &http);
  gst_klingo1_client_set_retry_deadline (job->client, job->deadline);
  gst_klingo1_client_set_retry_notify (job->client, on_retry, job);
}

void
gst_klingo1_job_free (GstKlingo1Job * job)
{
  if (job->download) {
    gst_klingo1_download_stop (job->download);
    gst_klingo1_download_unref (job->download);
  }
  if (job->clip_fd >= 0)
    close (job->clip_fd);
  if (job->tmp_path)
    g_unlink (job->tmp_path);
  g_free (job->tmp_path);
  if (job->entry)
    gst_klingo1_store_entry_unlock (job->entry);
  g_clear_object (&job->entry);
  g_clear_object (&job->store);
  g_clear_object (&job->client);
  g_free (job->task_id);
  g_free (job->result_url);
  gst_klingo1_settings_clear (&job->settings);
  g_mutex_clear (&job->lock);
  g_free (job);
}

/* The store entry of a request is also keyed by the API it runs on: a clip
 * made by one service (say the emulator) must never be served for another. */
static gchar *
entry_key (GstKlingo1Job * job, GError ** error)
{
  const GstKlingo1Settings *s = &job->settings;
  g_autofree gchar *what = NULL;

  if (s->task_id) {
    what = g_strdup_printf ("attach\n%s\n%s", s->api_url, s->task_id);
  } else {
    g_autofree gchar *hash = gst_klingo1_request_hash_with_store (s->request,
        job->store, job->cancellable, error);
    if (!hash)
      return NULL;
    what = g_strdup_printf ("request\n%s\n%s", s->api_url, hash);
  }
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, what, -1);
}

static gboolean
deadline_passed (GstKlingo1Job * job, GError ** error)
{
  if (job->deadline == 0 || g_get_monotonic_time () < job->deadline)
    return FALSE;

  if (job->task_id) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_TIMEOUT,
        "timeout: task %s did not finish in time; it goes on at the API and "
        "running the same request again resumes it", job->task_id);
    gst_klingo1_error_set_task_id (*error, job->task_id);
  } else {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_TIMEOUT,
        "timeout: the deadline passed before a task was created; running "
        "the same request again tries again (with the same Idempotency-Key, "
        "so that a create that did reach the API is not paid twice)");
  }
  gst_klingo1_error_set_field (*error, "timeout");
  return TRUE;
}

/* Sleeps @seconds, cut short by the deadline. */
static gboolean
sleep_within_deadline (GstKlingo1Job * job, gdouble seconds, GError ** error)
{
  if (deadline_passed (job, error))
    return FALSE;
  if (job->deadline) {
    gdouble left = (job->deadline - g_get_monotonic_time ()) / 1e6;
    seconds = MIN (seconds, MAX (left, 0.0));
  }
  return gst_klingo1_sleep (seconds, job->cancellable, error);
}

/* Edit models bill the input video's length clamped to a window; say how a
 * video outside it will be billed (measured locally from the file's moov,
 * before anything is sent). Remote videos are not probed: that would
 * download them twice. */
static void
warn_about_billed_length (GstKlingo1Job * job)
{
  const GstKlingo1Request *req = job->settings.request;
  g_autofree gchar *path = NULL;
  g_autofree gchar *name = NULL;
  g_autofree gchar *text = NULL;
  gdouble seconds, low, high;

  if (req->model == GST_KLINGO1_MODEL_IMAGE_TO_VIDEO)
    return;
  path = gst_klingo1_input_get_local_path (req->video);
  if (path == NULL
      || !gst_klingo1_mp4_read_duration (path, &seconds, job->cancellable,
          NULL))
    return;

  low = req->model == GST_KLINGO1_MODEL_VIDEO_EDIT ? 3 : 6;
  high = req->model == GST_KLINGO1_MODEL_VIDEO_EDIT ? 10 : 20;
  name = g_filename_display_name (path);
  GST_DEBUG ("input video %s lasts %.2f s", name, seconds);
  if (seconds < low)
    text = g_strdup_printf ("video: %s lasts %.1f s, shorter than the %g-%g s "
        "that %s supports; it will be billed as %g s", name, seconds, low,
        high, gst_klingo1_model_to_api_id (req->model), low);
  else if (seconds > high)
    text = g_strdup_printf ("video: %s lasts %.1f s, longer than the %g-%g s "
        "that %s supports; it will be billed as %g s", name, seconds, low,
        high, gst_klingo1_model_to_api_id (req->model), high);
  if (text)
    emit_text (job, GST_KLINGO1_JOB_EVENT_WARNING, text);
}

/* Replaces a local input by the URL of its upload, reusing an upload of the
 * same content to the same Files API that is still valid. */
static gboolean
resolve_input (GstKlingo1Job * job, gchar ** input, GError ** error)
{
  const gchar *files_url = job->settings.files_url;
  g_autofree gchar *path = NULL;
  g_autofree gchar *hash = NULL;
  g_autofree gchar *url = NULL;
  g_autoptr (GDateTime) expires = NULL;

  if (gst_klingo1_input_is_remote (*input))
    return TRUE;

  path = gst_klingo1_input_get_local_path (*input);
  if (path == NULL) {
    g_autofree gchar *name = g_filename_display_name (*input);
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
        "%s: neither an http(s) URL nor a local file", name);
    return FALSE;
  }

  if (job->store) {
    /* remembered by path, size, mtime and inode: not read again */
    hash = gst_klingo1_store_hash_file (job->store, path, job->cancellable,
        error);
    if (hash == NULL)
      return FALSE;
    url = gst_klingo1_store_lookup_upload_for (job->store, files_url, hash,
        UPLOAD_MIN_REMAINING_SECONDS);
  }
  if (url == NULL) {
    g_autofree gchar *name = g_filename_display_name (path);

    emit_text (job, GST_KLINGO1_JOB_EVENT_UPLOADING, name);
    url = gst_klingo1_client_upload_file (job->client, path, &expires,
        job->cancellable, error);
    if (url == NULL)
      return FALSE;
    if (job->store && !gst_klingo1_store_record_upload_for (job->store,
            files_url, hash, url, expires, NULL))
      GST_WARNING ("could not record the upload of %s", name);
  } else {
    GST_DEBUG ("reusing an earlier upload: %s", url);
  }

  g_free (*input);
  *input = g_steal_pointer (&url);
  return TRUE;
}

/* The Idempotency-Key of this create: the one recorded by a run that sent a
 * create and never heard back, or a new one, recorded before anything is
 * sent. One key per decision to create: a run after a crash reuses it, while
 * refresh or a forgotten task start afresh. */
static gchar *
create_key (GstKlingo1Job * job, GError ** error)
{
  gchar *key = NULL;

  if (job->entry && !gst_klingo1_store_entry_read_create_key (job->entry,
          &key, error))
    return NULL;
  if (key) {
    GST_INFO ("a create may have reached the API before; resending it with "
        "the same Idempotency-Key");
    return key;
  }
  key = g_uuid_string_random ();
  if (job->entry && !gst_klingo1_store_entry_set_create_key (job->entry, key,
          error)) {
    g_free (key);
    return NULL;
  }
  return key;
}

/* What a create that failed after it may have reached the server means. */
static void
explain_uncertain_create (GstKlingo1Job * job, GError * error)
{
  guint status = gst_klingo1_error_get_http_status (error);
  gchar *text;

  if (status >= 400 && status < 500)
    return;
  text = g_strdup_printf ("%s. A task may have been created (and billed). %s",
      error->message, job->entry ?
      "Running the same request again resends the same Idempotency-Key, so "
      "the API can answer with that task instead of making another (this "
      "relies on the API honouring Idempotency-Key, which EvoLink does not "
      "document)" : "The cache is disabled, so a re-run cannot recover it");
  g_free (error->message);
  error->message = text;
}

static gchar *
create_task (GstKlingo1Job * job, GstKlingo1Task ** created, GError ** error)
{
  g_autofree gchar *idempotency_key = NULL;
  g_autoptr (GstKlingo1Request) resolved =
      gst_klingo1_request_copy (job->settings.request);
  g_autoptr (GstKlingo1Task) task = NULL;
  guint i;

  warn_about_billed_length (job);

  for (i = 0; i < resolved->images->len; i++) {
    if (!resolve_input (job, (gchar **) & g_ptr_array_index (resolved->images,
                i), error))
      return NULL;
  }
  if (resolved->video && !resolve_input (job, &resolved->video, error))
    return NULL;

  idempotency_key = create_key (job, error);
  if (idempotency_key == NULL)
    return NULL;
  /* the provider writes the body: the request is what we hand over */
  task = gst_klingo1_client_create_task_for_request (job->client, resolved,
      idempotency_key, job->cancellable, error);
  if (task == NULL) {
    guint status = gst_klingo1_error_get_http_status (*error);
    /* A 4xx answer means no task was made: the next try is a new create. */
    if (job->entry && status >= 400 && status < 500)
      gst_klingo1_store_entry_set_create_key (job->entry, NULL, NULL);
    else if (!g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      explain_uncertain_create (job, *error);
    return NULL;
  }

  /* Journal first: if we die after this line, a re-run resumes this task. */
  if (job->entry && !gst_klingo1_store_entry_set_task_id (job->entry, task->id,
          job->settings.api_url, error)) {
    gst_klingo1_error_set_task_id (*error, task->id);
    return NULL;
  }

  {
    GstKlingo1JobEvent event = {.type = GST_KLINGO1_JOB_EVENT_SUBMITTED,
      .task_id = task->id,.task = task
    };
    emit (job, &event);
  }
  *created = g_steal_pointer (&task);
  return g_strdup ((*created)->id);
}

static void
on_retry (const gchar * what, guint attempt, const GError * error,
    gdouble delay, gpointer user_data)
{
  GstKlingo1Job *job = user_data;
  g_autofree gchar *text = NULL;

  /* a few quiet retries are normal; say it when it starts to look like an
   * outage */
  if (attempt < 2)
    return;
  if (job->task_id && g_str_has_prefix (what, "GET /v1/tasks"))
    text = g_strdup_printf ("The API is unreachable (%s: %s); retrying in "
        "%.0f s until the timeout. Task %s goes on at the API", what,
        error->message, delay, job->task_id);
  else
    text = g_strdup_printf ("%s failed (%s); retrying in %.0f s until the "
        "timeout", what, error->message, delay);
  emit_text (job, GST_KLINGO1_JOB_EVENT_WARNING, text);
}

/* Polls until the task ends; returns the completed task. By default the
 * waits follow the task's own estimate (poll-schedule.c); a poll-interval
 * makes them fixed. */
static GstKlingo1Task *
wait_for_task (GstKlingo1Job * job, GstKlingo1Task * created, GError ** error)
{
  GstKlingo1PollInput in = {
    .fixed_interval = job->settings.poll_interval,
    .estimated_time = -1,.progress = -1,.prev_progress = -1,
    .since_prev_poll = -1,.retry_after = -1,
  };
  gint64 first_seen = g_get_monotonic_time (), prev_poll = 0;

  if (created && gst_klingo1_task_status_is_final (created->status))
    created = NULL;             /* nothing to wait for: read it at once */
  if (created) {
    in.estimated_time = created->estimated_time;
    in.progress = created->progress;
    /* a task that was just created has nothing to report yet: the first
     * read waits (each read of an unfinished task costs the API a sync with
     * its provider) */
    if (!sleep_within_deadline (job, gst_klingo1_poll_next_delay (&in),
            error))
      return NULL;
  }

  while (TRUE) {
    g_autoptr (GstKlingo1Task) task = NULL;
    GstKlingo1JobEvent event = {.type = GST_KLINGO1_JOB_EVENT_POLLED };
    gint64 now;

    task = gst_klingo1_client_get_task (job->client, job->task_id,
        job->cancellable, error);
    if (task == NULL) {
      if (*error && (*error)->domain == GST_KLINGO1_ERROR)
        gst_klingo1_error_set_task_id (*error, job->task_id);
      if (!g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
          && !g_error_matches (*error, GST_KLINGO1_ERROR,
              GST_KLINGO1_ERROR_NOT_FOUND)
          && gst_klingo1_client_error_is_retryable (*error, FALSE)) {
        gchar *text = g_strdup_printf ("%s; task %s goes on at the API and "
            "running the same request again resumes it", (*error)->message,
            job->task_id);
        g_free ((*error)->message);
        (*error)->message = text;
      }
      return NULL;
    }

    event.task_id = job->task_id;
    event.task = task;
    emit (job, &event);

    if (task->status == GST_KLINGO1_TASK_STATUS_COMPLETED) {
      if (task->results == NULL || task->results[0] == NULL) {
        g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
            "task %s completed without a result URL", job->task_id);
        gst_klingo1_error_set_task_id (*error, job->task_id);
        return NULL;
      }
      return g_steal_pointer (&task);
    }
    if (gst_klingo1_task_status_is_final (task->status)) {
      *error = gst_klingo1_task_to_error (task);
      return NULL;
    }

    now = g_get_monotonic_time ();
    in.polls++;
    /* a resumed task counts from its creation, when the API says it */
    in.since_create = task->created > 0 ?
        g_get_real_time () / 1e6 - task->created : (now - first_seen) / 1e6;
    in.prev_progress = in.progress;
    in.progress = task->progress;
    in.estimated_time = task->estimated_time;
    in.since_prev_poll = prev_poll ? (now - prev_poll) / 1e6 : -1;
    prev_poll = now;
    if (!sleep_within_deadline (job, gst_klingo1_poll_next_delay (&in),
            error))
      return NULL;
  }
}

/* ---- the download ---------------------------------------------------------- */

static void
on_download_progress (guint64 held, guint64 total, gpointer user_data)
{
  GstKlingo1Job *job = user_data;
  GstKlingo1JobEvent event = {.type = GST_KLINGO1_JOB_EVENT_DOWNLOADING,
    .received = held,.total = total
  };
  emit (job, &event);
}

/* A result link answered 403/404/410: result links die after 24 h, but the
 * task may still give a fresh one. */
static gchar *
refresh_link (gpointer user_data, GCancellable * cancellable, GError ** error)
{
  GstKlingo1Job *job = user_data;
  g_autoptr (GstKlingo1Task) task = NULL;
  gchar *url;

  task = gst_klingo1_client_get_task (job->client, job->task_id, cancellable,
      error);
  if (task == NULL)
    return NULL;
  g_mutex_lock (&job->lock);
  if (task->results == NULL || task->results[0] == NULL
      || g_strcmp0 (task->results[0], job->result_url) == 0) {
    g_mutex_unlock (&job->lock);
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_EXPIRED,
        "The result link of task %s is no longer served and the task gives "
        "no fresh one", job->task_id);
    gst_klingo1_error_set_task_id (*error, job->task_id);
    return NULL;
  }
  g_free (job->result_url);
  job->result_url = g_strdup (task->results[0]);
  url = g_strdup (task->results[0]);
  g_mutex_unlock (&job->lock);
  return url;
}

static gboolean
hash_fd (int fd, guint64 size, gchar ** hex, GCancellable * cancellable,
    GError ** error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buf = g_malloc (256 * 1024);
  guint64 offset = 0;

  while (offset < size) {
    gssize n = pread (fd, buf, MIN (size - offset, 256 * 1024), offset);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
          "Cannot read back the downloaded clip: %s",
          n < 0 ? g_strerror (errno) : "it is shorter than it was");
      return FALSE;
    }
    if (g_cancellable_set_error_if_cancelled (cancellable, error))
      return FALSE;
    g_checksum_update (sum, buf, n);
    offset += n;
  }
  *hex = g_strdup (g_checksum_get_string (sum));
  return TRUE;
}

/* Every byte is there (download thread): a clip that is not a whole MP4 is
 * never served to its end nor kept; a good one is committed to the cache
 * with its size and checksum. */
static gboolean
verify_clip (int fd, guint64 size, gpointer user_data,
    GCancellable * cancellable, GError ** error)
{
  GstKlingo1Job *job = user_data;
  g_autofree gchar *sha256 = NULL;

  if (!gst_klingo1_mp4_check_fd (fd, size, error)) {
    gchar *text = g_strdup_printf ("The downloaded clip of task %s is "
        "damaged (%s); it is not kept", job->task_id, (*error)->message);
    g_free ((*error)->message);
    (*error)->message = text;
    gst_klingo1_error_set_task_id (*error, job->task_id);
    if (job->entry) {
      g_unlink (gst_klingo1_store_entry_get_part_path (job->entry));
      g_unlink (gst_klingo1_store_entry_get_ranges_path (job->entry));
    }
    /* the reader may have reached the end already (basesrc stops at the
     * known size by itself): say it anyway, never a silent end */
    emit_text (job, GST_KLINGO1_JOB_EVENT_DAMAGED, (*error)->message);
    return FALSE;
  }

  if (job->entry) {
    if (!hash_fd (fd, size, &sha256, cancellable, error)
        || !gst_klingo1_store_entry_commit_clip_checked (job->entry, sha256,
            size, error))
      return FALSE;
    g_unlink (gst_klingo1_store_entry_get_ranges_path (job->entry));
  }
  {
    GstKlingo1JobEvent event = {.type = GST_KLINGO1_JOB_EVENT_DOWNLOADED,
      .task_id = job->task_id,.received = size,.total = size
    };
    emit (job, &event);
  }
  return TRUE;
}

static gboolean
start_download (GstKlingo1Job * job, const gchar * url, GError ** error)
{
  g_autoptr (GstKlingo1Download) dl = NULL;
  const gchar *path, *ranges = NULL;

  g_mutex_lock (&job->lock);
  g_free (job->result_url);
  job->result_url = g_strdup (url);
  g_mutex_unlock (&job->lock);

  if (job->entry) {
    path = gst_klingo1_store_entry_get_part_path (job->entry);
    ranges = gst_klingo1_store_entry_get_ranges_path (job->entry);
  } else {
    if (job->tmp_path == NULL) {
      gint fd = g_file_open_tmp ("klingo1-XXXXXX.mp4", &job->tmp_path, error);
      if (fd < 0)
        return FALSE;
      close (fd);
    }
    path = job->tmp_path;
  }

  dl = gst_klingo1_download_new (job->client, url, path, ranges);
  gst_klingo1_download_set_max_size (dl, job->settings.max_size);
  gst_klingo1_download_set_deadline (dl, job->deadline);
  gst_klingo1_download_set_stall_timeout (dl, job->settings.io_timeout);
  gst_klingo1_download_set_progress_func (dl, on_download_progress, job);
  gst_klingo1_download_set_verify_func (dl, verify_clip, job);
  gst_klingo1_download_set_refresh_func (dl, refresh_link, job);
  if (!gst_klingo1_download_start (dl, error))
    return FALSE;
  if (job->tmp_path) {
    /* the download keeps it open: nothing is left behind, even after a
     * crash */
    g_unlink (job->tmp_path);
    g_clear_pointer (&job->tmp_path, g_free);
  }
  job->download = g_steal_pointer (&dl);
  return TRUE;
}

/* A paid task whose clip can no longer be had: kept in the store as paid
 * and lost, so that a re-run says so instead of paying again silently. */
static void
mark_lost (GstKlingo1Job * job, GError * error)
{
  gchar *text;

  if (job->entry == NULL || job->settings.task_id)
    return;
  gst_klingo1_store_entry_mark_lost (job->entry, error->message, NULL);
  text = g_strdup_printf ("%s. Task %s was paid for but its clip is lost; "
      "cache-mode=refresh generates (and pays for) the clip again",
      error->message, job->task_id);
  g_free (error->message);
  error->message = text;
}

static gboolean
lost_error (GstKlingo1Job * job, const gchar * reason, GError ** error)
{
  g_autofree gchar *task_id = NULL;
  g_autofree gchar *api_url = NULL;

  gst_klingo1_store_entry_read_task (job->entry, &task_id, &api_url, NULL);
  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_EXPIRED,
      "Task %s of this request was paid for but its clip is lost (%s). "
      "Nothing was sent. cache-mode=refresh generates (and pays for) it "
      "again", task_id ? task_id : "?", reason);
  if (task_id)
    gst_klingo1_error_set_task_id (*error, task_id);
  return FALSE;
}

/* ---- one run ------------------------------------------------------------------- */

static gboolean
open_kept_clip (GstKlingo1Job * job, GError ** error)
{
  const gchar *path = gst_klingo1_store_entry_get_clip_path (job->entry);
  GStatBuf st;

  job->clip_fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (job->clip_fd < 0 || fstat (job->clip_fd, &st) != 0) {
    int errsv = errno;
    g_autofree gchar *name = g_filename_display_name (path);

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "Cannot open the cached clip %s: %s", name, g_strerror (errsv));
    return FALSE;
  }
  job->size = st.st_size;
  return TRUE;
}

/* Locks the request's entry once per job (a re-run after a flush keeps it),
 * and forgets it once for cache-mode=refresh. */
static gboolean
prepare_entry (GstKlingo1Job * job, GError ** error)
{
  g_autofree gchar *key = NULL;

  if (job->entry_ready || job->settings.cache_mode == GST_KLINGO1_CACHE_DISABLED)
    return TRUE;

  job->store = gst_klingo1_store_new (job->settings.cache_dir);
  key = entry_key (job, error);
  if (key == NULL)
    return FALSE;
  job->entry = gst_klingo1_store_open_entry (job->store, key, error);
  if (job->entry == NULL) {
    if (*error && (*error)->domain == GST_KLINGO1_ERROR
        && (*error)->code == GST_KLINGO1_ERROR_IO) {
      /* say which setting to change, not only which path failed */
      gchar *text = g_strdup_printf ("cache-dir: %s (set cache-dir to a "
          "writable directory, or cache-mode=disabled)", (*error)->message);
      g_free ((*error)->message);
      (*error)->message = text;
      gst_klingo1_error_set_field (*error, "cache-dir");
    }
    return FALSE;
  }

  if (!gst_klingo1_store_entry_try_lock (job->entry, error)) {
    if (error && *error)
      return FALSE;
    emit_text (job, GST_KLINGO1_JOB_EVENT_WAITING,
        gst_klingo1_store_get_dir (job->store));
    if (!gst_klingo1_store_entry_lock (job->entry, job->cancellable, error))
      return FALSE;
  }

  if (job->settings.cache_mode == GST_KLINGO1_CACHE_REFRESH
      && !gst_klingo1_store_entry_clear (job->entry, error))
    return FALSE;
  job->entry_ready = TRUE;
  return TRUE;
}

static gboolean
run (GstKlingo1Job * job, GError ** error)
{
  g_autoptr (GstKlingo1Task) created = NULL;
  g_autoptr (GstKlingo1Task) task = NULL;
  gboolean damaged = FALSE;

  if (!prepare_entry (job, error))
    return FALSE;

  if (job->entry) {
    g_autofree gchar *lost = gst_klingo1_store_entry_get_lost (job->entry);

    if (lost)
      return lost_error (job, lost, error);

    switch (gst_klingo1_store_entry_check_clip (job->entry, job->cancellable,
            error)) {
      case GST_KLINGO1_CLIP_OK:
        if (!open_kept_clip (job, error))
          return FALSE;
        /* the journal outlives the download: the clip keeps its task id
         * (an attached task has no journal: it is the one we were given) */
        if (job->settings.task_id)
          job->task_id = g_strdup (job->settings.task_id);
        else
          gst_klingo1_store_entry_read_task (job->entry, &job->task_id, NULL,
              NULL);
        emit_text (job, GST_KLINGO1_JOB_EVENT_CACHED,
            gst_klingo1_store_entry_get_clip_path (job->entry));
        return TRUE;
      case GST_KLINGO1_CLIP_DAMAGED:
        /* fetched again below while the task's link lives */
        damaged = TRUE;
        job->cache_damaged = TRUE;
        emit_text (job, GST_KLINGO1_JOB_EVENT_WARNING, "The cached clip no "
            "longer matches its checksum (it was damaged); fetching it "
            "again from its task");
        g_clear_error (error);
        break;
      default:
        if (error && *error)
          return FALSE;
        break;
    }
  }

  ensure_client (job);
  if (job->task_id == NULL) {
    if (job->settings.task_id) {
      job->task_id = g_strdup (job->settings.task_id);
    } else if (job->entry && !gst_klingo1_store_entry_read_task (job->entry,
            &job->task_id, NULL, error)) {
      return FALSE;
    }
    if (job->task_id) {
      GstKlingo1JobEvent event = {.type = GST_KLINGO1_JOB_EVENT_RESUMED,
        .task_id = job->task_id
      };
      emit (job, &event);
    } else if (damaged) {
      g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
          "The cached clip no longer matches its checksum and its task is "
          "unknown; cache-mode=refresh generates it again");
      return FALSE;
    } else {
      job->task_id = create_task (job, &created, error);
      if (job->task_id == NULL)
        return FALSE;
    }
  }

  if (job->settings.submit_only) {
    job->submitted_only = TRUE;
    return TRUE;
  }

  task = wait_for_task (job, created, error);
  if (task == NULL) {
    if (g_error_matches (*error, GST_KLINGO1_ERROR,
            GST_KLINGO1_ERROR_NOT_FOUND))
      mark_lost (job, *error);
    else if (job->entry && ((*error)->domain == GST_KLINGO1_ERROR
            && ((*error)->code == GST_KLINGO1_ERROR_TASK_FAILED
                || (*error)->code == GST_KLINGO1_ERROR_TASK_CANCELLED)))
      /* nothing was made (and, per EvoLink, nothing billed): the next run
       * may create again, which is the user's decision */
      gst_klingo1_store_entry_clear (job->entry, NULL);
    return FALSE;
  }

  if (!start_download (job, task->results[0], error))
    return FALSE;
  return TRUE;
}

gboolean
gst_klingo1_job_run (GstKlingo1Job * job, GCancellable * cancellable,
    GError ** error)
{
  g_autoptr (GstKlingo1Watchdog) wd = NULL;
  gboolean ok;

  if (gst_klingo1_job_is_ready (job))
    return TRUE;

  /* the deadline cuts whatever request is in flight, a trickle included */
  wd = gst_klingo1_watchdog_new (cancellable, job->deadline, 0);
  job->cancellable = gst_klingo1_watchdog_get_cancellable (wd);
  ok = run (job, error);
  if (!ok && gst_klingo1_watchdog_get_reason (wd) ==
      GST_KLINGO1_WATCHDOG_DEADLINE
      && g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_clear_error (error);
    deadline_passed (job, error);
  }
  if (ok && job->download) {
    ok = gst_klingo1_download_wait_size (job->download, &job->size,
        cancellable, error);
  }
  if (!ok && job->download && !g_error_matches (*error, G_IO_ERROR,
          G_IO_ERROR_CANCELLED)) {
    if (g_error_matches (*error, GST_KLINGO1_ERROR,
            GST_KLINGO1_ERROR_EXPIRED))
      mark_lost (job, *error);
  }
  if (!ok && job->download) {
    gst_klingo1_download_stop (job->download);
    g_clear_pointer (&job->download, gst_klingo1_download_unref);
  }
  if (!ok && *error && (*error)->domain == GST_KLINGO1_ERROR && job->task_id
      && !gst_klingo1_error_get_task_id (*error))
    gst_klingo1_error_set_task_id (*error, job->task_id);
  if (!ok && job->cache_damaged && *error
      && !g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    gchar *text = g_strdup_printf ("The cached clip was damaged (it no longer "
        "matches its checksum) and could not be fetched again: %s",
        (*error)->message);
    g_free ((*error)->message);
    (*error)->message = text;
  }
  job->cancellable = NULL;
  return ok;
}

gboolean
gst_klingo1_job_is_ready (GstKlingo1Job * job)
{
  return job->clip_fd >= 0 || job->download != NULL || job->submitted_only;
}

gboolean
gst_klingo1_job_is_submitted_only (GstKlingo1Job * job)
{
  return job->submitted_only;
}

guint64
gst_klingo1_job_get_size (GstKlingo1Job * job)
{
  return job->size;
}

const gchar *
gst_klingo1_job_get_task_id (GstKlingo1Job * job)
{
  return job->task_id;
}

gssize
gst_klingo1_job_read (GstKlingo1Job * job, guint64 offset, guint8 * buf,
    gsize len, GCancellable * cancellable, GError ** error)
{
  gssize n;

  if (job->download) {
    GError *err = NULL;

    n = gst_klingo1_download_read (job->download, offset, buf, len,
        cancellable, &err);
    if (n < 0) {
      if (g_error_matches (err, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_EXPIRED))
        mark_lost (job, err);
      g_propagate_error (error, err);
    }
    return n;
  }
  if (job->clip_fd < 0)
    return 0;
  if (offset >= job->size)
    return 0;
  do {
    n = pread (job->clip_fd, buf, MIN (len, job->size - offset), offset);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int errsv = errno;
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "Cannot read the cached clip: %s", g_strerror (errsv));
  } else if (n == 0) {
    /* the file shrank under us: never a silent end of a damaged clip */
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "The cached clip was truncated while it was being read");
    return -1;
  }
  return n;
}
