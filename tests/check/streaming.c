/* gst-klingo1 tests: klingo1src streams while it downloads
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The emulator serves one prepared file as every task's result, throttled to
 * 2 MB/s, so a download takes seconds and a test can see frames come out of
 * real demuxers and decoders while it is still going.
 */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <gst/klingo1/klingo1.h>

#include "emulator-helper.h"

#define DOWNLOAD_BPS "2000000"

static gchar *tmpdir;
static gchar *png;
static gchar *trailing;         /* ~12 MB, moov after the media, with audio */
static gchar *faststart;        /* the same, moov first */
static gchar *fragmented;       /* fragmented MP4 with audio */
static gchar *big_input;        /* a 5 s video of ~37 MB to edit */

/* 5 s of noise at 20 Mbit/s: about 12.5 MB, so the moov of the trailing
 * variant sits beyond qtdemux's 10 MiB push-mode limit. */
#define BIG_PIPELINE "videotestsrc num-buffers=120 pattern=snow ! " \
  "video/x-raw,width=640,height=360,framerate=24/1 ! x264enc " \
  "speed-preset=ultrafast bitrate=20000 key-int-max=24 ! h264parse ! " \
  "mp4mux name=m %s ! filesink location=%%s audiotestsrc num-buffers=215 ! " \
  "audio/x-raw,rate=44100 ! avenc_aac ! aacparse ! m."

/* In a gst-launch-1.0 process of its own: this fixture runs in the parent
 * of the forked tests, which must not inherit the threads (and held locks)
 * of pipelines run here. */
static gchar *
launch_media (const gchar * name, const gchar * pipeline_fmt)
{
  gchar *path = g_build_filename (tmpdir, name, NULL);
  g_autofree gchar *desc = g_strdup_printf (pipeline_fmt, path);
  g_autofree gchar *cmd = g_strdup_printf ("gst-launch-1.0 -q %s", desc);

  g_assert_cmpint (system (cmd), ==, 0);
  return path;
}

#define BIG_INPUT_PIPELINE "videotestsrc num-buffers=120 pattern=snow ! " \
  "video/x-raw,width=640,height=360,framerate=24/1 ! x264enc " \
  "speed-preset=ultrafast bitrate=60000 key-int-max=24 ! h264parse ! " \
  "mp4mux faststart=true ! filesink location=%s"

static void
make_files (void)
{
  g_autofree gchar *p1 = g_strdup_printf (BIG_PIPELINE, "faststart=false");
  g_autofree gchar *p2 = g_strdup_printf (BIG_PIPELINE, "faststart=true");
  g_autofree gchar *p3 = g_strdup_printf (BIG_PIPELINE,
      "fragment-duration=500");

  tmpdir = g_dir_make_tmp ("klingo1-stream-XXXXXX", NULL);
  png = launch_media ("first.png", PNG_PIPELINE);
  trailing = launch_media ("trailing.mp4", p1);
  faststart = launch_media ("faststart.mp4", p2);
  fragmented = launch_media ("fragmented.mp4", p3);
  /* the local input of the cached re-run test: bigger than the clip, so
   * that reading it would show; older than 2 s when first hashed (a file
   * changed just before is not remembered, as in git) */
  big_input = launch_media ("input.mp4", BIG_INPUT_PIPELINE);
}

static void
remove_files (void)
{
  g_autofree gchar *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);

  g_assert_cmpint (system (cmd), ==, 0);
  g_free (png);
  g_free (trailing);
  g_free (faststart);
  g_free (fragmented);
  g_free (big_input);
  g_free (tmpdir);
}

static Emulator *
emulator_with_result (const gchar * file)
{
  g_autofree gchar *arg = g_strdup_printf ("--result-file=%s", file);
  const gchar *exe = g_getenv ("KLINGO1_EMULATOR");
  const gchar *argv[] = { exe, "--port", "0", "--key", TEST_KEY,
    "--task-seconds", "0.2", "--download-bps", DOWNLOAD_BPS, arg, NULL
  };
  Emulator *emu = g_new0 (Emulator, 1);
  g_autoptr (GError) error = NULL;
  GString *line = g_string_new (NULL);
  gint out_fd;
  gchar c;

  if (!g_spawn_async_with_pipes (NULL, (gchar **) argv, NULL,
          G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &emu->pid, NULL, &out_fd,
          NULL, &error))
    g_error ("cannot start %s: %s", exe, error->message);
  while (read (out_fd, &c, 1) == 1 && c != '\n')
    g_string_append_c (line, c);
  emu->url = g_string_free (line, FALSE);
  g_assert_true (g_str_has_prefix (emu->url, "http://127.0.0.1:"));
  return emu;
}

typedef struct
{
  GstElement *pipeline;
  GstElement *src;
  guint video;
  guint audio;
  gboolean first_seen;
  gchar *status_at_first;       /* the source's status at the first frame */
  GstClockTime first_pts;
  GMutex lock;
} Run;

static void
on_video (GstElement * sink, GstBuffer * buf, GstPad * pad, Run * run)
{
  g_mutex_lock (&run->lock);
  if (!run->first_seen) {
    run->first_seen = TRUE;
    run->first_pts = GST_BUFFER_PTS (buf);
    g_object_get (run->src, "status", &run->status_at_first, NULL);
  }
  run->video++;
  g_mutex_unlock (&run->lock);
}

/* Buffers reaching a paused sink come as preroll-handoff. */
static void
on_preroll (GstElement * sink, GstBuffer * buf, GstPad * pad, Run * run)
{
  g_mutex_lock (&run->lock);
  if (!run->first_seen) {
    run->first_seen = TRUE;
    run->first_pts = GST_BUFFER_PTS (buf);
    g_object_get (run->src, "status", &run->status_at_first, NULL);
  }
  g_mutex_unlock (&run->lock);
}

static void
on_audio (GstElement * sink, GstBuffer * buf, GstPad * pad, Run * run)
{
  g_mutex_lock (&run->lock);
  run->audio++;
  g_mutex_unlock (&run->lock);
}

/* "klingo1src name=src ... @middle" where @middle ends in elements named
 * v (video) and optionally a (audio) fakesinks. */
static Run *
run_new (Emulator * emu, const gchar * middle)
{
  Run *run = g_new0 (Run, 1);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *cache = g_build_filename (tmpdir, "cache", NULL);
  g_autofree gchar *desc = NULL;
  g_autofree gchar *prompt = g_uuid_string_random ();
  GstElement *sink;

  desc = g_strdup_printf ("klingo1src name=src api-url=%s files-url=%s "
      "api-key=" TEST_KEY " poll-interval=0.1 cache-dir=%s prompt=%s "
      "images=<%s> %s", emu->url, emu->url, cache, prompt, png, middle);
  run->pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  g_mutex_init (&run->lock);
  run->first_pts = GST_CLOCK_TIME_NONE;
  run->src = gst_bin_get_by_name (GST_BIN (run->pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (run->pipeline), "v");
  g_object_set (sink, "signal-handoffs", TRUE, "sync", FALSE, NULL);
  g_signal_connect (sink, "handoff", G_CALLBACK (on_video), run);
  g_signal_connect (sink, "preroll-handoff", G_CALLBACK (on_preroll), run);
  gst_object_unref (sink);
  sink = gst_bin_get_by_name (GST_BIN (run->pipeline), "a");
  if (sink) {
    g_object_set (sink, "signal-handoffs", TRUE, "sync", FALSE, NULL);
    g_signal_connect (sink, "handoff", G_CALLBACK (on_audio), run);
    gst_object_unref (sink);
  }
  return run;
}

static void
run_free (Run * run)
{
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  gst_object_unref (run->src);
  gst_object_unref (run->pipeline);
  g_free (run->status_at_first);
  g_mutex_clear (&run->lock);
  g_free (run);
}

/* Plays to the end; fails on an error message. */
static void
run_to_eos (Run * run)
{
  GstBus *bus = gst_element_get_bus (run->pipeline);
  GstMessage *m;

  fail_unless (gst_element_set_state (run->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  m = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (m != NULL, "no EOS within 60 s");
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = NULL;
    g_autofree gchar *dbg = NULL;
    gst_message_parse_error (m, &err, &dbg);
    fail ("error from %s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (m)),
        err->message, dbg);
  }
  gst_message_unref (m);
  gst_object_unref (bus);
}

static GstPadMode
src_pad_mode (Run * run)
{
  GstPad *pad = gst_element_get_static_pad (run->src, "src");
  GstPadMode mode = GST_PAD_MODE (pad);

  gst_object_unref (pad);
  return mode;
}

/* qtdemux pulls (random access) from the growing file: the first frame
 * comes long before the download is over. */
GST_START_TEST (test_pull_mode_first_frame_before_the_end)
{
  Emulator *emu = emulator_with_result (trailing);
  Run *run = run_new (emu, "! qtdemux name=d d.video_0 ! queue ! "
      "fakesink name=v d.audio_0 ! queue ! fakesink name=a");

  run_to_eos (run);
  fail_unless_equals_int (src_pad_mode (run), GST_PAD_MODE_PULL);
  fail_unless_equals_int (run->video, 120);
  fail_unless (run->audio > 0);
  fail_unless (run->status_at_first != NULL);
  fail_if (g_str_equal (run->status_at_first, "completed"),
      "the first frame came only after the download");
  fail_unless_equals_int (emulator_stat (emu, "creates"), 1);
  run_free (run);
  emulator_stop (emu);
}

GST_END_TEST;

/* Push mode (a queue in between): qtdemux seeks to a moov more than 10 MiB
 * into the file, which a Range request fetches at once. */
GST_START_TEST (test_push_mode_trailing_moov_beyond_10_mib)
{
  Emulator *emu = emulator_with_result (trailing);
  Run *run = run_new (emu, "! queue ! qtdemux name=d d.video_0 ! queue ! "
      "fakesink name=v d.audio_0 ! queue ! fakesink name=a");
  GStatBuf st;

  fail_unless (g_stat (trailing, &st) == 0);
  fail_unless (st.st_size > 10 * 1024 * 1024);
  run_to_eos (run);
  fail_unless_equals_int (src_pad_mode (run), GST_PAD_MODE_PUSH);
  fail_unless_equals_int (run->video, 120);
  fail_unless (run->audio > 0);
  fail_if (g_str_equal (run->status_at_first, "completed"),
      "the first frame came only after the download");
  fail_unless (emulator_stat (emu, "range_requests") >= 1);
  run_free (run);
  emulator_stop (emu);
}

GST_END_TEST;

/* A flushing seek to a part of the clip that is not downloaded yet. */
GST_START_TEST (test_seek_ahead_of_the_download)
{
  Emulator *emu = emulator_with_result (faststart);
  Run *run = run_new (emu, "! qtdemux name=d d.video_0 ! queue ! "
      "fakesink name=v");
  GstBus *bus = gst_element_get_bus (run->pipeline);
  GstMessage *m;
  gboolean completed;

  fail_unless (gst_element_set_state (run->pipeline, GST_STATE_PAUSED) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (gst_element_get_state (run->pipeline, NULL, NULL,
          30 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
  g_mutex_lock (&run->lock);
  run->first_seen = FALSE;
  g_clear_pointer (&run->status_at_first, g_free);
  g_mutex_unlock (&run->lock);

  fail_unless (gst_element_seek_simple (run->pipeline, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT, 4 * GST_SECOND));
  fail_unless_equals_int (gst_element_get_state (run->pipeline, NULL, NULL,
          30 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
  g_mutex_lock (&run->lock);
  fail_unless (run->first_seen);
  fail_unless (run->first_pts >= 3 * GST_SECOND);
  completed = g_str_equal (run->status_at_first, "completed");
  g_mutex_unlock (&run->lock);
  fail_if (completed, "the seek was served only after the download");

  fail_unless (gst_element_set_state (run->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  m = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS);
  gst_message_unref (m);
  gst_object_unref (bus);
  run_free (run);
  emulator_stop (emu);
}

GST_END_TEST;

/* Fragmented MP4 with audio, decoded by decodebin. */
GST_START_TEST (test_fragmented_with_audio_through_decodebin)
{
  Emulator *emu = emulator_with_result (fragmented);
  Run *run = run_new (emu, "! decodebin name=d d. ! video/x-raw ! queue ! "
      "fakesink name=v d. ! audio/x-raw ! queue ! fakesink name=a");

  run_to_eos (run);
  fail_unless_equals_int (run->video, 120);
  fail_unless (run->audio > 0);
  run_free (run);
  emulator_stop (emu);
}

GST_END_TEST;

/* Setting NULL while the clip downloads returns promptly (the number the
 * benchmark reports is the real measure; this only bounds it). */
GST_START_TEST (test_null_while_downloading)
{
  Emulator *emu = emulator_with_result (trailing);
  Run *run = run_new (emu, "! qtdemux name=d d.video_0 ! queue ! "
      "fakesink name=v");
  gint64 t0;
  guint i;

  fail_unless (gst_element_set_state (run->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  for (i = 0; i < 300; i++) {
    gboolean seen;
    g_mutex_lock (&run->lock);
    seen = run->first_seen;
    g_mutex_unlock (&run->lock);
    if (seen)
      break;
    g_usleep (50 * 1000);
  }
  fail_unless (run->first_seen);
  t0 = g_get_monotonic_time ();
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  fail_unless (g_get_monotonic_time () - t0 < 2 * G_USEC_PER_SEC);
  run_free (run);
  emulator_stop (emu);
}

GST_END_TEST;

/* Bytes this process has read so far (any file or socket). */
static guint64
bytes_read (void)
{
  g_autofree gchar *io = NULL;
  const gchar *rchar;

  fail_unless (g_file_get_contents ("/proc/self/io", &io, NULL, NULL));
  rchar = strstr (io, "rchar:");
  fail_unless (rchar != NULL);
  return g_ascii_strtoull (rchar + 6, NULL, 10);
}

/* A cached re-run reads none of a local input: its hash is remembered by
 * path, size, mtime and inode, and the clip is served from the cache. The
 * whole re-run reads less than the input's size. */
GST_START_TEST (test_cached_rerun_reads_no_input)
{
  Emulator *emu = emulator_with_result (faststart);
  g_autofree gchar *cache = g_build_filename (tmpdir, "cache-rerun", NULL);
  g_autofree gchar *desc = NULL;
  guint64 before = 0, input_size;
  GStatBuf st;
  guint i;

  fail_unless (g_stat (big_input, &st) == 0);
  input_size = st.st_size;
  fail_unless (input_size > 30 * 1024 * 1024);
  desc = g_strdup_printf ("klingo1src api-url=%s files-url=%s api-key="
      TEST_KEY " poll-interval=0.1 cache-dir=%s model=video-edit "
      "prompt=rerun video=%s ! qtdemux ! fakesink", emu->url, emu->url, cache,
      big_input);
  for (i = 0; i < 2; i++) {
    g_autoptr (GError) error = NULL;
    GstElement *p;
    GstBus *bus;
    GstMessage *m;

    if (i == 1)
      before = bytes_read ();
    p = gst_parse_launch (desc, &error);
    g_assert_no_error (error);
    bus = gst_element_get_bus (p);
    gst_element_set_state (p, GST_STATE_PLAYING);
    m = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    fail_unless (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS);
    gst_message_unref (m);
    gst_object_unref (bus);
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (p);
  }
  fail_unless (bytes_read () - before < input_size,
      "the cached re-run read %" G_GUINT64_FORMAT " bytes, the input has %"
      G_GUINT64_FORMAT, bytes_read () - before, input_size);
  fail_unless_equals_int (emulator_stat (emu, "creates"), 1);
  fail_unless_equals_int (emulator_stat (emu, "uploads"), 1);
  emulator_stop (emu);
}

GST_END_TEST;

static Suite *
streaming_suite (void)
{
  Suite *s = suite_create ("klingo1streaming");
  TCase *tc = tcase_create ("streaming");

  tcase_set_timeout (tc, 180);
  tcase_add_unchecked_fixture (tc, make_files, remove_files);
  tcase_add_test (tc, test_pull_mode_first_frame_before_the_end);
  tcase_add_test (tc, test_push_mode_trailing_moov_beyond_10_mib);
  tcase_add_test (tc, test_seek_ahead_of_the_download);
  tcase_add_test (tc, test_fragmented_with_audio_through_decodebin);
  tcase_add_test (tc, test_null_while_downloading);
  tcase_add_test (tc, test_cached_rerun_reads_no_input);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (streaming);
