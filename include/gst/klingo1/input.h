/* gst-klingo1: local and remote input files
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  GST_KLINGO1_INPUT_FORMAT_UNKNOWN,
  GST_KLINGO1_INPUT_FORMAT_JPEG,
  GST_KLINGO1_INPUT_FORMAT_PNG,
  GST_KLINGO1_INPUT_FORMAT_WEBP,
  GST_KLINGO1_INPUT_FORMAT_MP4,        /* ISO BMFF / QuickTime: .mp4 and .mov */
} GstKlingo1InputFormat;

/* TRUE for http:// and https:// URLs (sent as they are). */
gboolean gst_klingo1_input_is_remote (const gchar * input);

/* The local path of a file:// URI or a plain path; NULL for remote URLs and
 * for file:// URIs whose host is neither empty nor "localhost" (a file on
 * another machine is not the local file of the same path). */
gchar   *gst_klingo1_input_get_local_path (const gchar * input);

/* Judges the format by the first bytes of the content, never by the name. */
GstKlingo1InputFormat gst_klingo1_input_sniff_format (const guint8 * data,
                                                      gsize len);
GstKlingo1InputFormat gst_klingo1_input_sniff_file (const gchar * path,
                                                    GError ** error);
const gchar *gst_klingo1_input_format_to_mime (GstKlingo1InputFormat format);

/* Lowercase hex SHA-256 of a file's contents, read in chunks, cancellable. */
gchar   *gst_klingo1_input_hash_file (const gchar * path,
                                      GCancellable * cancellable,
                                      GError ** error);

G_END_DECLS
