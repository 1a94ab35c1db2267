/* gst-klingo1: a multipart/form-data body streamed from a file
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * SoupMultipart builds the whole body in memory: 100 MB of video would be
 * 100 MB of heap (twice, while it is flattened). This stream is the same body
 * (RFC 7578) in three pieces: a prefix in memory (boundary, part headers and
 * the first bytes of the file, read to judge its type), the rest of the file
 * as libsoup reads it, and the closing boundary.
 */
#include "config.h"

#include <string.h>

#include <gst/klingo1/error.h>
#include <gst/klingo1/input.h>

#include "multipart-stream.h"

/* Enough for every format gst_klingo1_input_sniff_format() knows. */
#define SNIFF_BYTES 4096

typedef enum
{
  STAGE_PREFIX,
  STAGE_FILE,
  STAGE_SUFFIX,
  STAGE_DONE,
} Stage;

struct _GstKlingo1MultipartStream
{
  GInputStream parent;

  gchar *display_name;          /* of the path, for messages */
  GInputStream *file;
  goffset file_size;
  goffset file_left;            /* bytes still to read from @file */
  goffset length;               /* of the whole body, fixed when opened */
  GBytes *prefix;               /* headers + the sniffed start of the file */
  GBytes *suffix;
  gchar *content_type;
  gchar *part_type;
  gchar *filename;

  Stage stage;
  gsize offset;                 /* within prefix or suffix */
};

G_DEFINE_FINAL_TYPE (GstKlingo1MultipartStream, gst_klingo1_multipart_stream,
    G_TYPE_INPUT_STREAM);

/* Copies from a memory piece; 0 when it is used up. */
static gsize
copy_piece (GstKlingo1MultipartStream * self, GBytes * piece, guint8 * buffer,
    gsize count)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (piece, &size);
  gsize n = MIN (count, size - self->offset);

  memcpy (buffer, data + self->offset, n);
  self->offset += n;
  return n;
}

static gssize
gst_klingo1_multipart_stream_read (GInputStream * stream, void *buffer,
    gsize count, GCancellable * cancellable, GError ** error)
{
  GstKlingo1MultipartStream *self = GST_KLINGO1_MULTIPART_STREAM (stream);
  gsize n;

  for (;;) {
    switch (self->stage) {
      case STAGE_PREFIX:
        n = copy_piece (self, self->prefix, buffer, count);
        if (n > 0)
          return n;
        self->stage = STAGE_FILE;
        break;

      case STAGE_FILE:
        if (self->file_left > 0) {
          gssize got = g_input_stream_read (self->file, buffer,
              MIN ((goffset) count, self->file_left), cancellable, error);

          if (got < 0)
            return -1;
          if (got == 0) {
            /* the Content-Length went out already: a short body would
             * only make the server wait for the rest */
            g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
                "%s shrank while it was being uploaded",
                self->display_name);
            return -1;
          }
          self->file_left -= got;
          return got;
        } else {
          guint8 extra;
          gssize got = g_input_stream_read (self->file, &extra, 1,
              cancellable, error);

          if (got < 0)
            return -1;
          if (got > 0) {
            /* a cut-off copy would be accepted and used as if whole */
            g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
                "%s grew while it was being uploaded", self->display_name);
            return -1;
          }
        }
        self->stage = STAGE_SUFFIX;
        self->offset = 0;
        break;

      case STAGE_SUFFIX:
        n = copy_piece (self, self->suffix, buffer, count);
        if (n > 0)
          return n;
        self->stage = STAGE_DONE;
        break;

      case STAGE_DONE:
      default:
        return 0;
    }
  }
}

static gboolean
gst_klingo1_multipart_stream_close (GInputStream * stream,
    GCancellable * cancellable, GError ** error)
{
  GstKlingo1MultipartStream *self = GST_KLINGO1_MULTIPART_STREAM (stream);

  /* a stream that failed to open is closed when it is freed */
  if (self->file == NULL)
    return TRUE;
  return g_input_stream_close (self->file, cancellable, error);
}

static void
gst_klingo1_multipart_stream_finalize (GObject * object)
{
  GstKlingo1MultipartStream *self = GST_KLINGO1_MULTIPART_STREAM (object);

  g_clear_object (&self->file);
  g_clear_pointer (&self->prefix, g_bytes_unref);
  g_clear_pointer (&self->suffix, g_bytes_unref);
  g_free (self->display_name);
  g_free (self->content_type);
  g_free (self->part_type);
  g_free (self->filename);

  G_OBJECT_CLASS (gst_klingo1_multipart_stream_parent_class)->finalize
      (object);
}

static void
gst_klingo1_multipart_stream_class_init (GstKlingo1MultipartStreamClass *
    klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = gst_klingo1_multipart_stream_finalize;
  stream_class->read_fn = gst_klingo1_multipart_stream_read;
  stream_class->close_fn = gst_klingo1_multipart_stream_close;
}

static void
gst_klingo1_multipart_stream_init (GstKlingo1MultipartStream * self)
{
}

/* A quoted-string parameter value that cannot end the header or the quotes
 * early: the WHATWG form encoding (what browsers send, so what servers
 * expect) percent-encodes exactly these three. */
static gchar *
escape_filename (const gchar * name)
{
  GString *s = g_string_new (NULL);
  const gchar *p;

  for (p = name; *p; p++) {
    switch (*p) {
      case '"':
        g_string_append (s, "%22");
        break;
      case '\r':
        g_string_append (s, "%0D");
        break;
      case '\n':
        g_string_append (s, "%0A");
        break;
      default:
        g_string_append_c (s, *p);
        break;
    }
  }
  return g_string_free (s, FALSE);
}

/* By content, as the server will judge it; the name is only a fallback. */
static gchar *
part_type_for (const gchar * path, const guint8 * head, gsize len)
{
  const gchar *mime = gst_klingo1_input_format_to_mime
      (gst_klingo1_input_sniff_format (head, len));
  g_autofree gchar *guessed = NULL;
  gchar *type;

  if (mime != NULL)
    return g_strdup (mime);
  guessed = g_content_type_guess (path, NULL, 0, NULL);
  type = guessed ? g_content_type_get_mime_type (guessed) : NULL;
  return type ? type : g_strdup ("application/octet-stream");
}

/* 128 random bits: the chance of meeting it in the file is nil, which is
 * what RFC 2046 asks of a boundary that is not checked against the data. */
static gchar *
new_boundary (void)
{
  g_autofree gchar *uuid = g_uuid_string_random ();
  GString *s = g_string_new ("gst-klingo1-");
  const gchar *p;

  for (p = uuid; *p; p++) {
    if (*p != '-')
      g_string_append_c (s, *p);
  }
  return g_string_free (s, FALSE);
}

static gboolean
set_read_error (GError ** error, const gchar * display_name, GError * err)
{
  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
      "Cannot read %s: %s", display_name, err->message);
  return FALSE;
}

GstKlingo1MultipartStream *
gst_klingo1_multipart_stream_new (const gchar * path, const gchar * field,
    GCancellable * cancellable, GError ** error)
{
  g_autoptr (GstKlingo1MultipartStream) self = NULL;
  g_autoptr (GFile) file = NULL;
  g_autoptr (GFileInputStream) input = NULL;
  g_autoptr (GFileInfo) info = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *basename = NULL;
  g_autofree gchar *boundary = NULL;
  guint8 head[SNIFF_BYTES];
  gsize head_len = 0;
  GString *prefix;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (field != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (GST_TYPE_KLINGO1_MULTIPART_STREAM, NULL);
  self->display_name = g_filename_display_name (path);

  file = g_file_new_for_path (path);
  input = g_file_read (file, cancellable, &err);
  if (input == NULL) {
    set_read_error (error, self->display_name, err);
    return NULL;
  }
  /* the size of what is open, not of what the path names a moment later */
  info = g_file_input_stream_query_info (input,
      G_FILE_ATTRIBUTE_STANDARD_SIZE "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
      cancellable, &err);
  if (info == NULL) {
    set_read_error (error, self->display_name, err);
    return NULL;
  }
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "Cannot upload %s: not a regular file", self->display_name);
    return NULL;
  }
  self->file_size = g_file_info_get_size (info);

  if (!g_input_stream_read_all (G_INPUT_STREAM (input), head,
          MIN ((goffset) sizeof (head), self->file_size), &head_len,
          cancellable, &err)) {
    set_read_error (error, self->display_name, err);
    return NULL;
  }
  self->file_left = self->file_size - head_len;
  self->file = G_INPUT_STREAM (g_steal_pointer (&input));

  self->part_type = part_type_for (path, head, head_len);
  basename = g_filename_display_basename (path);
  self->filename = escape_filename (basename);
  boundary = new_boundary ();
  self->content_type = g_strdup_printf ("multipart/form-data; boundary=%s",
      boundary);

  prefix = g_string_new (NULL);
  g_string_append_printf (prefix, "--%s\r\n"
      "Content-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
      "Content-Type: %s\r\n\r\n", boundary, field, self->filename,
      self->part_type);
  g_string_append_len (prefix, (const gchar *) head, head_len);
  self->prefix = g_string_free_to_bytes (prefix);
  self->suffix = g_bytes_new_take (g_strdup_printf ("\r\n--%s--\r\n",
          boundary), strlen (boundary) + 8);
  /* the prefix holds the first file bytes already read */
  self->length = (goffset) g_bytes_get_size (self->prefix) + self->file_left
      + (goffset) g_bytes_get_size (self->suffix);

  return g_steal_pointer (&self);
}

goffset
gst_klingo1_multipart_stream_get_length (GstKlingo1MultipartStream * stream)
{
  g_return_val_if_fail (GST_IS_KLINGO1_MULTIPART_STREAM (stream), -1);

  return stream->length;
}

goffset
gst_klingo1_multipart_stream_get_file_size (GstKlingo1MultipartStream * stream)
{
  g_return_val_if_fail (GST_IS_KLINGO1_MULTIPART_STREAM (stream), -1);

  return stream->file_size;
}

const gchar *
gst_klingo1_multipart_stream_get_content_type (GstKlingo1MultipartStream *
    stream)
{
  g_return_val_if_fail (GST_IS_KLINGO1_MULTIPART_STREAM (stream), NULL);

  return stream->content_type;
}

const gchar *
gst_klingo1_multipart_stream_get_part_type (GstKlingo1MultipartStream *
    stream)
{
  g_return_val_if_fail (GST_IS_KLINGO1_MULTIPART_STREAM (stream), NULL);

  return stream->part_type;
}

const gchar *
gst_klingo1_multipart_stream_get_filename (GstKlingo1MultipartStream * stream)
{
  g_return_val_if_fail (GST_IS_KLINGO1_MULTIPART_STREAM (stream), NULL);

  return stream->filename;
}
