/* gst-klingo1 benchmark: time from PLAYING to the first decoded video frame
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   first-frame [--timeout S] 'SOURCE DESCRIPTION'
 *
 * Builds "SOURCE ! decodebin ! video/x-raw ! fakesink" (gst_parse_launch),
 * sets it to PLAYING and prints, on stdout, the milliseconds from the
 * set_state(PLAYING) call to the first buffer that reaches the fakesink (a
 * decoded frame: decodebin only links raw video to it). Then the pipeline is
 * set to NULL. Exit status 0 on success, 1 on an error or timeout.
 *
 * The same program and the same downstream serve every source compared
 * (klingo1src, souphttpsrc), so only the source differs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gst/gst.h>

static gint64 first_frame_at;

static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstElement *pipeline = user_data;

  if (first_frame_at == 0) {
    first_frame_at = g_get_monotonic_time ();
    gst_element_post_message (pipeline,
        gst_message_new_application (GST_OBJECT (pipeline),
            gst_structure_new_empty ("first-frame")));
  }
  return GST_PAD_PROBE_REMOVE;
}

int
main (int argc, char **argv)
{
  gdouble timeout = 120;
  GOptionEntry entries[] = {
    {"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout,
        "Give up after this many seconds (default 120)", "S"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *desc = NULL;
  GstElement *pipeline, *sink;
  GstPad *pad;
  GstBus *bus;
  gint64 start, deadline;
  gboolean ok = FALSE;

  ctx = g_option_context_new ("'SOURCE DESCRIPTION'");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2) {
    g_printerr ("first-frame: %s\n", error ? error->message :
        "one source description expected");
    return 2;
  }

  desc = g_strdup_printf ("%s ! decodebin ! video/x-raw ! "
      "fakesink name=ff_sink sync=false async=false", argv[1]);
  pipeline = gst_parse_launch (desc, &error);
  if (pipeline == NULL) {
    g_printerr ("first-frame: %s\n", error->message);
    return 2;
  }
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "ff_sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, pipeline,
      NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);

  bus = gst_element_get_bus (pipeline);
  start = g_get_monotonic_time ();
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_printerr ("first-frame: cannot start the pipeline\n");
    return 1;
  }
  deadline = start + (gint64) (timeout * G_USEC_PER_SEC);

  while (TRUE) {
    gint64 left = deadline - g_get_monotonic_time ();
    GstMessage *msg;

    if (left <= 0) {
      g_printerr ("first-frame: no frame within %.0f s\n", timeout);
      break;
    }
    msg = gst_bus_timed_pop_filtered (bus, left * GST_USECOND,
        GST_MESSAGE_APPLICATION | GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    if (msg == NULL)
      continue;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_APPLICATION) {
      ok = TRUE;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) err = NULL;
      gst_message_parse_error (msg, &err, NULL);
      g_printerr ("first-frame: error from %s: %s\n",
          GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
    } else {
      g_printerr ("first-frame: end of stream before a frame\n");
    }
    gst_message_unref (msg);
    break;
  }

  if (ok)
    printf ("%.1f\n", (first_frame_at - start) / 1000.0);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  return ok ? 0 : 1;
}
