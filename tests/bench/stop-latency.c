/* gst-klingo1 benchmark: how long set_state(NULL) takes in a given phase
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   stop-latency --phase STATUS[,STATUS...] [--settle MS] 'PIPELINE'
 *
 * Builds PIPELINE (gst_parse_launch; it holds one klingo1src), sets it to
 * PLAYING, watches the source's "status" property (every millisecond) until
 * it is one of the STATUS values ("uploading", "pending,processing",
 * "downloading", ...), waits --settle more milliseconds so that the phase is
 * under way (a request in flight, bytes flowing), then times
 * gst_element_set_state (pipeline, GST_STATE_NULL) and prints the
 * milliseconds on stdout. Exit status 1 when the phase was never seen (or
 * left during the settle time) within --timeout seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gst/gst.h>

static GstElement *
find_source (GstBin * bin)
{
  GstIterator *it = gst_bin_iterate_recurse (bin);
  GValue item = G_VALUE_INIT;
  GstElement *found = NULL;

  while (found == NULL && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&item);
    GstElementFactory *f = gst_element_get_factory (e);

    if (f && g_strcmp0 (GST_OBJECT_NAME (f), "klingo1src") == 0)
      found = gst_object_ref (e);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return found;
}

static gchar *
get_status (GstElement * src)
{
  gchar *status = NULL;

  g_object_get (src, "status", &status, NULL);
  return status;
}

static gboolean
in_phase (GstElement * src, gchar ** phases, gchar ** seen)
{
  g_autofree gchar *status = get_status (src);

  if (g_strcmp0 (status, *seen) != 0) {
    g_free (*seen);
    *seen = g_strdup (status);
  }
  return status && g_strv_contains ((const gchar * const *) phases, status);
}

/* Fails on a bus error (the phase will never come). */
static gboolean
bus_ok (GstBus * bus)
{
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

  if (msg) {
    g_autoptr (GError) err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    g_printerr ("stop-latency: error: %s\n", err->message);
    gst_message_unref (msg);
    return FALSE;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  gchar *phase = NULL;
  gint settle = 0;
  gdouble timeout = 60;
  GOptionEntry entries[] = {
    {"phase", 0, 0, G_OPTION_ARG_STRING, &phase,
        "Status values to stop in, comma-separated", "STATUS"},
    {"settle", 0, 0, G_OPTION_ARG_INT, &settle,
        "Milliseconds to wait once in the phase (default 0)", "MS"},
    {"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout,
        "Give up after this many seconds (default 60)", "S"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) phases = NULL;
  g_autofree gchar *seen = NULL;
  GstElement *pipeline, *src;
  GstBus *bus;
  gint64 deadline, t0, t1;
  gboolean found = FALSE;

  ctx = g_option_context_new ("'PIPELINE'");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2
      || phase == NULL) {
    g_printerr ("stop-latency: %s\n", error ? error->message :
        "--phase and one pipeline description expected");
    return 2;
  }
  phases = g_strsplit (phase, ",", -1);

  pipeline = gst_parse_launch (argv[1], &error);
  if (pipeline == NULL) {
    g_printerr ("stop-latency: %s\n", error->message);
    return 2;
  }
  src = find_source (GST_BIN (pipeline));
  if (src == NULL) {
    g_printerr ("stop-latency: no klingo1src in the pipeline\n");
    return 2;
  }
  bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  deadline = g_get_monotonic_time () + (gint64) (timeout * G_USEC_PER_SEC);
  while (g_get_monotonic_time () < deadline && bus_ok (bus)) {
    if (in_phase (src, phases, &seen)) {
      found = TRUE;
      break;
    }
    g_usleep (1000);
  }
  if (found && settle > 0) {
    g_usleep (settle * 1000);
    found = in_phase (src, phases, &seen);
  }
  if (!found) {
    g_printerr ("stop-latency: never stopped in %s (last status %s)\n", phase,
        seen ? seen : "none");
    gst_element_set_state (pipeline, GST_STATE_NULL);
    return 1;
  }

  t0 = g_get_monotonic_time ();
  gst_element_set_state (pipeline, GST_STATE_NULL);
  t1 = g_get_monotonic_time ();
  printf ("%.1f\n", (t1 - t0) / 1000.0);

  gst_object_unref (src);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  return 0;
}
