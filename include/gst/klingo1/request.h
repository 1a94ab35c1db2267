/* gst-klingo1: a generation request and its validation
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <gst/klingo1/store.h>

G_BEGIN_DECLS

typedef enum
{
  GST_KLINGO1_MODEL_IMAGE_TO_VIDEO,
  GST_KLINGO1_MODEL_VIDEO_EDIT,
  GST_KLINGO1_MODEL_VIDEO_EDIT_FAST,
} GstKlingo1Model;

typedef enum
{
  GST_KLINGO1_ASPECT_RATIO_UNSET,   /* not sent: the API picks from the image */
  GST_KLINGO1_ASPECT_RATIO_16_9,
  GST_KLINGO1_ASPECT_RATIO_9_16,
  GST_KLINGO1_ASPECT_RATIO_1_1,
} GstKlingo1AspectRatio;

/* Documented limits (../shared/api/kling-o1-api.md, section 1.1-1.3). */
#define GST_KLINGO1_PROMPT_MAX_CHARS      5000
#define GST_KLINGO1_IMAGE_MAX_BYTES       (10 * 1024 * 1024)
#define GST_KLINGO1_VIDEO_MAX_BYTES       (100 * 1024 * 1024)
#define GST_KLINGO1_EDIT_MAX_IMAGES       4
#define GST_KLINGO1_CALLBACK_URL_MAX_LEN  2048
#define GST_KLINGO1_DEFAULT_DURATION      5

/**
 * GstKlingo1Request:
 *
 * What to generate: the model, the prompt, the inputs and the options. A
 * plain value, read and written through the accessors below. Inputs are kept
 * as the user gave them (http(s) URLs, file:// URIs or local paths); the job
 * replaces local inputs with uploaded URLs in a copy before it is sent.
 */
typedef struct _GstKlingo1Request GstKlingo1Request;

GstKlingo1Request *gst_klingo1_request_new (GstKlingo1Model model);
GstKlingo1Request *gst_klingo1_request_copy (const GstKlingo1Request * req);
void               gst_klingo1_request_free (GstKlingo1Request * req);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstKlingo1Request, gst_klingo1_request_free)

/* Accessors. Strings are copied in and returned owned by the request. */
GstKlingo1Model gst_klingo1_request_get_model (const GstKlingo1Request * req);
void         gst_klingo1_request_set_model (GstKlingo1Request * req,
                                            GstKlingo1Model model);
/* UTF-8 text, 1..5000 characters */
const gchar *gst_klingo1_request_get_prompt (const GstKlingo1Request * req);
void         gst_klingo1_request_set_prompt (GstKlingo1Request * req,
                                             const gchar * prompt);
/* Ordered inputs. image-to-video: 1 (first frame) or 2 (first, last);
 * video-edit*: 0..4 reference images. */
guint        gst_klingo1_request_get_n_images (const GstKlingo1Request * req);
const gchar *gst_klingo1_request_get_image (const GstKlingo1Request * req,
                                            guint index);
void         gst_klingo1_request_add_image (GstKlingo1Request * req,
                                            const gchar * image);
void         gst_klingo1_request_clear_images (GstKlingo1Request * req);
/* The video to edit; NULL for image-to-video. */
const gchar *gst_klingo1_request_get_video (const GstKlingo1Request * req);
void         gst_klingo1_request_set_video (GstKlingo1Request * req,
                                            const gchar * video);
/* image-to-video only; UNSET sends nothing */
GstKlingo1AspectRatio gst_klingo1_request_get_aspect_ratio (const GstKlingo1Request * req);
void         gst_klingo1_request_set_aspect_ratio (GstKlingo1Request * req,
                                                   GstKlingo1AspectRatio ar);
/* image-to-video only, seconds, 5 or 10; 0 means the default (5). Must be 0
 * for the edit models. */
guint        gst_klingo1_request_get_duration (const GstKlingo1Request * req);
void         gst_klingo1_request_set_duration (GstKlingo1Request * req,
                                               guint seconds);
/* edit models only (sent as keep_original_sound); TRUE by default */
gboolean     gst_klingo1_request_get_keep_original_sound (const GstKlingo1Request * req);
void         gst_klingo1_request_set_keep_original_sound (GstKlingo1Request * req,
                                                          gboolean keep);
/* optional https URL, NULL when unset */
const gchar *gst_klingo1_request_get_callback_url (const GstKlingo1Request * req);
void         gst_klingo1_request_set_callback_url (GstKlingo1Request * req,
                                                   const gchar * url);

const gchar *gst_klingo1_model_to_api_id (GstKlingo1Model model);
gboolean     gst_klingo1_model_from_api_id (const gchar * id,
                                            GstKlingo1Model * model);
const gchar *gst_klingo1_aspect_ratio_to_string (GstKlingo1AspectRatio ar);
gboolean     gst_klingo1_aspect_ratio_from_string (const gchar * s,
                                                   GstKlingo1AspectRatio * ar);

/* Checks every documented limit before anything is sent: prompt length,
 * image/video counts per model, duration, aspect ratio, callback URL (https,
 * <= 2048, no backslash, space or control character, and no host that is
 * localhost or *.localhost or an IP literal, in any spelling inet_aton() or a
 * URL parser accepts (0x7f000001, 2130706433, 127.1, 0177.0.0.1, IPv4 inside
 * IPv6), in a loopback, private, link-local, shared (100.64/10),
 * unique-local, multicast, unspecified, 0/8 or reserved range), and for
 * local inputs existence,
 * size (10 MB image, 100 MB video) and format judged by content (JPEG, PNG,
 * WebP; MP4/MOV). Fails with GST_KLINGO1_ERROR_INVALID_REQUEST; the message
 * names the field (prompt, images, video, duration, aspect-ratio, callback-url)
 * and the limit, and the field is set with gst_klingo1_error_set_field(). */
gboolean gst_klingo1_request_validate (const GstKlingo1Request * req,
                                       GError ** error);

/* The JSON body for POST /v1/videos/generations. All inputs must already be
 * http(s) URLs. Sends only the fields documented for the model. */
gchar   *gst_klingo1_request_to_json (const GstKlingo1Request * req);

/* A lowercase hex SHA-256 identifying what would be generated: model, prompt,
 * aspect ratio, duration, sound flag, and each input (local inputs by the
 * SHA-256 of their contents, remote ones by URL). Never depends on the key.
 * Reads local inputs: call it off the application thread. */
gchar   *gst_klingo1_request_hash (const GstKlingo1Request * req,
                                   GCancellable * cancellable,
                                   GError ** error);
/* The same hash, with each local input's SHA-256 taken from @store's memo
 * (gst_klingo1_store_hash_file()) while the file is unchanged, so a re-run
 * reads none of them. @store NULL: as gst_klingo1_request_hash(). */
gchar   *gst_klingo1_request_hash_with_store (const GstKlingo1Request * req,
                                              GstKlingo1Store * store,
                                              GCancellable * cancellable,
                                              GError ** error);

G_END_DECLS
