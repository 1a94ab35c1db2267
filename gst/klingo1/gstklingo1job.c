/* gst-klingo1: one generation, from request to a clip on disk
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The order of steps is what protects the user's money:
 *   lock the request's store entry (one process works on a request at a time)
 *   -> a finished clip?  play it, no API call
 *   -> a journaled task? resume it, no create
 *   -> upload local inputs (reusing earlier uploads), create, journal the id
 *      before the first poll
 *   -> poll -> download into the entry's part file -> commit the clip.
 * A create is never resent by this code: after any fault the journal is the
 * way back to the task.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/pbutils/pbutils.h>
#include <glib/gstdio.h>

#include "gstklingo1job.h"

GST_DEBUG_CATEGORY_EXTERN (gst_klingo1_src_debug);
#define GST_CAT_DEFAULT gst_klingo1_src_debug

/* An uploaded input is reused while it stays valid for this long: the server
 * fetches inputs when the task starts, well within an hour. */
#define UPLOAD_MIN_REMAINING_SECONDS (60 * 60)

typedef struct
{
  const GstKlingo1JobParams *params;
  GstKlingo1Client *client;
  GstKlingo1Store *store;
  GstKlingo1StoreEntry *entry;
  GCancellable *cancellable;
} Job;

static void
emit (Job * job, GstKlingo1JobEvent * event)
{
  if (job->params->on_event)
    job->params->on_event (event, job->params->user_data);
}

static void
emit_text (Job * job, GstKlingo1JobEventType type, const gchar * text)
{
  GstKlingo1JobEvent event = {.type = type,.text = text };
  emit (job, &event);
}

void
gst_klingo1_job_result_clear (GstKlingo1JobResult * result)
{
  if (result->clip_is_temporary && result->clip_path)
    g_unlink (result->clip_path);
  g_clear_pointer (&result->clip_path, g_free);
  g_clear_pointer (&result->task_id, g_free);
  result->clip_is_temporary = FALSE;
}

/* The store entry of a request is also keyed by the API it runs on: a clip
 * made by one service (say the emulator) must never be served for another. */
static gchar *
entry_key (const GstKlingo1JobParams * params, GCancellable * cancellable,
    GError ** error)
{
  g_autofree gchar *what = NULL;

  if (params->attach_task_id) {
    what = g_strdup_printf ("attach\n%s\n%s", params->api_url,
        params->attach_task_id);
  } else {
    g_autofree gchar *hash = gst_klingo1_request_hash (params->request,
        cancellable, error);
    if (!hash)
      return NULL;
    what = g_strdup_printf ("request\n%s\n%s", params->api_url, hash);
  }
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, what, -1);
}

static gboolean
deadline_passed (Job * job, const gchar * task_id, GError ** error)
{
  if (job->params->deadline == 0
      || g_get_monotonic_time () < job->params->deadline)
    return FALSE;

  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_TIMEOUT,
      "timeout: task %s did not finish in time; it goes on at the API and "
      "running the same request again resumes it", task_id ? task_id : "");
  if (task_id)
    gst_klingo1_error_set_task_id (*error, task_id);
  gst_klingo1_error_set_field (*error, "timeout");
  return TRUE;
}

/* Edit models bill the input video's length clamped to a window; say how a
 * video outside it will be billed (measured locally, before anything is
 * sent). Remote videos are not probed: that would download them twice. */
static void
warn_about_billed_length (Job * job)
{
  const GstKlingo1Request *req = job->params->request;
  g_autofree gchar *path = NULL;
  g_autofree gchar *uri = NULL;
  g_autoptr (GstDiscoverer) discoverer = NULL;
  g_autoptr (GstDiscovererInfo) info = NULL;
  g_autofree gchar *text = NULL;
  gdouble seconds, low, high;

  if (req == NULL || req->model == GST_KLINGO1_MODEL_IMAGE_TO_VIDEO)
    return;
  path = gst_klingo1_input_get_local_path (req->video);
  if (path == NULL)
    return;

  low = req->model == GST_KLINGO1_MODEL_VIDEO_EDIT ? 3 : 6;
  high = req->model == GST_KLINGO1_MODEL_VIDEO_EDIT ? 10 : 20;

  discoverer = gst_discoverer_new (5 * GST_SECOND, NULL);
  if (discoverer == NULL)
    return;
  if (g_path_is_absolute (path)) {
    uri = g_filename_to_uri (path, NULL, NULL);
  } else {
    g_autofree gchar *cwd = g_get_current_dir ();
    g_autofree gchar *abs = g_build_filename (cwd, path, NULL);
    uri = g_filename_to_uri (abs, NULL, NULL);
  }
  if (uri == NULL)
    return;
  info = gst_discoverer_discover_uri (discoverer, uri, NULL);
  if (info == NULL
      || gst_discoverer_info_get_duration (info) == GST_CLOCK_TIME_NONE)
    return;

  seconds = (gdouble) gst_discoverer_info_get_duration (info) / GST_SECOND;
  GST_DEBUG ("input video %s lasts %.2f s", path, seconds);
  if (seconds < low)
    text = g_strdup_printf ("video: %s lasts %.1f s, shorter than the %g-%g s "
        "that %s supports; it will be billed as %g s", path, seconds, low,
        high, gst_klingo1_model_to_api_id (req->model), low);
  else if (seconds > high)
    text = g_strdup_printf ("video: %s lasts %.1f s, longer than the %g-%g s "
        "that %s supports; it will be billed as %g s", path, seconds, low,
        high, gst_klingo1_model_to_api_id (req->model), high);
  if (text)
    emit_text (job, GST_KLINGO1_JOB_EVENT_WARNING, text);
}

/* Replaces a local input by the URL of its upload, reusing an upload of the
 * same content that is still valid. */
static gboolean
resolve_input (Job * job, gchar ** input, GError ** error)
{
  g_autofree gchar *path = NULL;
  g_autofree gchar *hash = NULL;
  g_autofree gchar *url = NULL;
  g_autoptr (GDateTime) expires = NULL;

  if (gst_klingo1_input_is_remote (*input))
    return TRUE;

  path = gst_klingo1_input_get_local_path (*input);
  if (path == NULL) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
        "%s: neither an http(s) URL nor a local file", *input);
    return FALSE;
  }

  if (job->store) {
    hash = gst_klingo1_input_hash_file (path, job->cancellable, error);
    if (hash == NULL)
      return FALSE;
    url = gst_klingo1_store_lookup_upload (job->store, hash,
        UPLOAD_MIN_REMAINING_SECONDS);
  }
  if (url == NULL) {
    emit_text (job, GST_KLINGO1_JOB_EVENT_UPLOADING, path);
    url = gst_klingo1_client_upload_file (job->client, path, &expires,
        job->cancellable, error);
    if (url == NULL)
      return FALSE;
    if (job->store && !gst_klingo1_store_record_upload (job->store, hash, url,
            expires, NULL))
      GST_WARNING ("could not record the upload of %s", path);
  } else {
    GST_DEBUG ("reusing the upload of %s: %s", path, url);
  }

  g_free (*input);
  *input = g_steal_pointer (&url);
  return TRUE;
}

/* The Idempotency-Key of this create: the one recorded by a run that sent a
 * create and never heard back, or a new one, recorded before anything is
 * sent. One key per decision to create: the client's retries and a run after
 * a crash reuse it, while refresh or a forgotten task start afresh. */
static gchar *
create_key (Job * job, GError ** error)
{
  gchar *key = job->entry ?
      gst_klingo1_store_entry_get_create_key (job->entry) : NULL;

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

static gchar *
create_task (Job * job, GError ** error)
{
  g_autofree gchar *idempotency_key = NULL;
  g_autoptr (GstKlingo1Request) resolved =
      gst_klingo1_request_copy (job->params->request);
  g_autoptr (GstKlingo1Task) task = NULL;
  g_autofree gchar *body = NULL;
  guint i;

  warn_about_billed_length (job);

  for (i = 0; i < resolved->images->len; i++) {
    if (!resolve_input (job, (gchar **) & g_ptr_array_index (resolved->images,
                i), error))
      return NULL;
  }
  if (resolved->video && !resolve_input (job, &resolved->video, error))
    return NULL;

  body = gst_klingo1_request_to_json (resolved);
  idempotency_key = create_key (job, error);
  if (idempotency_key == NULL)
    return NULL;
  task = gst_klingo1_client_create_task (job->client, body, idempotency_key,
      job->cancellable, error);
  if (task == NULL) {
    guint status = gst_klingo1_error_get_http_status (*error);
    /* A 4xx answer means no task was made: the next try is a new create. */
    if (job->entry && status >= 400 && status < 500)
      gst_klingo1_store_entry_set_create_key (job->entry, NULL, NULL);
    return NULL;
  }

  /* Journal first: if we die after this line, a re-run resumes this task. */
  if (job->entry && !gst_klingo1_store_entry_set_task_id (job->entry, task->id,
          job->params->api_url, error)) {
    gst_klingo1_error_set_task_id (*error, task->id);
    return NULL;
  }

  {
    GstKlingo1JobEvent event = {.type = GST_KLINGO1_JOB_EVENT_SUBMITTED,
      .task_id = task->id,.task = task
    };
    emit (job, &event);
  }
  return g_strdup (task->id);
}

/* Sleeps one poll interval, cut short by the deadline. */
static gboolean
wait_poll_interval (Job * job, const gchar * task_id, GError ** error)
{
  gdouble wait = job->params->poll_interval;

  if (deadline_passed (job, task_id, error))
    return FALSE;
  if (job->params->deadline) {
    gdouble left = (job->params->deadline - g_get_monotonic_time ()) / 1e6;
    wait = MIN (wait, MAX (left, 0.0));
  }
  return gst_klingo1_sleep (wait, job->cancellable, error);
}

/* Polls until the task ends; returns the completed task. A task that was
 * just created has nothing to report yet: its first read waits one interval
 * (each read of an unfinished task costs the API a sync with its provider). */
static GstKlingo1Task *
wait_for_task (Job * job, const gchar * task_id, gboolean just_created,
    GError ** error)
{
  if (just_created && !wait_poll_interval (job, task_id, error))
    return NULL;

  while (TRUE) {
    g_autoptr (GstKlingo1Task) task = NULL;
    GstKlingo1JobEvent event = {.type = GST_KLINGO1_JOB_EVENT_POLLED };

    task = gst_klingo1_client_get_task (job->client, task_id, job->cancellable,
        error);
    if (task == NULL) {
      if (*error && (*error)->domain == GST_KLINGO1_ERROR)
        gst_klingo1_error_set_task_id (*error, task_id);
      return NULL;
    }

    event.task_id = task_id;
    event.task = task;
    emit (job, &event);

    if (task->status == GST_KLINGO1_TASK_STATUS_COMPLETED) {
      if (task->results == NULL || task->results[0] == NULL) {
        g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
            "task %s completed without a result URL", task_id);
        gst_klingo1_error_set_task_id (*error, task_id);
        return NULL;
      }
      return g_steal_pointer (&task);
    }
    if (gst_klingo1_task_status_is_final (task->status)) {
      *error = gst_klingo1_task_to_error (task);
      return NULL;
    }

    if (!wait_poll_interval (job, task_id, error))
      return NULL;
  }
}

static void
on_download_progress (guint64 received, guint64 total, gpointer user_data)
{
  Job *job = user_data;
  GstKlingo1JobEvent event = {.type = GST_KLINGO1_JOB_EVENT_DOWNLOADING,
    .received = received,.total = total
  };
  emit (job, &event);
}

/* Forgets a journaled task that can no longer give its clip, so that the
 * next run creates a new one; this run fails, so that paying again is the
 * user's decision, never an automatic retry. */
static void
forget_task (Job * job, GError * error)
{
  if (job->entry == NULL || error == NULL || error->domain != GST_KLINGO1_ERROR)
    return;
  if (error->code != GST_KLINGO1_ERROR_NOT_FOUND
      && error->code != GST_KLINGO1_ERROR_EXPIRED
      && error->code != GST_KLINGO1_ERROR_TASK_FAILED
      && error->code != GST_KLINGO1_ERROR_TASK_CANCELLED)
    return;
  GST_INFO ("forgetting the journaled task: %s", error->message);
  gst_klingo1_store_entry_clear (job->entry, NULL);
}

static gboolean
run_locked (Job * job, GstKlingo1JobResult * result, GError ** error)
{
  const GstKlingo1JobParams *params = job->params;
  g_autofree gchar *task_id = NULL;
  g_autoptr (GstKlingo1Task) task = NULL;
  const gchar *dest;
  g_autofree gchar *tmp_path = NULL;
  gboolean just_created;

  if (job->entry && gst_klingo1_store_entry_has_clip (job->entry)) {
    result->clip_path =
        g_strdup (gst_klingo1_store_entry_get_clip_path (job->entry));
    /* The journal outlives the download: the clip keeps its task id. */
    result->task_id = gst_klingo1_store_entry_get_task_id (job->entry, NULL);
    emit_text (job, GST_KLINGO1_JOB_EVENT_CACHED, result->clip_path);
    return TRUE;
  }

  if (params->attach_task_id) {
    task_id = g_strdup (params->attach_task_id);
  } else if (job->entry) {
    g_autofree gchar *journal_api = NULL;
    task_id = gst_klingo1_store_entry_get_task_id (job->entry, &journal_api);
  }

  just_created = task_id == NULL;
  if (task_id) {
    GstKlingo1JobEvent event = {.type = GST_KLINGO1_JOB_EVENT_RESUMED,
      .task_id = task_id
    };
    emit (job, &event);
  } else {
    task_id = create_task (job, error);
    if (task_id == NULL)
      return FALSE;
  }
  result->task_id = g_strdup (task_id);

  task = wait_for_task (job, task_id, just_created, error);
  if (task == NULL) {
    forget_task (job, *error);
    return FALSE;
  }

  if (job->entry) {
    dest = gst_klingo1_store_entry_get_part_path (job->entry);
  } else {
    gint fd = g_file_open_tmp ("klingo1-XXXXXX.mp4", &tmp_path, error);
    if (fd < 0)
      return FALSE;
    close (fd);
    /* An empty file would read as a prefix of the download: start clean. */
    g_unlink (tmp_path);
    dest = tmp_path;
  }

  if (!gst_klingo1_client_download (job->client, task->results[0], dest,
          on_download_progress, job, job->cancellable, error)) {
    if (*error && (*error)->domain == GST_KLINGO1_ERROR)
      gst_klingo1_error_set_task_id (*error, task_id);
    forget_task (job, *error);
    if (tmp_path)
      g_unlink (tmp_path);
    return FALSE;
  }

  if (job->entry) {
    if (!gst_klingo1_store_entry_commit_clip (job->entry, error))
      return FALSE;
    result->clip_path =
        g_strdup (gst_klingo1_store_entry_get_clip_path (job->entry));
  } else {
    result->clip_path = g_steal_pointer (&tmp_path);
    result->clip_is_temporary = TRUE;
  }
  return TRUE;
}

gboolean
gst_klingo1_job_run (const GstKlingo1JobParams * params,
    GstKlingo1JobResult * result, GCancellable * cancellable, GError ** error)
{
  Job job = {.params = params,.cancellable = cancellable };
  gboolean ok = FALSE;

  g_return_val_if_fail (params->request || params->attach_task_id, FALSE);

  job.client = gst_klingo1_client_new (params->api_url, params->api_key,
      params->files_url);

  /* The key is only for the store: without it there is no reason to read
   * (and hash) the local inputs here. */
  if (params->cache_mode != GST_KLINGO1_CACHE_DISABLED) {
    g_autofree gchar *key = entry_key (params, cancellable, error);

    if (key == NULL)
      goto done;
    job.store = gst_klingo1_store_new (params->cache_dir);
    job.entry = gst_klingo1_store_open_entry (job.store, key, error);
    if (job.entry == NULL)
      goto done;

    if (!gst_klingo1_store_entry_try_lock (job.entry, error)) {
      if (error && *error)
        goto done;
      emit_text (&job, GST_KLINGO1_JOB_EVENT_WAITING,
          gst_klingo1_store_get_dir (job.store));
      if (!gst_klingo1_store_entry_lock (job.entry, cancellable, error))
        goto done;
    }

    if (params->cache_mode == GST_KLINGO1_CACHE_REFRESH
        && !gst_klingo1_store_entry_clear (job.entry, error))
      goto done;
  }

  ok = run_locked (&job, result, error);

done:
  if (job.entry)
    gst_klingo1_store_entry_unlock (job.entry);
  g_clear_object (&job.entry);
  g_clear_object (&job.store);
  g_clear_object (&job.client);
  return ok;
}
