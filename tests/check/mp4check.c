/* gst-klingo1: MP4 structure check tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Real files come from GStreamer's muxers (mp4mux with the moov first and
 * last, fragmented, and a qtmux .mov); damaged ones are copies of them, or
 * boxes built by hand where a muxer would never produce them (64-bit sizes,
 * a moov behind a 5 GiB mdat, unknown durations).
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/klingo1/error.h>

#include "mp4check.h"

/* 48 frames at 24 fps */
#define CLIP_SECONDS 2.0

static gchar *tmp_dir;
static gchar *faststart_path, *moov_last_path, *fragmented_path, *mov_path;

static gchar *
make_clip (const gchar * name, const gchar * muxer)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstMessage) msg = NULL;
  g_autofree gchar *desc = NULL;
  gchar *path = g_build_filename (tmp_dir, name, NULL);

  desc = g_strdup_printf ("videotestsrc num-buffers=48 ! "
      "video/x-raw,width=160,height=120,framerate=24/1 ! "
      "x264enc speed-preset=ultrafast tune=zerolatency ! %s ! "
      "filesink location=\"%s\"", muxer, path);
  pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "%s: no EOS", desc);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return path;
}

static void
make_clips (void)
{
  tmp_dir = g_dir_make_tmp ("klingo1-mp4check-XXXXXX", NULL);
  fail_unless (tmp_dir != NULL);
  faststart_path = make_clip ("faststart.mp4", "mp4mux faststart=true");
  moov_last_path = make_clip ("moov-last.mp4", "mp4mux faststart=false");
  fragmented_path = make_clip ("fragmented.mp4",
      "mp4mux fragment-duration=500");
  mov_path = make_clip ("clip.mov", "qtmux");
  /* This runs before the tests fork: the streaming threads must be gone, or
   * each test's cleanup waits for pool threads that do not exist in it. */
  gst_task_cleanup_all ();
}

static void
remove_clips (void)
{
  g_autoptr (GDir) dir = g_dir_open (tmp_dir, 0, NULL);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *path = g_build_filename (tmp_dir, name, NULL);

    g_unlink (path);
  }
  g_rmdir (tmp_dir);
  g_clear_pointer (&tmp_dir, g_free);
  g_clear_pointer (&faststart_path, g_free);
  g_clear_pointer (&moov_last_path, g_free);
  g_clear_pointer (&fragmented_path, g_free);
  g_clear_pointer (&mov_path, g_free);
}

static GBytes *
read_all (const gchar * path)
{
  g_autoptr (GError) error = NULL;
  gchar *data;
  gsize len;

  fail_unless (g_file_get_contents (path, &data, &len, &error), "%s: %s",
      path, error ? error->message : "");
  return g_bytes_new_take (data, len);
}

static gchar *
write_file (const gchar * name, gconstpointer data, gsize len)
{
  g_autoptr (GError) error = NULL;
  gchar *path = g_build_filename (tmp_dir, name, NULL);

  fail_unless (g_file_set_contents (path, data, len, &error), "%s: %s",
      path, error ? error->message : "");
  return path;
}

/* check_fd () on a whole file; the error (if any) in @error. */
static gboolean
check_path (const gchar * path, GError ** error)
{
  struct stat st;
  gboolean ok;
  int fd = g_open (path, O_RDONLY, 0);

  fail_unless (fd >= 0);
  fail_unless (fstat (fd, &st) == 0);
  ok = gst_klingo1_mp4_check_fd (fd, st.st_size, error);
  close (fd);
  fail_unless (ok == (error == NULL || *error == NULL));
  return ok;
}

/* The file is rejected as a protocol error whose message contains each of
 * the NULL-terminated strings. */
static void
assert_rejected (const gchar * path, ...)
{
  g_autoptr (GError) error = NULL;
  const gchar *expected;
  va_list args;

  fail_if (check_path (path, &error), "%s: accepted", path);
  g_assert_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL);
  GST_INFO ("%s: %s", path, error->message);
  va_start (args, path);
  while ((expected = va_arg (args, const gchar *)) != NULL)
    fail_unless (strstr (error->message, expected) != NULL,
        "%s: \"%s\" does not say \"%s\"", path, error->message, expected);
  va_end (args);
}

/* GST_WRITE_UINT*_BE store through a wider pointer: undefined behaviour at
 * the odd offsets used here (UBSan says so). */
static void
write_be32 (guint8 * p, guint32 v)
{
  v = GUINT32_TO_BE (v);
  memcpy (p, &v, sizeof (v));
}

static void
write_be64 (guint8 * p, guint64 v)
{
  v = GUINT64_TO_BE (v);
  memcpy (p, &v, sizeof (v));
}

/* Top-level box types, for checking that each muxer made the layout the
 * test means to cover.  Independent of the code under test, and naive. */
static gchar *
layout (GBytes * bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  GString *s = g_string_new (NULL);
  guint64 offset = 0;

  while (offset + 8 <= len) {
    guint64 size = gst_klingo1_read_be32 (data + offset);

    if (size == 1)
      size = gst_klingo1_read_be64 (data + offset + 8);
    else if (size == 0)
      size = len - offset;
    g_string_append_printf (s, "%s%.4s", s->len ? " " : "",
        (const gchar *) data + offset + 4);
    fail_unless (size >= 8);
    offset += size;
  }
  return g_string_free (s, FALSE);
}

static void
assert_duration (const gchar * path, gdouble expected)
{
  g_autoptr (GError) error = NULL;
  gdouble seconds = -1;

  fail_unless (gst_klingo1_mp4_read_duration (path, &seconds, NULL, &error),
      "%s: %s", path, error ? error->message : "");
  g_assert_no_error (error);
  fail_unless (G_APPROX_VALUE (seconds, expected, 0.1), "%s: %f s, not %f",
      path, seconds, expected);
}

/* --- boxes by hand --- */

static void
put_u32 (GByteArray * a, guint32 v)
{
  guint8 b[4];

  write_be32 (b, v);
  g_byte_array_append (a, b, 4);
}

static void
put_u64 (GByteArray * a, guint64 v)
{
  guint8 b[8];

  write_be64 (b, v);
  g_byte_array_append (a, b, 8);
}

static void
put_box (GByteArray * a, const gchar * type, const guint8 * payload,
    gsize len)
{
  put_u32 (a, 8 + len);
  g_byte_array_append (a, (const guint8 *) type, 4);
  if (len)
    g_byte_array_append (a, payload, len);
}

static void
put_ftyp (GByteArray * a)
{
  static const guint8 payload[] = "isom\0\0\2\0isomiso2avc1mp41";

  put_box (a, "ftyp", payload, sizeof (payload) - 1);
}

/* A movie header as muxers write it: the fields we read, then rate, volume,
 * matrix and next track id (zeros here). */
static void
put_mvhd (GByteArray * a, guint version, guint32 timescale, guint64 duration)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  static const guint8 rest[80] = { 0, };

  put_u32 (p, version << 24);
  if (version == 1) {
    put_u64 (p, 0);
    put_u64 (p, 0);
    put_u32 (p, timescale);
    put_u64 (p, duration);
  } else {
    put_u32 (p, 0);
    put_u32 (p, 0);
    put_u32 (p, timescale);
    put_u32 (p, duration);
  }
  g_byte_array_append (p, rest, sizeof (rest));
  put_box (a, "mvhd", p->data, p->len);
}

static void
put_moov (GByteArray * a, guint version, guint32 timescale, guint64 duration)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();

  put_mvhd (p, version, timescale, duration);
  put_box (p, "trak", (const guint8 *) "\0\0\0\x08tkhd", 8);
  put_box (a, "moov", p->data, p->len);
}

static void
put_mdat (GByteArray * a, gsize len)
{
  g_autofree guint8 *zeros = g_malloc0 (len);

  put_box (a, "mdat", zeros, len);
}

static gchar *
write_array (const gchar * name, GByteArray * a)
{
  return write_file (name, a->data, a->len);
}

/* --- tests --- */

GST_START_TEST (test_real_files)
{
  const gchar *paths[] = { faststart_path, moov_last_path, fragmented_path,
    mov_path
  };
  /* g_pattern_match_simple () patterns */
  const gchar *layouts[] = { "ftyp moov mdat", "ftyp free mdat moov",
    "ftyp moov moof mdat moof mdat *mfra", "ftyp * mdat moov"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (paths); i++) {
    g_autoptr (GBytes) bytes = read_all (paths[i]);
    g_autoptr (GError) error = NULL;
    g_autofree gchar *boxes = layout (bytes);

    GST_INFO ("%s: %s", paths[i], boxes);
    fail_unless (g_pattern_match_simple (layouts[i], boxes), "%s: %s",
        paths[i], boxes);
    fail_unless (gst_klingo1_mp4_sniff (g_bytes_get_data (bytes, NULL),
            g_bytes_get_size (bytes)));
    fail_unless (gst_klingo1_mp4_sniff (g_bytes_get_data (bytes, NULL), 8));
    fail_unless (check_path (paths[i], &error), "%s: %s", paths[i],
        error ? error->message : "");
    assert_duration (paths[i], CLIP_SECONDS);
  }
}

GST_END_TEST;

GST_START_TEST (test_truncated)
{
  const gchar *paths[] = { faststart_path, moov_last_path, fragmented_path,
    mov_path
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (paths); i++) {
    g_autoptr (GBytes) bytes = read_all (paths[i]);
    g_autofree gchar *name = g_strdup_printf ("half-%u", i);
    g_autofree gchar *half = write_file (name, g_bytes_get_data (bytes,
            NULL), g_bytes_get_size (bytes) / 2);
    g_autofree gchar *ends = g_strdup_printf ("the file ends at %"
        G_GSIZE_FORMAT, g_bytes_get_size (bytes) / 2);

    assert_rejected (half, "truncated", "claims", ends, NULL);
  }

  /* with the moov first, the header part is intact: the duration is still
   * known, the media is not */
  {
    g_autoptr (GBytes) bytes = read_all (faststart_path);
    g_autofree gchar *half = write_file ("half-faststart.mp4",
        g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes) / 2);

    assert_rejected (half, "truncated: the mdat box at offset", NULL);
    assert_duration (half, CLIP_SECONDS);
  }
  /* with the moov last, it is lost */
  {
    g_autoptr (GBytes) bytes = read_all (moov_last_path);
    g_autofree gchar *half = write_file ("half-moov-last.mp4",
        g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes) / 2);
    g_autoptr (GError) error = NULL;
    gdouble seconds;

    fail_if (gst_klingo1_mp4_read_duration (half, &seconds, NULL, &error));
    g_assert_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL);
    fail_unless (strstr (error->message, "truncated") != NULL);
  }

  /* the caller says the file is longer than it is */
  {
    g_autoptr (GError) error = NULL;
    struct stat st;
    int fd = g_open (faststart_path, O_RDONLY, 0);

    fail_unless (fd >= 0 && fstat (fd, &st) == 0);
    fail_if (gst_klingo1_mp4_check_fd (fd, st.st_size + 100, &error));
    g_assert_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL);
    fail_unless (strstr (error->message, "truncated") != NULL);
    close (fd);
  }
  /* ... or shorter */
  {
    g_autoptr (GError) error = NULL;
    struct stat st;
    int fd = g_open (faststart_path, O_RDONLY, 0);

    fail_unless (fd >= 0 && fstat (fd, &st) == 0);
    fail_if (gst_klingo1_mp4_check_fd (fd, st.st_size - 1, &error));
    g_assert_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL);
    close (fd);
  }
}

GST_END_TEST;

GST_START_TEST (test_not_mp4)
{
  static const gchar html[] =
      "<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>"
      "<body><h1>403 Forbidden</h1><p>Request has expired</p></body></html>\n";
  static const gchar json[] =
      "{\"error\":{\"code\":\"not_found\",\"message\":\"Task not found or "
      "expired\",\"type\":\"invalid_request_error\"}}";
  static const gchar xml[] =
      "\xef\xbb\xbf  <?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>"
      "</Error>";
  static const guint8 noise[64] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
    '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'
  };
  g_autofree gchar *html_path = write_file ("page.html", html,
      strlen (html));
  g_autofree gchar *json_path = write_file ("error.json", json,
      strlen (json));
  g_autofree gchar *xml_path = write_file ("error.xml", xml, strlen (xml));
  g_autofree gchar *empty_path = write_file ("empty", "", 0);
  g_autofree gchar *tiny_path = write_file ("tiny", "\0\0\0\x08", 4);
  g_autofree gchar *png_path = write_file ("image.png", noise,
      sizeof (noise));
  g_autoptr (GError) error = NULL;
  gdouble seconds;

  fail_if (gst_klingo1_mp4_sniff ((const guint8 *) html, strlen (html)));
  fail_if (gst_klingo1_mp4_sniff ((const guint8 *) json, strlen (json)));
  fail_if (gst_klingo1_mp4_sniff ((const guint8 *) xml, strlen (xml)));
  fail_if (gst_klingo1_mp4_sniff (noise, sizeof (noise)));
  fail_if (gst_klingo1_mp4_sniff (NULL, 0));
  fail_if (gst_klingo1_mp4_sniff ((const guint8 *) "\0\0\0\x08", 4));

  assert_rejected (html_path, "not an MP4", "<!DOCTYP", "HTML", NULL);
  assert_rejected (json_path, "not an MP4", "JSON", NULL);
  assert_rejected (xml_path, "not an MP4", "XML", NULL);
  assert_rejected (empty_path, "empty", NULL);
  assert_rejected (tiny_path, "only 4 bytes", NULL);
  assert_rejected (png_path, "not an MP4", "\\x89PNG", NULL);

  fail_if (gst_klingo1_mp4_read_duration (html_path, &seconds, NULL,
          &error));
  g_assert_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL);
  fail_unless (strstr (error->message, html_path) != NULL);
  g_clear_error (&error);
  fail_if (gst_klingo1_mp4_read_duration (empty_path, &seconds, NULL,
          &error));
  g_assert_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL);
}

GST_END_TEST;

GST_START_TEST (test_bad_sizes)
{
  g_autoptr (GBytes) clip = read_all (faststart_path);
  gsize clip_len = g_bytes_get_size (clip);
  guint8 *data = g_malloc (clip_len + 64);
  g_autofree gchar *path = NULL;
  gchar *expected;

  memcpy (data, g_bytes_get_data (clip, NULL), clip_len);

  /* a box with size 3 after a valid file */
  memcpy (data + clip_len, "\0\0\0\x03" "free", 8);
  path = write_file ("size3.mp4", data, clip_len + 8);
  expected = g_strdup_printf ("the free box at offset %" G_GSIZE_FORMAT
      " has an invalid size 3", clip_len);
  assert_rejected (path, expected, NULL);
  g_free (expected);
  g_clear_pointer (&path, g_free);

  /* ... and as the first box: not even sniffed */
  {
    guint8 first[16];

    memcpy (first, data, 16);
    write_be32 (first, 3);
    fail_if (gst_klingo1_mp4_sniff (first, sizeof (first)));
    path = write_file ("size3-first.mp4", first, sizeof (first));
    assert_rejected (path, "not an MP4", NULL);
    g_clear_pointer (&path, g_free);
  }

  /* a 64-bit size past the end of the file */
  memcpy (data + clip_len, "\0\0\0\x01" "free", 8);
  write_be64 (data + clip_len + 8, G_GUINT64_CONSTANT (1) << 40);
  path = write_file ("huge64.mp4", data, clip_len + 16);
  expected = g_strdup_printf ("truncated: the free box at offset %"
      G_GSIZE_FORMAT " claims 1099511627776 bytes but the file ends at %"
      G_GSIZE_FORMAT, clip_len, clip_len + 16);
  assert_rejected (path, expected, NULL);
  g_free (expected);
  g_clear_pointer (&path, g_free);

  /* a 64-bit size smaller than its own header */
  write_be64 (data + clip_len + 8, 15);
  path = write_file ("small64.mp4", data, clip_len + 16);
  assert_rejected (path, "invalid 64-bit size 15", NULL);
  g_clear_pointer (&path, g_free);

  /* a 64-bit size marker with no room for the size */
  path = write_file ("cut64.mp4", data, clip_len + 12);
  assert_rejected (path, "has a 64-bit size but the file ends", NULL);
  g_clear_pointer (&path, g_free);

  /* trailing bytes too short for a box */
  path = write_file ("trailing.mp4", data, clip_len + 5);
  assert_rejected (path, "5 bytes at offset", "too short for a box header",
      NULL);
  g_clear_pointer (&path, g_free);

  /* a size that lands in the middle of nowhere: garbage where the next box
   * should start */
  memcpy (data + clip_len, "\0\0\0\x10" "free\x01\x02\x03\x04\x05\x06\x07\x08"
      "\xff\xfe\xfd\xfc\x00\x01\x02\x03", 24);
  path = write_file ("garbage.mp4", data, clip_len + 24);
  assert_rejected (path, "no box at offset", NULL);
  g_clear_pointer (&path, g_free);

  g_free (data);
}

GST_END_TEST;

GST_START_TEST (test_sizes_zero_and_64bit)
{
  g_autoptr (GBytes) clip = read_all (faststart_path);
  gsize len = g_bytes_get_size (clip);
  g_autofree guint8 *data = g_memdup2 (g_bytes_get_data (clip, NULL), len);
  g_autoptr (GByteArray) a = g_byte_array_new ();
  g_autofree gchar *path = NULL;
  g_autoptr (GError) error = NULL;
  const guint8 *p = data;
  gsize offset = 0, last = 0;

  /* the last box (the mdat) rewritten as "to the end of the file" */
  while (offset < len) {
    last = offset;
    offset += gst_klingo1_read_be32 (p + offset);
  }
  fail_unless (memcmp (data + last + 4, "mdat", 4) == 0);
  write_be32 (data + last, 0);
  path = write_file ("size0.mp4", data, len);
  fail_unless (check_path (path, &error), "%s", error ? error->message : "");
  assert_duration (path, CLIP_SECONDS);
  g_clear_pointer (&path, g_free);

  /* a 64-bit mdat size, and a size-0 box that is empty */
  put_ftyp (a);
  put_u32 (a, 1);
  g_byte_array_append (a, (const guint8 *) "mdat", 4);
  put_u64 (a, 16 + 100);
  {
    guint8 payload[100] = { 0, };
    g_byte_array_append (a, payload, sizeof (payload));
  }
  put_moov (a, 0, 1000, 4500);
  put_u32 (a, 0);
  g_byte_array_append (a, (const guint8 *) "free", 4);
  path = write_array ("mdat64.mp4", a);
  fail_unless (check_path (path, &error), "%s", error ? error->message : "");
  assert_duration (path, 4.5);
}

GST_END_TEST;

GST_START_TEST (test_missing_boxes)
{
  g_autoptr (GByteArray) no_moov = g_byte_array_new ();
  g_autoptr (GByteArray) no_mdat = g_byte_array_new ();
  g_autoptr (GByteArray) empty_mdat = g_byte_array_new ();
  g_autoptr (GByteArray) no_mvhd = g_byte_array_new ();
  g_autoptr (GByteArray) bad_child = g_byte_array_new ();
  g_autoptr (GByteArray) segment = g_byte_array_new ();
  g_autofree gchar *path1 = NULL, *path2 = NULL, *path3 = NULL;
  g_autofree gchar *path4 = NULL, *path5 = NULL, *path6 = NULL;
  g_autoptr (GError) error = NULL;
  gdouble seconds;

  /* what mp4mux leaves when killed before EOS */
  put_ftyp (no_moov);
  put_mdat (no_moov, 1000);
  path1 = write_array ("no-moov.mp4", no_moov);
  assert_rejected (path1, "no moov box", NULL);
  fail_if (gst_klingo1_mp4_read_duration (path1, &seconds, NULL, &error));
  g_assert_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL);
  fail_unless (strstr (error->message, "no moov box") != NULL);
  g_clear_error (&error);

  put_ftyp (no_mdat);
  put_moov (no_mdat, 0, 1000, 2000);
  path2 = write_array ("no-mdat.mp4", no_mdat);
  assert_rejected (path2, "no mdat box", NULL);

  put_ftyp (empty_mdat);
  put_moov (empty_mdat, 0, 1000, 2000);
  put_mdat (empty_mdat, 0);
  path3 = write_array ("empty-mdat.mp4", empty_mdat);
  assert_rejected (path3, "mdat box is empty", NULL);

  put_ftyp (no_mvhd);
  put_box (no_mvhd, "moov", (const guint8 *) "\0\0\0\x08trak", 8);
  put_mdat (no_mvhd, 10);
  path4 = write_array ("no-mvhd.mp4", no_mvhd);
  assert_rejected (path4, "no movie header", NULL);
  fail_if (gst_klingo1_mp4_read_duration (path4, &seconds, NULL, &error));
  g_assert_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL);
  g_clear_error (&error);

  /* a moov child that claims more than the moov holds */
  put_ftyp (bad_child);
  put_box (bad_child, "moov", (const guint8 *) "\0\0\0\x40trak", 8);
  put_mdat (bad_child, 10);
  path5 = write_array ("bad-child.mp4", bad_child);
  assert_rejected (path5, "the trak box", "claims 64 bytes",
      "the moov box at offset", NULL);

  /* a media segment: styp, moof, mdat and no moov is fine */
  put_box (segment, "styp", (const guint8 *) "msdh\0\0\0\0msdhmsix", 16);
  put_box (segment, "moof", (const guint8 *) "\0\0\0\x08mfhd", 8);
  put_mdat (segment, 100);
  path6 = write_array ("segment.m4s", segment);
  fail_unless (check_path (path6, &error), "%s", error ? error->message : "");
}

GST_END_TEST;

GST_START_TEST (test_duration_versions)
{
  g_autoptr (GByteArray) v0 = g_byte_array_new ();
  g_autoptr (GByteArray) v1 = g_byte_array_new ();
  g_autoptr (GByteArray) unknown = g_byte_array_new ();
  g_autoptr (GByteArray) no_scale = g_byte_array_new ();
  g_autoptr (GByteArray) mehd = g_byte_array_new ();
  g_autofree gchar *path = NULL;
  g_autoptr (GError) error = NULL;
  gdouble seconds;

  put_ftyp (v0);
  put_moov (v0, 0, 600, 600 * 9);
  put_mdat (v0, 10);
  path = write_array ("v0.mp4", v0);
  assert_duration (path, 9.0);
  g_clear_pointer (&path, g_free);

  /* version 1, a duration that needs more than 32 bits */
  put_ftyp (v1);
  put_moov (v1, 1, 90000, G_GUINT64_CONSTANT (90000) * 50000);
  put_mdat (v1, 10);
  path = write_array ("v1.mp4", v1);
  assert_duration (path, 50000.0);
  g_clear_pointer (&path, g_free);

  /* "unknown" (all ones) */
  put_ftyp (unknown);
  put_moov (unknown, 0, 1000, G_MAXUINT32);
  put_mdat (unknown, 10);
  path = write_array ("unknown.mp4", unknown);
  fail_if (gst_klingo1_mp4_read_duration (path, &seconds, NULL, &error));
  g_assert_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL);
  fail_unless (strstr (error->message, "does not record its duration"));
  g_clear_error (&error);
  g_clear_pointer (&path, g_free);

  put_ftyp (no_scale);
  put_moov (no_scale, 0, 0, 1000);
  put_mdat (no_scale, 10);
  path = write_array ("timescale0.mp4", no_scale);
  fail_if (gst_klingo1_mp4_read_duration (path, &seconds, NULL, &error));
  g_assert_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL);
  fail_unless (strstr (error->message, "timescale 0"));
  g_clear_error (&error);
  g_clear_pointer (&path, g_free);

  /* fragmented: mvhd says 0, mvex/mehd (version 1) has it */
  {
    g_autoptr (GByteArray) moov = g_byte_array_new ();
    g_autoptr (GByteArray) mvex = g_byte_array_new ();
    guint8 mehd_payload[12];

    put_mvhd (moov, 0, 1000, 0);
    write_be32 (mehd_payload, 1 << 24);
    write_be64 (mehd_payload + 4, 7250);
    put_box (mvex, "mehd", mehd_payload, sizeof (mehd_payload));
    put_box (moov, "mvex", mvex->data, mvex->len);
    put_ftyp (mehd);
    put_box (mehd, "moov", moov->data, moov->len);
    put_box (mehd, "moof", (const guint8 *) "\0\0\0\x08mfhd", 8);
    put_mdat (mehd, 10);
  }
  path = write_array ("mehd.mp4", mehd);
  assert_duration (path, 7.25);
}

GST_END_TEST;

/* The moov behind a 5 GiB mdat (with a 64-bit size): found by skipping, in
 * a sparse file, so that nothing of the mdat needs to exist on disk. */
GST_START_TEST (test_duration_after_huge_mdat)
{
  const guint64 mdat_size = G_GUINT64_CONSTANT (5) << 30;
  g_autoptr (GByteArray) head = g_byte_array_new ();
  g_autoptr (GByteArray) tail = g_byte_array_new ();
  g_autofree gchar *path = g_build_filename (tmp_dir, "huge.mp4", NULL);
  g_autoptr (GError) error = NULL;
  guint64 moov_at;
  int fd;

  put_ftyp (head);
  moov_at = head->len + mdat_size;
  put_u32 (head, 1);
  g_byte_array_append (head, (const guint8 *) "mdat", 4);
  put_u64 (head, mdat_size);
  put_moov (tail, 0, 1000, 12345);

  fd = g_open (path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  fail_unless (fd >= 0);
  fail_unless (pwrite (fd, head->data, head->len, 0) == head->len);
  if (pwrite (fd, tail->data, tail->len, moov_at) != tail->len) {
    /* a file system without large sparse files: nothing to test here */
    GST_WARNING ("cannot write at %" G_GUINT64_FORMAT ", skipped", moov_at);
    close (fd);
    g_unlink (path);
    return;
  }
  fail_unless (check_path (path, &error), "%s", error ? error->message : "");
  close (fd);
  assert_duration (path, 12.345);
  g_unlink (path);
}

GST_END_TEST;

GST_START_TEST (test_duration_errors)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *missing = g_build_filename (tmp_dir, "missing.mp4",
      NULL);
  gdouble seconds = -1;

  g_cancellable_cancel (cancellable);
  fail_if (gst_klingo1_mp4_read_duration (faststart_path, &seconds,
          cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  fail_unless_equals_float (seconds, -1);
  g_clear_error (&error);

  fail_if (gst_klingo1_mp4_read_duration (missing, &seconds, NULL, &error));
  g_assert_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO);
  fail_unless (strstr (error->message, missing) != NULL);
}

GST_END_TEST;

/* Whatever the bytes, no crash and a clear yes or no. */
GST_START_TEST (test_mutations)
{
  g_autoptr (GBytes) clip = read_all (fragmented_path);
  gsize len = g_bytes_get_size (clip);
  g_autofree guint8 *data = g_malloc (len);
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autofree gchar *path = g_build_filename (tmp_dir, "mutated.mp4", NULL);
  guint i, j;

  for (i = 0; i < 300; i++) {
    g_autoptr (GError) error = NULL;
    gdouble seconds;
    gsize cut;

    memcpy (data, g_bytes_get_data (clip, NULL), len);
    /* flip bytes near the start, where the box headers are dense */
    for (j = 0; j < 4; j++)
      data[g_rand_int_range (rand, 0, MIN (len, 2048))] =
          g_rand_int_range (rand, 0, 256);
    cut = g_rand_boolean (rand) ? len :
        (gsize) g_rand_int_range (rand, 0, len);
    fail_unless (g_file_set_contents (path, (const gchar *) data, cut,
            NULL));
    gst_klingo1_mp4_sniff (data, cut);
    if (!check_path (path, &error))
      fail_unless (error != NULL && error->message != NULL);
    g_clear_error (&error);
    if (!gst_klingo1_mp4_read_duration (path, &seconds, NULL, &error))
      fail_unless (error != NULL && error->message != NULL);
  }
}

GST_END_TEST;

static Suite *
mp4check_suite (void)
{
  Suite *s = suite_create ("klingo1-mp4check");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  /* encoding the clips takes a while on a loaded machine */
  tcase_set_timeout (tc, 240);
  tcase_add_unchecked_fixture (tc, make_clips, remove_clips);
  tcase_add_test (tc, test_real_files);
  tcase_add_test (tc, test_truncated);
  tcase_add_test (tc, test_not_mp4);
  tcase_add_test (tc, test_bad_sizes);
  tcase_add_test (tc, test_sizes_zero_and_64bit);
  tcase_add_test (tc, test_missing_boxes);
  tcase_add_test (tc, test_duration_versions);
  tcase_add_test (tc, test_duration_after_huge_mdat);
  tcase_add_test (tc, test_duration_errors);
  tcase_add_test (tc, test_mutations);
  return s;
}

GST_CHECK_MAIN (mp4check);
