/* gst-klingo1: klingo1src, a source that generates its clip with Kling O1
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-klingo1src
 * @title: klingo1src
 *
 * Generates a video clip with the Kling O1 model (as served by EvoLink) and
 * outputs its MP4 bytes (video/quicktime), so a generated clip feeds straight
 * into a pipeline.
 *
 * Three models: `image-to-video` (1 image = first frame, 2 = first and last
 * frame; 5 or 10 s; 16:9, 9:16 or 1:1), `video-edit` (one 3-10 s video, up to
 * 4 reference images) and `video-edit-fast` (6-20 s input). Inputs are http(s)
 * URLs, or local files (paths or file:// URIs) that are uploaded through the
 * Files API first.
 *
 * Every property is checked against the documented limits when the element
 * goes from READY to PAUSED, before anything is sent or paid for. The work
 * itself (upload, create, poll, download) runs in the streaming thread:
 * gst_element_set_state() returns ASYNC at once and setting the element to
 * NULL interrupts any phase promptly.
 *
 * Nothing is paid for twice: each request is keyed by a hash of its content
 * (inputs included, key excluded) in `cache-dir`. The task id is recorded
 * before the first poll, so running the same request again after a crash
 * resumes the task; a finished clip is kept there and played again with no
 * API call. Two processes with the same request create one task between them.
 *
 * Progress is posted as GST_MESSAGE_PROGRESS (START on submit, CONTINUE with
 * the API's percentage, COMPLETE, CANCELED, ERROR) and as element messages
 * named `klingo1/task` (fields task-id, status, progress, estimated-time,
 * elapsed). The stream carries the prompt, model and task id as tags.
 *
 * ## Example launch lines
 * |[
 * KLINGO1_API_KEY=sk-... gst-launch-1.0 klingo1src prompt="A cat walks" \
 *     images="<https://example.com/cat.jpg>" duration=10 aspect-ratio=9:16 \
 *     ! qtdemux ! h264parse ! mp4mux ! filesink location=cat.mp4
 * gst-launch-1.0 -m klingo1src model=video-edit video=clip.mp4 \
 *     images="<ref.png>" prompt="Make it snow" ! decodebin ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "request-private.h"
#include "task-private.h"
#include "gstklingo1src.h"
#include "gstklingo1job.h"
#include "gstklingo1provenance.h"
#include "gstklingo1uri.h"

GST_DEBUG_CATEGORY (gst_klingo1_src_debug);
#define GST_CAT_DEFAULT gst_klingo1_src_debug

enum
{
  PROP_0,
  PROP_API_KEY,
  PROP_API_URL,
  PROP_FILES_URL,
  PROP_MODEL,
  PROP_PROMPT,
  PROP_IMAGES,
  PROP_VIDEO,
  PROP_ASPECT_RATIO,
  PROP_DURATION,
  PROP_KEEP_ORIGINAL_SOUND,
  PROP_CALLBACK_URL,
  PROP_TASK_ID,
  PROP_SUBMIT_ONLY,
  PROP_POLL_INTERVAL,
  PROP_TIMEOUT,
  PROP_IO_TIMEOUT,
  PROP_MAX_SIZE,
  PROP_CACHE_DIR,
  PROP_CACHE_MODE,
  PROP_USER_AGENT,
  PROP_PROXY,
  PROP_CA_FILE,
  PROP_STATUS,
  PROP_PROGRESS,
};

struct _GstKlingo1Src
{
  GstBaseSrc parent;

  /* OBJECT_LOCK: what the properties say */
  GstKlingo1Settings settings;
  gchar *current_task_id;       /* read back through task-id */
  gchar *status;
  gint progress;

  /* Cancelled by unlock(); replaced by unlock_stop(): OBJECT_LOCK */
  GCancellable *cancellable;

  /* The run: made by start(), used by the streaming thread. */
  GstKlingo1Job *job;
  gint64 started;
  gboolean progress_started;
  gboolean size_known;
  GstKlingo1Provenance *provenance;     /* tags that reach the output file */
};

#define gst_klingo1_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstKlingo1Src, gst_klingo1_src, GST_TYPE_BASE_SRC,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        gst_klingo1_src_uri_handler_init));
GST_ELEMENT_REGISTER_DEFINE (klingo1src, "klingo1src", GST_RANK_NONE,
    GST_TYPE_KLINGO1_SRC);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/quicktime"));

static GType
register_enum_once (gsize * type, const gchar * name,
    const GEnumValue * values)
{
  if (g_once_init_enter (type))
    g_once_init_leave (type, g_enum_register_static (name, values));
  return *type;
}

#define GST_TYPE_KLINGO1_MODEL (gst_klingo1_model_get_type ())
static GType
gst_klingo1_model_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {GST_KLINGO1_MODEL_IMAGE_TO_VIDEO, "kling-o1-image-to-video: 1-2 images "
          "(first frame, or first and last) to a 5 or 10 s clip",
        "image-to-video"},
    {GST_KLINGO1_MODEL_VIDEO_EDIT, "kling-o1-video-edit: edits a 3-10 s "
          "video, up to 4 reference images", "video-edit"},
    {GST_KLINGO1_MODEL_VIDEO_EDIT_FAST, "kling-o1-video-edit-fast: edits a "
          "6-20 s video, faster", "video-edit-fast"},
    {0, NULL, NULL}
  };
  return register_enum_once (&type, "GstKlingo1Model", values);
}

#define GST_TYPE_KLINGO1_ASPECT_RATIO (gst_klingo1_aspect_ratio_get_type ())
static GType
gst_klingo1_aspect_ratio_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {GST_KLINGO1_ASPECT_RATIO_UNSET, "Not sent: the API follows the image",
        "auto"},
    {GST_KLINGO1_ASPECT_RATIO_16_9, "16:9 landscape", "16:9"},
    {GST_KLINGO1_ASPECT_RATIO_9_16, "9:16 portrait", "9:16"},
    {GST_KLINGO1_ASPECT_RATIO_1_1, "1:1 square", "1:1"},
    {0, NULL, NULL}
  };
  return register_enum_once (&type, "GstKlingo1AspectRatio", values);
}

#define GST_TYPE_KLINGO1_CACHE_MODE (gst_klingo1_cache_mode_get_type ())
static GType
gst_klingo1_cache_mode_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {GST_KLINGO1_CACHE_READ_WRITE, "Play cached clips, resume journaled tasks",
        "read-write"},
    {GST_KLINGO1_CACHE_REFRESH, "Forget this request's clip and generate anew",
        "refresh"},
    {GST_KLINGO1_CACHE_DISABLED, "No cache, no journal", "disabled"},
    {0, NULL, NULL}
  };
  return register_enum_once (&type, "GstKlingo1CacheMode", values);
}

static void
gst_klingo1_src_init (GstKlingo1Src * src)
{
  gst_klingo1_settings_init (&src->settings);
  src->status = g_strdup ("idle");
  src->cancellable = g_cancellable_new ();

  gst_base_src_set_format (GST_BASE_SRC (src), GST_FORMAT_BYTES);
  gst_base_src_set_blocksize (GST_BASE_SRC (src), 64 * 1024);
}

static void
gst_klingo1_src_finalize (GObject * object)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (object);

  gst_klingo1_settings_clear (&src->settings);
  g_free (src->current_task_id);
  g_free (src->status);
  g_clear_object (&src->cancellable);
  g_clear_pointer (&src->job, gst_klingo1_job_free);

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static gboolean
is_configurable (GstKlingo1Src * src, GParamSpec * pspec)
{
  GstState state;

  GST_OBJECT_LOCK (src);
  state = GST_STATE (src);
  GST_OBJECT_UNLOCK (src);
  if (state <= GST_STATE_READY)
    return TRUE;
  g_warning ("%s: property %s can only be set in the NULL or READY state",
      GST_OBJECT_NAME (src), pspec->name);
  return FALSE;
}

static void
set_images (GstKlingo1Request * req, const GValue * value)
{
  guint i, n = gst_value_array_get_size (value);

  g_ptr_array_set_size (req->images, 0);
  for (i = 0; i < n; i++) {
    const GValue *v = gst_value_array_get_value (value, i);
    if (G_VALUE_HOLDS_STRING (v) && g_value_get_string (v))
      g_ptr_array_add (req->images, g_value_dup_string (v));
  }
}

static void
replace_string (gchar ** slot, const GValue * value)
{
  const gchar *s = g_value_get_string (value);

  g_free (*slot);
  *slot = (s && *s) ? g_strdup (s) : NULL;
}

static void
gst_klingo1_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (object);
  GstKlingo1Settings *s = &src->settings;

  if (!is_configurable (src, pspec))
    return;

  GST_OBJECT_LOCK (src);
  switch (prop_id) {
    case PROP_API_KEY:
      replace_string (&s->api_key, value);
      break;
    case PROP_API_URL:
      replace_string (&s->api_url, value);
      break;
    case PROP_FILES_URL:
      replace_string (&s->files_url, value);
      break;
    case PROP_MODEL:
      s->request->model = g_value_get_enum (value);
      break;
    case PROP_PROMPT:
      g_free (s->request->prompt);
      s->request->prompt = g_value_dup_string (value);
      break;
    case PROP_IMAGES:
      set_images (s->request, value);
      break;
    case PROP_VIDEO:
      replace_string (&s->request->video, value);
      break;
    case PROP_ASPECT_RATIO:
      s->request->aspect_ratio = g_value_get_enum (value);
      break;
    case PROP_DURATION:
      s->request->duration = g_value_get_uint (value);
      break;
    case PROP_KEEP_ORIGINAL_SOUND:
      s->request->keep_original_sound = g_value_get_boolean (value);
      break;
    case PROP_CALLBACK_URL:
      replace_string (&s->request->callback_url, value);
      break;
    case PROP_TASK_ID:
      replace_string (&s->task_id, value);
      g_free (src->current_task_id);
      src->current_task_id = g_strdup (s->task_id);
      break;
    case PROP_SUBMIT_ONLY:
      s->submit_only = g_value_get_boolean (value);
      break;
    case PROP_POLL_INTERVAL:
      s->poll_interval = g_value_get_double (value);
      break;
    case PROP_TIMEOUT:
      s->timeout = g_value_get_uint (value);
      break;
    case PROP_IO_TIMEOUT:
      s->io_timeout = g_value_get_uint (value);
      break;
    case PROP_MAX_SIZE:
      s->max_size = g_value_get_uint64 (value);
      break;
    case PROP_CACHE_DIR:
      replace_string (&s->cache_dir, value);
      break;
    case PROP_CACHE_MODE:
      s->cache_mode = g_value_get_enum (value);
      break;
    case PROP_USER_AGENT:
      replace_string (&s->user_agent, value);
      break;
    case PROP_PROXY:
      replace_string (&s->proxy, value);
      break;
    case PROP_CA_FILE:
      replace_string (&s->ca_file, value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (src);
}

static void
gst_klingo1_src_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (object);
  GstKlingo1Settings *s = &src->settings;

  GST_OBJECT_LOCK (src);
  switch (prop_id) {
    case PROP_API_URL:
      g_value_set_string (value, s->api_url);
      break;
    case PROP_FILES_URL:
      g_value_set_string (value, s->files_url);
      break;
    case PROP_MODEL:
      g_value_set_enum (value, s->request->model);
      break;
    case PROP_PROMPT:
      g_value_set_string (value, s->request->prompt);
      break;
    case PROP_IMAGES:{
      guint i;
      for (i = 0; i < s->request->images->len; i++) {
        GValue v = G_VALUE_INIT;
        g_value_init (&v, G_TYPE_STRING);
        g_value_set_string (&v, g_ptr_array_index (s->request->images, i));
        gst_value_array_append_and_take_value (value, &v);
      }
      break;
    }
    case PROP_VIDEO:
      g_value_set_string (value, s->request->video);
      break;
    case PROP_ASPECT_RATIO:
      g_value_set_enum (value, s->request->aspect_ratio);
      break;
    case PROP_DURATION:
      g_value_set_uint (value, s->request->duration);
      break;
    case PROP_KEEP_ORIGINAL_SOUND:
      g_value_set_boolean (value, s->request->keep_original_sound);
      break;
    case PROP_CALLBACK_URL:
      g_value_set_string (value, s->request->callback_url);
      break;
    case PROP_TASK_ID:
      g_value_set_string (value, src->current_task_id);
      break;
    case PROP_SUBMIT_ONLY:
      g_value_set_boolean (value, s->submit_only);
      break;
    case PROP_POLL_INTERVAL:
      g_value_set_double (value, s->poll_interval);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, s->timeout);
      break;
    case PROP_IO_TIMEOUT:
      g_value_set_uint (value, s->io_timeout);
      break;
    case PROP_MAX_SIZE:
      g_value_set_uint64 (value, s->max_size);
      break;
    case PROP_CACHE_DIR:
      g_value_set_string (value, s->cache_dir);
      break;
    case PROP_CACHE_MODE:
      g_value_set_enum (value, s->cache_mode);
      break;
    case PROP_USER_AGENT:
      g_value_set_string (value, s->user_agent);
      break;
    case PROP_PROXY:
      g_value_set_string (value, s->proxy);
      break;
    case PROP_CA_FILE:
      g_value_set_string (value, s->ca_file);
      break;
    case PROP_STATUS:
      g_value_set_string (value, src->status);
      break;
    case PROP_PROGRESS:
      g_value_set_int (value, src->progress);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (src);
}

/* ---- Reporting ---------------------------------------------------------- */

static void
set_status (GstKlingo1Src * src, const gchar * status, gint progress,
    const gchar * task_id)
{
  gboolean status_changed, progress_changed, task_changed = FALSE;

  GST_OBJECT_LOCK (src);
  status_changed = g_strcmp0 (src->status, status) != 0;
  if (status_changed) {
    g_free (src->status);
    src->status = g_strdup (status);
  }
  progress_changed = progress >= 0 && progress != src->progress;
  if (progress_changed)
    src->progress = progress;
  if (task_id && g_strcmp0 (task_id, src->current_task_id) != 0) {
    g_free (src->current_task_id);
    src->current_task_id = g_strdup (task_id);
    task_changed = TRUE;
  }
  GST_OBJECT_UNLOCK (src);

  if (status_changed)
    g_object_notify (G_OBJECT (src), "status");
  if (progress_changed)
    g_object_notify (G_OBJECT (src), "progress");
  if (task_changed)
    g_object_notify (G_OBJECT (src), "task-id");
}

static void
post_progress (GstKlingo1Src * src, GstProgressType type, const gchar * code,
    const gchar * text, gint percent)
{
  GstMessage *msg;

  if (type == GST_PROGRESS_TYPE_START) {
    if (src->progress_started)
      type = GST_PROGRESS_TYPE_CONTINUE;
    src->progress_started = TRUE;
  } else if (!src->progress_started) {
    /* CANCELED or ERROR with no START before it has nothing to close. */
    if (type == GST_PROGRESS_TYPE_CANCELED || type == GST_PROGRESS_TYPE_ERROR)
      return;
    post_progress (src, GST_PROGRESS_TYPE_START, "start", "Starting", -1);
  }
  if (type == GST_PROGRESS_TYPE_COMPLETE || type == GST_PROGRESS_TYPE_CANCELED
      || type == GST_PROGRESS_TYPE_ERROR)
    src->progress_started = FALSE;

  msg = gst_message_new_progress (GST_OBJECT (src), type, code, text);
  /* The progress message has no percentage of its own: add it, -1 when the
   * phase has none. */
  gst_structure_set (gst_message_writable_structure (msg),
      "percent", G_TYPE_INT, percent, NULL);
  gst_element_post_message (GST_ELEMENT (src), msg);
}

static void
post_task_message (GstKlingo1Src * src, const gchar * task_id,
    const GstKlingo1Task * task)
{
  gdouble elapsed = (g_get_monotonic_time () - src->started) / 1e6;
  GstStructure *s = gst_structure_new ("klingo1/task",
      "task-id", G_TYPE_STRING, task_id,
      "status", G_TYPE_STRING, gst_klingo1_task_status_to_string (task->status),
      "progress", G_TYPE_INT, task->progress,
      "estimated-time", G_TYPE_INT, task->estimated_time,
      "elapsed", G_TYPE_DOUBLE, elapsed, NULL);

  gst_element_post_message (GST_ELEMENT (src),
      gst_message_new_element (GST_OBJECT (src), s));
}

static void
on_job_event (const GstKlingo1JobEvent * event, gpointer user_data)
{
  GstKlingo1Src *src = user_data;
  g_autofree gchar *text = NULL;

  switch (event->type) {
    case GST_KLINGO1_JOB_EVENT_WAITING:
      set_status (src, "waiting", -1, NULL);
      post_progress (src, GST_PROGRESS_TYPE_START, "waiting",
          "Another process is generating this request; waiting for it", -1);
      break;
    case GST_KLINGO1_JOB_EVENT_UPLOADING:
      set_status (src, "uploading", -1, NULL);
      text = g_strdup_printf ("Uploading %s", event->text);
      post_progress (src, GST_PROGRESS_TYPE_START, "upload", text, -1);
      break;
    case GST_KLINGO1_JOB_EVENT_SUBMITTED:
      GST_INFO_OBJECT (src, "created task %s", event->task_id);
      set_status (src, "pending", 0, event->task_id);
      text = g_strdup_printf ("Submitted task %s", event->task_id);
      post_progress (src, GST_PROGRESS_TYPE_START, "submit", text, 0);
      post_task_message (src, event->task_id, event->task);
      break;
    case GST_KLINGO1_JOB_EVENT_RESUMED:
      GST_INFO_OBJECT (src, "resuming task %s", event->task_id);
      set_status (src, "resuming", -1, event->task_id);
      text = g_strdup_printf ("Resuming task %s", event->task_id);
      post_progress (src, GST_PROGRESS_TYPE_START, "resume", text, -1);
      break;
    case GST_KLINGO1_JOB_EVENT_POLLED:{
      const GstKlingo1Task *task = event->task;
      set_status (src, gst_klingo1_task_status_to_string (task->status),
          task->progress, event->task_id);
      if (task->estimated_time >= 0)
        text = g_strdup_printf ("Task %s %s: %d%%, about %d s left",
            event->task_id, gst_klingo1_task_status_to_string (task->status),
            task->progress, task->estimated_time);
      else
        text = g_strdup_printf ("Task %s %s: %d%%", event->task_id,
            gst_klingo1_task_status_to_string (task->status), task->progress);
      post_progress (src, GST_PROGRESS_TYPE_CONTINUE, "poll", text,
          task->progress);
      post_task_message (src, event->task_id, task);
      break;
    }
    case GST_KLINGO1_JOB_EVENT_DOWNLOADING:
      /* from a download thread: the status property is all it touches */
      set_status (src, "downloading", -1, NULL);
      GST_LOG_OBJECT (src, "downloaded %" G_GUINT64_FORMAT " of %"
          G_GUINT64_FORMAT, event->received, event->total);
      break;
    case GST_KLINGO1_JOB_EVENT_DOWNLOADED:
      GST_INFO_OBJECT (src, "the clip is complete and checked (%"
          G_GUINT64_FORMAT " bytes)", event->total);
      set_status (src, "completed", 100, NULL);
      break;
    case GST_KLINGO1_JOB_EVENT_DAMAGED:
      set_status (src, "failed", -1, NULL);
      GST_ELEMENT_ERROR (src, RESOURCE, READ, ("%s", event->text), (NULL));
      break;
    case GST_KLINGO1_JOB_EVENT_CACHED:
      GST_INFO_OBJECT (src, "playing the cached clip %s", event->text);
      break;
    case GST_KLINGO1_JOB_EVENT_WARNING:
      GST_ELEMENT_WARNING (src, RESOURCE, SETTINGS, ("%s", event->text),
          (NULL));
      break;
  }
}

static void
post_error (GstKlingo1Src * src, const GError * error)
{
  GstStructure *details = gst_klingo1_error_to_details (error);
  GstResourceError code = GST_RESOURCE_ERROR_FAILED;
  const gchar *task_id = gst_klingo1_error_get_task_id (error);
  gchar *debug;

  if (error->domain == GST_KLINGO1_ERROR) {
    switch (error->code) {
      case GST_KLINGO1_ERROR_INVALID_REQUEST:
        code = GST_RESOURCE_ERROR_SETTINGS;
        break;
      case GST_KLINGO1_ERROR_AUTH:
        code = GST_RESOURCE_ERROR_NOT_AUTHORIZED;
        break;
      case GST_KLINGO1_ERROR_NOT_FOUND:
      case GST_KLINGO1_ERROR_EXPIRED:
        code = GST_RESOURCE_ERROR_NOT_FOUND;
        break;
      case GST_KLINGO1_ERROR_IO:
        code = GST_RESOURCE_ERROR_WRITE;
        break;
      default:
        break;
    }
  }
  if (task_id == NULL && src->job)
    task_id = gst_klingo1_job_get_task_id (src->job);
  if (task_id && !gst_structure_has_field (details, "task-id"))
    gst_structure_set (details, "task-id", G_TYPE_STRING, task_id, NULL);

  /* The details, readable by people who only see the debug text. */
  debug = gst_structure_to_string (details);
  gst_element_message_full_with_details (GST_ELEMENT (src),
      GST_MESSAGE_ERROR, GST_RESOURCE_ERROR, code,
      g_strdup (error->message), debug, __FILE__, GST_FUNCTION, __LINE__,
      details);
}

/* ---- Lifecycle ---------------------------------------------------------- */

/* Checks the properties; runs in the application's thread, so it only reads
 * a few bytes of local inputs, never the network. */
static gboolean
gst_klingo1_src_start (GstBaseSrc * bsrc)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (bsrc);
  GstKlingo1Settings snapshot;
  GError *error = NULL;

  GST_OBJECT_LOCK (src);
  gst_klingo1_settings_copy (&src->settings, &snapshot);
  GST_OBJECT_UNLOCK (src);

  if (!gst_klingo1_settings_resolve (&snapshot, &error)) {
    gst_klingo1_settings_clear (&snapshot);
    post_error (src, error);
    g_error_free (error);
    return FALSE;
  }

  g_clear_pointer (&src->job, gst_klingo1_job_free);
  src->job = gst_klingo1_job_new (&snapshot, on_job_event, src);
  gst_klingo1_settings_clear (&snapshot);
  src->started = g_get_monotonic_time ();
  src->size_known = FALSE;
  set_status (src, "ready", 0, NULL);
  return TRUE;
}

static gboolean
gst_klingo1_src_stop (GstBaseSrc * bsrc)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (bsrc);

  if (src->progress_started)
    post_progress (src, GST_PROGRESS_TYPE_CANCELED, "stop", "Stopped", -1);
  g_clear_pointer (&src->provenance, gst_klingo1_provenance_free);
  g_clear_pointer (&src->job, gst_klingo1_job_free);
  return TRUE;
}

static gboolean
gst_klingo1_src_unlock (GstBaseSrc * bsrc)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (bsrc);

  GST_OBJECT_LOCK (src);
  g_cancellable_cancel (src->cancellable);
  GST_OBJECT_UNLOCK (src);
  return TRUE;
}

static gboolean
gst_klingo1_src_unlock_stop (GstBaseSrc * bsrc)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (bsrc);

  GST_OBJECT_LOCK (src);
  g_object_unref (src->cancellable);
  src->cancellable = g_cancellable_new ();
  GST_OBJECT_UNLOCK (src);
  return TRUE;
}

static gboolean
gst_klingo1_src_is_seekable (GstBaseSrc * bsrc)
{
  /* The clip is a file growing on disk: a read of bytes not there yet waits
   * for them, or fetches them at once with a Range request when they are
   * far ahead, so demuxers may pull or seek to a trailing moov. */
  return TRUE;
}

static gboolean
gst_klingo1_src_get_size (GstBaseSrc * bsrc, guint64 * size)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (bsrc);

  if (!src->size_known)
    return FALSE;
  *size = gst_klingo1_job_get_size (src->job);
  return TRUE;
}

typedef struct
{
  GstKlingo1Job *job;
  GCancellable *cancellable;
} HeaderRead;

static gssize
read_header (guint64 offset, guint8 * buf, gsize len, gpointer user_data)
{
  HeaderRead *hr = user_data;

  return gst_klingo1_job_read (hr->job, offset, buf, len, hr->cancellable,
      NULL);
}

/* The prompt, model and task id, posted on the bus and made to reach the
 * output file: qtdemux only forwards tags that come once its pads exist,
 * so they go downstream just before the first media bytes are read
 * (gstklingo1provenance.c says why and how). */
static void
prepare_tags (GstKlingo1Src * src, GCancellable * cancellable)
{
  GstTagList *tags;
  g_autofree gchar *prompt = NULL;
  const gchar *model = NULL;
  const gchar *task_id = gst_klingo1_job_get_task_id (src->job);
  HeaderRead hr = { src->job, cancellable };
  guint64 start = 0, end = 0;

  GST_OBJECT_LOCK (src);
  /* an attached task was not described by our properties */
  if (src->settings.task_id == NULL) {
    prompt = g_strdup (src->settings.request->prompt);
    model = gst_klingo1_model_to_api_id (src->settings.request->model);
  }
  GST_OBJECT_UNLOCK (src);

  tags = gst_klingo1_provenance_tags (prompt, model, task_id);
  gst_element_post_message (GST_ELEMENT (src),
      gst_message_new_tag (GST_OBJECT (src), gst_tag_list_ref (tags)));
  g_clear_pointer (&src->provenance, gst_klingo1_provenance_free);
  if (gst_klingo1_provenance_find_payload (read_header, &hr,
          gst_klingo1_job_get_size (src->job), &start, &end))
    src->provenance = gst_klingo1_provenance_new (tags, start, end);
  else
    gst_tag_list_unref (tags);
}

static GstFlowReturn
fail (GstKlingo1Src * src, const GError * error)
{
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    GST_DEBUG_OBJECT (src, "interrupted; a new run resumes the task");
    return GST_FLOW_FLUSHING;
  }
  set_status (src, "failed", -1, NULL);
  post_progress (src, GST_PROGRESS_TYPE_ERROR, "error", error->message, -1);
  post_error (src, error);
  /* Our error, posted above, says everything. GST_FLOW_ERROR would add
   * basesrc's "Internal data stream error", and an EOS after which qtdemux
   * posts "no playable streams" (or, pulling, its own flow error): errors
   * that bury the cause, and with which gst-launch-1.0 sometimes loses track
   * and hangs. FLUSHING stops the streaming threads without a word. */
  return GST_FLOW_FLUSHING;
}

/* Runs the job in the streaming thread, the first time data is asked for,
 * until the clip can be read (cached, or downloading with a known size). */
static GstFlowReturn
ensure_clip (GstKlingo1Src * src)
{
  g_autoptr (GCancellable) cancellable = NULL;
  g_autoptr (GError) error = NULL;

  if (src->size_known)
    return GST_FLOW_OK;

  GST_OBJECT_LOCK (src);
  cancellable = g_object_ref (src->cancellable);
  GST_OBJECT_UNLOCK (src);

  if (!gst_klingo1_job_run (src->job, cancellable, &error))
    return fail (src, error);

  if (gst_klingo1_job_is_submitted_only (src->job)) {
    /* submit-only: the task exists, nothing is downloaded */
    set_status (src, "submitted", -1, gst_klingo1_job_get_task_id (src->job));
    post_progress (src, GST_PROGRESS_TYPE_COMPLETE, "submitted",
        "The task is submitted", -1);
    return GST_FLOW_EOS;
  }

  src->size_known = TRUE;
  /* The segment went out before the size was known: tell basesrc now, so
   * duration and seeking queries answer (qtdemux needs them in push mode). */
  GST_OBJECT_LOCK (src);
  GST_BASE_SRC (src)->segment.duration = gst_klingo1_job_get_size (src->job);
  GST_OBJECT_UNLOCK (src);

  set_status (src, "downloading", -1, gst_klingo1_job_get_task_id (src->job));
  post_progress (src, GST_PROGRESS_TYPE_COMPLETE, "complete",
      "The clip is ready to stream", 100);
  prepare_tags (src, cancellable);
  return GST_FLOW_OK;
}

/* Fills a buffer that basesrc allocated, the way filesrc does, waiting for
 * bytes the download has not written yet. A short buffer only at the end:
 * qtdemux in pull mode takes a short read as an error. */
static GstFlowReturn
gst_klingo1_src_fill (GstBaseSrc * bsrc, guint64 offset, guint length,
    GstBuffer * buf)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (bsrc);
  g_autoptr (GCancellable) cancellable = NULL;
  g_autoptr (GError) error = NULL;
  GstFlowReturn ret;
  GstMapInfo map;
  gsize filled = 0;

  ret = ensure_clip (src);
  if (ret != GST_FLOW_OK)
    return ret;
  gst_klingo1_provenance_before_create (src->provenance, bsrc, offset,
      &length);

  GST_OBJECT_LOCK (src);
  cancellable = g_object_ref (src->cancellable);
  GST_OBJECT_UNLOCK (src);

  if (!gst_buffer_map (buf, &map, GST_MAP_WRITE))
    return GST_FLOW_ERROR;
  while (filled < length) {
    gssize n = gst_klingo1_job_read (src->job, offset + filled,
        map.data + filled, length - filled, cancellable, &error);
    if (n <= 0)
      break;
    filled += n;
  }
  gst_buffer_unmap (buf, &map);

  if (error)
    return fail (src, error);
  if (filled == 0)
    return GST_FLOW_EOS;
  gst_buffer_set_size (buf, filled);
  GST_BUFFER_OFFSET (buf) = offset;
  GST_BUFFER_OFFSET_END (buf) = offset + filled;
  return GST_FLOW_OK;
}

static void
gst_klingo1_src_class_init (GstKlingo1SrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  GST_DEBUG_CATEGORY_INIT (gst_klingo1_src_debug, "klingo1src", 0,
      "Kling O1 video generation source");

  gobject_class->set_property = gst_klingo1_src_set_property;
  gobject_class->get_property = gst_klingo1_src_get_property;
  gobject_class->finalize = gst_klingo1_src_finalize;

  g_object_class_install_property (gobject_class, PROP_API_KEY,
      g_param_spec_string ("api-key", "API key",
          "Bearer key of the API (write-only; unset: $KLINGO1_API_KEY, which "
          "is safer: gst-launch logs its command line at high debug levels); "
          "sent to the API and Files API hosts only", NULL,
          G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_API_URL,
      g_param_spec_string ("api-url", "API URL",
          "Base URL of the generation API (unset: $KLINGO1_API_URL, else "
          GST_KLINGO1_DEFAULT_API_URL ")", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_FILES_URL,
      g_param_spec_string ("files-url", "Files API URL",
          "Base URL of the Files API that local inputs are uploaded to (unset: "
          "$KLINGO1_FILES_URL, else " GST_KLINGO1_DEFAULT_FILES_URL ")", NULL,
          rw));
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_enum ("model", "Model", "Kling O1 model to run",
          GST_TYPE_KLINGO1_MODEL, GST_KLINGO1_DEFAULT_MODEL, rw));
  g_object_class_install_property (gobject_class, PROP_PROMPT,
      g_param_spec_string ("prompt", "Prompt",
          "What to generate or how to edit (required, 1-5000 characters)",
          NULL, rw));
  g_object_class_install_property (gobject_class, PROP_IMAGES,
      gst_param_spec_array ("images", "Images",
          "Ordered list of images: http(s) URLs, file:// URIs or paths; "
          "image-to-video: 1-2 (first frame, last frame), edit: 0-4 "
          "references; JPEG/PNG/WebP, 10 MB each",
          g_param_spec_string ("image", "Image", "One image", NULL,
              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS), rw));
  g_object_class_install_property (gobject_class, PROP_VIDEO,
      g_param_spec_string ("video", "Video",
          "Video to edit (edit models only): http(s) URL, file:// URI or "
          "path; MP4/MOV, 100 MB; billed as 3-10 s (video-edit) or 6-20 s "
          "(video-edit-fast)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_ASPECT_RATIO,
      g_param_spec_enum ("aspect-ratio", "Aspect ratio",
          "Frame shape of the clip (image-to-video only)",
          GST_TYPE_KLINGO1_ASPECT_RATIO, GST_KLINGO1_DEFAULT_ASPECT_RATIO,
          rw));
  g_object_class_install_property (gobject_class, PROP_DURATION,
      g_param_spec_uint ("duration", "Duration",
          "Clip length in seconds, 5 or 10 (image-to-video only; billed by it)",
          0, 3600, GST_KLINGO1_DEFAULT_DURATION, rw));
  g_object_class_install_property (gobject_class, PROP_KEEP_ORIGINAL_SOUND,
      g_param_spec_boolean ("keep-original-sound", "Keep original sound",
          "Keep the edited video's audio (edit models only)",
          GST_KLINGO1_DEFAULT_KEEP_SOUND, rw));
  g_object_class_install_property (gobject_class, PROP_CALLBACK_URL,
      g_param_spec_string ("callback-url", "Callback URL",
          "https URL the API calls when the task ends (max 2048 characters, "
          "no private or loopback host)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_TASK_ID,
      g_param_spec_string ("task-id", "Task id",
          "Id of the current task; set it to attach to an existing task "
          "instead of creating one", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_SUBMIT_ONLY,
      g_param_spec_boolean ("submit-only", "Submit only",
          "Create (or find in the journal) the task, post its id in the "
          "klingo1/task message, then end the stream without waiting for it "
          "(for callback-url users)", FALSE, rw));
  g_object_class_install_property (gobject_class, PROP_POLL_INTERVAL,
      g_param_spec_double ("poll-interval", "Poll interval",
          "Seconds between task status reads; 0 follows the task: sleeps "
          "until shortly before the API's estimated end, then reads often",
          0.0, 600.0, GST_KLINGO1_DEFAULT_POLL_INTERVAL, rw));
  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout",
          "Overall deadline in seconds for the whole generation, from the "
          "first request to the last byte of the clip; it cuts any request "
          "in flight (0 = none)", 0, G_MAXUINT, GST_KLINGO1_DEFAULT_TIMEOUT,
          rw));
  g_object_class_install_property (gobject_class, PROP_IO_TIMEOUT,
      g_param_spec_uint ("io-timeout", "I/O timeout",
          "Seconds without a byte before a request is given up and retried "
          "(downloads resume with Range)", 1, 3600,
          GST_KLINGO1_DEFAULT_IO_TIMEOUT, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_SIZE,
      g_param_spec_uint64 ("max-size", "Maximum size",
          "Largest clip accepted, in bytes; a bigger result is refused and "
          "what was written removed (0 = no limit)", 0, G_MAXUINT64,
          GST_KLINGO1_DEFAULT_MAX_SIZE, rw));
  g_object_class_install_property (gobject_class, PROP_CACHE_DIR,
      g_param_spec_string ("cache-dir", "Cache directory",
          "Where clips and task journals are kept (unset: the user's cache "
          "dir/klingo1)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_CACHE_MODE,
      g_param_spec_enum ("cache-mode", "Cache mode",
          "How the cache and journal are used", GST_TYPE_KLINGO1_CACHE_MODE,
          GST_KLINGO1_DEFAULT_CACHE_MODE, rw));
  g_object_class_install_property (gobject_class, PROP_USER_AGENT,
      g_param_spec_string ("user-agent", "User-Agent",
          "User-Agent header of every request", GST_KLINGO1_DEFAULT_USER_AGENT,
          rw));
  g_object_class_install_property (gobject_class, PROP_PROXY,
      g_param_spec_string ("proxy", "Proxy",
          "HTTP proxy URI, e.g. http://proxy:3128 (unset: the environment's "
          "proxy settings)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_CA_FILE,
      g_param_spec_string ("ca-file", "CA file",
          "PEM file of the certificate authorities to trust, for private CAs "
          "and TLS-inspecting proxies (unset: the system's)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_STATUS,
      g_param_spec_string ("status", "Status",
          "Current phase: idle, ready, waiting, uploading, resuming, pending, "
          "processing, downloading, completed, submitted, failed (read-only)",
          "idle", G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_PROGRESS,
      g_param_spec_int ("progress", "Progress",
          "Task progress in percent as reported by the API, 0-100 (read-only)",
          0, 100, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Kling O1 video source", "Source/Video",
      "Generates a video clip with the Kling O1 API and outputs it as MP4",
      "gst-klingo1 developers");

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_klingo1_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_klingo1_src_stop);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_klingo1_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_klingo1_src_unlock_stop);
  basesrc_class->is_seekable = GST_DEBUG_FUNCPTR (gst_klingo1_src_is_seekable);
  basesrc_class->get_size = GST_DEBUG_FUNCPTR (gst_klingo1_src_get_size);
  basesrc_class->fill = GST_DEBUG_FUNCPTR (gst_klingo1_src_fill);

  gst_type_mark_as_plugin_api (GST_TYPE_KLINGO1_MODEL, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_KLINGO1_ASPECT_RATIO, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_KLINGO1_CACHE_MODE, 0);
}
