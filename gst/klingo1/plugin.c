/* gst-klingo1: plugin entry point
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstklingo1src.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gst_tag_register (GST_KLINGO1_TAG_MODEL, GST_TAG_FLAG_META, G_TYPE_STRING,
      "Kling O1 model", "Kling O1 model that generated the clip", NULL);
  gst_tag_register (GST_KLINGO1_TAG_TASK_ID, GST_TAG_FLAG_META, G_TYPE_STRING,
      "Kling O1 task id", "Id of the generation task on the API", NULL);

  return GST_ELEMENT_REGISTER (klingo1src, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, klingo1,
    "Kling O1 video generation as GStreamer sources", plugin_init, VERSION,
    GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
