/* gst-klingo1: klingo1src, a source that generates its clip with Kling O1
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesrc.h>

G_BEGIN_DECLS

#define GST_TYPE_KLINGO1_SRC (gst_klingo1_src_get_type ())
G_DECLARE_FINAL_TYPE (GstKlingo1Src, gst_klingo1_src, GST, KLINGO1_SRC,
    GstBaseSrc)

/**
 * GstKlingo1CacheMode:
 * @GST_KLINGO1_CACHE_READ_WRITE: play a cached clip, resume a journaled task,
 *   record new ones
 * @GST_KLINGO1_CACHE_REFRESH: forget what is cached for this request and
 *   generate anew (the new task is recorded)
 * @GST_KLINGO1_CACHE_DISABLED: no cache and no journal
 */
typedef enum
{
  GST_KLINGO1_CACHE_READ_WRITE,
  GST_KLINGO1_CACHE_REFRESH,
  GST_KLINGO1_CACHE_DISABLED,
} GstKlingo1CacheMode;

GST_ELEMENT_REGISTER_DECLARE (klingo1src);

/* Custom tags carried by the stream. */
#define GST_KLINGO1_TAG_MODEL   "klingo1-model"
#define GST_KLINGO1_TAG_TASK_ID "klingo1-task-id"

G_END_DECLS
