/* klingo1 generate / submit: one clip through klingo1src
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * generate runs "klingo1src ! queue ! filesink" to a temporary name and
 * renames at EOS; submit runs the element with submit-only=true (create and
 * journal the task, no download) and prints the task id. Both set element
 * properties only: the element owns caching, resuming and billing safety.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib-unix.h>

#include "klingo1-tool.h"

typedef struct
{
  gchar *model;
  gchar *prompt;
  gchar **images;
  gchar *video;
  gchar *duration;
  gchar *aspect_ratio;
  gboolean no_original_sound;
  gchar *task_id;
  gchar *callback_url;
  gchar *poll_interval;
  gchar *timeout;
  gboolean refresh;
  gchar **sets;
  gchar *output;
  K1ApiOptions api;
} Options;

typedef struct
{
  Options *opts;
  GMainLoop *loop;
  K1Run *run;
  K1Progress *progress;
  guint tick;
  gchar *last_status;           /* plain mode: what was printed last */
  gint last_percent;
  gboolean interrupted;
  gint exit_code;
} App;

static void
options_clear (Options * o)
{
  g_free (o->model);
  g_free (o->prompt);
  g_strfreev (o->images);
  g_free (o->video);
  g_free (o->duration);
  g_free (o->aspect_ratio);
  g_free (o->task_id);
  g_free (o->callback_url);
  g_free (o->poll_interval);
  g_free (o->timeout);
  g_strfreev (o->sets);
  g_free (o->output);
  k1_api_options_clear (&o->api);
}

/* ---- configuring the element -------------------------------------------- */

static gboolean
set_if (GstElement * src, const gchar * name, const gchar * value,
    GError ** error)
{
  if (value == NULL)
    return TRUE;
  return k1_set_property_from_string (src, name, value, error);
}

static GstElement *
configure_source (const Options * o, gboolean submit_only, GError ** error)
{
  g_autoptr (GstElement) src = k1_source_new (error);
  guint i;

  if (src == NULL)
    return NULL;
  gst_object_ref_sink (src);

  if (submit_only && !k1_source_has_property (src, "submit-only")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "this klingo1src has no submit-only property, which submit needs: "
        "the installed plugin is older than the tool (use generate, or "
        "status TASK_ID)");
    return NULL;
  }

  if (!set_if (src, "api-url", o->api.api_url, error)
      || !set_if (src, "files-url", o->api.files_url, error)
      || !set_if (src, "cache-dir", o->api.cache_dir, error)
      || !set_if (src, "model", o->model, error)
      || !set_if (src, "prompt", o->prompt, error)
      || !set_if (src, "video", o->video, error)
      || !set_if (src, "duration", o->duration, error)
      || !set_if (src, "aspect-ratio", o->aspect_ratio, error)
      || !set_if (src, "task-id", o->task_id, error)
      || !set_if (src, "callback-url", o->callback_url, error)
      || !set_if (src, "poll-interval", o->poll_interval, error)
      || !set_if (src, "timeout", o->timeout, error))
    return NULL;
  if (o->images && !k1_set_images (src, (const gchar * const *) o->images,
          error))
    return NULL;
  if (o->no_original_sound && !set_if (src, "keep-original-sound", "false",
          error))
    return NULL;
  if (o->refresh && !set_if (src, "cache-mode", "refresh", error))
    return NULL;

  /* --set NAME=VALUE: any other property, last, so that it wins. */
  for (i = 0; o->sets && o->sets[i]; i++) {
    g_auto (GStrv) kv = g_strsplit (o->sets[i], "=", 2);

    if (kv[0] == NULL || kv[1] == NULL || *kv[0] == '\0') {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "--set %s: expected NAME=VALUE", o->sets[i]);
      return NULL;
    }
    if (!k1_set_property_from_string (src, g_strstrip (kv[0]), kv[1], error))
      return NULL;
  }

  if (submit_only)
    g_object_set (src, "submit-only", TRUE, NULL);
  return g_steal_pointer (&src);
}

/* ---- display ------------------------------------------------------------ */

static void
draw_live (App * app)
{
  K1Run *run = app->run;
  g_autofree gchar *bar = k1_progress_bar (MAX (run->percent, 0), 30);
  g_autofree gchar *eta = NULL;
  g_autofree gchar *line = NULL;

  if (run->eta >= 0)
    eta = g_strdup_printf ("  ~%d s left", run->eta);
  /* The task id is on the "Submitted task" line above: the bar keeps to
   * what changes. */
  line = g_strdup_printf ("%s %-11s %5.1f s%s", bar, run->status,
      k1_run_seconds (run), eta ? eta : "");
  k1_progress_live (app->progress, line);
}

/* On a terminal the elapsed time ticks between polls too. */
static gboolean
on_tick (gpointer user_data)
{
  App *app = user_data;

  if (app->run->state == K1_RUN_RUNNING)
    draw_live (app);
  return G_SOURCE_CONTINUE;
}

static void
report_plain (App * app)
{
  K1Run *run = app->run;

  /* A log line per status change and per 10 %: polls can be many. */
  if (g_strcmp0 (run->status, app->last_status) == 0
      && run->percent < app->last_percent + 10)
    return;
  g_free (app->last_status);
  app->last_status = g_strdup (run->status);
  app->last_percent = run->percent;
  k1_progress_print (app->progress, "%s %d%% (%.1f s)", run->status,
      MAX (run->percent, 0), k1_run_seconds (run));
}

static void
on_run_event (K1Run * run, K1RunEvent event, const gchar * text,
    gpointer user_data)
{
  App *app = user_data;

  switch (event) {
    case K1_RUN_EVENT_STEP:
      k1_progress_print (app->progress, "%s", text);
      if (k1_progress_is_tty (app->progress))
        draw_live (app);
      break;
    case K1_RUN_EVENT_TASK:
      if (k1_progress_is_tty (app->progress))
        draw_live (app);
      else
        report_plain (app);
      break;
    case K1_RUN_EVENT_WARNING:
      k1_progress_print (app->progress, "Warning: %s", text);
      break;
    case K1_RUN_EVENT_DONE:
      g_main_loop_quit (app->loop);
      break;
  }
}

/* ---- Ctrl-C ------------------------------------------------------------- */

static void
explain_interrupt (App * app)
{
  const Options *o = app->opts;
  const gchar *mode = k1_source_get_enum_nick (app->run->src, "cache-mode");
  const gchar *again = o->refresh ?
      "running the same command again without --refresh" :
      "running the same command again";

  if (g_strcmp0 (mode, "disabled") == 0 && o->task_id == NULL) {
    g_printerr ("Interrupted. %s%s%s; with the cache disabled there is no "
        "journal, so a new run creates a new task (attach with --task-id).\n",
        app->run->task_id ? "Task " : "No task was created yet",
        app->run->task_id ? app->run->task_id : "",
        app->run->task_id ? " goes on at the API" : "");
  } else if (app->run->task_id) {
    g_printerr ("Interrupted. Task %s goes on at the API; %s resumes it "
        "(nothing is created or paid twice).\n", app->run->task_id, again);
  } else {
    g_printerr ("Interrupted before the API confirmed a task; %s continues "
        "safely (a task that was created is recovered, not paid twice).\n",
        again);
  }
}

static gboolean
on_signal (gpointer user_data)
{
  App *app = user_data;

  app->interrupted = TRUE;
  /* Returns within the element's cancellation latency from any phase. */
  k1_run_stop (app->run);
  k1_progress_end (app->progress);
  explain_interrupt (app);
  g_main_loop_quit (app->loop);
  return G_SOURCE_CONTINUE;
}

/* ---- the command -------------------------------------------------------- */

static gint
report_result (App * app, gboolean submit)
{
  K1Run *run = app->run;

  k1_progress_end (app->progress);
  if (run->state == K1_RUN_FAILED) {
    k1_run_print_error (run, stderr, "");
    return K1_EXIT_FAILED;
  }
  if (run->state != K1_RUN_DONE)
    return K1_EXIT_FAILED;

  if (submit) {
    if (run->task_id == NULL) {
      g_printerr ("Error: the element finished without a task id\n");
      return K1_EXIT_FAILED;
    }
    if (run->from_cache)
      g_printerr ("The clip of this request is already in the cache.\n");
    else
      g_printerr ("Submitted; 'klingo1 generate' with the same options "
          "downloads the clip when it is done.\n");
    /* stdout carries only the id, for scripts. */
    g_print ("%s\n", run->task_id);
    return K1_EXIT_OK;
  }

  g_printerr ("Wrote %s%s%s%s (%.1f s)\n", run->output,
      run->from_cache ? " from the cache" : "",
      run->task_id ? ", task " : "", run->task_id ? run->task_id : "",
      k1_run_seconds (run));
  return K1_EXIT_OK;
}

static gint
run_command (const gchar * name, gint argc, gchar ** argv, gboolean submit)
{
  Options o = { 0, };
  App app = { 0, };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  GstElement *src;
  guint sigint, sigterm;
  GOptionEntry entries[] = {
    {"model", 'm', 0, G_OPTION_ARG_STRING, &o.model,
        "image-to-video (default), video-edit or video-edit-fast", "MODEL"},
    {"prompt", 'p', 0, G_OPTION_ARG_STRING, &o.prompt,
        "What to generate or how to edit (required)", "TEXT"},
    {"image", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &o.images,
          "An image, path or http(s) URL; repeat for the last frame or more "
          "references", "PATH_OR_URL"},
    {"video", 'v', 0, G_OPTION_ARG_FILENAME, &o.video,
        "The video to edit (edit models), path or http(s) URL", "PATH_OR_URL"},
    {"duration", 'd', 0, G_OPTION_ARG_STRING, &o.duration,
        "Clip length, 5 (default) or 10 (image-to-video)", "5|10"},
    {"aspect-ratio", 'a', 0, G_OPTION_ARG_STRING, &o.aspect_ratio,
        "16:9, 9:16 or 1:1 (image-to-video; default: the image's)", "RATIO"},
    {"no-original-sound", 0, 0, G_OPTION_ARG_NONE, &o.no_original_sound,
        "Drop the edited video's audio (edit models)", NULL},
    {"task-id", 't', 0, G_OPTION_ARG_STRING, &o.task_id,
        "Attach to an existing task instead of creating one", "ID"},
    {"callback-url", 0, 0, G_OPTION_ARG_STRING, &o.callback_url,
        "https URL the API calls when the task ends", "URL"},
    {"poll-interval", 0, 0, G_OPTION_ARG_STRING, &o.poll_interval,
        "Seconds between status reads (default 10)", "SECONDS"},
    {"timeout", 0, 0, G_OPTION_ARG_STRING, &o.timeout,
        "Give up waiting after this long; the task goes on (default 1800)",
        "SECONDS"},
    {"refresh", 0, 0, G_OPTION_ARG_NONE, &o.refresh,
        "Generate anew even if the cache holds this clip (pays again)", NULL},
    {"set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &o.sets,
        "Any other klingo1src property", "NAME=VALUE"},
    {NULL}
  };
  GOptionEntry output_entries[] = {
    {"output", 'o', 0, G_OPTION_ARG_FILENAME, &o.output,
        "Where to write the MP4 (required)", "FILE"},
    {NULL}
  };

  ctx = k1_option_context_new (name, NULL, submit ?
      "Creates a Kling O1 task and prints its id, without waiting for it. "
      "The task is journaled in the cache: 'klingo1 generate' with the same "
      "options later resumes it and downloads the clip." :
      "Generates a clip with Kling O1 and writes its MP4 to FILE. Running "
      "the same command again after Ctrl-C, a crash or a timeout resumes "
      "the same task; once done, the clip is served from the cache.",
      "The API key is read from $KLINGO1_API_KEY. Exit status: 0 done, "
      "1 failed, 2 usage, 130 interrupted.", entries, TRUE);
  if (!submit)
    g_option_context_add_main_entries (ctx, output_entries, NULL);
  k1_api_options_add (ctx, &o.api, TRUE, TRUE, TRUE);
  if (!k1_option_context_parse (ctx, &argc, &argv)) {
    options_clear (&o);
    return K1_EXIT_USAGE;
  }
  if (argc > 1) {
    options_clear (&o);
    return k1_usage_error (name, "unexpected argument '%s'", argv[1]);
  }
  if (!submit && o.output == NULL) {
    options_clear (&o);
    return k1_usage_error (name, "-o FILE is required");
  }

  src = configure_source (&o, submit, &error);
  if (src == NULL) {
    g_printerr ("Error: %s\n", error->message);
    options_clear (&o);
    return K1_EXIT_FAILED;
  }

  app.opts = &o;
  app.loop = g_main_loop_new (NULL, FALSE);
  app.progress = k1_progress_new ();
  app.last_percent = -100;
  app.run = k1_run_new (src, submit ? NULL : o.output, on_run_event, &app,
      &error);
  if (app.run == NULL) {
    g_printerr ("Error: %s\n", error->message);
    app.exit_code = K1_EXIT_FAILED;
    goto out;
  }

  sigint = g_unix_signal_add (SIGINT, on_signal, &app);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, &app);
  if (k1_progress_is_tty (app.progress))
    app.tick = g_timeout_add_seconds (1, on_tick, &app);

  k1_run_start (app.run);
  g_main_loop_run (app.loop);

  g_source_remove (sigint);
  g_source_remove (sigterm);
  if (app.tick)
    g_source_remove (app.tick);

  if (app.interrupted)
    app.exit_code = K1_EXIT_INTERRUPTED;
  else
    app.exit_code = report_result (&app, submit);

out:
  k1_run_free (app.run);
  k1_progress_free (app.progress);
  g_main_loop_unref (app.loop);
  g_free (app.last_status);
  options_clear (&o);
  return app.exit_code;
}

gint
k1_cmd_generate (gint argc, gchar ** argv)
{
  return run_command ("generate", argc, argv, FALSE);
}

gint
k1_cmd_submit (gint argc, gchar ** argv)
{
  return run_command ("submit", argc, argv, TRUE);
}
