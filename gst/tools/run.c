/* klingo1: one "klingo1src ! queue ! filesink" pipeline, driven from the
 * main loop through its bus
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The element delivers the MP4 bytes as they are, so no remuxing: the file
 * is written under a temporary name next to the output and renamed at EOS,
 * so an interrupted run never leaves a truncated clip under the real name
 * (batch takes an existing output as done).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "klingo1-tool.h"

static void
emit (K1Run * run, K1RunEvent event, const gchar * text)
{
  if (run->callback)
    run->callback (run, event, text, run->user_data);
}

static gboolean
emit_done (gpointer user_data)
{
  K1Run *run = user_data;

  run->done_idle = 0;
  emit (run, K1_RUN_EVENT_DONE, NULL);
  return G_SOURCE_REMOVE;
}

static void
set_string (gchar ** field, const gchar * value)
{
  if (g_strcmp0 (*field, value) != 0) {
    g_free (*field);
    *field = g_strdup (value);
  }
}

/* Makes the written clip durable before it gets its real name. */
static gboolean
commit_output (K1Run * run, GError ** error)
{
  g_autofree gchar *dir = g_path_get_dirname (run->output);
  gint fd = g_open (run->tmp_path, O_WRONLY | O_CLOEXEC, 0);

  if (fd < 0 || fsync (fd) != 0) {
    gint errsv = errno;

    if (fd >= 0)
      close (fd);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
        "cannot write %s: %s", run->tmp_path, g_strerror (errsv));
    return FALSE;
  }
  close (fd);
  if (g_rename (run->tmp_path, run->output) != 0) {
    gint errsv = errno;

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
        "cannot rename %s to %s: %s", run->tmp_path, run->output,
        g_strerror (errsv));
    return FALSE;
  }
  g_clear_pointer (&run->tmp_path, g_free);
  /* The rename itself, durable too. */
  fd = g_open (dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY, 0);
  if (fd >= 0) {
    fsync (fd);
    close (fd);
  }
  return TRUE;
}

static void
finish (K1Run * run, K1RunState state)
{
  g_autoptr (GError) error = NULL;

  if (run->state != K1_RUN_RUNNING)
    return;
  run->ended = g_get_monotonic_time ();
  /* Synchronous: the element cancels whatever it waits for, and filesink
   * closes the file. */
  gst_element_set_state (run->pipeline, GST_STATE_NULL);

  if (run->task_id == NULL)
    run->task_id = k1_source_get_task_id (run->src);

  if (state == K1_RUN_DONE && run->tmp_path && !commit_output (run, &error)) {
    state = K1_RUN_FAILED;
    set_string (&run->error_message, error->message);
  }
  if (run->tmp_path) {
    g_unlink (run->tmp_path);
    g_clear_pointer (&run->tmp_path, g_free);
  }
  run->state = state;
  /* Callbacks never run inside start() or stop(): callers may be iterating. */
  run->done_idle = g_idle_add (emit_done, run);
}

/* GstBaseSrc sends EOS by itself once it has read as many bytes as the
 * element announced, which can be before the element has checked the clip
 * and committed it to its cache entry. Going to NULL at that moment cancels
 * the commit: the next run would download the clip again, or find its link
 * expired. So EOS waits (a little) for tasks/<key>/clip.mp4 to appear. */
#define COMMIT_WAIT_SECONDS 30

static gboolean
file_is_there (const gchar * path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size > 0;
}

static gboolean
on_commit_wait (gpointer user_data)
{
  K1Run *run = user_data;

  if (run->state == K1_RUN_RUNNING && !file_is_there (run->commit_clip)
      && g_get_monotonic_time () < run->commit_deadline)
    return G_SOURCE_CONTINUE;
  run->commit_wait = 0;
  g_debug ("commit wait over after %.3f s", (g_get_monotonic_time () -
          run->commit_deadline) / 1e6 + COMMIT_WAIT_SECONDS);
  if (run->state == K1_RUN_RUNNING && !file_is_there (run->commit_clip))
    emit (run, K1_RUN_EVENT_WARNING, "the element did not keep the clip in "
        "its cache in time: a new run will download it again");
  finish (run, K1_RUN_DONE);
  return G_SOURCE_REMOVE;
}

static void
on_eos (K1Run * run)
{
  /* Only a clip that was just downloaded has a commit to wait for; the key
   * costs little here, as the element has just memoized the inputs' hashes. */
  if (run->saw_complete && !run->from_cache && run->commit_clip == NULL)
    run->commit_clip = k1_source_clip_path (run->src, run->attach_task_id,
        NULL);
  if (run->commit_clip == NULL || file_is_there (run->commit_clip)) {
    finish (run, K1_RUN_DONE);
    return;
  }
  g_debug ("EOS before %s is committed: waiting for it", run->commit_clip);
  run->commit_deadline = g_get_monotonic_time () +
      COMMIT_WAIT_SECONDS * G_USEC_PER_SEC;
  if (run->commit_wait == 0)
    run->commit_wait = g_timeout_add (20, on_commit_wait, run);
}

static void
on_progress (K1Run * run, GstMessage * msg)
{
  GstProgressType type;
  g_autofree gchar *code = NULL;
  g_autofree gchar *text = NULL;
  const gchar *status = NULL;

  gst_message_parse_progress (msg, &type, &code, &text);

  if (g_strcmp0 (code, "upload") == 0)
    status = "uploading";
  else if (g_strcmp0 (code, "submit") == 0)
    status = "pending";
  else if (g_strcmp0 (code, "resume") == 0)
    status = "resuming";
  else if (g_strcmp0 (code, "waiting") == 0)
    status = "waiting";

  /* A clip served from the store completes without any API step before. */
  if (g_strcmp0 (code, "upload") == 0 || g_strcmp0 (code, "submit") == 0
      || g_strcmp0 (code, "resume") == 0 || g_strcmp0 (code, "poll") == 0)
    run->saw_api = TRUE;

  if (type == GST_PROGRESS_TYPE_COMPLETE) {
    if (g_strcmp0 (code, "submitted") == 0) {
      /* submit-only: EOS follows, nothing is downloaded */
      set_string (&run->status, "submitted");
      emit (run, K1_RUN_EVENT_STEP, text);
      return;
    }
    /* The clip can be read: EOS comes once all of it is written out. */
    run->saw_complete = TRUE;
    run->from_cache = !run->saw_api;
    run->percent = 100;
    set_string (&run->status, run->from_cache ? "cached" : "downloading");
    emit (run, K1_RUN_EVENT_STEP, run->from_cache ?
        "The clip is in the cache" : text);
    return;
  }
  if (type == GST_PROGRESS_TYPE_CANCELED || type == GST_PROGRESS_TYPE_ERROR
      || g_strcmp0 (code, "poll") == 0 || g_strcmp0 (code, "start") == 0)
    return;

  if (status)
    set_string (&run->status, status);
  emit (run, K1_RUN_EVENT_STEP, text);
}

static void
on_task_message (K1Run * run, const GstStructure * s)
{
  const gchar *task_id = gst_structure_get_string (s, "task-id");
  const gchar *status = gst_structure_get_string (s, "status");
  gint progress = -1, eta = -1;

  gst_structure_get_int (s, "progress", &progress);
  gst_structure_get_int (s, "estimated-time", &eta);
  if (task_id)
    set_string (&run->task_id, task_id);
  if (status)
    set_string (&run->status, status);
  run->percent = progress;
  run->eta = eta;
  emit (run, K1_RUN_EVENT_TASK, NULL);
}

static void
on_error (K1Run * run, GstMessage * msg)
{
  g_autoptr (GError) err = NULL;
  const GstStructure *details = NULL;

  gst_message_parse_error (msg, &err, NULL);
  gst_message_parse_error_details (msg, &details);
  /* The first error is the cause; later ones are its consequences. */
  if (run->error_message == NULL) {
    run->error_message = g_strdup (err->message);
    if (details && gst_structure_has_name (details, "klingo1-error"))
      run->error_details = gst_structure_copy (details);
  }
  if (run->task_id == NULL && details)
    run->task_id = g_strdup (gst_structure_get_string (details, "task-id"));
}

static gboolean
on_bus (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  K1Run *run = user_data;

  if (run->state != K1_RUN_RUNNING)
    return G_SOURCE_CONTINUE;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      on_error (run, msg);
      finish (run, K1_RUN_FAILED);
      break;
    case GST_MESSAGE_WARNING:{
      g_autoptr (GError) err = NULL;

      gst_message_parse_warning (msg, &err, NULL);
      emit (run, K1_RUN_EVENT_WARNING, err->message);
      break;
    }
    case GST_MESSAGE_PROGRESS:
      if (GST_MESSAGE_SRC (msg) == GST_OBJECT (run->src))
        on_progress (run, msg);
      break;
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (msg, "klingo1/task"))
        on_task_message (run, gst_message_get_structure (msg));
      break;
    case GST_MESSAGE_TAG:{
      g_autoptr (GstTagList) tags = NULL;
      g_autofree gchar *task_id = NULL;

      gst_message_parse_tag (msg, &tags);
      if (gst_tag_list_get_string (tags, "klingo1-task-id", &task_id))
        set_string (&run->task_id, task_id);
      break;
    }
    case GST_MESSAGE_EOS:
      on_eos (run);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

K1Run *
k1_run_new (GstElement * src, const gchar * output, K1RunCallback callback,
    gpointer user_data, GError ** error)
{
  g_autoptr (K1Run) run = g_new0 (K1Run, 1);
  g_autoptr (GstBus) bus = NULL;
  GstElement *sink;

  run->percent = -1;
  run->eta = -1;
  run->callback = callback;
  run->user_data = user_data;
  run->pipeline = gst_pipeline_new (NULL);
  /* Ours now: the pipeline takes its own reference when src is added. */
  if (g_object_is_floating (src))
    gst_object_ref_sink (src);
  run->src = src;
  run->status = g_strdup ("starting");

  if (output) {
    g_autofree gchar *dir = g_path_get_dirname (output);
    g_autofree gchar *base = g_path_get_basename (output);
    g_autofree gchar *name = g_strdup_printf (".%s.XXXXXX.part", base);
    GstElement *queue = gst_element_factory_make ("queue", NULL);
    gint fd;

    run->output = g_strdup (output);
    run->tmp_path = g_build_filename (dir, name, NULL);
    /* 0666 less the umask: a clip, not a secret. */
    fd = g_mkstemp_full (run->tmp_path, O_RDWR | O_CLOEXEC, 0666);
    if (fd < 0) {
      gint errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
          "cannot write in %s: %s", dir, g_strerror (errsv));
      g_clear_pointer (&run->tmp_path, g_free);
      return NULL;
    }
    close (fd);
    sink = gst_element_factory_make ("filesink", NULL);
    if (queue == NULL || sink == NULL) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
          "the queue and filesink elements are missing (GStreamer core)");
      g_clear_object (&queue);
      g_clear_object (&sink);
      return NULL;
    }
    g_object_set (sink, "location", run->tmp_path, NULL);
    gst_bin_add_many (GST_BIN (run->pipeline), src, queue, sink, NULL);
    gst_element_link_many (src, queue, sink, NULL);
  } else {
    sink = gst_element_factory_make ("fakesink", NULL);
    if (sink == NULL) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
          "the fakesink element is missing (GStreamer core)");
      return NULL;
    }
    g_object_set (sink, "sync", FALSE, NULL);
    gst_bin_add_many (GST_BIN (run->pipeline), src, sink, NULL);
    gst_element_link (src, sink);
  }

  bus = gst_element_get_bus (run->pipeline);
  run->bus_watch = gst_bus_add_watch (bus, on_bus, run);
  return g_steal_pointer (&run);
}

void
k1_run_start (K1Run * run)
{
  g_return_if_fail (run->state == K1_RUN_IDLE);

  run->state = K1_RUN_RUNNING;
  run->started = g_get_monotonic_time ();
  run->attach_task_id = k1_source_get_task_id (run->src);
  /* Returns at once (ASYNC): the job runs in the streaming thread. A failure
   * here is the element refusing its properties in start(); its error
   * message is on the bus already. */
  if (gst_element_set_state (run->pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    g_autoptr (GstBus) bus = gst_element_get_bus (run->pipeline);
    g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

    if (msg)
      on_error (run, msg);
    else if (run->error_message == NULL)
      run->error_message = g_strdup ("the pipeline could not start");
    finish (run, K1_RUN_FAILED);
  }
}

void
k1_run_stop (K1Run * run)
{
  finish (run, K1_RUN_STOPPED);
}

gdouble
k1_run_seconds (const K1Run * run)
{
  gint64 end;

  if (run->started == 0)
    return 0;
  end = run->ended ? run->ended : g_get_monotonic_time ();
  return (end - run->started) / (gdouble) G_USEC_PER_SEC;
}

void
k1_run_free (K1Run * run)
{
  if (run == NULL)
    return;
  if (run->pipeline)
    gst_element_set_state (run->pipeline, GST_STATE_NULL);
  if (run->tmp_path)
    g_unlink (run->tmp_path);
  if (run->bus_watch)
    g_source_remove (run->bus_watch);
  if (run->done_idle)
    g_source_remove (run->done_idle);
  if (run->commit_wait)
    g_source_remove (run->commit_wait);
  g_clear_object (&run->src);
  g_clear_object (&run->pipeline);
  g_free (run->tmp_path);
  g_free (run->commit_clip);
  g_free (run->attach_task_id);
  g_free (run->output);
  g_free (run->task_id);
  g_free (run->status);
  g_free (run->error_message);
  if (run->error_details)
    gst_structure_free (run->error_details);
  g_free (run);
}

static gboolean
print_detail (GQuark field, const GValue * value, gpointer user_data)
{
  gpointer *args = user_data;
  g_autofree gchar *text = NULL;

  if (G_VALUE_HOLDS_STRING (value))
    text = g_value_dup_string (value);
  else
    text = gst_value_serialize (value);
  fprintf (args[0], "%s%s: %s\n", (const gchar *) args[1],
      g_quark_to_string (field), text ? text : "");
  return TRUE;
}

void
k1_run_print_error (const K1Run * run, FILE * out, const gchar * indent)
{
  gpointer args[2] = { out, (gpointer) indent };

  fprintf (out, "%sError: %s\n", indent, run->error_message ?
      run->error_message : "unknown error");
  if (run->error_details)
    gst_structure_foreach (run->error_details, print_detail, args);
  else if (run->task_id)
    fprintf (out, "%stask-id: %s\n", indent, run->task_id);
}
