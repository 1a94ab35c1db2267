/* gst-klingo1: local and remote input files
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Inputs are strings as the user gave them: an http(s) URL that the API
 * fetches itself, a file:// URI or a plain path. Formats are judged by the
 * first bytes of the content only; a name ending in .png proves nothing, and
 * the API rejects (or the upstream task fails on) content it cannot decode.
 */
#include <string.h>

#include <gst/klingo1/input.h>
#include <gst/klingo1/error.h>

/* Enough for every signature below (WebP needs 12, ISO BMFF 8). */
#define SNIFF_LEN 16
#define HASH_CHUNK (64 * 1024)

gboolean
gst_klingo1_input_is_remote (const gchar * input)
{
  if (input == NULL)
    return FALSE;

  /* URI schemes are case-insensitive (RFC 3986, 3.1). */
  return g_ascii_strncasecmp (input, "http://", 7) == 0
      || g_ascii_strncasecmp (input, "https://", 8) == 0;
}

gchar *
gst_klingo1_input_get_local_path (const gchar * input)
{
  g_autofree gchar *scheme = NULL;

  g_return_val_if_fail (input != NULL, NULL);

  if (strstr (input, "://") == NULL)
    return g_strdup (input);

  scheme = g_uri_parse_scheme (input);
  if (scheme != NULL && g_ascii_strcasecmp (scheme, "file") == 0) {
    g_autofree gchar *host = NULL;
    g_autofree gchar *path = g_filename_from_uri (input, &host, NULL);

    /* file://otherhost/path names a file on otherhost (RFC 8089): reading
     * the local /path instead would send some other file to the API.
     * "localhost" (any case) and an empty host are this machine. */
    if (host != NULL && *host != '\0'
        && g_ascii_strcasecmp (host, "localhost") != 0)
      return NULL;
    return g_steal_pointer (&path);
  }

  /* http(s), ftp, ... : not something we can open locally */
  return NULL;
}

GstKlingo1InputFormat
gst_klingo1_input_sniff_format (const guint8 * data, gsize len)
{
  static const guint8 png_sig[8] = { 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a,
    0x0a
  };
  static const gchar *const bmff_boxes[] = { "ftyp", "moov", "mdat", "wide",
    "free", "skip", "pnot"
  };
  guint i;

  if (data == NULL)
    return GST_KLINGO1_INPUT_FORMAT_UNKNOWN;

  if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    return GST_KLINGO1_INPUT_FORMAT_JPEG;

  if (len >= sizeof (png_sig) && memcmp (data, png_sig, sizeof (png_sig)) == 0)
    return GST_KLINGO1_INPUT_FORMAT_PNG;

  if (len >= 12 && memcmp (data, "RIFF", 4) == 0
      && memcmp (data + 8, "WEBP", 4) == 0)
    return GST_KLINGO1_INPUT_FORMAT_WEBP;

  /* ISO BMFF and QuickTime both start with a box: 4 bytes of size, then the
   * box type. Old QuickTime files may start with moov/mdat/wide/free/skip/pnot
   * instead of ftyp. */
  if (len >= 8) {
    for (i = 0; i < G_N_ELEMENTS (bmff_boxes); i++) {
      if (memcmp (data + 4, bmff_boxes[i], 4) == 0)
        return GST_KLINGO1_INPUT_FORMAT_MP4;
    }
  }

  return GST_KLINGO1_INPUT_FORMAT_UNKNOWN;
}

/* File errors become GST_KLINGO1_ERROR_IO naming the path, except
 * cancellation, which stays G_IO_ERROR_CANCELLED so that callers can tell a
 * stop request from a failure (as everywhere else in the library). A file
 * name is bytes, a message UTF-8: quote the display name. */
static void
propagate_io_error (GError ** dest, GError * src, const gchar * path)
{
  g_autofree gchar *shown = NULL;
  g_autofree gchar *detail = NULL;

  if (g_error_matches (src, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_propagate_error (dest, src);
    return;
  }

  shown = g_filename_display_name (path);
  /* GIO quotes display names itself, but don't bet the message on it */
  detail = g_utf8_make_valid (src->message, -1);
  g_set_error (dest, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO, "%s: %s", shown,
      detail);
  g_error_free (src);
}

GstKlingo1InputFormat
gst_klingo1_input_sniff_file (const gchar * path, GError ** error)
{
  g_autoptr (GFile) file = NULL;
  g_autoptr (GFileInputStream) stream = NULL;
  guint8 buf[SNIFF_LEN];
  gsize got = 0;
  GError *err = NULL;

  g_return_val_if_fail (path != NULL, GST_KLINGO1_INPUT_FORMAT_UNKNOWN);
  g_return_val_if_fail (error == NULL || *error == NULL,
      GST_KLINGO1_INPUT_FORMAT_UNKNOWN);

  file = g_file_new_for_path (path);
  stream = g_file_read (file, NULL, &err);
  if (stream == NULL) {
    propagate_io_error (error, err, path);
    return GST_KLINGO1_INPUT_FORMAT_UNKNOWN;
  }

  /* read_all: a short file is fine (got < SNIFF_LEN), the sniffer checks
   * lengths itself */
  if (!g_input_stream_read_all (G_INPUT_STREAM (stream), buf, sizeof (buf),
          &got, NULL, &err)) {
    propagate_io_error (error, err, path);
    return GST_KLINGO1_INPUT_FORMAT_UNKNOWN;
  }

  return gst_klingo1_input_sniff_format (buf, got);
}

const gchar *
gst_klingo1_input_format_to_mime (GstKlingo1InputFormat format)
{
  switch (format) {
    case GST_KLINGO1_INPUT_FORMAT_JPEG:
      return "image/jpeg";
    case GST_KLINGO1_INPUT_FORMAT_PNG:
      return "image/png";
    case GST_KLINGO1_INPUT_FORMAT_WEBP:
      return "image/webp";
    case GST_KLINGO1_INPUT_FORMAT_MP4:
      return "video/mp4";
    case GST_KLINGO1_INPUT_FORMAT_UNKNOWN:
    default:
      return NULL;
  }
}

gchar *
gst_klingo1_input_hash_file (const gchar * path, GCancellable * cancellable,
    GError ** error)
{
  g_autoptr (GFile) file = NULL;
  g_autoptr (GFileInputStream) stream = NULL;
  g_autoptr (GChecksum) checksum = NULL;
  g_autofree guint8 *buf = NULL;
  GError *err = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  file = g_file_new_for_path (path);
  stream = g_file_read (file, cancellable, &err);
  if (stream == NULL) {
    propagate_io_error (error, err, path);
    return NULL;
  }

  /* Inputs can be 100 MB videos: stream them instead of loading them, and
   * check the cancellable between chunks (the read does). */
  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  buf = g_malloc (HASH_CHUNK);
  for (;;) {
    gssize n = g_input_stream_read (G_INPUT_STREAM (stream), buf, HASH_CHUNK,
        cancellable, &err);

    if (n < 0) {
      propagate_io_error (error, err, path);
      return NULL;
    }
    if (n == 0)
      break;
    g_checksum_update (checksum, buf, n);
  }

  return g_strdup (g_checksum_get_string (checksum));
}
