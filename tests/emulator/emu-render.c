/* klingo1-emulator: media rendering (image-to-video and video edit)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Everything here is deterministic: the same inputs always give the same
 * frames, so tests can compare results between runs if they want to.
 */
#include "emu-render.h"

#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include <gst/pbutils/pbutils.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK (emu-render-error-quark, emu_render_error)

#define EMU_FPS 24
/* Upper bound for any single pipeline run; a hung pipeline must fail the
 * task instead of leaving it "processing" forever. */
#define EMU_PIPELINE_TIMEOUT (120 * GST_SECOND)
/* Zoom reached at the end of the Ken Burns move (1.0 = no zoom) */
#define EMU_KB_ZOOM 0.15
#define EMU_EDIT_MAX_WIDTH 320

#define EMU_H264_CHAIN \
  "x264enc speed-preset=ultrafast tune=zerolatency key-int-max=48 ! " \
  "video/x-h264,profile=constrained-baseline ! h264parse"

typedef struct
{
  int width;
  int height;
  /* tightly packed RGB, width * 3 bytes per row */
  guint8 *rgb;
} EmuImage;

static void
emu_image_free (EmuImage * img)
{
  g_free (img->rgb);
  g_free (img);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EmuImage, emu_image_free)

/* Writes @bytes to a new file in @tmpdir; decodebin wants a seekable file
 * (qtdemux with the moov atom at the end needs pull mode). */
static char *
write_temp (const char *tmpdir, const char *prefix, GBytes * bytes,
    GError ** error)
{
  g_autofree char *path = g_strdup_printf ("%s/%s-XXXXXX", tmpdir, prefix);
  gsize size = 0;
  const char *data = bytes ? g_bytes_get_data (bytes, &size) : "";
  int fd = g_mkstemp (path);

  if (fd < 0) {
    g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_ENCODE,
        "cannot create temporary file in %s: %s", tmpdir, g_strerror (errno));
    return NULL;
  }
  close (fd);
  if (!g_file_set_contents (path, data, size, error)) {
    g_unlink (path);
    return NULL;
  }
  return g_steal_pointer (&path);
}

static char *
new_temp_path (const char *tmpdir, const char *prefix, GError ** error)
{
  return write_temp (tmpdir, prefix, NULL, error);
}

/* Waits for EOS or ERROR; returns FALSE with @error set on error/timeout */
static gboolean
wait_for_eos (GstElement * pipeline, GstClockTime timeout, int domain_code,
    const char *what, GError ** error)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, timeout,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);

  if (msg == NULL) {
    g_set_error (error, EMU_RENDER_ERROR, domain_code,
        "%s timed out", what);
    return FALSE;
  }
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) gerr = NULL;
    g_autofree char *dbg = NULL;

    gst_message_parse_error (msg, &gerr, &dbg);
    g_set_error (error, EMU_RENDER_ERROR, domain_code, "%s failed: %s",
        what, gerr->message);
    return FALSE;
  }
  return TRUE;
}

/* Pops a pending bus error, if any, into a readable string */
static char *
pop_bus_error (GstElement * pipeline)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  g_autoptr (GError) gerr = NULL;

  if (msg == NULL)
    return NULL;
  gst_message_parse_error (msg, &gerr, NULL);
  return g_strdup (gerr->message);
}

static EmuImage *
decode_image (GBytes * bytes, const char *tmpdir, GError ** error)
{
  g_autoptr (GError) perr = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) src = NULL;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstSample) sample = NULL;
  g_autoptr (EmuImage) img = NULL;
  GstVideoInfo info;
  GstVideoFrame frame;
  g_autofree char *why = NULL;
  int i, y;

  path = write_temp (tmpdir, "image", bytes, error);
  if (path == NULL)
    return NULL;

  pipeline = gst_parse_launch ("filesrc name=src ! decodebin ! videoconvert ! "
      "video/x-raw,format=RGB ! appsink name=sink sync=false max-buffers=1",
      &perr);
  if (pipeline == NULL) {
    g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_ENCODE,
        "cannot build image decoder: %s", perr->message);
    g_unlink (path);
    return NULL;
  }
  gst_object_ref_sink (pipeline);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (src, "location", path, NULL);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  /* Pull in short slices and look at the bus in between: a file that is
   * not an image makes decodebin post an error but never EOS, and that
   * should fail the task at once rather than after the full timeout. */
  for (i = 0; i < 300 && sample == NULL; i++) {
    sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
        100 * GST_MSECOND);
    if (sample == NULL && (gst_app_sink_is_eos (GST_APP_SINK (sink)) ||
            (why = pop_bus_error (pipeline))))
      break;
  }
  if (sample == NULL) {

    gst_element_set_state (pipeline, GST_STATE_NULL);
    g_unlink (path);
    g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_IMAGE,
        "image could not be decoded: %s", why ? why : "no picture found");
    return NULL;
  }

  if (!gst_video_info_from_caps (&info, gst_sample_get_caps (sample)) ||
      !gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample),
          GST_MAP_READ)) {
    gst_element_set_state (pipeline, GST_STATE_NULL);
    g_unlink (path);
    g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_IMAGE,
        "image could not be decoded: unexpected decoder output");
    return NULL;
  }

  img = g_new0 (EmuImage, 1);
  img->width = GST_VIDEO_INFO_WIDTH (&info);
  img->height = GST_VIDEO_INFO_HEIGHT (&info);
  img->rgb = g_malloc ((gsize) img->width * img->height * 3);
  for (y = 0; y < img->height; y++) {
    const guint8 *row = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
        + (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);

    memcpy (img->rgb + (gsize) y * img->width * 3, row, img->width * 3);
  }
  gst_video_frame_unmap (&frame);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_unlink (path);
  return g_steal_pointer (&img);
}

/* Where the output frame looks into a source image: scale maps output
 * pixels to source pixels, (cx, cy) is the source point at the centre. */
typedef struct
{
  double scale;
  double cx;
  double cy;
} EmuView;

/* "Cover" fit (crop to fill the frame) with extra @zoom and a pan given as
 * a fraction of the image size; the centre is clamped so the view never
 * leaves the picture. */
static void
view_compute (const EmuImage * img, int w, int h, double zoom, double panx,
    double pany, EmuView * v)
{
  double half_w, half_h;

  v->scale = MAX ((double) w / img->width, (double) h / img->height) * zoom;
  half_w = w / (2.0 * v->scale);
  half_h = h / (2.0 * v->scale);
  v->cx = CLAMP (img->width * (0.5 + panx), half_w, img->width - half_w);
  v->cy = CLAMP (img->height * (0.5 + pany), half_h, img->height - half_h);
}

static inline void
sample_bilinear (const EmuImage * img, double sx, double sy, double out[3])
{
  int x0, y0, x1, y1, c;
  double fx, fy;
  const guint8 *p00, *p01, *p10, *p11;

  sx = CLAMP (sx, 0.0, img->width - 1.0);
  sy = CLAMP (sy, 0.0, img->height - 1.0);
  x0 = (int) sx;
  y0 = (int) sy;
  x1 = MIN (x0 + 1, img->width - 1);
  y1 = MIN (y0 + 1, img->height - 1);
  fx = sx - x0;
  fy = sy - y0;
  p00 = img->rgb + ((gsize) y0 * img->width + x0) * 3;
  p01 = img->rgb + ((gsize) y0 * img->width + x1) * 3;
  p10 = img->rgb + ((gsize) y1 * img->width + x0) * 3;
  p11 = img->rgb + ((gsize) y1 * img->width + x1) * 3;
  for (c = 0; c < 3; c++) {
    double top = p00[c] + (p01[c] - p00[c]) * fx;
    double bottom = p10[c] + (p11[c] - p10[c]) * fx;

    out[c] = top + (bottom - top) * fy;
  }
}

/* Frame at time @t (0..1): the first image zooms in and pans slowly; with a
 * last-frame image the clip cross-fades into it, and that image zooms out
 * to its plain cover fit so the final frame matches it. */
static void
render_frame (EmuImage ** imgs, guint n_imgs, double t, int w, int h,
    guint8 * data, int stride)
{
  EmuView v0, v1;
  double alpha = 0.0;
  int x, y;

  view_compute (imgs[0], w, h, 1.0 + EMU_KB_ZOOM * t, -0.03 + 0.06 * t,
      0.02 * t, &v0);
  if (n_imgs > 1) {
    view_compute (imgs[1], w, h, 1.0 + EMU_KB_ZOOM * (1.0 - t), 0.0, 0.0,
        &v1);
    /* smoothstep so the fade starts and ends gently */
    alpha = t * t * (3.0 - 2.0 * t);
  }

  for (y = 0; y < h; y++) {
    guint8 *row = data + (gsize) y * stride;
    double oy = y + 0.5 - h / 2.0;

    for (x = 0; x < w; x++) {
      double ox = x + 0.5 - w / 2.0;
      double a[3], b[3];
      int c;

      sample_bilinear (imgs[0], v0.cx + ox / v0.scale - 0.5,
          v0.cy + oy / v0.scale - 0.5, a);
      if (alpha > 0.0) {
        sample_bilinear (imgs[1], v1.cx + ox / v1.scale - 0.5,
            v1.cy + oy / v1.scale - 0.5, b);
        for (c = 0; c < 3; c++)
          a[c] = a[c] * (1.0 - alpha) + b[c] * alpha;
      }
      for (c = 0; c < 3; c++)
        row[x * 3 + c] = (guint8) CLAMP (lround (a[c]), 0, 255);
    }
  }
}

static GBytes *
read_output (const char *path, GError ** error)
{
  char *data = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, error))
    return NULL;
  if (len == 0) {
    g_free (data);
    g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_ENCODE,
        "encoder produced an empty file");
    return NULL;
  }
  return g_bytes_new_take (data, len);
}

GBytes *
emu_render_i2v (GBytes ** images, guint n_images, const char *aspect,
    int duration, const char *tmpdir, GError ** error)
{
  EmuImage *imgs[2] = { NULL, NULL };
  g_autoptr (GError) perr = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) src = NULL;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstElement) mux = NULL;
  g_autoptr (GstCaps) caps = NULL;
  g_autofree char *out_path = NULL;
  g_autofree char *fs_path = NULL;
  GstVideoInfo info;
  GBytes *result = NULL;
  int w, h, n_frames, i;
  guint k;

  n_images = MIN (n_images, 2);
  for (k = 0; k < n_images; k++) {
    g_autoptr (GError) derr = NULL;

    imgs[k] = decode_image (images[k], tmpdir, &derr);
    if (imgs[k] == NULL) {
      g_set_error (error, EMU_RENDER_ERROR, derr->code, "image_urls[%u]: %s",
          k, derr->message);
      goto out;
    }
  }

  if (aspect == NULL) {
    /* No aspect ratio requested: follow the first image's orientation */
    if (imgs[0]->width * 3 > imgs[0]->height * 4)
      aspect = "16:9";
    else if (imgs[0]->height * 3 > imgs[0]->width * 4)
      aspect = "9:16";
    else
      aspect = "1:1";
  }
  if (g_str_equal (aspect, "16:9")) {
    w = 320;
    h = 180;
  } else if (g_str_equal (aspect, "9:16")) {
    w = 180;
    h = 320;
  } else {
    w = 240;
    h = 240;
  }

  out_path = new_temp_path (tmpdir, "i2v-out", error);
  if (out_path == NULL)
    goto out;
  /* mp4mux's fast-start scratch file would otherwise land in /tmp and
   * outlive an emulator killed mid-render */
  fs_path = new_temp_path (tmpdir, "i2v-faststart", error);
  if (fs_path == NULL)
    goto out;

  pipeline = gst_parse_launch ("appsrc name=src format=time block=true "
      "max-bytes=2000000 ! videoconvert ! video/x-raw,format=I420 ! "
      EMU_H264_CHAIN " ! mp4mux name=mux faststart=true ! filesink name=sink",
      &perr);
  if (pipeline == NULL) {
    g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_ENCODE,
        "cannot build encoder: %s", perr->message);
    goto out;
  }
  gst_object_ref_sink (pipeline);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  mux = gst_bin_get_by_name (GST_BIN (pipeline), "mux");
  g_object_set (sink, "location", out_path, NULL);
  g_object_set (mux, "faststart-file", fs_path, NULL);

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  GST_VIDEO_INFO_FPS_N (&info) = EMU_FPS;
  GST_VIDEO_INFO_FPS_D (&info) = 1;
  caps = gst_video_info_to_caps (&info);
  g_object_set (src, "caps", caps, NULL);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  n_frames = duration * EMU_FPS;
  for (i = 0; i < n_frames; i++) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, info.size, NULL);
    GstMapInfo map;
    GstClockTime pts = gst_util_uint64_scale (i, GST_SECOND, EMU_FPS);
    double t = n_frames > 1 ? (double) i / (n_frames - 1) : 0.0;

    gst_buffer_map (buf, &map, GST_MAP_WRITE);
    render_frame (imgs, n_images, t, w, h, map.data,
        GST_VIDEO_INFO_PLANE_STRIDE (&info, 0));
    gst_buffer_unmap (buf, &map);
    GST_BUFFER_PTS (buf) = pts;
    GST_BUFFER_DURATION (buf) =
        gst_util_uint64_scale (i + 1, GST_SECOND, EMU_FPS) - pts;
    /* A failing push means the pipeline posted an error; the bus wait
     * below picks it up. */
    if (gst_app_src_push_buffer (GST_APP_SRC (src), buf) != GST_FLOW_OK)
      break;
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));

  if (wait_for_eos (pipeline, EMU_PIPELINE_TIMEOUT, EMU_RENDER_ERROR_ENCODE,
          "H.264/MP4 encoding", error)) {
    gst_element_set_state (pipeline, GST_STATE_NULL);
    result = read_output (out_path, error);
  } else {
    gst_element_set_state (pipeline, GST_STATE_NULL);
  }

out:
  if (out_path)
    g_unlink (out_path);
  if (fs_path)
    g_unlink (fs_path);
  for (k = 0; k < 2; k++)
    if (imgs[k])
      emu_image_free (imgs[k]);
  return result;
}

/* A reference image shown as a small framed thumbnail in the top right
 * corner of every edited frame, so a test can see it was used. */
typedef struct
{
  GstVideoInfo info;            /* of the RGB frames passing the probe */
  int x0, y0, tw, th;
  guint8 *rgb;                  /* tw * th * 3, tightly packed */
} EmuOverlay;

static EmuOverlay *
overlay_new (const EmuImage * ref, int w, int h)
{
  EmuOverlay *ov = g_new0 (EmuOverlay, 1);
  int x, y;

  ov->tw = MAX (8, w / 4);
  ov->th = MAX (8, (int) lround ((double) ov->tw * ref->height / ref->width));
  if (ov->th > h / 3) {
    ov->th = MAX (8, h / 3);
    ov->tw = MAX (8, (int) lround ((double) ov->th * ref->width /
            ref->height));
  }
  ov->tw = MIN (ov->tw, w - 6);
  ov->th = MIN (ov->th, h - 6);
  ov->x0 = w - ov->tw - 3;
  ov->y0 = 3;
  gst_video_info_set_format (&ov->info, GST_VIDEO_FORMAT_RGB, w, h);
  ov->rgb = g_malloc ((gsize) ov->tw * ov->th * 3);
  for (y = 0; y < ov->th; y++) {
    for (x = 0; x < ov->tw; x++) {
      double px[3];
      guint8 *d = ov->rgb + ((gsize) y * ov->tw + x) * 3;
      int c;

      sample_bilinear (ref, (x + 0.5) * ref->width / ov->tw - 0.5,
          (y + 0.5) * ref->height / ov->th - 0.5, px);
      for (c = 0; c < 3; c++)
        d[c] = (guint8) CLAMP (lround (px[c]), 0, 255);
    }
  }
  return ov;
}

static void
overlay_free (EmuOverlay * ov)
{
  g_free (ov->rgb);
  g_free (ov);
}

static GstPadProbeReturn
overlay_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  EmuOverlay *ov = user_data;
  GstBuffer *buf = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  GstVideoFrame frame;
  int x, y;

  GST_PAD_PROBE_INFO_DATA (info) = buf;
  if (!gst_video_frame_map (&frame, &ov->info, buf, GST_MAP_WRITE))
    return GST_PAD_PROBE_OK;
  /* 1 px white frame around the thumbnail, then the thumbnail itself */
  for (y = ov->y0 - 1; y <= ov->y0 + ov->th; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
        (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);

    for (x = ov->x0 - 1; x <= ov->x0 + ov->tw; x++) {
      guint8 *d = row + x * 3;

      if (y < ov->y0 || y >= ov->y0 + ov->th || x < ov->x0 ||
          x >= ov->x0 + ov->tw)
        memset (d, 255, 3);
      else
        memcpy (d, ov->rgb + ((gsize) (y - ov->y0) * ov->tw +
                (x - ov->x0)) * 3, 3);
    }
  }
  gst_video_frame_unmap (&frame);
  return GST_PAD_PROBE_OK;
}

typedef struct
{
  GstElement *pipeline;
  GstElement *vbin;
  GstElement *abin;
} EditLink;

/* decodebin pads appear at run time: route the first video and (if wanted)
 * the first audio stream to the encoders, and everything else to a
 * fakesink so an unused stream cannot stall the demuxer. */
static void
on_pad_added (GstElement * decodebin, GstPad * pad, gpointer user_data)
{
  EditLink *link = user_data;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  GstElement *target = NULL;
  const char *name;

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  name = gst_structure_get_name (gst_caps_get_structure (caps, 0));

  if (g_str_has_prefix (name, "video/"))
    target = link->vbin;
  else if (g_str_has_prefix (name, "audio/"))
    target = link->abin;

  if (target) {
    g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (target, "sink");

    if (!gst_pad_is_linked (sinkpad) &&
        gst_pad_link (pad, sinkpad) == GST_PAD_LINK_OK)
      return;
  }

  {
    GstElement *fake = gst_element_factory_make ("fakesink", NULL);
    g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (fake, "sink");

    g_object_set (fake, "sync", FALSE, "async", FALSE, NULL);
    gst_bin_add (GST_BIN (link->pipeline), fake);
    gst_element_sync_state_with_parent (fake);
    gst_pad_link (pad, sinkpad);
  }
}

static const char *
pick_aac_encoder (void)
{
  static const char *candidates[] = { "avenc_aac", "voaacenc", "fdkaacenc" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (candidates); i++) {
    g_autoptr (GstElementFactory) f = gst_element_factory_find (candidates[i]);

    if (f)
      return candidates[i];
  }
  return NULL;
}

GBytes *
emu_render_edit (GBytes * video, GBytes * ref_image, gboolean keep_sound,
    const char *tmpdir, double *out_duration, GError ** error)
{
  g_autoptr (EmuImage) ref = NULL;
  EmuOverlay *overlay = NULL;
  g_autofree char *in_path = NULL;
  g_autofree char *out_path = NULL;
  g_autofree char *fs_path = NULL;
  g_autofree char *uri = NULL;
  g_autoptr (GstDiscoverer) disc = NULL;
  g_autoptr (GstDiscovererInfo) dinfo = NULL;
  g_autoptr (GError) derr = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  GstDiscovererVideoInfo *vinfo;
  GList *vstreams = NULL, *astreams = NULL;
  gboolean with_audio;
  GstElement *filesrc, *decodebin, *mux, *filesink;
  GstElement *vbin = NULL, *abin = NULL;
  g_autofree char *vdesc = NULL;
  EditLink link = { 0, };
  GBytes *result = NULL;
  int in_w, in_h, w, h;

  if (ref_image) {
    g_autoptr (GError) rerr = NULL;

    ref = decode_image (ref_image, tmpdir, &rerr);
    if (ref == NULL) {
      g_set_error (error, EMU_RENDER_ERROR, rerr->code, "image_urls[0]: %s",
          rerr->message);
      return NULL;
    }
  }

  in_path = write_temp (tmpdir, "edit-in", video, error);
  if (in_path == NULL)
    return NULL;

  /* Probe first: the output size and whether an audio branch is needed
   * must be known before building the pipeline, because mp4mux waits for
   * data on every pad it was given. */
  uri = gst_filename_to_uri (in_path, NULL);
  disc = gst_discoverer_new (30 * GST_SECOND, &derr);
  if (disc)
    dinfo = gst_discoverer_discover_uri (disc, uri, &derr);
  if (dinfo == NULL ||
      gst_discoverer_info_get_result (dinfo) != GST_DISCOVERER_OK) {
    g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_VIDEO,
        "video_urls[0]: video could not be decoded: %s",
        derr ? derr->message : "unsupported or corrupt file");
    goto out;
  }
  vstreams = gst_discoverer_info_get_video_streams (dinfo);
  astreams = gst_discoverer_info_get_audio_streams (dinfo);
  if (vstreams == NULL) {
    g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_VIDEO,
        "video_urls[0]: file has no video stream");
    goto out;
  }
  vinfo = vstreams->data;
  /* decodebin happily turns a JPEG into a one-frame "video"; the service
   * wants an .mp4/.mov, so reject stills like a bad video. */
  if (gst_discoverer_video_info_is_image (vinfo)) {
    g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_VIDEO,
        "video_urls[0]: file is a still image, not a video");
    goto out;
  }
  in_w = gst_discoverer_video_info_get_width (vinfo);
  in_h = gst_discoverer_video_info_get_height (vinfo);
  if (in_w <= 0 || in_h <= 0) {
    g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_VIDEO,
        "video_urls[0]: video has no usable size");
    goto out;
  }
  if (out_duration)
    *out_duration = (double) gst_discoverer_info_get_duration (dinfo) /
        GST_SECOND;
  /* Keep the input size but cap it so tests stay fast; x264 with I420
   * needs even dimensions. */
  if (in_w > EMU_EDIT_MAX_WIDTH) {
    w = EMU_EDIT_MAX_WIDTH;
    h = (int) lround ((double) in_h * EMU_EDIT_MAX_WIDTH / in_w);
  } else {
    w = in_w;
    h = in_h;
  }
  w = MAX (2, w & ~1);
  h = MAX (2, h & ~1);

  with_audio = keep_sound && astreams != NULL;

  out_path = new_temp_path (tmpdir, "edit-out", error);
  if (out_path == NULL)
    goto out;
  fs_path = new_temp_path (tmpdir, "edit-faststart", error);
  if (fs_path == NULL)
    goto out;

  pipeline = gst_pipeline_new ("edit");
  filesrc = gst_element_factory_make ("filesrc", NULL);
  decodebin = gst_element_factory_make ("decodebin", NULL);
  mux = gst_element_factory_make ("mp4mux", NULL);
  filesink = gst_element_factory_make ("filesink", NULL);
  if (!filesrc || !decodebin || !mux || !filesink) {
    g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_ENCODE,
        "missing core elements (filesrc/decodebin/mp4mux/filesink)");
    g_clear_object (&filesrc);
    g_clear_object (&decodebin);
    g_clear_object (&mux);
    g_clear_object (&filesink);
    goto out;
  }
  gst_object_ref_sink (pipeline);
  g_object_set (filesrc, "location", in_path, NULL);
  g_object_set (mux, "faststart", TRUE, "faststart-file", fs_path, NULL);
  g_object_set (filesink, "location", out_path, NULL);
  gst_bin_add_many (GST_BIN (pipeline), filesrc, decodebin, mux, filesink,
      NULL);
  gst_element_link (filesrc, decodebin);
  gst_element_link (mux, filesink);

  /* The "edit": a hue shift and extra saturation, obvious to the eye and
   * easy for a test to detect. */
  vdesc = g_strdup_printf ("queue ! videoconvert ! videoscale ! "
      "video/x-raw,width=%d,height=%d,pixel-aspect-ratio=1/1 ! "
      "videobalance hue=0.5 saturation=1.5 ! videoconvert ! %s"
      "video/x-raw,format=I420 ! " EMU_H264_CHAIN " ! queue", w, h,
      ref ? "video/x-raw,format=RGB ! identity name=overlay ! "
      "videoconvert ! " : "");
  vbin = gst_parse_bin_from_description (vdesc, TRUE, &derr);
  if (vbin == NULL) {
    g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_ENCODE,
        "cannot build video encoder: %s", derr->message);
    goto out;
  }
  gst_bin_add (GST_BIN (pipeline), vbin);
  if (ref) {
    g_autoptr (GstElement) ident = gst_bin_get_by_name (GST_BIN (vbin),
        "overlay");
    g_autoptr (GstPad) ipad = gst_element_get_static_pad (ident, "src");

    overlay = overlay_new (ref, w, h);
    gst_pad_add_probe (ipad, GST_PAD_PROBE_TYPE_BUFFER, overlay_probe,
        overlay, NULL);
  }
  if (!gst_element_link_pads (vbin, "src", mux, "video_%u")) {
    g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_ENCODE,
        "cannot link video encoder to mp4mux");
    goto out;
  }

  if (with_audio) {
    const char *aac = pick_aac_encoder ();
    g_autofree char *adesc = NULL;

    if (aac == NULL) {
      g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_ENCODE,
          "no AAC encoder installed (avenc_aac or voaacenc)");
      goto out;
    }
    adesc = g_strdup_printf ("queue ! audioconvert ! audioresample ! %s ! "
        "queue", aac);
    abin = gst_parse_bin_from_description (adesc, TRUE, &derr);
    if (abin == NULL) {
      g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_ENCODE,
          "cannot build audio encoder: %s", derr->message);
      goto out;
    }
    gst_bin_add (GST_BIN (pipeline), abin);
    if (!gst_element_link_pads (abin, "src", mux, "audio_%u")) {
      g_set_error (error, EMU_RENDER_ERROR, EMU_RENDER_ERROR_ENCODE,
          "cannot link audio encoder to mp4mux");
      goto out;
    }
  }

  link.pipeline = pipeline;
  link.vbin = vbin;
  link.abin = abin;
  g_signal_connect (decodebin, "pad-added", G_CALLBACK (on_pad_added), &link);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  if (wait_for_eos (pipeline, EMU_PIPELINE_TIMEOUT, EMU_RENDER_ERROR_VIDEO,
          "video_urls[0]: re-encoding the video", error)) {
    gst_element_set_state (pipeline, GST_STATE_NULL);
    result = read_output (out_path, error);
  } else {
    gst_element_set_state (pipeline, GST_STATE_NULL);
  }
  /* stop the pad-added handler from touching the stack frame later */
  g_signal_handlers_disconnect_by_data (decodebin, &link);

out:
  /* the pipeline (and its probe) is stopped or never started by now */
  g_clear_pointer (&pipeline, gst_object_unref);
  g_clear_pointer (&overlay, overlay_free);
  gst_discoverer_stream_info_list_free (vstreams);
  gst_discoverer_stream_info_list_free (astreams);
  if (in_path)
    g_unlink (in_path);
  if (out_path)
    g_unlink (out_path);
  if (fs_path)
    g_unlink (fs_path);
  return result;
}
