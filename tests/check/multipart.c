/* gst-klingo1: the streamed multipart/form-data upload body
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The server parses what it gets with libsoup's own multipart parser, so the
 * body is checked against an independent reading of RFC 7578, not against
 * our writer. It runs in a thread of its own with its own GMainContext.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <libsoup/soup.h>
#include <gst/klingo1/client.h>
#include <gst/klingo1/error.h>

#include "multipart-stream.h"

#define API_KEY "sk-evo-multipart-secret"
#define UPLOAD_PATH "/api/v1/files/upload/stream"
#define MB (1024 * 1024)

static const gchar *upload_ok =
    "{\"success\":true,\"code\":200,\"data\":{\"file_id\":\"file_1\","
    "\"file_url\":\"https://files.example.com/u/1\",\"expires_at\":"
    "\"2025-10-12T00:00:00+08:00\"}}";

static struct
{
  GMutex lock;
  GCond cond;
  gboolean ready;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  gchar *base;

  guint uploads;
  guint see_other;              /* answer 303 to this many uploads first */
  gchar *last_method;
  guint64 last_body_length;
  guint fail_first;             /* answer 503 to this many uploads first */
  gint64 content_length;
  gchar *boundary;
  gchar *filename;
  gchar *name;
  gchar *part_type;
  GBytes *part;
  GPtrArray *parts;             /* every upload's file part, in order */

  /* the big upload: counted and hashed as it arrives, never kept */
  guint64 streamed;
  GChecksum *streamed_sum;
} srv;

static void
parse_upload (SoupServerMessage * msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  SoupMultipart *multipart;
  SoupMessageHeaders *headers;
  GHashTable *params = NULL;
  g_autofree gchar *disposition = NULL;
  GBytes *part;

  multipart = soup_multipart_new_from_message
      (soup_server_message_get_request_headers (msg), bytes);
  if (multipart == NULL)
    return;
  if (soup_multipart_get_length (multipart) == 1
      && soup_multipart_get_part (multipart, 0, &headers, &part)
      && soup_message_headers_get_content_disposition (headers, &disposition,
          &params)) {
    g_free (srv.name);
    srv.name = g_strdup (g_hash_table_lookup (params, "name"));
    g_free (srv.filename);
    srv.filename = g_strdup (g_hash_table_lookup (params, "filename"));
    g_free (srv.part_type);
    srv.part_type = g_strdup (soup_message_headers_get_content_type (headers,
            NULL));
    g_clear_pointer (&srv.part, g_bytes_unref);
    srv.part = g_bytes_ref (part);
    g_ptr_array_add (srv.parts, g_bytes_ref (part));
    g_hash_table_destroy (params);
  }
  soup_multipart_free (multipart);
}

static void
on_chunk (SoupServerMessage * msg, GBytes * chunk, gpointer user_data)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (chunk, &size);

  g_mutex_lock (&srv.lock);
  srv.streamed += size;
  g_checksum_update (srv.streamed_sum, data, size);
  g_mutex_unlock (&srv.lock);
}

static void
on_got_headers (SoupServerMessage * msg, gpointer user_data)
{
  if (!g_str_has_prefix (g_uri_get_path (soup_server_message_get_uri (msg)),
          "/big/"))
    return;
  /* 100 MB on the server side would hide what the client uses */
  soup_message_body_set_accumulate (soup_server_message_get_request_body
      (msg), FALSE);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_chunk), NULL);
}

static void
on_request_started (SoupServer * server, SoupServerMessage * msg,
    gpointer user_data)
{
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), NULL);
}

static void
handler (SoupServer * server, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer user_data)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  gboolean fail;

  g_mutex_lock (&srv.lock);
  g_free (srv.last_method);
  srv.last_method = g_strdup (soup_server_message_get_method (msg));
  srv.last_body_length = soup_server_message_get_request_body (msg)->length;
  if (g_str_equal (path, "/done")) {
    g_mutex_unlock (&srv.lock);
    soup_server_message_set_status (msg, 200, NULL);
    soup_server_message_set_response (msg, "application/json",
        SOUP_MEMORY_STATIC, upload_ok, strlen (upload_ok));
    return;
  }
  if (srv.see_other > 0) {
    srv.see_other--;
    srv.uploads++;
    g_mutex_unlock (&srv.lock);
    soup_server_message_set_redirect (msg, 303, "/done");
    return;
  }
  srv.uploads++;
  srv.content_length = soup_message_headers_get_content_length (req);
  {
    GHashTable *params = NULL;

    g_free (srv.boundary);
    srv.boundary = NULL;
    if (soup_message_headers_get_content_type (req, &params) != NULL) {
      srv.boundary = g_strdup (g_hash_table_lookup (params, "boundary"));
      g_hash_table_destroy (params);
    }
  }
  if (!g_str_has_prefix (path, "/big/"))
    parse_upload (msg);
  fail = srv.fail_first > 0;
  if (fail)
    srv.fail_first--;
  g_mutex_unlock (&srv.lock);

  if (fail) {
    const gchar *busy = "{\"error\":{\"code\":503,\"message\":\"busy\"}}";

    soup_message_headers_replace (soup_server_message_get_response_headers
        (msg), "Retry-After", "0");
    soup_server_message_set_status (msg, 503, NULL);
    soup_server_message_set_response (msg, "application/json",
        SOUP_MEMORY_STATIC, busy, strlen (busy));
    return;
  }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json",
      SOUP_MEMORY_STATIC, upload_ok, strlen (upload_ok));
}

static gpointer
server_thread (gpointer data)
{
  g_autoptr (GError) error = NULL;
  SoupServer *server;
  GSList *uris;

  g_main_context_push_thread_default (srv.context);
  server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server, NULL, handler, NULL, NULL);
  g_signal_connect (server, "request-started",
      G_CALLBACK (on_request_started), NULL);
  fail_unless (soup_server_listen_local (server, 0,
          SOUP_SERVER_LISTEN_IPV4_ONLY, &error), "%s",
      error ? error->message : "");
  uris = soup_server_get_uris (server);

  g_mutex_lock (&srv.lock);
  srv.base = g_strdup_printf ("http://127.0.0.1:%d",
      g_uri_get_port (uris->data));
  srv.ready = TRUE;
  g_cond_signal (&srv.cond);
  g_mutex_unlock (&srv.lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (srv.loop);

  g_object_unref (server);
  g_main_context_pop_thread_default (srv.context);
  return NULL;
}

static void
setup (void)
{
  g_mutex_init (&srv.lock);
  g_cond_init (&srv.cond);
  srv.parts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  srv.streamed_sum = g_checksum_new (G_CHECKSUM_SHA256);
  srv.context = g_main_context_new ();
  srv.loop = g_main_loop_new (srv.context, FALSE);
  srv.thread = g_thread_new ("server", server_thread, NULL);
  g_mutex_lock (&srv.lock);
  while (!srv.ready)
    g_cond_wait (&srv.cond, &srv.lock);
  g_mutex_unlock (&srv.lock);
}

static gboolean
quit_server (gpointer data)
{
  g_main_loop_quit (srv.loop);
  return G_SOURCE_REMOVE;
}

static void
teardown (void)
{
  /* from within the loop: a quit before the server thread reached
   * g_main_loop_run() would be lost and the join would wait for ever */
  g_main_context_invoke (srv.context, quit_server, NULL);
  g_thread_join (srv.thread);
  g_main_loop_unref (srv.loop);
  g_main_context_unref (srv.context);
  g_clear_pointer (&srv.base, g_free);
  g_clear_pointer (&srv.filename, g_free);
  g_clear_pointer (&srv.boundary, g_free);
  g_clear_pointer (&srv.last_method, g_free);
  g_clear_pointer (&srv.name, g_free);
  g_clear_pointer (&srv.part_type, g_free);
  g_clear_pointer (&srv.part, g_bytes_unref);
  g_clear_pointer (&srv.parts, g_ptr_array_unref);
  g_clear_pointer (&srv.streamed_sum, g_checksum_free);
  srv.uploads = srv.fail_first = srv.see_other = 0;
  srv.streamed = 0;
  srv.ready = FALSE;
}

/* ---- helpers ------------------------------------------------------------ */

static gchar *
make_tmp_dir (void)
{
  g_autoptr (GError) error = NULL;
  gchar *dir = g_dir_make_tmp ("klingo1-multipart-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

/* Bytes that repeat nowhere near a boundary and contain CR, LF and "--". */
static GBytes *
make_content (gsize size, const guint8 * head, gsize head_len)
{
  guint8 *data = g_malloc (size);
  guint32 x = 2463534242u;
  gsize i;

  for (i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    data[i] = (guint8) x;
  }
  /* g_malloc (0) is NULL: memcpy () must not see it, even for 0 bytes */
  if (head != NULL && size > 0)
    memcpy (data, head, MIN (head_len, size));
  if (size > 100)
    memcpy (data + 50, "\r\n--\r\n--", 8);
  return g_bytes_new_take (data, size);
}

static gchar *
write_file (const gchar * dir, const gchar * name, GBytes * content)
{
  gchar *path = g_build_filename (dir, name, NULL);

  fail_unless (g_file_set_contents (path, g_bytes_get_data (content, NULL),
          g_bytes_get_size (content), NULL));
  return path;
}

static void
assert_same_bytes (GBytes * got, GBytes * want)
{
  fail_unless (got != NULL);
  fail_unless_equals_uint64 (g_bytes_get_size (got), g_bytes_get_size (want));
  fail_unless (g_bytes_equal (got, want));
}

static GstKlingo1Client *
new_client (const gchar * files_suffix, guint retries)
{
  g_autofree gchar *files = g_strconcat (srv.base, files_suffix, NULL);
  GstKlingo1Client *client;

  client = gst_klingo1_client_new (srv.base, API_KEY, files);
  gst_klingo1_client_set_max_retries (client, retries);
  return client;
}

static const guint8 png_head[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
  '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'
};

/* ---- the stream alone --------------------------------------------------- */

static void
roundtrip (gsize size)
{
  g_autofree gchar *dir = make_tmp_dir ();
  g_autoptr (GBytes) content = make_content (size, png_head,
      sizeof (png_head));
  g_autofree gchar *path = write_file (dir, "frame.png", content);
  g_autoptr (GstKlingo1MultipartStream) stream = NULL;
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr (GBytes) body = NULL;
  g_autoptr (SoupMessageHeaders) headers = NULL;
  g_autoptr (GError) error = NULL;
  SoupMultipart *multipart;
  SoupMessageHeaders *part_headers;
  GBytes *part;
  g_autofree gchar *disposition = NULL;
  GHashTable *params;
  gssize n;

  stream = gst_klingo1_multipart_stream_new (path, "file", NULL, &error);
  g_assert_no_error (error);
  fail_unless_equals_uint64 (gst_klingo1_multipart_stream_get_file_size
      (stream), size);

  n = g_output_stream_splice (out, G_INPUT_STREAM (stream),
      G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE |
      G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, &error);
  g_assert_no_error (error);
  /* the Content-Length known up front is the body's length */
  fail_unless_equals_int64 (n, gst_klingo1_multipart_stream_get_length
      (stream));
  body = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));

  headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_MULTIPART);
  soup_message_headers_replace (headers, "Content-Type",
      gst_klingo1_multipart_stream_get_content_type (stream));
  multipart = soup_multipart_new_from_message (headers, body);
  fail_unless (multipart != NULL);
  fail_unless_equals_int (soup_multipart_get_length (multipart), 1);
  fail_unless (soup_multipart_get_part (multipart, 0, &part_headers, &part));
  fail_unless (soup_message_headers_get_content_disposition (part_headers,
          &disposition, &params));
  fail_unless_equals_string (disposition, "form-data");
  fail_unless_equals_string (g_hash_table_lookup (params, "name"), "file");
  fail_unless_equals_string (g_hash_table_lookup (params, "filename"),
      "frame.png");
  g_hash_table_destroy (params);
  /* by content, or by name for the empty file */
  fail_unless_equals_string (soup_message_headers_get_content_type
      (part_headers, NULL), "image/png");
  assert_same_bytes (part, content);
  soup_multipart_free (multipart);

  g_unlink (path);
  g_rmdir (dir);
}

GST_START_TEST (test_stream_roundtrip)
{
  /* empty, shorter than the part read to judge the type, a few MB */
  roundtrip (0);
  roundtrip (100);
  roundtrip (4096);
  roundtrip (3 * MB + 123);
}

GST_END_TEST;

GST_START_TEST (test_stream_file_changes)
{
  g_autofree gchar *dir = make_tmp_dir ();
  g_autoptr (GBytes) content = make_content (64 * 1024, NULL, 0);
  g_autofree gchar *path = write_file (dir, "v.mp4", content);
  g_autoptr (GstKlingo1MultipartStream) grown = NULL;
  g_autoptr (GstKlingo1MultipartStream) shrunk = NULL;
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr (GOutputStream) out2 = g_memory_output_stream_new_resizable ();
  g_autoptr (GError) error = NULL;
  FILE *f;

  /* the Content-Length is out: a file that grows would be sent cut off */
  grown = gst_klingo1_multipart_stream_new (path, "file", NULL, &error);
  g_assert_no_error (error);
  f = fopen (path, "ab");
  fail_unless (f != NULL);
  fputs ("more", f);
  fclose (f);
  fail_unless (g_output_stream_splice (out, G_INPUT_STREAM (grown), 0, NULL,
          &error) < 0);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_IO));
  fail_unless (strstr (error->message, "grew") != NULL, "%s",
      error->message);
  g_clear_error (&error);

  /* and one that shrinks would leave the server waiting */
  shrunk = gst_klingo1_multipart_stream_new (path, "file", NULL, &error);
  g_assert_no_error (error);
  fail_unless (truncate (path, 10000) == 0);
  fail_unless (g_output_stream_splice (out2, G_INPUT_STREAM (shrunk), 0,
          NULL, &error) < 0);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_IO));
  fail_unless (strstr (error->message, "shrank") != NULL, "%s",
      error->message);

  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;

/* ---- through the client ------------------------------------------------- */

GST_START_TEST (test_upload_identical)
{
  g_autofree gchar *dir = make_tmp_dir ();
  g_autoptr (GBytes) content = make_content (3 * MB + 7, png_head,
      sizeof (png_head));
  g_autofree gchar *path = write_file (dir, "frame.png", content);
  g_autoptr (GstKlingo1Client) client = new_client ("", 0);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;

  url = gst_klingo1_client_upload_file (client, path, NULL, NULL, &error);
  g_assert_no_error (error);
  fail_unless_equals_string (url, "https://files.example.com/u/1");
  fail_unless_equals_int (srv.uploads, 1);
  fail_unless_equals_string (srv.name, "file");
  fail_unless_equals_string (srv.filename, "frame.png");
  fail_unless_equals_string (srv.part_type, "image/png");
  assert_same_bytes (srv.part, content);

  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;

GST_START_TEST (test_upload_odd_name)
{
  g_autofree gchar *dir = make_tmp_dir ();
  g_autoptr (GBytes) content = make_content (50 * 1024, NULL, 0);
  /* not UTF-8, a quote that would end the parameter, a line break that
   * would end the header */
  g_autofree gchar *path = write_file (dir, "clip\xff\"x\r\n.mov", content);
  g_autoptr (GstKlingo1Client) client = new_client ("", 0);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;
  const gchar *expected_name = "clip\xef\xbf\xbd%22x%0D%0A.mov";

  url = gst_klingo1_client_upload_file (client, path, NULL, NULL, &error);
  g_assert_no_error (error);
  fail_unless (srv.filename != NULL);
  fail_unless (g_utf8_validate (srv.filename, -1, NULL));
  /* a variable: the check macro would read a literal's %22 as a format */
  fail_unless_equals_string (srv.filename, expected_name);
  /* unknown content: by name */
  fail_unless_equals_string (srv.part_type, "video/quicktime");
  assert_same_bytes (srv.part, content);

  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;

GST_START_TEST (test_upload_retry_reopens)
{
  g_autofree gchar *dir = make_tmp_dir ();
  g_autoptr (GBytes) content = make_content (MB + 1, png_head,
      sizeof (png_head));
  g_autofree gchar *path = write_file (dir, "frame.png", content);
  g_autoptr (GstKlingo1Client) client = new_client ("", 2);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;

  /* the first try consumes the body; the second must send it all again */
  srv.fail_first = 1;
  url = gst_klingo1_client_upload_file (client, path, NULL, NULL, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (srv.uploads, 2);
  fail_unless_equals_int (srv.parts->len, 2);
  assert_same_bytes (g_ptr_array_index (srv.parts, 0), content);
  assert_same_bytes (g_ptr_array_index (srv.parts, 1), content);

  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;


GST_START_TEST (test_upload_see_other)
{
  g_autofree gchar *dir = make_tmp_dir ();
  g_autoptr (GBytes) content = make_content (64 * 1024, png_head,
      sizeof (png_head));
  g_autofree gchar *path = write_file (dir, "frame.png", content);
  g_autoptr (GstKlingo1Client) client = new_client ("", 0);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;

  /* libsoup follows a 303 with a GET without body: the file must not come
   * back on it */
  srv.see_other = 1;
  url = gst_klingo1_client_upload_file (client, path, NULL, NULL, &error);
  g_assert_no_error (error);
  fail_unless_equals_string (url, "https://files.example.com/u/1");
  fail_unless_equals_int (srv.uploads, 1);
  fail_unless_equals_string (srv.last_method, "GET");
  fail_unless_equals_uint64 (srv.last_body_length, 0);

  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;

/* AddressSanitizer keeps freed blocks in quarantine (256 MB) and the test
 * server's 1 MB chunks of the body with them: peak RSS then measures ASan,
 * not the upload. */
#if defined(__SANITIZE_ADDRESS__)
#define KLINGO1_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KLINGO1_UNDER_ASAN 1
#endif
#endif
/* Valgrind's own bookkeeping grows the peak RSS as much. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

static glong
peak_rss_kib (void)
{
  struct rusage usage;

  fail_unless (getrusage (RUSAGE_SELF, &usage) == 0);
  return usage.ru_maxrss;
}

GST_START_TEST (test_upload_100mb_memory)
{
  g_autofree gchar *dir = make_tmp_dir ();
  g_autofree gchar *path = g_build_filename (dir, "big.mp4", NULL);
  g_autoptr (GstKlingo1Client) client = new_client ("/big", 0);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;
  g_autofree gchar *head = NULL;
  g_autofree gchar *tail = NULL;
  static const guint8 ftyp[] = { 0, 0, 0, 24, 'f', 't', 'y', 'p', 'i', 's',
    'o', 'm'
  };
  const goffset size = 100 * MB;
  guint8 *buf;
  glong before, after;
  gssize n;
  int fd;

  /* sparse, with data at a few places */
  fd = g_open (path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  fail_unless (fd >= 0);
  fail_unless (ftruncate (fd, size) == 0);
  fail_unless (pwrite (fd, ftyp, sizeof (ftyp), 0) == sizeof (ftyp));
  fail_unless (pwrite (fd, "middle", 6, size / 2) == 6);
  fail_unless (pwrite (fd, "end", 3, size - 3) == 3);
  g_close (fd, NULL);

  before = peak_rss_kib ();
  url = gst_klingo1_client_upload_file (client, path, NULL, NULL, &error);
  after = peak_rss_kib ();
  g_assert_no_error (error);

  /* the old body was the whole file in memory (and then some) */
  GST_INFO ("peak RSS grew by %ld KiB", after - before);
#ifndef KLINGO1_UNDER_ASAN
  if (!RUNNING_ON_VALGRIND)
    fail_unless (after - before < 32 * 1024, "peak RSS grew by %ld KiB",
        after - before);
#endif

  /* what arrived, byte for byte: the part headers (their layout is checked
   * by libsoup's parser in the tests above), the file, the closing
   * boundary */
  g_mutex_lock (&srv.lock);
  fail_unless_equals_uint64 (srv.streamed, srv.content_length);
  fail_unless (srv.boundary != NULL);
  head = g_strdup_printf ("--%s\r\nContent-Disposition: form-data; "
      "name=\"file\"; filename=\"big.mp4\"\r\nContent-Type: video/mp4\r\n"
      "\r\n", srv.boundary);
  tail = g_strdup_printf ("\r\n--%s--\r\n", srv.boundary);
  g_mutex_unlock (&srv.lock);

  g_checksum_update (sum, (const guint8 *) head, strlen (head));
  fd = g_open (path, O_RDONLY, 0);
  buf = g_malloc (MB);
  while ((n = read (fd, buf, MB)) > 0)
    g_checksum_update (sum, buf, n);
  g_free (buf);
  g_close (fd, NULL);
  g_checksum_update (sum, (const guint8 *) tail, strlen (tail));

  g_mutex_lock (&srv.lock);
  fail_unless_equals_uint64 (srv.streamed, strlen (head) + size +
      strlen (tail));
  fail_unless_equals_string (g_checksum_get_string (srv.streamed_sum),
      g_checksum_get_string (sum));
  g_mutex_unlock (&srv.lock);

  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;

GST_START_TEST (test_upload_limits_and_names)
{
  g_autofree gchar *dir = make_tmp_dir ();
  g_autofree gchar *big = g_build_filename (dir, "big\xfe.mp4", NULL);
  g_autofree gchar *missing = g_build_filename (dir, "missing\xff.png", NULL);
  g_autoptr (GstKlingo1Client) client = new_client ("", 2);
  g_autoptr (GError) error = NULL;
  int fd;

  /* a message is UTF-8 even when the path is not */
  fail_unless (gst_klingo1_client_upload_file (client, missing, NULL, NULL,
          &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_IO));
  fail_unless (g_utf8_validate (error->message, -1, NULL), "%s",
      error->message);
  fail_unless (strstr (error->message, "missing\xef\xbf\xbd.png") != NULL,
      "%s", error->message);
  g_clear_error (&error);

  /* one byte over the Files API's limit: refused before sending */
  fd = g_open (big, O_RDWR | O_CREAT | O_TRUNC, 0644);
  fail_unless (fd >= 0);
  fail_unless (ftruncate (fd, 100 * MB + 1) == 0);
  g_close (fd, NULL);
  fail_unless (gst_klingo1_client_upload_file (client, big, NULL, NULL,
          &error) == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_INVALID_REQUEST));
  fail_unless (g_utf8_validate (error->message, -1, NULL));
  fail_unless (strstr (error->message, "big\xef\xbf\xbd.mp4") != NULL, "%s",
      error->message);
  fail_unless_equals_int (srv.uploads, 0);

  g_unlink (big);
  g_rmdir (dir);
}

GST_END_TEST;

static Suite *
multipart_suite (void)
{
  Suite *s = suite_create ("klingo1-multipart");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_stream_roundtrip);
  tcase_add_test (tc, test_stream_file_changes);
  tcase_add_test (tc, test_upload_identical);
  tcase_add_test (tc, test_upload_odd_name);
  tcase_add_test (tc, test_upload_retry_reopens);
  tcase_add_test (tc, test_upload_see_other);
  tcase_add_test (tc, test_upload_100mb_memory);
  tcase_add_test (tc, test_upload_limits_and_names);
  return s;
}

GST_CHECK_MAIN (multipart);
