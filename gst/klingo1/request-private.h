/* gst-klingo1: the request's fields, for the library and the plugin only
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/klingo1/request.h>

G_BEGIN_DECLS

/**
 * GstKlingo1Request:
 * @model: which of the three models
 * @prompt: UTF-8 text, 1..5000 characters
 * @images: (element-type utf8): ordered inputs; each an http(s) URL, a
 *   file:// URI or a local path. image-to-video: 1 (first frame) or 2 (first,
 *   last). video-edit*: 0..4 reference images.
 * @video: the video to edit (URL, file:// URI or path); NULL for image-to-video
 * @aspect_ratio: image-to-video only; UNSET sends nothing
 * @duration: image-to-video only, seconds, 5 or 10; 0 means the default (5).
 *   Must be 0 for the edit models.
 * @keep_original_sound: edit models only (sent as keep_original_sound)
 * @callback_url: optional https URL, NULL when unset
 *
 * A plain value. Inputs are kept as the user gave them; the job replaces local
 * inputs with uploaded URLs in a copy before it is serialized.
 */
struct _GstKlingo1Request
{
  GstKlingo1Model model;
  gchar *prompt;
  GPtrArray *images;
  gchar *video;
  GstKlingo1AspectRatio aspect_ratio;
  guint duration;
  gboolean keep_original_sound;
  gchar *callback_url;
};

G_END_DECLS
