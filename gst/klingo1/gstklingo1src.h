/* gst-klingo1: klingo1src, a source that generates its clip with Kling O1
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesrc.h>

#include "gstklingo1settings.h"

G_BEGIN_DECLS

#define GST_TYPE_KLINGO1_SRC (gst_klingo1_src_get_type ())
G_DECLARE_FINAL_TYPE (GstKlingo1Src, gst_klingo1_src, GST, KLINGO1_SRC,
    GstBaseSrc)

GST_ELEMENT_REGISTER_DECLARE (klingo1src);

/* Custom tags carried by the stream. */
#define GST_KLINGO1_TAG_MODEL   "klingo1-model"
#define GST_KLINGO1_TAG_TASK_ID "klingo1-task-id"

G_END_DECLS
