/* klingo1-emulator: media rendering (image-to-video and video edit)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The functions here are synchronous and meant to run in a worker thread:
 * they build short GStreamer pipelines and wait on their bus with a bounded
 * timeout, so they never need a main loop.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define EMU_RENDER_ERROR (emu_render_error_quark ())
GQuark emu_render_error_quark (void);

typedef enum
{
  /* an input image could not be decoded */
  EMU_RENDER_ERROR_IMAGE,
  /* the input video could not be decoded or has no video stream */
  EMU_RENDER_ERROR_VIDEO,
  /* encoding or muxing failed (emulator bug or missing plugin) */
  EMU_RENDER_ERROR_ENCODE,
} EmuRenderError;

/* Renders an H.264 MP4 of @duration seconds at 24 fps from one or two
 * images (first frame, optional last frame).  @aspect is "16:9", "9:16",
 * "1:1" or NULL to pick from the first image's orientation. */
GBytes *emu_render_i2v (GBytes ** images, guint n_images, const char *aspect,
    int duration, const char *tmpdir, GError ** error);

/* Re-encodes @video with a visible colour change, keeping its length.
 * @ref_image (nullable) is shown as a small thumbnail in the top right
 * corner.  Audio is kept (as AAC) when @keep_sound is TRUE and the input
 * has audio.  @out_duration receives the input duration in seconds. */
GBytes *emu_render_edit (GBytes * video, GBytes * ref_image,
    gboolean keep_sound, const char *tmpdir, double *out_duration,
    GError ** error);

G_END_DECLS
