/* gst-klingo1 example: generate a clip to an MP4 file with a progress bar.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   klingo1-progress OUT.mp4 "PROMPT" IMAGE [LAST-IMAGE]
 *
 * Key, API URL and Files URL come from KLINGO1_API_KEY, KLINGO1_API_URL and
 * KLINGO1_FILES_URL. Ctrl-C stops cleanly; running the same command again
 * resumes the same task (nothing is paid twice).
 */
#include <gst/gst.h>
#include <glib-unix.h>

typedef struct
{
  GMainLoop *loop;
  GstElement *pipeline;
  gint exit_code;
} App;

static void
draw_bar (const gchar * status, gint percent, gint eta)
{
  gint i, filled = CLAMP (percent, 0, 100) * 30 / 100;

  g_print ("\r[");
  for (i = 0; i < 30; i++)
    g_print ("%s", i < filled ? "#" : ".");
  g_print ("] %3d%% %-11s", CLAMP (percent, 0, 100), status);
  if (eta >= 0)
    g_print (" ~%d s left ", eta);
  else
    g_print ("           ");
}

static gboolean
on_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  App *app = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (msg, "klingo1/task")) {
        const GstStructure *s = gst_message_get_structure (msg);
        gint progress = 0, eta = -1;
        gst_structure_get_int (s, "progress", &progress);
        gst_structure_get_int (s, "estimated-time", &eta);
        draw_bar (gst_structure_get_string (s, "status"), progress, eta);
      }
      break;
    case GST_MESSAGE_PROGRESS:{
      GstProgressType type;
      gchar *code, *text;
      gst_message_parse_progress (msg, &type, &code, &text);
      /* Polls are drawn from the klingo1/task messages; print the steps. */
      if (type != GST_PROGRESS_TYPE_CONTINUE || g_strcmp0 (code, "poll") != 0)
        g_print ("\n%s\n", text);
      g_free (code);
      g_free (text);
      break;
    }
    case GST_MESSAGE_WARNING:{
      GError *err;
      gst_message_parse_warning (msg, &err, NULL);
      g_printerr ("\nWarning: %s\n", err->message);
      g_error_free (err);
      break;
    }
    case GST_MESSAGE_ERROR:{
      GError *err;
      const GstStructure *details = NULL;
      gst_message_parse_error (msg, &err, NULL);
      gst_message_parse_error_details (msg, &details);
      g_printerr ("\nError: %s\n", err->message);
      if (details && gst_structure_has_field (details, "task-id"))
        g_printerr ("Task: %s\n", gst_structure_get_string (details,
                "task-id"));
      g_error_free (err);
      app->exit_code = 1;
      g_main_loop_quit (app->loop);
      break;
    }
    case GST_MESSAGE_EOS:
      draw_bar ("written", 100, -1);
      g_print ("\n");
      g_main_loop_quit (app->loop);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sigint (gpointer user_data)
{
  App *app = user_data;
  g_print ("\nStopping; run the same command again to resume.\n");
  app->exit_code = 130;
  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  App app = { 0, };
  GstElement *src;
  GstBus *bus;
  GValue images = G_VALUE_INIT;
  GError *error = NULL;
  gint i;

  gst_init (&argc, &argv);
  if (argc < 4 || argc > 5) {
    g_printerr ("usage: %s OUT.mp4 PROMPT IMAGE [LAST-IMAGE]\n", argv[0]);
    return 2;
  }

  app.pipeline = gst_parse_launch ("klingo1src name=src ! qtdemux ! "
      "h264parse ! mp4mux ! filesink name=out", &error);
  if (app.pipeline == NULL) {
    g_printerr ("%s (is GST_PLUGIN_PATH set?)\n", error->message);
    return 1;
  }
  src = gst_bin_get_by_name (GST_BIN (app.pipeline), "src");
  g_value_init (&images, GST_TYPE_ARRAY);
  for (i = 3; i < argc; i++) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_string (&v, argv[i]);
    gst_value_array_append_and_take_value (&images, &v);
  }
  g_object_set_property (G_OBJECT (src), "images", &images);
  g_value_unset (&images);
  /* poll-interval stays 0: the element sleeps until shortly before the
   * task's estimated end, then reads its status often. */
  g_object_set (src, "prompt", argv[2], NULL);
  gst_object_unref (src);
  {
    GstElement *out = gst_bin_get_by_name (GST_BIN (app.pipeline), "out");
    g_object_set (out, "location", argv[1], NULL);
    gst_object_unref (out);
  }

  app.loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (app.pipeline);
  gst_bus_add_watch (bus, on_message, &app);
  g_unix_signal_add (SIGINT, on_sigint, &app);

  /* Returns at once (ASYNC): the generation runs in the streaming thread. */
  if (gst_element_set_state (app.pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    app.exit_code = 1;
  else
    g_main_loop_run (app.loop);

  /* Returns within a second from any phase. */
  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  /* Errors from a failed start are still on the bus. */
  if (app.exit_code == 1) {
    GstMessage *m;
    while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR))) {
      on_message (bus, m, &app);
      gst_message_unref (m);
    }
  }
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (app.pipeline);
  g_main_loop_unref (app.loop);
  return app.exit_code;
}
