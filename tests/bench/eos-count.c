/* gst-klingo1 benchmark: how many branches of a pipeline finish
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   eos-count [--timeout S] 'PIPELINE'
 *
 * Runs PIPELINE (gst_parse_launch) until its EOS, an error or the timeout,
 * counting the sinks that received data and an EOS event (a probe on each
 * sink's pad). Prints "finished=N sinks=M bytes=B" on stdout: N sinks got
 * their EOS after data, out of M, B bytes in all. Exit status 0 when every
 * sink finished.
 */
#include <stdio.h>
#include <gst/gst.h>

typedef struct
{
  gboolean got_data;
  gboolean finished;
} SinkState;

static gint finished, sinks;
static guint64 bytes;

static GstPadProbeReturn
on_data (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  SinkState *s = user_data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    s->got_data = TRUE;
    __atomic_fetch_add (&bytes,
        gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info)),
        __ATOMIC_RELAXED);
  } else if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS
      && s->got_data && !s->finished) {
    s->finished = TRUE;
    g_atomic_int_inc (&finished);
  }
  return GST_PAD_PROBE_OK;
}

int
main (int argc, char **argv)
{
  gdouble timeout = 300;
  GOptionEntry entries[] = {
    {"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout,
        "Give up after this many seconds (default 300)", "S"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  GstElement *pipeline;
  GstIterator *it;
  GValue item = G_VALUE_INIT;
  GstMessage *msg;
  GstBus *bus;

  ctx = g_option_context_new ("'PIPELINE'");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2) {
    g_printerr ("eos-count: %s\n", error ? error->message :
        "one pipeline description expected");
    return 2;
  }
  pipeline = gst_parse_launch (argv[1], &error);
  if (pipeline == NULL) {
    g_printerr ("eos-count: %s\n", error->message);
    return 2;
  }

  it = gst_bin_iterate_sinks (GST_BIN (pipeline));
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&item);
    GstPad *pad = gst_element_get_static_pad (e, "sink");

    if (pad) {
      gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
          GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_data,
          g_new0 (SinkState, 1), g_free);
      gst_object_unref (pad);
      sinks++;
    }
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);

  bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, (GstClockTime) (timeout * GST_SECOND),
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (msg == NULL) {
    g_printerr ("eos-count: timeout\n");
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    g_printerr ("eos-count: error from %s: %s\n",
        GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
  }
  if (msg)
    gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  printf ("finished=%d sinks=%d bytes=%" G_GUINT64_FORMAT "\n",
      g_atomic_int_get (&finished), sinks, bytes);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  return finished == sinks ? 0 : 1;
}
