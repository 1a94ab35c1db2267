/* gst-klingo1: tests of request validation, JSON body and request hash
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <gst/check/gstcheck.h>
#include "request-private.h"
#include <gst/klingo1/request.h>
#include <gst/klingo1/input.h>
#include <gst/klingo1/store.h>
#include <gst/klingo1/error.h>

#define I2V GST_KLINGO1_MODEL_IMAGE_TO_VIDEO
#define EDIT GST_KLINGO1_MODEL_VIDEO_EDIT
#define FAST GST_KLINGO1_MODEL_VIDEO_EDIT_FAST

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
static const guint8 mov_head[] = { 0, 0, 0, 0x08, 'w', 'i', 'd', 'e', 0, 0,
  0, 0x10, 'm', 'd', 'a', 't'
};
static const guint8 gif_head[] = { 'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0 };

static gchar *tmpdir;

static gchar *
tmp_path (const gchar * name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static void
write_file (const gchar * name, const guint8 * data, gsize len)
{
  gchar *path = tmp_path (name);
  GError *err = NULL;

  fail_unless (g_file_set_contents (path, (const gchar *) data, len, &err),
      "%s", err ? err->message : "?");
  g_free (path);
}

/* A file of @size bytes starting with @head; sparse, so a 100 MB video costs
 * no disk space or time. */
static void
write_sized_file (const gchar * name, const guint8 * head, gsize head_len,
    goffset size)
{
  gchar *path = tmp_path (name);
  FILE *f = g_fopen (path, "wb");

  fail_unless (f != NULL);
  fail_unless_equals_int (fwrite (head, 1, head_len, f), head_len);
  fflush (f);
  fail_unless_equals_int (ftruncate (fileno (f), size), 0);
  fclose (f);
  g_free (path);
}

static void
setup (void)
{
  GError *err = NULL;
  gchar *dir;

  tmpdir = g_dir_make_tmp ("klingo1-request-XXXXXX", &err);
  fail_unless (tmpdir != NULL, "%s", err ? err->message : "?");

  write_file ("a.png", png_head, sizeof (png_head));
  write_file ("b.jpg", jpeg_head, sizeof (jpeg_head));
  write_file ("c.webp", webp_head, sizeof (webp_head));
  write_file ("jpeg-named.png", jpeg_head, sizeof (jpeg_head));
  write_file ("x.gif", gif_head, sizeof (gif_head));
  /* names that are not UTF-8 (byte 0xff), as any Unix file name may be */
  write_file ("\xff.png", png_head, sizeof (png_head));
  write_file ("\xff.gif", gif_head, sizeof (gif_head));
  write_file ("\xff.mp4", mp4_head, sizeof (mp4_head));
  write_sized_file ("big\xff.png", png_head, sizeof (png_head),
      GST_KLINGO1_IMAGE_MAX_BYTES + 1);
  write_file ("gif-named.png", gif_head, sizeof (gif_head));
  write_file ("empty.png", (const guint8 *) "", 0);
  write_file ("v.mp4", mp4_head, sizeof (mp4_head));
  write_file ("v.mov", mov_head, sizeof (mov_head));
  write_file ("png-named.mp4", png_head, sizeof (png_head));
  write_sized_file ("max.png", png_head, sizeof (png_head),
      GST_KLINGO1_IMAGE_MAX_BYTES);
  write_sized_file ("big.png", png_head, sizeof (png_head),
      GST_KLINGO1_IMAGE_MAX_BYTES + 1);
  write_sized_file ("max.mp4", mp4_head, sizeof (mp4_head),
      GST_KLINGO1_VIDEO_MAX_BYTES);
  write_sized_file ("big.mp4", mp4_head, sizeof (mp4_head),
      GST_KLINGO1_VIDEO_MAX_BYTES + 1);
  dir = tmp_path ("dir.png");
  fail_unless_equals_int (g_mkdir (dir, 0700), 0);
  g_free (dir);
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

/* Inputs in the table: "@name" is a file in the temp dir given as a path,
 * "file@name" the same as a file:// URI; anything else is used as is. */
static gchar *
expand_input (const gchar * spec)
{
  gchar *path, *uri;

  if (spec == NULL)
    return NULL;
  if (spec[0] == '@')
    return tmp_path (spec + 1);
  if (g_str_has_prefix (spec, "file@")) {
    path = tmp_path (spec + 5);
    uri = g_filename_to_uri (path, NULL, NULL);
    g_free (path);
    return uri;
  }
  return g_strdup (spec);
}

/* Prompts in the table: "#N" is N ASCII characters, "#uN" N two-byte
 * characters (so bytes != characters), "#bad" invalid UTF-8. */
static gchar *
expand_prompt (const gchar * spec)
{
  GString *s;
  guint n, i;

  if (spec == NULL || spec[0] != '#')
    return g_strdup (spec);
  if (strcmp (spec, "#bad") == 0)
    return g_strdup ("a cat \xff\xfe walking");

  s = g_string_new (NULL);
  if (spec[1] == 'u') {
    n = atoi (spec + 2);
    for (i = 0; i < n; i++)
      g_string_append (s, "\xc3\xa9");  /* é */
  } else {
    n = atoi (spec + 1);
    for (i = 0; i < n; i++)
      g_string_append_c (s, 'a' + (i % 26));
  }
  return g_string_free (s, FALSE);
}

/* "#cbN": an https callback URL exactly N characters long */
static gchar *
expand_callback (const gchar * spec)
{
  GString *s;
  guint n;

  if (spec == NULL || !g_str_has_prefix (spec, "#cb"))
    return g_strdup (spec);
  n = atoi (spec + 3);
  s = g_string_new ("https://hooks.example.com/");
  while (s->len < n)
    g_string_append_c (s, 'x');
  return g_string_free (s, FALSE);
}

typedef struct
{
  const gchar *name;
  GstKlingo1Model model;
  const gchar *prompt;
  const gchar *images[6];
  const gchar *video;
  GstKlingo1AspectRatio aspect;
  guint duration;
  const gchar *callback;
  /* NULL when valid; otherwise the field set on the error */
  const gchar *field;
  /* substrings the message must contain (the limit, the culprit) */
  const gchar *mentions[3];
} ValidateCase;

#define OK NULL
#define P "a cat walking"
#define U_PNG "https://cdn.example.com/a.png"
#define U_MP4 "https://cdn.example.com/v.mp4"
#define AR_UNSET GST_KLINGO1_ASPECT_RATIO_UNSET

/* *INDENT-OFF* */
static const ValidateCase cases[] = {
  /* valid requests */
  {"i2v one remote image", I2V, P, {U_PNG}, NULL, AR_UNSET, 0, NULL, OK},
  {"i2v first and last, local png + jpeg", I2V, P, {"@a.png", "@b.jpg"}, NULL,
   AR_UNSET, 0, NULL, OK},
  {"i2v webp as file:// URI", I2V, P, {"file@c.webp"}, NULL, AR_UNSET, 0,
   NULL, OK},
  {"i2v URL with query string", I2V, P,
   {"https://cdn.example.com/img?id=42&sig=a%2Fb&x"}, NULL, AR_UNSET, 0, NULL,
   OK},
  {"i2v upper-case scheme", I2V, P, {"HTTPS://cdn.example.com/a.png"}, NULL,
   AR_UNSET, 0, NULL, OK},
  {"i2v duration 5", I2V, P, {U_PNG}, NULL, AR_UNSET, 5, NULL, OK},
  {"i2v duration 10", I2V, P, {U_PNG}, NULL, AR_UNSET, 10, NULL, OK},
  {"i2v aspect 16:9", I2V, P, {U_PNG}, NULL, GST_KLINGO1_ASPECT_RATIO_16_9, 0,
   NULL, OK},
  {"i2v aspect 1:1", I2V, P, {U_PNG}, NULL, GST_KLINGO1_ASPECT_RATIO_1_1, 10,
   NULL, OK},
  {"content decides: jpeg named .png", I2V, P, {"@jpeg-named.png"}, NULL,
   AR_UNSET, 0, NULL, OK},
  {"image of exactly 10 MB", I2V, P, {"@max.png"}, NULL, AR_UNSET, 0, NULL,
   OK},
  {"prompt of exactly 5000 chars", I2V, "#5000", {U_PNG}, NULL, AR_UNSET, 0,
   NULL, OK},
  {"prompt of 5000 two-byte chars", I2V, "#u5000", {U_PNG}, NULL, AR_UNSET, 0,
   NULL, OK},
  {"prompt of 1 char", I2V, "x", {U_PNG}, NULL, AR_UNSET, 0, NULL, OK},
  {"edit, local mp4, no images", EDIT, P, {NULL}, "@v.mp4", AR_UNSET, 0, NULL,
   OK},
  {"edit, remote video, 4 images", EDIT, P,
   {U_PNG, "@a.png", "@b.jpg", "file@c.webp"}, U_MP4, AR_UNSET, 0, NULL, OK},
  {"edit-fast, mov (wide box) as file:// URI", FAST, P, {"@a.png"},
   "file@v.mov", AR_UNSET, 0, NULL, OK},
  {"edit, video of exactly 100 MB", EDIT, P, {NULL}, "@max.mp4", AR_UNSET, 0,
   NULL, OK},
  {"i2v png at a path that is not UTF-8", I2V, P, {"@\xff.png"}, NULL,
   AR_UNSET, 0, NULL, OK},
  {"i2v png at a file:// URI of a path that is not UTF-8", I2V, P,
   {"file@\xff.png"}, NULL, AR_UNSET, 0, NULL, OK},
  {"edit, mp4 at a path that is not UTF-8", EDIT, P, {"@\xff.png"},
   "@\xff.mp4", AR_UNSET, 0, NULL, OK},
  {"callback https", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://hooks.example.com/klingo1?token=abc", OK},
  {"callback public IPv4", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://8.8.8.8/cb", OK},
  {"callback 172.32.x is public", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://172.32.0.1/cb", OK},
  {"callback 172.15.x is public", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://172.15.0.1/cb", OK},
  {"callback of exactly 2048 chars", EDIT, P, {NULL}, U_MP4, AR_UNSET, 0,
   "#cb2048", OK},
  {"empty callback is unset", I2V, P, {U_PNG}, NULL, AR_UNSET, 0, "", OK},
  /* numeric forms are judged by the address they spell, not refused as such */
  {"callback public IPv4 as one hex number", I2V, P, {U_PNG}, NULL, AR_UNSET,
   0, "https://0x08080808/cb", OK},
  {"callback public IPv4 as two parts", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://8.526344/cb", OK},
  {"callback 100.63.x is public", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://100.63.255.255/cb", OK},
  {"callback 100.128.x is public", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://100.128.0.1/cb", OK},
  {"callback public IPv6", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[2001:4860:4860::8888]/cb", OK},
  {"callback public IPv4-mapped IPv6", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[::ffff:8.8.8.8]/cb", OK},
  {"callback name starting with localhost", I2V, P, {U_PNG}, NULL, AR_UNSET,
   0, "https://localhost.example.com/cb", OK},
  {"callback name starting with digits", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://127.0.0.1.example.com/cb", OK},

  /* prompt */
  {"prompt missing", I2V, NULL, {U_PNG}, NULL, AR_UNSET, 0, NULL, "prompt",
   {"prompt:", "required", "5000"}},
  {"prompt empty", I2V, "", {U_PNG}, NULL, AR_UNSET, 0, NULL, "prompt",
   {"prompt:", "empty", "5000"}},
  {"prompt only whitespace", I2V, " \t\n ", {U_PNG}, NULL, AR_UNSET, 0, NULL,
   "prompt", {"prompt:", "whitespace"}},
  {"prompt too long", I2V, "#5001", {U_PNG}, NULL, AR_UNSET, 0, NULL, "prompt",
   {"prompt: 5001 characters", "the limit is 5000"}},
  {"prompt too long, two-byte chars", EDIT, "#u5012", {NULL}, U_MP4, AR_UNSET,
   0, NULL, "prompt", {"prompt: 5012 characters, the limit is 5000"}},
  {"prompt not UTF-8", I2V, "#bad", {U_PNG}, NULL, AR_UNSET, 0, NULL, "prompt",
   {"prompt:", "UTF-8"}},

  /* image-to-video shape */
  {"i2v no image", I2V, P, {NULL}, NULL, AR_UNSET, 0, NULL, "images",
   {"images: kling-o1-image-to-video takes 1 or 2 images", "got 0"}},
  {"i2v three images", I2V, P, {U_PNG, U_PNG, U_PNG}, NULL, AR_UNSET, 0, NULL,
   "images", {"images: kling-o1-image-to-video takes 1 or 2 images "
       "(first frame, or first and last), got 3"}},
  {"i2v with a video", I2V, P, {U_PNG}, U_MP4, AR_UNSET, 0, NULL, "video",
   {"video:", "kling-o1-image-to-video"}},
  {"i2v duration 7", I2V, P, {U_PNG}, NULL, AR_UNSET, 7, NULL, "duration",
   {"duration: 7 s is not allowed; kling-o1-image-to-video takes 5 or 10"}},
  {"i2v duration 15", I2V, P, {U_PNG}, NULL, AR_UNSET, 15, NULL, "duration",
   {"duration: 15 s", "5 or 10"}},
  {"i2v bad aspect value", I2V, P, {U_PNG}, NULL, (GstKlingo1AspectRatio) 42,
   0, NULL, "aspect-ratio", {"aspect-ratio:", "16:9"}},
  {"unknown model", (GstKlingo1Model) 42, P, {U_PNG}, NULL, AR_UNSET, 0, NULL,
   "model", {"model:", "kling-o1-image-to-video"}},

  /* edit shape */
  {"edit without video", EDIT, P, {U_PNG}, NULL, AR_UNSET, 0, NULL, "video",
   {"video: required for kling-o1-video-edit"}},
  {"edit-fast without video", FAST, P, {NULL}, NULL, AR_UNSET, 0, NULL,
   "video", {"video: required for kling-o1-video-edit-fast"}},
  {"edit with empty video", EDIT, P, {NULL}, "", AR_UNSET, 0, NULL, "video",
   {"video: required"}},
  {"edit five images", EDIT, P, {U_PNG, U_PNG, U_PNG, U_PNG, U_PNG}, U_MP4,
   AR_UNSET, 0, NULL, "images", {"images:", "at most 4", "got 5"}},
  {"edit-fast five images", FAST, P, {U_PNG, U_PNG, U_PNG, U_PNG, U_PNG},
   U_MP4, AR_UNSET, 0, NULL, "images", {"kling-o1-video-edit-fast",
       "at most 4"}},
  {"edit with duration", EDIT, P, {NULL}, U_MP4, AR_UNSET, 5, NULL, "duration",
   {"duration:", "kling-o1-video-edit", "must be 0"}},
  {"edit with aspect ratio", EDIT, P, {NULL}, U_MP4,
   GST_KLINGO1_ASPECT_RATIO_16_9, 0, NULL, "aspect-ratio",
   {"aspect-ratio: only kling-o1-image-to-video takes an aspect ratio"}},
  {"edit-fast with aspect ratio", FAST, P, {NULL}, U_MP4,
   GST_KLINGO1_ASPECT_RATIO_9_16, 0, NULL, "aspect-ratio",
   {"aspect-ratio: only kling-o1-image-to-video takes an aspect ratio"}},

  /* callback-url */
  {"callback http", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "http://hooks.example.com/cb", "callback-url", {"callback-url: must be https"}},
  {"callback not a URL", I2V, P, {U_PNG}, NULL, AR_UNSET, 0, "hooks/cb",
   "callback-url", {"callback-url: must be https"}},
  {"callback too long", I2V, P, {U_PNG}, NULL, AR_UNSET, 0, "#cb2049",
   "callback-url", {"callback-url: 2049 characters", "the limit is 2048"}},
  {"callback 127.0.0.1", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://127.0.0.1/cb", "callback-url", {"127.0.0.1", "loopback or private"}},
  {"callback 127.1.2.3", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://127.1.2.3:8443/cb", "callback-url", {"loopback or private"}},
  {"callback 10.x", I2V, P, {U_PNG}, NULL, AR_UNSET, 0, "https://10.1.2.3/cb",
   "callback-url", {"10.1.2.3", "10.x"}},
  {"callback 172.16.x", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://172.16.0.1/cb", "callback-url", {"172.16-31.x"}},
  {"callback 172.31.x", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://172.31.255.254/cb", "callback-url", {"loopback or private"}},
  {"callback 192.168.x", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://192.168.1.10/cb", "callback-url", {"192.168.x"}},
  {"callback [::1]", I2V, P, {U_PNG}, NULL, AR_UNSET, 0, "https://[::1]/cb",
   "callback-url", {"::1", "loopback or private"}},
  {"callback [::ffff:127.0.0.1]", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[::ffff:127.0.0.1]/cb", "callback-url", {"loopback or private"}},
  {"callback localhost", EDIT, P, {NULL}, U_MP4, AR_UNSET, 0,
   "https://localhost:8443/cb", "callback-url", {"localhost"}},
  {"callback LOCALHOST.", EDIT, P, {NULL}, U_MP4, AR_UNSET, 0,
   "https://LOCALHOST./cb", "callback-url", {"loopback or private"}},
  /* every spelling of IPv4 that inet_aton() and URL parsers accept */
  {"callback 0x7f000001", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://0x7f000001/cb", "callback-url",
   {"0x7f000001", "127.0.0.1", "loopback address"}},
  {"callback 2130706433", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://2130706433/cb", "callback-url", {"127.0.0.1", "loopback address"}},
  {"callback 127.1", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://127.1/cb", "callback-url", {"127.0.0.1", "loopback address"}},
  {"callback 127.0.1", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://127.0.1/cb", "callback-url", {"127.0.0.1", "loopback address"}},
  {"callback 0177.0.0.1", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://0177.0.0.1/cb", "callback-url", {"127.0.0.1", "loopback address"}},
  {"callback 017700000001", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://017700000001/cb", "callback-url",
   {"127.0.0.1", "loopback address"}},
  {"callback 0X7F.0x0.0.01", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://0X7F.0x0.0.01/cb", "callback-url", {"127.0.0.1", "loopback"}},
  {"callback 127.0.0.1.", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://127.0.0.1./cb", "callback-url", {"127.0.0.1", "loopback"}},
  {"callback fullwidth 127.0.0.1", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97\xef\xbc\x8e\xef\xbc\x90"
   "\xef\xbc\x8e\xef\xbc\x90\xef\xbc\x8e\xef\xbc\x91/cb", "callback-url",
   {"loopback"}},
  {"callback 0xA.1 (10.0.0.1)", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://0xA.1/cb", "callback-url", {"10.0.0.1", "private address"}},
  {"callback 192.0xa8.1.1", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://192.0xa8.1.1/cb", "callback-url",
   {"192.168.1.1", "private address"}},
  {"callback 2886729729 (172.16.0.1)", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://2886729729/cb", "callback-url", {"172.16.0.1", "private"}},
  /* IPv4 inside IPv6 */
  {"callback [::127.0.0.1]", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[::127.0.0.1]/cb", "callback-url",
   {"::127.0.0.1", "127.0.0.1", "loopback address"}},
  {"callback [::ffff:127.0.0.1] says why", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[::ffff:127.0.0.1]/cb", "callback-url",
   {"127.0.0.1", "loopback address"}},
  {"callback [::ffff:7f00:1]", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[::ffff:7f00:1]/cb", "callback-url", {"loopback address"}},
  {"callback [::ffff:10.0.0.1]", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[::ffff:10.0.0.1]/cb", "callback-url", {"private address"}},
  {"callback [::a9fe:a9fe] (169.254.169.254)", I2V, P, {U_PNG}, NULL,
   AR_UNSET, 0, "https://[::a9fe:a9fe]/cb", "callback-url",
   {"169.254.169.254", "link-local"}},
  {"callback [64:ff9b::7f00:1] (NAT64)", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[64:ff9b::7f00:1]/cb", "callback-url", {"loopback address"}},
  /* the other ranges that never reach a public host */
  {"callback 100.64.0.1", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://100.64.0.1/cb", "callback-url", {"100.64.0.1", "shared address"}},
  {"callback 100.127.255.254", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://100.127.255.254/cb", "callback-url", {"shared address"}},
  {"callback 169.254.169.254", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://169.254.169.254/latest/meta-data", "callback-url",
   {"link-local address"}},
  {"callback [fe80::1]", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[fe80::1]/cb", "callback-url", {"link-local address"}},
  {"callback [fe80::1%25eth0]", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[fe80::1%25eth0]/cb", "callback-url", {"link-local address"}},
  {"callback [febf::1]", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[febf::1]/cb", "callback-url", {"link-local address"}},
  {"callback [fd12:3456::1]", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[fd12:3456::1]/cb", "callback-url", {"unique-local address"}},
  {"callback [fc00::1]", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[fc00::1]/cb", "callback-url", {"unique-local address"}},
  {"callback [fec0::1]", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[fec0::1]/cb", "callback-url", {"site-local address"}},
  {"callback 224.0.0.1", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://224.0.0.1/cb", "callback-url", {"multicast address"}},
  {"callback 239.255.255.250", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://239.255.255.250/cb", "callback-url", {"multicast address"}},
  {"callback [ff02::1]", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[ff02::1]/cb", "callback-url", {"multicast address"}},
  {"callback 0.0.0.0", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://0.0.0.0/cb", "callback-url", {"unspecified address"}},
  {"callback 0", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://0/cb", "callback-url", {"0.0.0.0", "unspecified address"}},
  {"callback [::]", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://[::]/cb", "callback-url", {"unspecified address"}},
  {"callback 0.1.2.3", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://0.1.2.3/cb", "callback-url", {"this-network address"}},
  {"callback 255.255.255.255", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://255.255.255.255/cb", "callback-url", {"broadcast address"}},
  {"callback 0xffffffff", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://0xffffffff/cb", "callback-url",
   {"255.255.255.255", "broadcast address"}},
  {"callback 240.0.0.1", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://240.0.0.1/cb", "callback-url", {"reserved address"}},
  {"callback app.localhost", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://app.localhost/cb", "callback-url", {"app.localhost", "local"}},
  /* hosts that look numeric but are no address: a resolver or the server's
   * URL parser may read them differently, so refuse them */
  {"callback 999.1.1.1", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://999.1.1.1/cb", "callback-url", {"999.1.1.1", "not a valid"}},
  {"callback 0x100000000", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://0x100000000/cb", "callback-url", {"not a valid"}},
  {"callback 1.2.3.4.5", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://1.2.3.4.5/cb", "callback-url", {"not a valid"}},
  {"callback 08.0.0.1 (bad octal)", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://08.0.0.1/cb", "callback-url", {"not a valid"}},
  /* parsers disagree on these: WHATWG ends the host at the backslash
   * (127.0.0.1), GUri at the '@' (example.com) */
  {"callback not UTF-8", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://hooks.example.com/\xff", "callback-url", {"UTF-8"}},
  {"callback with a backslash", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://127.0.0.1\\@example.com/cb", "callback-url",
   {"percent-encoded"}},
  {"callback with a tab", I2V, P, {U_PNG}, NULL, AR_UNSET, 0,
   "https://127.0.0.1\t.example.com/cb", "callback-url",
   {"percent-encoded"}},

  /* inputs */
  {"gif image", I2V, P, {"@a.png", "@x.gif"}, NULL, AR_UNSET, 0, NULL, "images",
   {"images[1] (", "x.gif): not a JPEG, PNG or WebP image (judged by content)"}},
  {"gif named .png", I2V, P, {"@gif-named.png"}, NULL, AR_UNSET, 0, NULL,
   "images", {"images[0]", "not a JPEG, PNG or WebP image"}},
  {"empty image file", I2V, P, {"@empty.png"}, NULL, AR_UNSET, 0, NULL,
   "images", {"images[0]", "not a JPEG, PNG or WebP"}},
  {"image of 10 MB + 1 byte", I2V, P, {"@big.png"}, NULL, AR_UNSET, 0, NULL,
   "images", {"images[0] (", "big.png): 10.0 MB", "the limit is 10 MB"}},
  {"image missing", I2V, P, {"@missing.png"}, NULL, AR_UNSET, 0, NULL, "images",
   {"images[0]", "missing.png", "no such file"}},
  {"image missing, file:// URI", EDIT, P, {"@a.png", "file@missing.png"},
   U_MP4, AR_UNSET, 0, NULL, "images", {"images[1]", "no such file"}},
  {"image is a directory", I2V, P, {"@dir.png"}, NULL, AR_UNSET, 0, NULL,
   "images", {"images[0]", "not a regular file"}},
  {"image is an mp4", EDIT, P, {"@v.mp4"}, "@v.mp4", AR_UNSET, 0, NULL,
   "images", {"images[0]", "not a JPEG, PNG or WebP"}},
  {"image ftp://", I2V, P, {"ftp://example.com/a.png"}, NULL, AR_UNSET, 0,
   NULL, "images", {"images[0]", "ftp"}},
  {"image data: URL", I2V, P, {"data:image/png;base64,iVBORw0KGgo="}, NULL,
   AR_UNSET, 0, NULL, "images", {"images[0]", "data"}},
  {"image URL without host", I2V, P, {"https:///a.png"}, NULL, AR_UNSET, 0,
   NULL, "images", {"images[0]", "host"}},
  {"image URL that does not parse", I2V, P,
   {"https://example.com:99999/a.png"}, NULL, AR_UNSET, 0, NULL, "images",
   {"images[0]", "not a valid http(s) URL"}},
  {"image URL with a space", I2V, P, {"https://example.com/a b.png"}, NULL,
   AR_UNSET, 0, NULL, "images", {"images[0]", "percent-encoded"}},
  {"image empty string", I2V, P, {""}, NULL, AR_UNSET, 0, NULL, "images",
   {"images[0]", "empty"}},
  {"video is a png", EDIT, P, {NULL}, "@png-named.mp4", AR_UNSET, 0, NULL,
   "video", {"video (", "not an MP4 or MOV video (judged by content)"}},
  {"video of 100 MB + 1 byte", FAST, P, {NULL}, "@big.mp4", AR_UNSET, 0, NULL,
   "video", {"video (", "100.0 MB", "the limit is 100 MB"}},
  {"video missing", EDIT, P, {NULL}, "file@missing.mp4", AR_UNSET, 0, NULL,
   "video", {"video (", "no such file"}},
  {"video ftp://", EDIT, P, {NULL}, "ftp://example.com/v.mp4", AR_UNSET, 0,
   NULL, "video", {"video (", "ftp"}},
  /* a file:// URI names a file on its host: only this one can be read */
  {"image file:// URI on another host", I2V, P,
   {"file://otherhost/etc/a.png"}, NULL, AR_UNSET, 0, NULL, "images",
   {"images[0] (file://otherhost/etc/a.png)", "otherhost", "another host"}},
  {"video file:// URI on another host", EDIT, P, {NULL},
   "file://fileserver.example.com/v.mp4", AR_UNSET, 0, NULL, "video",
   {"video (", "fileserver.example.com", "another host"}},
  {"image file://localhost/ URI", I2V, P, {"file://localhost/nonexistent.png"},
   NULL, AR_UNSET, 0, NULL, "images", {"images[0]", "no such file"}},
  {"image file://LOCALHOST/ URI", I2V, P,
   {"file://LOCALHOST/nonexistent.png"}, NULL, AR_UNSET, 0, NULL, "images",
   {"images[0]", "no such file"}},
  /* messages stay UTF-8 (checked for every case) for names that are not */
  {"image path not UTF-8, missing", I2V, P, {"@\xffmissing.png"}, NULL,
   AR_UNSET, 0, NULL, "images", {"images[0]", "missing.png", "no such file"}},
  {"image URI of a path not UTF-8, missing", I2V, P, {"file@\xffmissing.png"},
   NULL, AR_UNSET, 0, NULL, "images", {"images[0]", "no such file"}},
  {"image path not UTF-8, a gif", I2V, P, {"@\xff.gif"}, NULL, AR_UNSET, 0,
   NULL, "images", {"images[0]", ".gif): not a JPEG, PNG or WebP"}},
  {"image path not UTF-8, too big", I2V, P, {"@big\xff.png"}, NULL, AR_UNSET,
   0, NULL, "images", {"images[0]", "the limit is 10 MB"}},
  {"video path not UTF-8, a png", EDIT, P, {NULL}, "@\xff.png", AR_UNSET, 0,
   NULL, "video", {"video (", "not an MP4 or MOV video"}},
  {"image URL not UTF-8", I2V, P, {"https://cdn.example.com/\xff.png"}, NULL,
   AR_UNSET, 0, NULL, "images", {"images[0]", "UTF-8"}},
  {"image ftp:// not UTF-8", I2V, P, {"ftp://example.com/\xff.png"}, NULL,
   AR_UNSET, 0, NULL, "images", {"images[0]", "ftp"}},

  /* cheap errors come before file errors */
  {"empty prompt before missing file", I2V, "", {"@missing.png"}, NULL,
   AR_UNSET, 0, NULL, "prompt", {"prompt:"}},
  {"count before missing file", I2V, P, {"@missing.png", U_PNG, U_PNG}, NULL,
   AR_UNSET, 0, NULL, "images", {"got 3"}},
  {"missing video before bad image", EDIT, P, {"@x.gif"}, NULL, AR_UNSET, 0,
   NULL, "video", {"video: required"}},
  {"duration before missing file", I2V, P, {"@missing.png"}, NULL, AR_UNSET, 3,
   NULL, "duration", {"duration: 3 s"}},
  {"callback before missing file", I2V, P, {"@missing.png"}, NULL, AR_UNSET, 0,
   "http://example.com/cb", "callback-url", {"https"}},
};
/* *INDENT-ON* */

static GstKlingo1Request *
request_from_case (const ValidateCase * c)
{
  GstKlingo1Request *req = gst_klingo1_request_new (c->model);
  guint i;

  req->prompt = expand_prompt (c->prompt);
  for (i = 0; i < G_N_ELEMENTS (c->images) && c->images[i] != NULL; i++)
    g_ptr_array_add (req->images, expand_input (c->images[i]));
  req->video = expand_input (c->video);
  req->aspect_ratio = c->aspect;
  req->duration = c->duration;
  req->callback_url = expand_callback (c->callback);

  return req;
}

GST_START_TEST (test_validate_table)
{
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    const ValidateCase *c = &cases[i];
    GstKlingo1Request *req = request_from_case (c);
    GError *err = NULL;
    gboolean ok = gst_klingo1_request_validate (req, &err);

    GST_INFO ("case '%s': %s", c->name, err ? err->message : "valid");

    if (c->field == NULL) {
      fail_unless (ok, "case '%s' should be valid, got: %s", c->name,
          err ? err->message : "?");
      fail_unless (err == NULL);
      /* and without an error location */
      fail_unless (gst_klingo1_request_validate (req, NULL));
    } else {
      fail_if (ok, "case '%s' should be invalid", c->name);
      fail_unless (err != NULL, "case '%s': no error set", c->name);
      fail_unless (g_error_matches (err, GST_KLINGO1_ERROR,
              GST_KLINGO1_ERROR_INVALID_REQUEST),
          "case '%s': wrong domain/code (%s)", c->name, err->message);
      fail_unless_equals_string (gst_klingo1_error_get_field (err), c->field);
      /* it ends up in bus messages, logs and UIs: never invalid UTF-8 */
      fail_unless (g_utf8_validate (err->message, -1, NULL),
          "case '%s': message is not UTF-8", c->name);
      /* the message starts with the property it blames */
      fail_unless (g_str_has_prefix (err->message, c->field),
          "case '%s': message '%s' does not start with '%s'", c->name,
          err->message, c->field);
      for (j = 0; j < G_N_ELEMENTS (c->mentions) && c->mentions[j]; j++)
        fail_unless (strstr (err->message, c->mentions[j]) != NULL,
            "case '%s': message '%s' does not mention '%s'", c->name,
            err->message, c->mentions[j]);
      fail_if (gst_klingo1_request_validate (req, NULL));
      g_error_free (err);
    }
    gst_klingo1_request_free (req);
  }
}

GST_END_TEST;

GST_START_TEST (test_relative_path)
{
  GstKlingo1Request *req = gst_klingo1_request_new (I2V);
  gchar *cwd = g_get_current_dir ();
  GError *err = NULL;

  /* a relative path is resolved against the working directory */
  fail_unless_equals_int (g_chdir (tmpdir), 0);
  req->prompt = g_strdup (P);
  g_ptr_array_add (req->images, g_strdup ("a.png"));
  fail_unless (gst_klingo1_request_validate (req, &err), "%s",
      err ? err->message : "?");
  g_ptr_array_add (req->images, g_strdup ("./x.gif"));
  fail_if (gst_klingo1_request_validate (req, &err));
  fail_unless_equals_string (gst_klingo1_error_get_field (err), "images");
  fail_unless (strstr (err->message, "images[1] (./x.gif)") != NULL, "%s",
      err->message);
  g_clear_error (&err);

  fail_unless_equals_int (g_chdir (cwd), 0);
  g_free (cwd);
  gst_klingo1_request_free (req);
}

GST_END_TEST;

GST_START_TEST (test_new_copy_free)
{
  GstKlingo1Request *req = gst_klingo1_request_new (EDIT);
  GstKlingo1Request *copy;

  fail_unless (req->images != NULL);
  fail_unless_equals_int (req->images->len, 0);
  fail_unless (req->keep_original_sound);
  fail_unless_equals_int (req->duration, 0);
  fail_unless_equals_int (req->aspect_ratio, AR_UNSET);
  fail_unless (req->prompt == NULL && req->video == NULL
      && req->callback_url == NULL);

  req->prompt = g_strdup ("p");
  req->video = g_strdup (U_MP4);
  req->callback_url = g_strdup ("https://hooks.example.com/");
  req->keep_original_sound = FALSE;
  g_ptr_array_add (req->images, g_strdup ("https://e.com/1.png"));
  g_ptr_array_add (req->images, g_strdup ("https://e.com/2.png"));

  copy = gst_klingo1_request_copy (req);
  fail_unless_equals_int (copy->model, EDIT);
  fail_unless_equals_string (copy->prompt, "p");
  fail_unless (copy->prompt != req->prompt);
  fail_unless_equals_string (copy->video, U_MP4);
  fail_unless (copy->video != req->video);
  fail_unless_equals_string (copy->callback_url, "https://hooks.example.com/");
  fail_if (copy->keep_original_sound);
  fail_unless (copy->images != req->images);
  fail_unless_equals_int (copy->images->len, 2);
  fail_unless (g_ptr_array_index (copy->images, 0) !=
      g_ptr_array_index (req->images, 0));

  /* deep: changing the original leaves the copy alone */
  g_ptr_array_remove_index (req->images, 0);
  gst_klingo1_request_free (req);
  fail_unless_equals_string (g_ptr_array_index (copy->images, 0),
      "https://e.com/1.png");
  fail_unless_equals_string (g_ptr_array_index (copy->images, 1),
      "https://e.com/2.png");
  gst_klingo1_request_free (copy);

  gst_klingo1_request_free (NULL);

  {
    g_autoptr (GstKlingo1Request) a = gst_klingo1_request_new (I2V);

    fail_unless (a->keep_original_sound);
  }
}

GST_END_TEST;

GST_START_TEST (test_enums)
{
  GstKlingo1Model m;
  GstKlingo1AspectRatio ar;

  fail_unless_equals_string (gst_klingo1_model_to_api_id (I2V),
      "kling-o1-image-to-video");
  fail_unless_equals_string (gst_klingo1_model_to_api_id (EDIT),
      "kling-o1-video-edit");
  fail_unless_equals_string (gst_klingo1_model_to_api_id (FAST),
      "kling-o1-video-edit-fast");
  fail_unless (gst_klingo1_model_to_api_id ((GstKlingo1Model) 9) == NULL);

  fail_unless (gst_klingo1_model_from_api_id ("kling-o1-video-edit-fast", &m));
  fail_unless_equals_int (m, FAST);
  fail_unless (gst_klingo1_model_from_api_id ("kling-o1-video-edit", &m));
  fail_unless_equals_int (m, EDIT);
  fail_unless (gst_klingo1_model_from_api_id ("kling-o1-image-to-video", &m));
  fail_unless_equals_int (m, I2V);
  fail_if (gst_klingo1_model_from_api_id ("kling-o1", &m));
  fail_if (gst_klingo1_model_from_api_id ("KLING-O1-VIDEO-EDIT", &m));
  fail_if (gst_klingo1_model_from_api_id (NULL, &m));

  fail_unless (gst_klingo1_aspect_ratio_to_string (AR_UNSET) == NULL);
  fail_unless_equals_string (gst_klingo1_aspect_ratio_to_string
      (GST_KLINGO1_ASPECT_RATIO_16_9), "16:9");
  fail_unless_equals_string (gst_klingo1_aspect_ratio_to_string
      (GST_KLINGO1_ASPECT_RATIO_9_16), "9:16");
  fail_unless_equals_string (gst_klingo1_aspect_ratio_to_string
      (GST_KLINGO1_ASPECT_RATIO_1_1), "1:1");

  fail_unless (gst_klingo1_aspect_ratio_from_string ("9:16", &ar));
  fail_unless_equals_int (ar, GST_KLINGO1_ASPECT_RATIO_9_16);
  fail_unless (gst_klingo1_aspect_ratio_from_string ("1:1", &ar));
  fail_unless_equals_int (ar, GST_KLINGO1_ASPECT_RATIO_1_1);
  fail_unless (gst_klingo1_aspect_ratio_from_string ("16:9", &ar));
  fail_unless_equals_int (ar, GST_KLINGO1_ASPECT_RATIO_16_9);
  fail_unless (gst_klingo1_aspect_ratio_from_string (NULL, &ar));
  fail_unless_equals_int (ar, AR_UNSET);
  fail_if (gst_klingo1_aspect_ratio_from_string ("4:3", &ar));
  fail_if (gst_klingo1_aspect_ratio_from_string ("", &ar));
}

GST_END_TEST;

/* Parses @json and checks it is an object with exactly @n_members members. */
static JsonObject *
parse_body (const gchar * json, guint n_members, JsonParser ** parser_out)
{
  JsonParser *parser = json_parser_new ();
  GError *err = NULL;
  JsonNode *root;
  JsonObject *obj;

  fail_unless (json != NULL);
  fail_unless (json_parser_load_from_data (parser, json, -1, &err), "%s: %s",
      json, err ? err->message : "?");
  root = json_parser_get_root (parser);
  fail_unless (JSON_NODE_HOLDS_OBJECT (root));
  obj = json_node_get_object (root);
  fail_unless_equals_int (json_object_get_size (obj), n_members);
  *parser_out = parser;
  return obj;
}

static void
check_string_array (JsonObject * obj, const gchar * member,
    const gchar * const *expected, guint n)
{
  JsonNode *node = json_object_get_member (obj, member);
  JsonArray *arr;
  guint i;

  fail_unless (node != NULL, "missing %s", member);
  fail_unless (JSON_NODE_HOLDS_ARRAY (node));
  arr = json_node_get_array (node);
  fail_unless_equals_int (json_array_get_length (arr), n);
  for (i = 0; i < n; i++)
    fail_unless_equals_string (json_array_get_string_element (arr, i),
        expected[i]);
}

static gint64
get_int_member (JsonObject * obj, const gchar * member)
{
  JsonNode *node = json_object_get_member (obj, member);

  fail_unless (node != NULL, "missing %s", member);
  fail_unless_equals_int (json_node_get_value_type (node), G_TYPE_INT64);
  return json_node_get_int (node);
}

GST_START_TEST (test_to_json_i2v)
{
  static const gchar *const one[] = { "https://cdn.example.com/first.png?a=1&b=2" };
  static const gchar *const two[] = { "https://cdn.example.com/first.png",
    "http://cdn.example.com/last.jpg"
  };
  const gchar *prompt = "A cat \"walking\" \xc3\xa9\n<b>";
  GstKlingo1Request *req = gst_klingo1_request_new (I2V);
  JsonParser *parser;
  JsonObject *obj;
  gchar *json;

  /* minimal: duration sent as the default, no aspect/callback, no edit-only
   * fields */
  req->prompt = g_strdup (prompt);
  g_ptr_array_add (req->images, g_strdup (one[0]));
  json = gst_klingo1_request_to_json (req);
  obj = parse_body (json, 4, &parser);
  fail_unless_equals_string (json_object_get_string_member (obj, "model"),
      "kling-o1-image-to-video");
  fail_unless_equals_string (json_object_get_string_member (obj, "prompt"),
      prompt);
  check_string_array (obj, "image_urls", one, 1);
  fail_unless_equals_int (get_int_member (obj, "duration"), 5);
  fail_if (json_object_has_member (obj, "aspect_ratio"));
  fail_if (json_object_has_member (obj, "video_urls"));
  fail_if (json_object_has_member (obj, "keep_original_sound"));
  fail_if (json_object_has_member (obj, "callback_url"));
  g_object_unref (parser);
  g_free (json);

  /* everything set */
  g_ptr_array_set_size (req->images, 0);
  g_ptr_array_add (req->images, g_strdup (two[0]));
  g_ptr_array_add (req->images, g_strdup (two[1]));
  req->aspect_ratio = GST_KLINGO1_ASPECT_RATIO_9_16;
  req->duration = 10;
  req->callback_url = g_strdup ("https://hooks.example.com/cb");
  json = gst_klingo1_request_to_json (req);
  obj = parse_body (json, 6, &parser);
  fail_unless_equals_string (json_object_get_string_member (obj, "model"),
      "kling-o1-image-to-video");
  check_string_array (obj, "image_urls", two, 2);
  fail_unless_equals_string (json_object_get_string_member (obj,
          "aspect_ratio"), "9:16");
  fail_unless_equals_int (get_int_member (obj, "duration"), 10);
  fail_unless_equals_string (json_object_get_string_member (obj,
          "callback_url"), "https://hooks.example.com/cb");
  g_object_unref (parser);
  g_free (json);

  /* duration 5 explicitly */
  req->duration = 5;
  req->aspect_ratio = GST_KLINGO1_ASPECT_RATIO_1_1;
  g_clear_pointer (&req->callback_url, g_free);
  json = gst_klingo1_request_to_json (req);
  obj = parse_body (json, 5, &parser);
  fail_unless_equals_int (get_int_member (obj, "duration"), 5);
  fail_unless_equals_string (json_object_get_string_member (obj,
          "aspect_ratio"), "1:1");
  g_object_unref (parser);
  g_free (json);

  gst_klingo1_request_free (req);
}

GST_END_TEST;

GST_START_TEST (test_to_json_edit)
{
  static const gchar *const video[] = { "https://cdn.example.com/in.mov?sig=x" };
  static const gchar *const refs[] = { "https://cdn.example.com/r1.webp",
    "https://cdn.example.com/r2.png"
  };
  GstKlingo1Model models[] = { EDIT, FAST };
  const gchar *ids[] = { "kling-o1-video-edit", "kling-o1-video-edit-fast" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (models); i++) {
    GstKlingo1Request *req = gst_klingo1_request_new (models[i]);
    JsonParser *parser;
    JsonObject *obj;
    gchar *json;

    /* no images: image_urls omitted (the schema has minItems 1); no
     * duration, no aspect ratio */
    req->prompt = g_strdup ("make it snow");
    req->video = g_strdup (video[0]);
    json = gst_klingo1_request_to_json (req);
    obj = parse_body (json, 4, &parser);
    fail_unless_equals_string (json_object_get_string_member (obj, "model"),
        ids[i]);
    fail_unless_equals_string (json_object_get_string_member (obj, "prompt"),
        "make it snow");
    check_string_array (obj, "video_urls", video, 1);
    fail_unless (JSON_NODE_HOLDS_VALUE (json_object_get_member (obj,
                "keep_original_sound")));
    fail_unless_equals_int (json_node_get_value_type (json_object_get_member
            (obj, "keep_original_sound")), G_TYPE_BOOLEAN);
    fail_unless (json_object_get_boolean_member (obj, "keep_original_sound"));
    fail_if (json_object_has_member (obj, "image_urls"));
    fail_if (json_object_has_member (obj, "duration"));
    fail_if (json_object_has_member (obj, "aspect_ratio"));
    fail_if (json_object_has_member (obj, "callback_url"));
    g_object_unref (parser);
    g_free (json);

    /* with reference images, sound dropped, callback */
    g_ptr_array_add (req->images, g_strdup (refs[0]));
    g_ptr_array_add (req->images, g_strdup (refs[1]));
    req->keep_original_sound = FALSE;
    req->callback_url = g_strdup ("https://hooks.example.com/cb?id=7");
    json = gst_klingo1_request_to_json (req);
    obj = parse_body (json, 6, &parser);
    check_string_array (obj, "image_urls", refs, 2);
    check_string_array (obj, "video_urls", video, 1);
    fail_if (json_object_get_boolean_member (obj, "keep_original_sound"));
    fail_unless_equals_string (json_object_get_string_member (obj,
            "callback_url"), "https://hooks.example.com/cb?id=7");
    fail_if (json_object_has_member (obj, "duration"));
    g_object_unref (parser);
    g_free (json);

    gst_klingo1_request_free (req);
  }
}

GST_END_TEST;

GST_START_TEST (test_to_json_local_input)
{
  GstKlingo1Request *req = gst_klingo1_request_new (I2V);
  gchar *json = NULL;

  /* local inputs must have been replaced by uploaded URLs first */
  req->prompt = g_strdup (P);
  g_ptr_array_add (req->images, tmp_path ("a.png"));
  ASSERT_CRITICAL (json = gst_klingo1_request_to_json (req));
  fail_unless (json == NULL);
  gst_klingo1_request_free (req);

  req = gst_klingo1_request_new (EDIT);
  req->prompt = g_strdup (P);
  req->video = g_strdup ("file:///tmp/v.mp4");
  ASSERT_CRITICAL (json = gst_klingo1_request_to_json (req));
  fail_unless (json == NULL);
  gst_klingo1_request_free (req);
}

GST_END_TEST;

static gchar *
hash_ok (const GstKlingo1Request * req)
{
  GError *err = NULL;
  gchar *h = gst_klingo1_request_hash (req, NULL, &err);
  guint i;

  fail_unless (h != NULL, "%s", err ? err->message : "?");
  fail_unless_equals_int (strlen (h), 64);
  for (i = 0; i < 64; i++)
    fail_unless (g_ascii_isxdigit (h[i]) && !g_ascii_isupper (h[i]));
  return h;
}

#define assert_hash_eq(a, b) G_STMT_START {                       \
  gchar *_ha = hash_ok (a), *_hb = hash_ok (b);                   \
  fail_unless_equals_string (_ha, _hb);                           \
  g_free (_ha); g_free (_hb);                                     \
} G_STMT_END

#define assert_hash_ne(a, b) G_STMT_START {                       \
  gchar *_ha = hash_ok (a), *_hb = hash_ok (b);                   \
  fail_if (strcmp (_ha, _hb) == 0, "hashes equal: %s", _ha);      \
  g_free (_ha); g_free (_hb);                                     \
} G_STMT_END

GST_START_TEST (test_hash)
{
  GstKlingo1Request *base, *other;
  gchar *path, *uri;

  write_file ("first.png", png_head, sizeof (png_head));
  write_file ("same-bytes-other-name.png", png_head, sizeof (png_head));

  base = gst_klingo1_request_new (I2V);
  base->prompt = g_strdup (P);
  g_ptr_array_add (base->images, tmp_path ("first.png"));
  g_ptr_array_add (base->images, g_strdup (U_PNG));

  /* stable: twice, and across copies */
  assert_hash_eq (base, base);
  other = gst_klingo1_request_copy (base);
  assert_hash_eq (base, other);

  /* prompt */
  g_free (other->prompt);
  other->prompt = g_strdup (P " ");
  assert_hash_ne (base, other);
  gst_klingo1_request_free (other);

  /* duration: 0 means 5, so those are the same clip; 10 is not */
  other = gst_klingo1_request_copy (base);
  other->duration = 5;
  assert_hash_eq (base, other);
  other->duration = 10;
  assert_hash_ne (base, other);
  gst_klingo1_request_free (other);

  /* aspect ratio */
  other = gst_klingo1_request_copy (base);
  other->aspect_ratio = GST_KLINGO1_ASPECT_RATIO_16_9;
  assert_hash_ne (base, other);
  gst_klingo1_request_free (other);

  /* callback URL */
  other = gst_klingo1_request_copy (base);
  other->callback_url = g_strdup ("https://hooks.example.com/cb");
  assert_hash_ne (base, other);
  gst_klingo1_request_free (other);

  /* remote URL */
  other = gst_klingo1_request_copy (base);
  g_free (g_ptr_array_index (other->images, 1));
  g_ptr_array_index (other->images, 1) = g_strdup (U_PNG "?v=2");
  assert_hash_ne (base, other);
  gst_klingo1_request_free (other);

  /* image order: first and last frame swapped is another video */
  other = gst_klingo1_request_copy (base);
  g_ptr_array_add (other->images, g_ptr_array_steal_index (other->images, 0));
  assert_hash_ne (base, other);
  gst_klingo1_request_free (other);

  /* same content under another name: same hash */
  other = gst_klingo1_request_copy (base);
  g_free (g_ptr_array_index (other->images, 0));
  g_ptr_array_index (other->images, 0) =
      tmp_path ("same-bytes-other-name.png");
  assert_hash_eq (base, other);
  gst_klingo1_request_free (other);

  /* path vs file:// URI of the same file: same hash */
  other = gst_klingo1_request_copy (base);
  path = tmp_path ("first.png");
  uri = g_filename_to_uri (path, NULL, NULL);
  g_free (g_ptr_array_index (other->images, 0));
  g_ptr_array_index (other->images, 0) = uri;
  assert_hash_eq (base, other);
  gst_klingo1_request_free (other);

  /* file contents change: different hash */
  other = gst_klingo1_request_copy (base);
  {
    gchar *before = hash_ok (base), *after;

    write_file ("first.png", jpeg_head, sizeof (jpeg_head));
    after = hash_ok (other);
    fail_if (strcmp (before, after) == 0);
    g_free (before);
    g_free (after);
  }
  gst_klingo1_request_free (other);
  g_free (path);
  gst_klingo1_request_free (base);
}

GST_END_TEST;

GST_START_TEST (test_hash_models)
{
  GstKlingo1Request *edit, *other;

  edit = gst_klingo1_request_new (EDIT);
  edit->prompt = g_strdup (P);
  edit->video = tmp_path ("v.mp4");

  /* model */
  other = gst_klingo1_request_copy (edit);
  other->model = FAST;
  assert_hash_ne (edit, other);
  gst_klingo1_request_free (other);

  /* sound flag */
  other = gst_klingo1_request_copy (edit);
  other->keep_original_sound = FALSE;
  assert_hash_ne (edit, other);
  gst_klingo1_request_free (other);

  /* video content */
  other = gst_klingo1_request_copy (edit);
  g_free (other->video);
  other->video = tmp_path ("v.mov");
  assert_hash_ne (edit, other);
  gst_klingo1_request_free (other);

  /* a reference image added */
  other = gst_klingo1_request_copy (edit);
  g_ptr_array_add (other->images, g_strdup (U_PNG));
  assert_hash_ne (edit, other);
  gst_klingo1_request_free (other);

  /* a URL given as image vs as video must not collide */
  {
    GstKlingo1Request *a = gst_klingo1_request_new (EDIT);
    GstKlingo1Request *b = gst_klingo1_request_new (EDIT);

    a->prompt = g_strdup (P);
    b->prompt = g_strdup (P);
    a->video = g_strdup (U_MP4);
    g_ptr_array_add (a->images, g_strdup (U_PNG));
    b->video = g_strdup (U_PNG);
    g_ptr_array_add (b->images, g_strdup (U_MP4));
    assert_hash_ne (a, b);
    gst_klingo1_request_free (a);
    gst_klingo1_request_free (b);
  }

  gst_klingo1_request_free (edit);
}

GST_END_TEST;

GST_START_TEST (test_hash_errors)
{
  GstKlingo1Request *req = gst_klingo1_request_new (I2V);
  GCancellable *cancellable = g_cancellable_new ();
  GError *err = NULL;
  gchar *h;

  req->prompt = g_strdup (P);
  g_ptr_array_add (req->images, tmp_path ("missing.png"));
  h = gst_klingo1_request_hash (req, NULL, &err);
  fail_unless (h == NULL);
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO));
  g_clear_error (&err);

  g_ptr_array_index (req->images, 0) = (g_free (g_ptr_array_index (req->images,
              0)), tmp_path ("a.png"));
  g_cancellable_cancel (cancellable);
  h = gst_klingo1_request_hash (req, cancellable, &err);
  fail_unless (h == NULL);
  fail_unless (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_clear_error (&err);

  /* a file on another host is not read from this one */
  g_free (g_ptr_array_index (req->images, 0));
  {
    gchar *local = tmp_path ("a.png");

    g_ptr_array_index (req->images, 0) =
        g_strconcat ("file://otherhost", local, NULL);
    g_free (local);
  }
  h = gst_klingo1_request_hash (req, NULL, &err);
  fail_unless (h == NULL);
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_INVALID_REQUEST));
  fail_unless_equals_string (gst_klingo1_error_get_field (err), "images");
  g_clear_error (&err);

  /* a missing file whose name is not UTF-8: the message still is */
  g_free (g_ptr_array_index (req->images, 0));
  g_ptr_array_index (req->images, 0) = tmp_path ("\xffmissing.png");
  h = gst_klingo1_request_hash (req, NULL, &err);
  fail_unless (h == NULL);
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO));
  fail_unless (g_utf8_validate (err->message, -1, NULL));
  fail_unless (strstr (err->message, "missing.png") != NULL, "%s",
      err->message);
  g_clear_error (&err);

  g_free (g_ptr_array_index (req->images, 0));
  g_ptr_array_index (req->images, 0) = g_strdup ("ftp://example.com/a.png");
  h = gst_klingo1_request_hash (req, NULL, &err);
  fail_unless (h == NULL);
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_INVALID_REQUEST));
  fail_unless_equals_string (gst_klingo1_error_get_field (err), "images");
  g_clear_error (&err);

  g_object_unref (cancellable);
  gst_klingo1_request_free (req);
}

GST_END_TEST;

/* The same request hash, with local inputs hashed through the store's memo
 * (so that a re-run need not read a 100 MB video again). */
GST_START_TEST (test_hash_with_store)
{
  GstKlingo1Request *req = gst_klingo1_request_new (EDIT);
  gchar *store_dir = tmp_path ("store");
  gchar *hashes = g_build_filename (store_dir, "hashes", NULL);
  GstKlingo1Store *store = gst_klingo1_store_new (store_dir);
  GError *err = NULL;
  gchar *plain, *memo, *uri, *path;
  GDir *dir;
  guint n = 0;

  write_file ("old.png", png_head, sizeof (png_head));
  write_file ("old.mp4", mp4_head, sizeof (mp4_head));
  /* ctime cannot be set back: let the inputs age past the racy window */
  g_usleep (2100 * G_TIME_SPAN_MILLISECOND);

  req->prompt = g_strdup (P);
  path = tmp_path ("old.png");
  uri = g_filename_to_uri (path, NULL, NULL);
  g_ptr_array_add (req->images, path);
  g_ptr_array_add (req->images, g_strdup (U_PNG));
  g_ptr_array_add (req->images, uri);
  req->video = tmp_path ("old.mp4");

  plain = hash_ok (req);
  memo = gst_klingo1_request_hash_with_store (req, store, NULL, &err);
  fail_unless (err == NULL, "%s", err ? err->message : "?");
  fail_unless_equals_string (memo, plain);
  g_free (memo);
  /* again, now from the memo */
  memo = gst_klingo1_request_hash_with_store (req, store, NULL, &err);
  fail_unless_equals_string (memo, plain);
  g_free (memo);
  /* no store: as gst_klingo1_request_hash() */
  memo = gst_klingo1_request_hash_with_store (req, NULL, NULL, &err);
  fail_unless_equals_string (memo, plain);
  g_free (memo);

  /* one memo per local file (the path and the URI name the same file) */
  dir = g_dir_open (hashes, 0, NULL);
  fail_unless (dir != NULL);
  while (g_dir_read_name (dir) != NULL)
    n++;
  g_dir_close (dir);
  fail_unless_equals_int (n, 2);

  /* errors as gst_klingo1_request_hash() */
  g_free (req->video);
  req->video = tmp_path ("missing.mp4");
  fail_unless (gst_klingo1_request_hash_with_store (req, store, NULL,
          &err) == NULL);
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO));
  g_clear_error (&err);
  g_free (req->video);
  req->video = g_strdup ("file://otherhost/v.mp4");
  fail_unless (gst_klingo1_request_hash_with_store (req, store, NULL,
          &err) == NULL);
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_INVALID_REQUEST));
  fail_unless_equals_string (gst_klingo1_error_get_field (err), "video");
  g_clear_error (&err);

  g_free (plain);
  g_object_unref (store);
  g_free (hashes);
  g_free (store_dir);
  gst_klingo1_request_free (req);
}

GST_END_TEST;

/* GstCheck only traps criticals of the GLib and GStreamer log domains; the
 * library logs as "klingo1", so route that one through ASSERT_CRITICAL too. */
static void
klingo1_log_func (const gchar * domain, GLogLevelFlags level,
    const gchar * message, gpointer user_data)
{
  if (_gst_check_expecting_log && (level & G_LOG_LEVEL_CRITICAL)) {
    _gst_check_raised_critical = TRUE;
    return;
  }
  g_log_default_handler (domain, level, message, user_data);
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    fail ("unexpected %s", message);
}

static Suite *
request_suite (void)
{
  Suite *s = suite_create ("klingo1-request");
  TCase *tc = tcase_create ("general");

  g_log_set_handler ("klingo1", G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING,
      klingo1_log_func, NULL);

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_validate_table);
  tcase_add_test (tc, test_relative_path);
  tcase_add_test (tc, test_new_copy_free);
  tcase_add_test (tc, test_enums);
  tcase_add_test (tc, test_to_json_i2v);
  tcase_add_test (tc, test_to_json_edit);
  tcase_add_test (tc, test_to_json_local_input);
  tcase_add_test (tc, test_hash);
  tcase_add_test (tc, test_hash_models);
  tcase_add_test (tc, test_hash_errors);
  tcase_add_test (tc, test_hash_with_store);

  return s;
}

GST_CHECK_MAIN (request);
