/* gst-klingo1: libFuzzer target for what the network hands us: task objects
 * and error bodies. Built with -Dfuzzing=true under clang; otherwise linked
 * with replay-main.c and run over the seed corpus as a test.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "task-private.h"
#include <gst/klingo1/klingo1.h>

int LLVMFuzzerTestOneInput (const guint8 * data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 * data, size_t size)
{
  g_autoptr (GstKlingo1Task) task = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *code = NULL;
  g_autofree gchar *message = NULL;
  g_autofree gchar *type = NULL;

  task = gst_klingo1_task_new_from_json ((const gchar *) data, size, &error);
  if (task) {
    g_autoptr (GstKlingo1Task) copy = gst_klingo1_task_copy (task);
    g_autoptr (GError) task_error = gst_klingo1_task_to_error (copy);
    g_assert (copy->progress >= 0 && copy->progress <= 100);
    g_assert (copy->id != NULL);
    if (task_error)
      g_assert (gst_klingo1_task_status_is_final (copy->status));
  } else {
    g_assert (error != NULL);
  }
  gst_klingo1_api_error_parse ((const gchar *) data, size, &code, &message,
      &type);
  return 0;
}
