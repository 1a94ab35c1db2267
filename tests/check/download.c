/* gst-klingo1 tests: the download object against an in-process SoupServer
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The server runs in a thread of its own and paces its bodies with a timer,
 * so that a test can read while the file grows, and play the faults of a
 * hostile CDN: no Range support, HTML instead of video, bodies that never
 * end, stall, or trickle, links that die.
 */
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <libsoup/soup.h>
#include <gst/klingo1/klingo1.h>

#include "download.h"

static struct
{
  GMutex lock;
  GCond cond;
  gboolean ready;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  gchar *base;
  GBytes *clip;
  guint requests;
  guint range_requests;
  guint stalls_left;            /* first requests that stall half way */
} srv;

static gchar *tmpdir;

/* ---- a synthetic but well-formed MP4: ftyp, mdat, moov (trailing) ------- */

static void
put_box (GByteArray * a, const gchar * type, gsize payload, guint8 fill)
{
  guint8 head[8];
  guint32 size = GUINT32_TO_BE (payload + 8);
  gsize i;

  memcpy (head, &size, 4);
  memcpy (head + 4, type, 4);
  g_byte_array_append (a, head, 8);
  for (i = 0; i < payload; i++) {
    guint8 b = fill ? fill : (guint8) (i * 31 + (i >> 9));
    g_byte_array_append (a, &b, 1);
  }
}

static GBytes *
make_clip (gsize mdat_size)
{
  GByteArray *a = g_byte_array_new ();

  put_box (a, "ftyp", 16, 'i');
  put_box (a, "mdat", mdat_size, 0);
  put_box (a, "moov", 4000, 'm');
  return g_byte_array_free_to_bytes (a);
}

/* ---- the server ----------------------------------------------------------- */

typedef struct
{
  SoupServerMessage *msg;
  const guint8 *data;
  gsize pos, end;
  gsize per_tick;
  gboolean endless;
  gsize stall_at;               /* stop sending here, keep the connection */
  GSource *timer;
} Pacer;

static void
pacer_finished (SoupServerMessage * msg, Pacer * p)
{
  if (p->timer) {
    g_source_destroy (p->timer);
    g_source_unref (p->timer);
    p->timer = NULL;
  }
}

static void
pacer_free (Pacer * p)
{
  pacer_finished (NULL, p);
  g_free (p);
}

static gboolean
pacer_tick (gpointer user_data)
{
  Pacer *p = user_data;
  SoupMessageBody *body = soup_server_message_get_response_body (p->msg);
  static guint8 junk[64 * 1024];

  if (p->stall_at && p->pos >= p->stall_at)
    return G_SOURCE_CONTINUE;
  if (p->endless) {
    soup_message_body_append (body, SOUP_MEMORY_STATIC, junk,
        MIN (p->per_tick, sizeof (junk)));
  } else {
    gsize n = MIN (p->per_tick, p->end - p->pos);
    if (p->stall_at)
      n = MIN (n, p->stall_at - p->pos);
    soup_message_body_append (body, SOUP_MEMORY_COPY, p->data + p->pos, n);
    p->pos += n;
    if (p->pos >= p->end) {
      soup_message_body_complete (body);
      soup_server_message_unpause (p->msg);
      p->timer = NULL;
      return G_SOURCE_REMOVE;
    }
  }
  soup_server_message_unpause (p->msg);
  return G_SOURCE_CONTINUE;
}

static void
pace (SoupServerMessage * msg, const guint8 * data, gsize start, gsize end,
    gsize bytes_per_second, gboolean endless, gsize stall_at)
{
  Pacer *p = g_new0 (Pacer, 1);

  p->msg = msg;
  p->data = data;
  p->pos = start;
  p->end = end;
  p->per_tick = MAX (1, bytes_per_second / 100);
  p->endless = endless;
  p->stall_at = stall_at;
  soup_message_body_set_accumulate (soup_server_message_get_response_body
      (msg), FALSE);
  p->timer = g_timeout_source_new (10);
  g_source_set_callback (p->timer, pacer_tick, p, NULL);
  g_source_attach (p->timer, srv.context);
  g_signal_connect (msg, "finished", G_CALLBACK (pacer_finished), p);
  g_object_set_data_full (G_OBJECT (msg), "pacer", p,
      (GDestroyNotify) pacer_free);
  soup_server_message_pause (msg);
}

static void
handler (SoupServer * server, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer user_data)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  const gchar *mode = query ? g_hash_table_lookup (query, "mode") : NULL;
  const gchar *bps_s = query ? g_hash_table_lookup (query, "bps") : NULL;
  gsize bps = bps_s ? g_ascii_strtoull (bps_s, NULL, 10) : 100 * 1024 * 1024;
  gsize size = g_bytes_get_size (srv.clip);
  const guint8 *data = g_bytes_get_data (srv.clip, NULL);
  SoupRange *ranges = NULL;
  gint nranges = 0;
  gsize start = 0, end = size, stall_at = 0;
  gboolean ranged;

  mode = mode ? mode : "normal";
  g_mutex_lock (&srv.lock);
  srv.requests++;
  ranged = soup_message_headers_get_ranges (req, size, &ranges, &nranges);
  if (ranged)
    srv.range_requests++;
  if (g_str_equal (mode, "stall") && srv.stalls_left > 0) {
    srv.stalls_left--;
    stall_at = size / 2;
  }
  g_mutex_unlock (&srv.lock);

  if (g_str_equal (mode, "dead") && !g_str_has_prefix (path, "/fresh")) {
    soup_server_message_set_status (msg, 403, NULL);
    return;
  }
  if (g_str_equal (mode, "html")) {
    soup_server_message_set_status (msg, 200, NULL);
    soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC,
        "<html><body>Sign in</body></html>", 33);
    return;
  }
  if (g_str_equal (mode, "html-as-video")) {
    soup_server_message_set_status (msg, 200, NULL);
    soup_server_message_set_response (msg, "video/mp4", SOUP_MEMORY_STATIC,
        "<html><body>Sign in</body></html>", 33);
    return;
  }
  if (g_str_equal (mode, "endless")) {
    soup_server_message_set_status (msg, 200, NULL);
    soup_message_headers_set_encoding (resp, SOUP_ENCODING_CHUNKED);
    soup_message_headers_set_content_type (resp, "video/mp4", NULL);
    /* a real start, then bytes forever */
    soup_message_body_append (soup_server_message_get_response_body (msg),
        SOUP_MEMORY_COPY, data, 1024);
    pace (msg, data, 0, 0, bps, TRUE, 0);
    if (ranges)
      soup_message_headers_free_ranges (req, ranges);
    return;
  }

  soup_message_headers_set_content_type (resp, "video/mp4", NULL);
  soup_message_headers_replace (resp, "Accept-Ranges", "bytes");
  if (ranged && !g_str_equal (mode, "norange")) {
    start = ranges[0].start;
    end = ranges[0].end + 1;
    soup_server_message_set_status (msg, 206, NULL);
    soup_message_headers_set_content_range (resp, start, end - 1, size);
  } else {
    soup_server_message_set_status (msg, 200, NULL);
  }
  if (ranges)
    soup_message_headers_free_ranges (req, ranges);
  soup_message_headers_set_content_length (resp, end - start);
  pace (msg, data, start, end, bps, FALSE, stall_at ? MAX (stall_at,
          start) : 0);
}

static gpointer
server_thread (gpointer unused)
{
  SoupServer *server;
  GSList *uris;

  g_main_context_push_thread_default (srv.context);
  server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server, NULL, handler, NULL, NULL);
  fail_unless (soup_server_listen_local (server, 0,
          SOUP_SERVER_LISTEN_IPV4_ONLY, NULL));
  uris = soup_server_get_uris (server);
  g_mutex_lock (&srv.lock);
  srv.base = g_uri_to_string (uris->data);
  srv.ready = TRUE;
  g_cond_signal (&srv.cond);
  g_mutex_unlock (&srv.lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (srv.loop);
  soup_server_disconnect (server);
  g_object_unref (server);
  g_main_context_pop_thread_default (srv.context);
  return NULL;
}

static void
setup (void)
{
  memset (&srv, 0, sizeof (srv));
  g_mutex_init (&srv.lock);
  g_cond_init (&srv.cond);
  srv.clip = make_clip (4 * 1024 * 1024);
  srv.context = g_main_context_new ();
  srv.loop = g_main_loop_new (srv.context, FALSE);
  srv.thread = g_thread_new ("server", server_thread, NULL);
  g_mutex_lock (&srv.lock);
  while (!srv.ready)
    g_cond_wait (&srv.cond, &srv.lock);
  g_mutex_unlock (&srv.lock);
  tmpdir = g_dir_make_tmp ("klingo1-dl-XXXXXX", NULL);
}

static void
rm_rf (const gchar * dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (d && (name = g_dir_read_name (d))) {
    g_autofree gchar *p = g_build_filename (dir, name, NULL);
    g_unlink (p);
  }
  if (d)
    g_dir_close (d);
  g_rmdir (dir);
}

static void
teardown (void)
{
  g_main_loop_quit (srv.loop);
  g_thread_join (srv.thread);
  g_main_loop_unref (srv.loop);
  g_main_context_unref (srv.context);
  g_bytes_unref (srv.clip);
  g_free (srv.base);
  rm_rf (tmpdir);
  g_free (tmpdir);
}

static guint
server_requests (guint * ranged)
{
  guint n;

  g_mutex_lock (&srv.lock);
  n = srv.requests;
  if (ranged)
    *ranged = srv.range_requests;
  g_mutex_unlock (&srv.lock);
  return n;
}

/* ---- helpers --------------------------------------------------------------- */

typedef struct
{
  guint verified;
  gboolean fail_verify;
  guint verify_delay_ms;
  gchar *fresh_url;
} Hooks;

static gboolean
verify_cb (int fd, guint64 size, gpointer user_data,
    GCancellable * cancellable, GError ** error)
{
  Hooks *h = user_data;

  if (h->verify_delay_ms)
    g_usleep (h->verify_delay_ms * 1000);
  h->verified++;
  if (h->fail_verify) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "damaged on purpose");
    return FALSE;
  }
  return TRUE;
}

static gchar *
refresh_cb (gpointer user_data, GCancellable * cancellable, GError ** error)
{
  Hooks *h = user_data;

  if (h->fresh_url == NULL) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_EXPIRED,
        "no fresh link");
    return NULL;
  }
  return g_strdup (h->fresh_url);
}

static GstKlingo1Download *
new_download (const gchar * query, const gchar * name, Hooks * h)
{
  g_autoptr (GstKlingo1Client) client =
      gst_klingo1_client_new (srv.base, "sk-test", srv.base);
  g_autofree gchar *url = g_strdup_printf ("%sclip.mp4?%s", srv.base, query);
  g_autofree gchar *path = g_build_filename (tmpdir, name, NULL);
  g_autofree gchar *ranges = g_strconcat (path, ".ranges", NULL);
  GstKlingo1Download *dl = gst_klingo1_download_new (client, url, path,
      ranges);

  gst_klingo1_download_set_verify_func (dl, verify_cb, h);
  gst_klingo1_download_set_refresh_func (dl, refresh_cb, h);
  return dl;
}

/* Reads the whole file through the download, in @block bytes. */
static GBytes *
read_all (GstKlingo1Download * dl, gsize block, GError ** error)
{
  GByteArray *a = g_byte_array_new ();
  guint8 *buf = g_malloc (block);

  for (;;) {
    gssize n = gst_klingo1_download_read (dl, a->len, buf, block, NULL,
        error);
    if (n < 0) {
      g_free (buf);
      g_byte_array_unref (a);
      return NULL;
    }
    if (n == 0)
      break;
    g_byte_array_append (a, buf, n);
  }
  g_free (buf);
  return g_byte_array_free_to_bytes (a);
}

/* ---- tests ------------------------------------------------------------------ */

GST_START_TEST (test_whole_file)
{
  Hooks h = { 0, };
  g_autoptr (GstKlingo1Download) dl = new_download ("", "a.mp4", &h);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) got = NULL;
  guint64 size = 0;

  fail_unless (gst_klingo1_download_start (dl, &error));
  fail_unless (gst_klingo1_download_wait_size (dl, &size, NULL, &error));
  fail_unless_equals_uint64 (size, g_bytes_get_size (srv.clip));
  got = read_all (dl, 65536, &error);
  g_assert_no_error (error);
  fail_unless (g_bytes_equal (got, srv.clip));
  fail_unless_equals_int (gst_klingo1_download_get_state (dl),
      GST_KLINGO1_DOWNLOAD_COMPLETE);
  fail_unless_equals_int (h.verified, 1);
  fail_unless_equals_int (server_requests (NULL), 1);
}

GST_END_TEST;

/* Bytes flow before the download ends, and a read of the tail (a trailing
 * moov) is served by a Range request of its own long before the sequential
 * transfer gets there. */
GST_START_TEST (test_read_ahead_while_growing)
{
  Hooks h = { 0, };
  /* 4 MB at 1 MB/s: about 4 s for the sequential transfer */
  g_autoptr (GstKlingo1Download) dl = new_download ("bps=1000000", "b.mp4",
      &h);
  g_autoptr (GError) error = NULL;
  guint8 head[8], tail[4008];
  guint64 size = 0, held;
  guint ranged = 0;
  gssize n;
  gsize got = 0;

  fail_unless (gst_klingo1_download_start (dl, &error));
  fail_unless (gst_klingo1_download_wait_size (dl, &size, NULL, &error));
  n = gst_klingo1_download_read (dl, 0, head, sizeof (head), NULL, &error);
  fail_unless_equals_int (n, 8);
  fail_unless (memcmp (head + 4, "ftyp", 4) == 0);

  while (got < sizeof (tail)) {
    n = gst_klingo1_download_read (dl, size - sizeof (tail) + got,
        tail + got, sizeof (tail) - got, NULL, &error);
    g_assert_no_error (error);
    fail_unless (n > 0);
    got += n;
  }
  held = gst_klingo1_download_get_held (dl);
  fail_unless (memcmp (tail + 4, "moov", 4) == 0);
  /* the tail came first: most of the file is still on its way */
  fail_unless (held < size, "the whole file was there already");
  server_requests (&ranged);
  fail_unless (ranged >= 1);

  fail_unless (gst_klingo1_download_wait_complete (dl, NULL, &error));
  {
    g_autoptr (GBytes) all = read_all (dl, 100000, &error);
    fail_unless (g_bytes_equal (all, srv.clip));
  }
}

GST_END_TEST;

GST_START_TEST (test_server_ignores_range)
{
  Hooks h = { 0, };
  g_autoptr (GstKlingo1Download) dl = new_download ("mode=norange&bps=2000000",
      "c.mp4", &h);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) got = NULL;
  guint8 tail[100];
  guint64 size;
  gsize have = 0;

  fail_unless (gst_klingo1_download_start (dl, &error));
  fail_unless (gst_klingo1_download_wait_size (dl, &size, NULL, &error));
  while (have < sizeof (tail)) {
    gssize n = gst_klingo1_download_read (dl, size - 100 + have, tail + have,
        100 - have, NULL, &error);
    g_assert_no_error (error);
    fail_unless (n > 0);
    have += n;
  }
  got = read_all (dl, 65536, &error);
  g_assert_no_error (error);
  fail_unless (g_bytes_equal (got, srv.clip));
}

GST_END_TEST;

GST_START_TEST (test_not_a_video)
{
  const gchar *modes[] = { "mode=html", "mode=html-as-video" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (modes); i++) {
    Hooks h = { 0, };
    g_autoptr (GstKlingo1Download) dl = new_download (modes[i], "d.mp4", &h);
    g_autoptr (GError) error = NULL;
    guint8 buf[16];
    guint64 size = 0;

    fail_unless (gst_klingo1_download_start (dl, &error));
    /* the size of an HTML page may be known: reads then fail */
    if (gst_klingo1_download_wait_size (dl, &size, NULL, &error))
      fail_unless (gst_klingo1_download_read (dl, 0, buf, sizeof (buf), NULL,
              &error) < 0);
    fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
            GST_KLINGO1_ERROR_PROTOCOL), "%s", error->message);
    fail_unless (strstr (error->message, "not an MP4") != NULL, "%s",
        error->message);
    fail_unless_equals_int (h.verified, 0);
  }
}

GST_END_TEST;

GST_START_TEST (test_endless_body_hits_max_size)
{
  Hooks h = { 0, };
  g_autoptr (GstKlingo1Download) dl = new_download ("mode=endless&bps="
      "50000000", "e.mp4", &h);
  g_autoptr (GError) error = NULL;

  gst_klingo1_download_set_max_size (dl, 3 * 1024 * 1024);
  fail_unless (gst_klingo1_download_start (dl, &error));
  fail_if (gst_klingo1_download_wait_complete (dl, NULL, &error));
  fail_unless (strstr (error->message, "max-size") != NULL, "%s",
      error->message);
  fail_unless_equals_string (gst_klingo1_error_get_field (error), "max-size");
  fail_unless (gst_klingo1_download_get_held (dl) <= 3 * 1024 * 1024);
}

GST_END_TEST;

GST_START_TEST (test_stall_is_retried_with_range)
{
  Hooks h = { 0, };
  g_autoptr (GstKlingo1Download) dl = new_download ("mode=stall", "f.mp4",
      &h);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) got = NULL;
  guint ranged = 0;

  srv.stalls_left = 1;
  gst_klingo1_download_set_stall_timeout (dl, 1);
  fail_unless (gst_klingo1_download_start (dl, &error));
  got = read_all (dl, 65536, &error);
  g_assert_no_error (error);
  fail_unless (g_bytes_equal (got, srv.clip));
  fail_unless_equals_int (server_requests (&ranged), 2);
  fail_unless_equals_int (ranged, 1);
}

GST_END_TEST;

GST_START_TEST (test_deadline_cuts_a_trickle)
{
  Hooks h = { 0, };
  g_autoptr (GstKlingo1Download) dl = new_download ("bps=100", "g.mp4", &h);
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  gst_klingo1_download_set_deadline (dl, start + G_USEC_PER_SEC);
  fail_unless (gst_klingo1_download_start (dl, &error));
  fail_if (gst_klingo1_download_wait_complete (dl, NULL, &error));
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_TIMEOUT), "%s", error->message);
  /* bounded: far less than the 40000 s the trickle would take */
  fail_unless (g_get_monotonic_time () - start < 30 * G_USEC_PER_SEC);
}

GST_END_TEST;

GST_START_TEST (test_dead_link_gets_a_fresh_one)
{
  Hooks h = { 0, };
  g_autoptr (GstKlingo1Download) dl = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) got = NULL;

  h.fresh_url = g_strdup_printf ("%sfresh.mp4?mode=dead", srv.base);
  dl = new_download ("mode=dead", "h.mp4", &h);
  fail_unless (gst_klingo1_download_start (dl, &error));
  got = read_all (dl, 65536, &error);
  g_assert_no_error (error);
  fail_unless (g_bytes_equal (got, srv.clip));
  g_free (h.fresh_url);
}

GST_END_TEST;

GST_START_TEST (test_dead_link_without_fresh_one)
{
  Hooks h = { 0, };
  g_autoptr (GstKlingo1Download) dl = new_download ("mode=dead", "i.mp4",
      &h);
  g_autoptr (GError) error = NULL;
  guint64 size;

  fail_unless (gst_klingo1_download_start (dl, &error));
  fail_if (gst_klingo1_download_wait_size (dl, &size, NULL, &error));
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_EXPIRED), "%s", error->message);
}

GST_END_TEST;

GST_START_TEST (test_failed_check_is_no_end_of_stream)
{
  Hooks h = {.fail_verify = TRUE };
  g_autoptr (GstKlingo1Download) dl = new_download ("", "j.mp4", &h);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) got = NULL;

  fail_unless (gst_klingo1_download_start (dl, &error));
  got = read_all (dl, 65536, &error);
  fail_unless (got == NULL);
  fail_unless (strstr (error->message, "damaged on purpose") != NULL);
}

GST_END_TEST;

/* A download stopped half way resumes from what it held, with Range. */
GST_START_TEST (test_resume_from_ranges)
{
  Hooks h = { 0, };
  g_autoptr (GError) error = NULL;
  guint64 held;
  guint ranged = 0, before;

  {
    g_autoptr (GstKlingo1Download) dl = new_download ("bps=4000000",
        "k.mp4", &h);
    guint8 buf[1000];
    guint64 size;

    fail_unless (gst_klingo1_download_start (dl, &error));
    fail_unless (gst_klingo1_download_wait_size (dl, &size, NULL, &error));
    /* inside the first transfer's window: no second transfer */
    fail_unless (gst_klingo1_download_read (dl, 300 * 1024, buf, 1000, NULL,
            &error) > 0);
    gst_klingo1_download_stop (dl);
    held = gst_klingo1_download_get_held (dl);
    fail_unless (held > 0 && held < size);
  }
  before = server_requests (&ranged);
  {
    g_autoptr (GstKlingo1Download) dl = new_download ("", "k.mp4", &h);
    g_autoptr (GBytes) got = NULL;
    guint ranged_after = 0;

    fail_unless (gst_klingo1_download_start (dl, &error));
    fail_unless (gst_klingo1_download_get_held (dl) >= held);
    got = read_all (dl, 65536, &error);
    g_assert_no_error (error);
    fail_unless (g_bytes_equal (got, srv.clip));
    fail_unless_equals_int (server_requests (&ranged_after), before + 1);
    fail_unless_equals_int (ranged_after, ranged + 1);
  }
}

GST_END_TEST;

/* The reader got every byte and the application stops at once (basesrc
 * ends the stream by itself at the known size, and gst-launch goes to NULL
 * at EOS): the check and commit still run, so the paid clip is kept. */
GST_START_TEST (test_stop_right_after_the_last_byte_keeps_the_clip)
{
  Hooks h = {.verify_delay_ms = 200 };
  g_autoptr (GstKlingo1Download) dl = new_download ("bps=20000000", "m.mp4",
      &h);
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *buf = NULL;
  guint64 size, have = 0;

  fail_unless (gst_klingo1_download_start (dl, &error));
  fail_unless (gst_klingo1_download_wait_size (dl, &size, NULL, &error));
  buf = g_malloc (size);
  while (have < size) {
    gssize n = gst_klingo1_download_read (dl, have, buf + have, size - have,
        NULL, &error);
    g_assert_no_error (error);
    fail_unless (n > 0);
    have += n;
  }
  gst_klingo1_download_stop (dl);
  fail_unless_equals_int (h.verified, 1);
  fail_unless_equals_int (gst_klingo1_download_get_state (dl),
      GST_KLINGO1_DOWNLOAD_COMPLETE);
}

GST_END_TEST;

typedef struct
{
  GCancellable *cancellable;
  gint64 when;
} CancelLater;

static gpointer
cancel_later (gpointer data)
{
  CancelLater *cl = data;

  g_usleep (300 * 1000);
  cl->when = g_get_monotonic_time ();
  g_cancellable_cancel (cl->cancellable);
  return NULL;
}

/* A reader waiting for bytes is released by its cancellable at once. */
GST_START_TEST (test_waiting_reader_is_cancellable)
{
  Hooks h = { 0, };
  g_autoptr (GstKlingo1Download) dl = new_download ("bps=1000", "l.mp4", &h);
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  CancelLater cl = {.cancellable = cancellable };
  guint8 buf[100000];
  GThread *t;
  guint64 size;

  fail_unless (gst_klingo1_download_start (dl, &error));
  fail_unless (gst_klingo1_download_wait_size (dl, &size, NULL, &error));
  t = g_thread_new ("cancel", cancel_later, &cl);
  /* ahead of the front but inside the window: no new transfer, a wait */
  fail_unless (gst_klingo1_download_read (dl, 200000, buf, sizeof (buf),
          cancellable, &error) < 0);
  fail_unless (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  g_thread_join (t);
  /* generous: the shared machine may be slow, but not seconds slow */
  fail_unless (g_get_monotonic_time () - cl.when < 2 * G_USEC_PER_SEC);
}

GST_END_TEST;

static Suite *
download_suite (void)
{
  Suite *s = suite_create ("klingo1download");
  TCase *tc = tcase_create ("download");

  tcase_set_timeout (tc, 120);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_whole_file);
  tcase_add_test (tc, test_read_ahead_while_growing);
  tcase_add_test (tc, test_server_ignores_range);
  tcase_add_test (tc, test_not_a_video);
  tcase_add_test (tc, test_endless_body_hits_max_size);
  tcase_add_test (tc, test_stall_is_retried_with_range);
  tcase_add_test (tc, test_deadline_cuts_a_trickle);
  tcase_add_test (tc, test_dead_link_gets_a_fresh_one);
  tcase_add_test (tc, test_dead_link_without_fresh_one);
  tcase_add_test (tc, test_failed_check_is_no_end_of_stream);
  tcase_add_test (tc, test_resume_from_ranges);
  tcase_add_test (tc, test_waiting_reader_is_cancellable);
  tcase_add_test (tc, test_stop_right_after_the_last_byte_keeps_the_clip);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (download);
