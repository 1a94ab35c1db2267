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

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "gstklingo1src.h"
#include "gstklingo1job.h"
#include "gstklingo1uri.h"

GST_DEBUG_CATEGORY (gst_klingo1_src_debug);
#define GST_CAT_DEFAULT gst_klingo1_src_debug

#define DEFAULT_MODEL           GST_KLINGO1_MODEL_IMAGE_TO_VIDEO
#define DEFAULT_ASPECT_RATIO    GST_KLINGO1_ASPECT_RATIO_UNSET
#define DEFAULT_DURATION        5
#define DEFAULT_KEEP_SOUND      TRUE
#define DEFAULT_POLL_INTERVAL   10.0
#define DEFAULT_TIMEOUT         1800
#define DEFAULT_CACHE_MODE      GST_KLINGO1_CACHE_READ_WRITE

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
  PROP_POLL_INTERVAL,
  PROP_TIMEOUT,
  PROP_CACHE_DIR,
  PROP_CACHE_MODE,
  PROP_STATUS,
  PROP_PROGRESS,
};

struct _GstKlingo1Src
{
  GstBaseSrc parent;

  /* Properties: OBJECT_LOCK */
  gchar *api_key;
  gchar *api_url;
  gchar *files_url;
  /* model, prompt, images, video, aspect-ratio, duration (5 by default, as
   * the property shows it), keep-original-sound, callback-url */
  GstKlingo1Request *props;
  gchar *task_id;               /* set: attach to it; read: the current task */
  gboolean attach;              /* task-id was set by the user */
  gdouble poll_interval;
  guint timeout;
  gchar *cache_dir;
  GstKlingo1CacheMode cache_mode;
  gchar *status;
  gint progress;

  /* Set up by start(), used by the streaming thread. */
  GstKlingo1Request *request;
  gchar *effective_key;
  gchar *effective_api_url;
  gchar *effective_files_url;
  GstKlingo1CacheMode effective_cache_mode;

  /* Cancelled by unlock(); replaced by unlock_stop(): OBJECT_LOCK */
  GCancellable *cancellable;

  /* The job: streaming thread only. */
  gint64 started;               /* monotonic time of the first attempt */
  gboolean progress_started;
  GstKlingo1JobResult result;
  gint fd;                      /* the clip, once ready */
  guint64 size;
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
  src->props = gst_klingo1_request_new (DEFAULT_MODEL);
  src->props->aspect_ratio = DEFAULT_ASPECT_RATIO;
  src->props->duration = DEFAULT_DURATION;
  src->props->keep_original_sound = DEFAULT_KEEP_SOUND;
  src->poll_interval = DEFAULT_POLL_INTERVAL;
  src->timeout = DEFAULT_TIMEOUT;
  src->cache_mode = DEFAULT_CACHE_MODE;
  src->status = g_strdup ("idle");
  src->cancellable = g_cancellable_new ();
  src->fd = -1;

  gst_base_src_set_format (GST_BASE_SRC (src), GST_FORMAT_BYTES);
  gst_base_src_set_blocksize (GST_BASE_SRC (src), 64 * 1024);
}

/* What start() set up; also freed at finalize, since a start() that fails
 * is not followed by stop(). */
static void
clear_started_state (GstKlingo1Src * src)
{
  g_clear_pointer (&src->request, gst_klingo1_request_free);
  g_clear_pointer (&src->effective_key, g_free);
  g_clear_pointer (&src->effective_api_url, g_free);
  g_clear_pointer (&src->effective_files_url, g_free);
}

static void
gst_klingo1_src_finalize (GObject * object)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (object);

  g_free (src->api_key);
  g_free (src->api_url);
  g_free (src->files_url);
  gst_klingo1_request_free (src->props);
  g_free (src->task_id);
  g_free (src->cache_dir);
  g_free (src->status);
  g_clear_object (&src->cancellable);
  clear_started_state (src);

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
set_images (GstKlingo1Src * src, const GValue * value)
{
  guint i, n = gst_value_array_get_size (value);

  g_ptr_array_set_size (src->props->images, 0);
  for (i = 0; i < n; i++) {
    const GValue *v = gst_value_array_get_value (value, i);
    if (G_VALUE_HOLDS_STRING (v) && g_value_get_string (v))
      g_ptr_array_add (src->props->images, g_value_dup_string (v));
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

  if (!is_configurable (src, pspec))
    return;

  GST_OBJECT_LOCK (src);
  switch (prop_id) {
    case PROP_API_KEY:
      replace_string (&src->api_key, value);
      break;
    case PROP_API_URL:
      replace_string (&src->api_url, value);
      break;
    case PROP_FILES_URL:
      replace_string (&src->files_url, value);
      break;
    case PROP_MODEL:
      src->props->model = g_value_get_enum (value);
      break;
    case PROP_PROMPT:
      g_free (src->props->prompt);
      src->props->prompt = g_value_dup_string (value);
      break;
    case PROP_IMAGES:
      set_images (src, value);
      break;
    case PROP_VIDEO:
      replace_string (&src->props->video, value);
      break;
    case PROP_ASPECT_RATIO:
      src->props->aspect_ratio = g_value_get_enum (value);
      break;
    case PROP_DURATION:
      src->props->duration = g_value_get_uint (value);
      break;
    case PROP_KEEP_ORIGINAL_SOUND:
      src->props->keep_original_sound = g_value_get_boolean (value);
      break;
    case PROP_CALLBACK_URL:
      replace_string (&src->props->callback_url, value);
      break;
    case PROP_TASK_ID:
      replace_string (&src->task_id, value);
      src->attach = src->task_id != NULL;
      break;
    case PROP_POLL_INTERVAL:
      src->poll_interval = g_value_get_double (value);
      break;
    case PROP_TIMEOUT:
      src->timeout = g_value_get_uint (value);
      break;
    case PROP_CACHE_DIR:
      replace_string (&src->cache_dir, value);
      break;
    case PROP_CACHE_MODE:
      src->cache_mode = g_value_get_enum (value);
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

  GST_OBJECT_LOCK (src);
  switch (prop_id) {
    case PROP_API_URL:
      g_value_set_string (value, src->api_url);
      break;
    case PROP_FILES_URL:
      g_value_set_string (value, src->files_url);
      break;
    case PROP_MODEL:
      g_value_set_enum (value, src->props->model);
      break;
    case PROP_PROMPT:
      g_value_set_string (value, src->props->prompt);
      break;
    case PROP_IMAGES:{
      guint i;
      for (i = 0; i < src->props->images->len; i++) {
        GValue v = G_VALUE_INIT;
        g_value_init (&v, G_TYPE_STRING);
        g_value_set_string (&v, g_ptr_array_index (src->props->images, i));
        gst_value_array_append_and_take_value (value, &v);
      }
      break;
    }
    case PROP_VIDEO:
      g_value_set_string (value, src->props->video);
      break;
    case PROP_ASPECT_RATIO:
      g_value_set_enum (value, src->props->aspect_ratio);
      break;
    case PROP_DURATION:
      g_value_set_uint (value, src->props->duration);
      break;
    case PROP_KEEP_ORIGINAL_SOUND:
      g_value_set_boolean (value, src->props->keep_original_sound);
      break;
    case PROP_CALLBACK_URL:
      g_value_set_string (value, src->props->callback_url);
      break;
    case PROP_TASK_ID:
      g_value_set_string (value, src->task_id);
      break;
    case PROP_POLL_INTERVAL:
      g_value_set_double (value, src->poll_interval);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, src->timeout);
      break;
    case PROP_CACHE_DIR:
      g_value_set_string (value, src->cache_dir);
      break;
    case PROP_CACHE_MODE:
      g_value_set_enum (value, src->cache_mode);
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
  if (task_id && g_strcmp0 (task_id, src->task_id) != 0) {
    g_free (src->task_id);
    src->task_id = g_strdup (task_id);
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
      set_status (src, "downloading", -1, NULL);
      GST_LOG_OBJECT (src, "downloaded %" G_GUINT64_FORMAT " of %"
          G_GUINT64_FORMAT, event->received, event->total);
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
  if (task_id == NULL)
    task_id = src->result.task_id;
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

static gboolean
fail_settings (GstKlingo1Src * src, GError * error)
{
  post_error (src, error);
  g_error_free (error);
  return FALSE;
}

/* Checks the properties; runs in the application's thread, so it only reads
 * a few bytes of local inputs, never the network. */
static gboolean
gst_klingo1_src_start (GstBaseSrc * bsrc)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (bsrc);
  g_autoptr (GstKlingo1Request) req = NULL;
  GError *error = NULL;
  const gchar *env;

  clear_started_state (src);
  GST_OBJECT_LOCK (src);
  src->effective_key = g_strdup (src->api_key);
  src->effective_api_url = g_strdup (src->api_url);
  src->effective_files_url = g_strdup (src->files_url);
  src->effective_cache_mode = src->cache_mode;

  req = gst_klingo1_request_copy (src->props);
  /* duration has a default for image-to-video; for the edit models the
   * output follows the input, so only a duration set on purpose is wrong. */
  if (req->model != GST_KLINGO1_MODEL_IMAGE_TO_VIDEO
      && req->duration == DEFAULT_DURATION)
    req->duration = 0;
  GST_OBJECT_UNLOCK (src);

  if (src->effective_key == NULL && (env = g_getenv ("KLINGO1_API_KEY")) && *env)
    src->effective_key = g_strdup (env);
  if (src->effective_api_url == NULL) {
    env = g_getenv ("KLINGO1_API_URL");
    src->effective_api_url = g_strdup (env && *env ? env :
        GST_KLINGO1_DEFAULT_API_URL);
  }
  if (src->effective_files_url == NULL) {
    env = g_getenv ("KLINGO1_FILES_URL");
    src->effective_files_url = g_strdup (env && *env ? env :
        GST_KLINGO1_DEFAULT_FILES_URL);
  }

  if (src->effective_key == NULL) {
    error = g_error_new (GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
        "api-key: no API key; set the api-key property or the "
        "KLINGO1_API_KEY environment variable");
    gst_klingo1_error_set_field (error, "api-key");
    return fail_settings (src, error);
  }
  if (src->poll_interval <= 0) {
    error = g_error_new (GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
        "poll-interval: must be more than 0 s");
    gst_klingo1_error_set_field (error, "poll-interval");
    return fail_settings (src, error);
  }

  if (!src->attach && !gst_klingo1_request_validate (req, &error))
    return fail_settings (src, error);

  if (!src->attach)
    src->request = g_steal_pointer (&req);

  src->started = 0;
  src->fd = -1;
  src->size = 0;
  set_status (src, "ready", 0, NULL);
  return TRUE;
}

static gboolean
gst_klingo1_src_stop (GstBaseSrc * bsrc)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (bsrc);

  if (src->fd >= 0)
    close (src->fd);
  src->fd = -1;
  src->size = 0;
  if (src->progress_started)
    post_progress (src, GST_PROGRESS_TYPE_CANCELED, "stop", "Stopped", -1);
  gst_klingo1_job_result_clear (&src->result);
  clear_started_state (src);
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
  /* The clip is a file on disk: once it is there, any range can be read, so
   * demuxers may pull or seek to a trailing moov. Until then reads wait. */
  return TRUE;
}

static gboolean
gst_klingo1_src_get_size (GstBaseSrc * bsrc, guint64 * size)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (bsrc);

  if (src->fd < 0)
    return FALSE;
  *size = src->size;
  return TRUE;
}

static void
send_tags (GstKlingo1Src * src)
{
  GstTagList *tags = gst_tag_list_new_empty ();

  if (src->request && src->request->prompt)
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_DESCRIPTION,
        src->request->prompt, NULL);
  GST_OBJECT_LOCK (src);
  gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_KLINGO1_TAG_MODEL,
      gst_klingo1_model_to_api_id (src->props->model), NULL);
  GST_OBJECT_UNLOCK (src);
  if (src->result.task_id)
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_KLINGO1_TAG_TASK_ID,
        src->result.task_id, NULL);
  gst_tag_list_set_scope (tags, GST_TAG_SCOPE_STREAM);

  /* In push mode the event travels with the data; in pull mode downstream
   * drives and only the bus message reaches the application. */
  gst_element_post_message (GST_ELEMENT (src),
      gst_message_new_tag (GST_OBJECT (src), gst_tag_list_ref (tags)));
  gst_element_send_event (GST_ELEMENT (src), gst_event_new_tag (tags));
}

/* Runs the job in the streaming thread, the first time data is asked for. */
static GstFlowReturn
ensure_clip (GstKlingo1Src * src)
{
  GstKlingo1JobParams params = { 0, };
  g_autoptr (GCancellable) cancellable = NULL;
  g_autoptr (GError) error = NULL;
  gchar *attach_task_id = NULL;
  gboolean ok;
  GStatBuf st;

  if (src->fd >= 0)
    return GST_FLOW_OK;

  GST_OBJECT_LOCK (src);
  cancellable = g_object_ref (src->cancellable);
  if (src->attach)
    attach_task_id = g_strdup (src->task_id);
  params.poll_interval = src->poll_interval;
  if (src->started == 0)
    src->started = g_get_monotonic_time ();
  if (src->timeout)
    params.deadline = src->started + (gint64) src->timeout * G_USEC_PER_SEC;
  params.cache_dir = src->cache_dir;
  GST_OBJECT_UNLOCK (src);

  params.request = src->request;
  params.attach_task_id = attach_task_id;
  params.api_url = src->effective_api_url;
  params.api_key = src->effective_key;
  params.files_url = src->effective_files_url;
  params.cache_mode = src->effective_cache_mode;
  params.on_event = on_job_event;
  params.user_data = src;

  gst_klingo1_job_result_clear (&src->result);
  ok = gst_klingo1_job_run (&params, &src->result, cancellable, &error);
  g_free (attach_task_id);

  /* Refresh means once: a run resumed after a flush must not forget the
   * task that this one just paid for. */
  if (src->effective_cache_mode == GST_KLINGO1_CACHE_REFRESH)
    src->effective_cache_mode = GST_KLINGO1_CACHE_READ_WRITE;

  if (!ok) {
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      GST_DEBUG_OBJECT (src, "interrupted; a new run resumes the task");
      return GST_FLOW_FLUSHING;
    }
    set_status (src, "failed", -1, NULL);
    post_progress (src, GST_PROGRESS_TYPE_ERROR, "error", error->message, -1);
    post_error (src, error);
    return GST_FLOW_ERROR;
  }

  src->fd = g_open (src->result.clip_path, O_RDONLY | O_CLOEXEC, 0);
  if (src->fd < 0 || fstat (src->fd, &st) != 0) {
    GST_ELEMENT_ERROR (src, RESOURCE, OPEN_READ,
        ("Could not open the clip %s", src->result.clip_path),
        GST_ERROR_SYSTEM);
    return GST_FLOW_ERROR;
  }
  src->size = st.st_size;

  /* The segment went out before the size was known: tell basesrc now, so
   * duration and seeking queries answer (qtdemux needs them in push mode). */
  GST_OBJECT_LOCK (src);
  GST_BASE_SRC (src)->segment.duration = src->size;
  GST_OBJECT_UNLOCK (src);

  set_status (src, "completed", 100, src->result.task_id);
  post_progress (src, GST_PROGRESS_TYPE_COMPLETE, "complete",
      "The clip is complete", 100);
  send_tags (src);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_klingo1_src_create (GstBaseSrc * bsrc, guint64 offset, guint length,
    GstBuffer ** out)
{
  GstKlingo1Src *src = GST_KLINGO1_SRC (bsrc);
  GstFlowReturn ret;
  GstBuffer *buf;
  GstMapInfo map;
  gssize n;

  ret = ensure_clip (src);
  if (ret != GST_FLOW_OK)
    return ret;

  if (offset >= src->size)
    return GST_FLOW_EOS;
  length = MIN (length, src->size - offset);

  buf = gst_buffer_new_allocate (NULL, length, NULL);
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  do {
    n = pread (src->fd, map.data, length, offset);
  } while (n < 0 && errno == EINTR);
  gst_buffer_unmap (buf, &map);
  if (n < 0) {
    gst_buffer_unref (buf);
    GST_ELEMENT_ERROR (src, RESOURCE, READ, (NULL), GST_ERROR_SYSTEM);
    return GST_FLOW_ERROR;
  }
  if (n == 0) {
    gst_buffer_unref (buf);
    return GST_FLOW_EOS;
  }
  gst_buffer_set_size (buf, n);
  GST_BUFFER_OFFSET (buf) = offset;
  GST_BUFFER_OFFSET_END (buf) = offset + n;
  *out = buf;
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
          "Bearer key of the API (write-only; unset: $KLINGO1_API_KEY); sent "
          "to the API and Files API hosts only", NULL,
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
          GST_TYPE_KLINGO1_MODEL, DEFAULT_MODEL, rw));
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
          GST_TYPE_KLINGO1_ASPECT_RATIO, DEFAULT_ASPECT_RATIO, rw));
  g_object_class_install_property (gobject_class, PROP_DURATION,
      g_param_spec_uint ("duration", "Duration",
          "Clip length in seconds, 5 or 10 (image-to-video only; billed by it)",
          0, 3600, DEFAULT_DURATION, rw));
  g_object_class_install_property (gobject_class, PROP_KEEP_ORIGINAL_SOUND,
      g_param_spec_boolean ("keep-original-sound", "Keep original sound",
          "Keep the edited video's audio (edit models only)",
          DEFAULT_KEEP_SOUND, rw));
  g_object_class_install_property (gobject_class, PROP_CALLBACK_URL,
      g_param_spec_string ("callback-url", "Callback URL",
          "https URL the API calls when the task ends (max 2048 characters, "
          "no private or loopback host)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_TASK_ID,
      g_param_spec_string ("task-id", "Task id",
          "Id of the current task; set it to attach to an existing task "
          "instead of creating one", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_POLL_INTERVAL,
      g_param_spec_double ("poll-interval", "Poll interval",
          "Seconds between task status reads (0.05-600)", 0.05, 600.0,
          DEFAULT_POLL_INTERVAL, rw));
  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout",
          "Overall deadline in seconds for the whole generation, from the "
          "first request to the clip on disk (0 = none)", 0, G_MAXUINT,
          DEFAULT_TIMEOUT, rw));
  g_object_class_install_property (gobject_class, PROP_CACHE_DIR,
      g_param_spec_string ("cache-dir", "Cache directory",
          "Where clips and task journals are kept (unset: the user's cache "
          "dir/klingo1)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_CACHE_MODE,
      g_param_spec_enum ("cache-mode", "Cache mode",
          "How the cache and journal are used", GST_TYPE_KLINGO1_CACHE_MODE,
          DEFAULT_CACHE_MODE, rw));
  g_object_class_install_property (gobject_class, PROP_STATUS,
      g_param_spec_string ("status", "Status",
          "Current phase: idle, ready, waiting, uploading, resuming, pending, "
          "processing, downloading, completed, failed (read-only)", "idle",
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
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
  basesrc_class->create = GST_DEBUG_FUNCPTR (gst_klingo1_src_create);

  gst_type_mark_as_plugin_api (GST_TYPE_KLINGO1_MODEL, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_KLINGO1_ASPECT_RATIO, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_KLINGO1_CACHE_MODE, 0);
}
