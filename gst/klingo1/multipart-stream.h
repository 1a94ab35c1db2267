/* gst-klingo1: a multipart/form-data body streamed from a file, not installed
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define GST_TYPE_KLINGO1_MULTIPART_STREAM \
  (gst_klingo1_multipart_stream_get_type ())
G_DECLARE_FINAL_TYPE (GstKlingo1MultipartStream, gst_klingo1_multipart_stream,
    GST, KLINGO1_MULTIPART_STREAM, GInputStream)

/* Opens @path and makes the body of a form with one part, field @field,
 * holding the file: boundary and part headers from memory, then the file as
 * it is read, then the closing boundary. Memory use does not depend on the
 * file's size, and the file is read once, as the stream is read (the first
 * few KiB already here, to judge its type by content). A stream is good for
 * one request: a retry makes a new one.
 *
 * The part's filename is the base name made valid UTF-8
 * (g_filename_display_basename) with '"', CR and LF percent-encoded, as
 * browsers do. Fails with GST_KLINGO1_ERROR_IO when the file cannot be read
 * or is not a regular file. */
GstKlingo1MultipartStream *gst_klingo1_multipart_stream_new (const gchar * path,
                                                             const gchar * field,
                                                             GCancellable * cancellable,
                                                             GError ** error);

/* The exact number of bytes the stream gives (for Content-Length). */
goffset      gst_klingo1_multipart_stream_get_length (GstKlingo1MultipartStream * stream);
/* The size of the file, as it was when opened. */
goffset      gst_klingo1_multipart_stream_get_file_size (GstKlingo1MultipartStream * stream);
/* "multipart/form-data; boundary=..." for the request. */
const gchar *gst_klingo1_multipart_stream_get_content_type (GstKlingo1MultipartStream * stream);
/* The Content-Type of the file part (judged by content, then by name). */
const gchar *gst_klingo1_multipart_stream_get_part_type (GstKlingo1MultipartStream * stream);
/* The filename parameter as sent. */
const gchar *gst_klingo1_multipart_stream_get_filename (GstKlingo1MultipartStream * stream);

G_END_DECLS
