/* gst-klingo1: tests of input classification, sniffing and hashing
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/klingo1/input.h>
#include <gst/klingo1/error.h>

static const guint8 png_head[] = { 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a,
  0, 0, 0, 0x0d, 'I', 'H', 'D', 'R'
};
static const guint8 jpeg_head[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F',
  'I', 'F', 0
};
static const guint8 webp_head[] = { 'R', 'I', 'F', 'F', 0x24, 0, 0, 0, 'W',
  'E', 'B', 'P', 'V', 'P', '8', ' '
};
static const guint8 mp4_head[] = { 0, 0, 0, 0x20, 'f', 't', 'y', 'p', 'i',
  's', 'o', 'm', 0, 0, 2, 0
};
static const guint8 gif_head[] = { 'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0 };

static gchar *tmpdir;

static void
setup (void)
{
  GError *err = NULL;

  tmpdir = g_dir_make_tmp ("klingo1-input-XXXXXX", &err);
  fail_unless (tmpdir != NULL, "%s", err ? err->message : "?");
}

static void
remove_tree (const gchar * dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL) {
    gchar *p = g_build_filename (dir, name, NULL);

    if (g_file_test (p, G_FILE_TEST_IS_DIR))
      remove_tree (p);
    else
      g_unlink (p);
    g_free (p);
  }
  g_dir_close (d);
  g_rmdir (dir);
}

static void
teardown (void)
{
  remove_tree (tmpdir);
  g_clear_pointer (&tmpdir, g_free);
}

static gchar *
write_file (const gchar * name, const guint8 * data, gsize len)
{
  gchar *path = g_build_filename (tmpdir, name, NULL);
  GError *err = NULL;

  fail_unless (g_file_set_contents (path, (const gchar *) data, len, &err),
      "%s", err ? err->message : "?");
  return path;
}

GST_START_TEST (test_is_remote)
{
  fail_unless (gst_klingo1_input_is_remote ("http://example.com/a.png"));
  fail_unless (gst_klingo1_input_is_remote ("https://example.com/a.png?x=1"));
  fail_unless (gst_klingo1_input_is_remote ("HTTPS://example.com/a.png"));
  fail_unless (gst_klingo1_input_is_remote ("HtTp://example.com/a.png"));
  fail_if (gst_klingo1_input_is_remote ("file:///tmp/a.png"));
  fail_if (gst_klingo1_input_is_remote ("ftp://example.com/a.png"));
  fail_if (gst_klingo1_input_is_remote ("/tmp/a.png"));
  fail_if (gst_klingo1_input_is_remote ("a.png"));
  fail_if (gst_klingo1_input_is_remote ("httpx://example.com"));
  fail_if (gst_klingo1_input_is_remote (""));
  fail_if (gst_klingo1_input_is_remote (NULL));
}

GST_END_TEST;

GST_START_TEST (test_local_path)
{
  gchar *p;

  p = gst_klingo1_input_get_local_path ("/tmp/a b.png");
  fail_unless_equals_string (p, "/tmp/a b.png");
  g_free (p);

  /* relative paths are returned as given */
  p = gst_klingo1_input_get_local_path ("dir/a.png");
  fail_unless_equals_string (p, "dir/a.png");
  g_free (p);

  p = gst_klingo1_input_get_local_path ("file:///tmp/a%20b.png");
  fail_unless_equals_string (p, "/tmp/a b.png");
  g_free (p);

  p = gst_klingo1_input_get_local_path ("FILE:///tmp/x.png");
  fail_unless_equals_string (p, "/tmp/x.png");
  g_free (p);

  /* file://localhost/ is this host too (RFC 8089), in any case */
  p = gst_klingo1_input_get_local_path ("file://localhost/tmp/x.png");
  fail_unless_equals_string (p, "/tmp/x.png");
  g_free (p);
  p = gst_klingo1_input_get_local_path ("file://LocalHost/tmp/x.png");
  fail_unless_equals_string (p, "/tmp/x.png");
  g_free (p);

  /* a file on another host is not the local file of the same path */
  fail_unless (gst_klingo1_input_get_local_path
      ("file://otherhost/etc/passwd") == NULL);
  fail_unless (gst_klingo1_input_get_local_path
      ("file://127.0.0.1/etc/passwd") == NULL);
  fail_unless (gst_klingo1_input_get_local_path
      ("FILE://fileserver.example.com/share/a.png") == NULL);

  fail_unless (gst_klingo1_input_get_local_path ("http://e.com/a.png") == NULL);
  fail_unless (gst_klingo1_input_get_local_path ("https://e.com/a.png") ==
      NULL);
  fail_unless (gst_klingo1_input_get_local_path ("ftp://e.com/a.png") == NULL);
}

GST_END_TEST;

GST_START_TEST (test_sniff_format)
{
  static const gchar *const boxes[] = { "ftyp", "moov", "mdat", "wide",
    "free", "skip", "pnot"
  };
  guint8 buf[16];
  guint i;

  fail_unless_equals_int (gst_klingo1_input_sniff_format (png_head,
          sizeof (png_head)), GST_KLINGO1_INPUT_FORMAT_PNG);
  fail_unless_equals_int (gst_klingo1_input_sniff_format (jpeg_head,
          sizeof (jpeg_head)), GST_KLINGO1_INPUT_FORMAT_JPEG);
  fail_unless_equals_int (gst_klingo1_input_sniff_format (jpeg_head, 3),
      GST_KLINGO1_INPUT_FORMAT_JPEG);
  fail_unless_equals_int (gst_klingo1_input_sniff_format (webp_head,
          sizeof (webp_head)), GST_KLINGO1_INPUT_FORMAT_WEBP);
  fail_unless_equals_int (gst_klingo1_input_sniff_format (mp4_head,
          sizeof (mp4_head)), GST_KLINGO1_INPUT_FORMAT_MP4);
  fail_unless_equals_int (gst_klingo1_input_sniff_format (gif_head,
          sizeof (gif_head)), GST_KLINGO1_INPUT_FORMAT_UNKNOWN);

  for (i = 0; i < G_N_ELEMENTS (boxes); i++) {
    memset (buf, 0, sizeof (buf));
    buf[3] = 8;
    memcpy (buf + 4, boxes[i], 4);
    fail_unless_equals_int (gst_klingo1_input_sniff_format (buf, 8),
        GST_KLINGO1_INPUT_FORMAT_MP4);
  }

  /* truncated signatures are not enough */
  fail_unless_equals_int (gst_klingo1_input_sniff_format (png_head, 7),
      GST_KLINGO1_INPUT_FORMAT_UNKNOWN);
  fail_unless_equals_int (gst_klingo1_input_sniff_format (jpeg_head, 2),
      GST_KLINGO1_INPUT_FORMAT_UNKNOWN);
  fail_unless_equals_int (gst_klingo1_input_sniff_format (webp_head, 11),
      GST_KLINGO1_INPUT_FORMAT_UNKNOWN);
  fail_unless_equals_int (gst_klingo1_input_sniff_format (mp4_head, 7),
      GST_KLINGO1_INPUT_FORMAT_UNKNOWN);
  fail_unless_equals_int (gst_klingo1_input_sniff_format (NULL, 0),
      GST_KLINGO1_INPUT_FORMAT_UNKNOWN);

  /* RIFF but not WebP (a WAV file) */
  memcpy (buf, "RIFF\0\0\0\0WAVEfmt ", 16);
  fail_unless_equals_int (gst_klingo1_input_sniff_format (buf, 16),
      GST_KLINGO1_INPUT_FORMAT_UNKNOWN);
}

GST_END_TEST;

GST_START_TEST (test_sniff_file)
{
  GError *err = NULL;
  gchar *p;

  /* the name says PNG, the content says JPEG: content wins */
  p = write_file ("really-a-jpeg.png", jpeg_head, sizeof (jpeg_head));
  fail_unless_equals_int (gst_klingo1_input_sniff_file (p, &err),
      GST_KLINGO1_INPUT_FORMAT_JPEG);
  fail_unless (err == NULL);
  g_free (p);

  p = write_file ("a.mov", mp4_head, sizeof (mp4_head));
  fail_unless_equals_int (gst_klingo1_input_sniff_file (p, &err),
      GST_KLINGO1_INPUT_FORMAT_MP4);
  g_free (p);

  p = write_file ("x.webp", webp_head, sizeof (webp_head));
  fail_unless_equals_int (gst_klingo1_input_sniff_file (p, &err),
      GST_KLINGO1_INPUT_FORMAT_WEBP);
  g_free (p);

  p = write_file ("x.gif", gif_head, sizeof (gif_head));
  fail_unless_equals_int (gst_klingo1_input_sniff_file (p, &err),
      GST_KLINGO1_INPUT_FORMAT_UNKNOWN);
  fail_unless (err == NULL);
  g_free (p);

  p = write_file ("empty.png", (const guint8 *) "", 0);
  fail_unless_equals_int (gst_klingo1_input_sniff_file (p, &err),
      GST_KLINGO1_INPUT_FORMAT_UNKNOWN);
  fail_unless (err == NULL);
  g_free (p);

  p = g_build_filename (tmpdir, "missing.png", NULL);
  fail_unless_equals_int (gst_klingo1_input_sniff_file (p, &err),
      GST_KLINGO1_INPUT_FORMAT_UNKNOWN);
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_IO));
  fail_unless (strstr (err->message, "missing.png") != NULL);
  g_clear_error (&err);
  g_free (p);
}

GST_END_TEST;

/* Unix file names are bytes: errors quoting one must still be UTF-8, as
 * they end up in bus messages, logs and UIs. */
GST_START_TEST (test_non_utf8_path)
{
  GError *err = NULL;
  gchar *p, *h, *uri, *back;

  p = g_build_filename (tmpdir, "\xffmissing.png", NULL);
  fail_unless_equals_int (gst_klingo1_input_sniff_file (p, &err),
      GST_KLINGO1_INPUT_FORMAT_UNKNOWN);
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO));
  fail_unless (g_utf8_validate (err->message, -1, NULL));
  fail_unless (strstr (err->message, "missing.png") != NULL, "%s",
      err->message);
  g_clear_error (&err);

  h = gst_klingo1_input_hash_file (p, NULL, &err);
  fail_unless (h == NULL);
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO));
  fail_unless (g_utf8_validate (err->message, -1, NULL));
  fail_unless (strstr (err->message, "missing.png") != NULL, "%s",
      err->message);
  g_clear_error (&err);
  g_free (p);

  /* such a file is read like any other, as a path or a file:// URI */
  p = write_file ("\xff.png", png_head, sizeof (png_head));
  fail_unless_equals_int (gst_klingo1_input_sniff_file (p, &err),
      GST_KLINGO1_INPUT_FORMAT_PNG);
  fail_unless (err == NULL);
  h = gst_klingo1_input_hash_file (p, NULL, &err);
  fail_unless (h != NULL);
  g_free (h);
  uri = g_filename_to_uri (p, NULL, NULL);
  back = gst_klingo1_input_get_local_path (uri);
  fail_unless_equals_string (back, p);
  g_free (back);
  g_free (uri);
  g_free (p);
}

GST_END_TEST;

GST_START_TEST (test_mime)
{
  fail_unless_equals_string (gst_klingo1_input_format_to_mime
      (GST_KLINGO1_INPUT_FORMAT_JPEG), "image/jpeg");
  fail_unless_equals_string (gst_klingo1_input_format_to_mime
      (GST_KLINGO1_INPUT_FORMAT_PNG), "image/png");
  fail_unless_equals_string (gst_klingo1_input_format_to_mime
      (GST_KLINGO1_INPUT_FORMAT_WEBP), "image/webp");
  fail_unless_equals_string (gst_klingo1_input_format_to_mime
      (GST_KLINGO1_INPUT_FORMAT_MP4), "video/mp4");
  fail_unless (gst_klingo1_input_format_to_mime
      (GST_KLINGO1_INPUT_FORMAT_UNKNOWN) == NULL);
}

GST_END_TEST;

GST_START_TEST (test_hash_file)
{
  GError *err = NULL;
  GCancellable *cancellable;
  gchar *p, *h, *big;
  guint8 *data;
  gsize len = 200 * 1024 + 17;      /* several chunks, last one partial */
  gsize i;

  /* known vector: SHA-256 of "abc" */
  p = write_file ("abc", (const guint8 *) "abc", 3);
  h = gst_klingo1_input_hash_file (p, NULL, &err);
  fail_unless (err == NULL);
  fail_unless_equals_string (h,
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  g_free (h);
  g_free (p);

  p = write_file ("empty", (const guint8 *) "", 0);
  h = gst_klingo1_input_hash_file (p, NULL, &err);
  fail_unless_equals_string (h,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  g_free (h);
  g_free (p);

  /* chunked reading gives the same digest as hashing it in one go */
  data = g_malloc (len);
  for (i = 0; i < len; i++)
    data[i] = (guint8) (i * 31 + 7);
  big = write_file ("big", data, len);
  h = gst_klingo1_input_hash_file (big, NULL, &err);
  fail_unless (err == NULL);
  {
    gchar *expect = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);

    fail_unless_equals_string (h, expect);
    g_free (expect);
  }
  g_free (h);
  g_free (data);

  /* cancelled: G_IO_ERROR_CANCELLED, not an I/O failure */
  cancellable = g_cancellable_new ();
  g_cancellable_cancel (cancellable);
  h = gst_klingo1_input_hash_file (big, cancellable, &err);
  fail_unless (h == NULL);
  fail_unless (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error (&err);
  g_object_unref (cancellable);
  g_free (big);

  p = g_build_filename (tmpdir, "missing", NULL);
  h = gst_klingo1_input_hash_file (p, NULL, &err);
  fail_unless (h == NULL);
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_IO));
  g_clear_error (&err);
  g_free (p);
}

GST_END_TEST;

static Suite *
input_suite (void)
{
  Suite *s = suite_create ("klingo1-input");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_is_remote);
  tcase_add_test (tc, test_local_path);
  tcase_add_test (tc, test_sniff_format);
  tcase_add_test (tc, test_sniff_file);
  tcase_add_test (tc, test_non_utf8_path);
  tcase_add_test (tc, test_mime);
  tcase_add_test (tc, test_hash_file);

  return s;
}

GST_CHECK_MAIN (input);
