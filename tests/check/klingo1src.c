/* gst-klingo1 tests: klingo1src against the emulator, in real pipelines
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <gst/klingo1/klingo1.h>

#include "emulator-helper.h"

static gchar *tmpdir;
static gchar *png;

typedef struct
{
  GstElement *pipeline;
  GstElement *src;
  guint frames;
  GstMessage *error;
  GstMessage *warning;
  GList *progress;              /* GstProgressType of each progress message */
  guint task_messages;
  gint last_task_progress;
  GstTagList *tags;
  gboolean eos;
} Run;

static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, Run * run)
{
  run->frames++;
}

/* A pipeline "klingo1src ! qtdemux ! fakesink" with the emulator's URLs and
 * a private cache. */
static Run *
run_new (Emulator * emu, const gchar * props)
{
  Run *run = g_new0 (Run, 1);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *desc = NULL;
  g_autofree gchar *cache = g_build_filename (tmpdir, "cache", NULL);
  GstElement *sink;

  desc = g_strdup_printf ("klingo1src name=src api-url=%s files-url=%s "
      "api-key=" TEST_KEY " poll-interval=0.1 cache-dir=%s %s ! qtdemux ! "
      "fakesink name=sink signal-handoffs=true sync=false", emu->url, emu->url,
      cache, props);
  run->pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  run->src = gst_bin_get_by_name (GST_BIN (run->pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (run->pipeline), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), run);
  gst_object_unref (sink);
  run->last_task_progress = -1;
  return run;
}

static void
run_free (Run * run)
{
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  gst_object_unref (run->src);
  gst_object_unref (run->pipeline);
  if (run->error)
    gst_message_unref (run->error);
  if (run->warning)
    gst_message_unref (run->warning);
  if (run->tags)
    gst_tag_list_unref (run->tags);
  g_list_free (run->progress);
  g_free (run);
}

static void
handle_message (Run * run, GstMessage * m)
{
  switch (GST_MESSAGE_TYPE (m)) {
    case GST_MESSAGE_EOS:
      run->eos = TRUE;
      break;
    case GST_MESSAGE_ERROR:
      if (!run->error)
        run->error = gst_message_ref (m);
      break;
    case GST_MESSAGE_WARNING:
      if (!run->warning)
        run->warning = gst_message_ref (m);
      break;
    case GST_MESSAGE_PROGRESS:{
      GstProgressType type;
      gst_message_parse_progress (m, &type, NULL, NULL);
      run->progress = g_list_append (run->progress, GINT_TO_POINTER (type));
      break;
    }
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (m, "klingo1/task")) {
        const GstStructure *s = gst_message_get_structure (m);
        run->task_messages++;
        g_assert_true (gst_structure_get_int (s, "progress",
                &run->last_task_progress));
        g_assert_nonnull (gst_structure_get_string (s, "task-id"));
        g_assert_true (gst_structure_has_field (s, "estimated-time"));
        g_assert_true (gst_structure_has_field (s, "elapsed"));
      }
      break;
    case GST_MESSAGE_TAG:
      if (GST_MESSAGE_SRC (m) == GST_OBJECT (run->src) && !run->tags)
        gst_message_parse_tag (m, &run->tags);
      break;
    default:
      break;
  }
}

/* Plays until EOS or an error (60 s at most). */
static void
run_play (Run * run)
{
  GstBus *bus = gst_element_get_bus (run->pipeline);
  gint64 end = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  GstStateChangeReturn ret;

  ret = gst_element_set_state (run->pipeline, GST_STATE_PLAYING);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    GstMessage *m;
    while ((m = gst_bus_pop (bus))) {
      handle_message (run, m);
      gst_message_unref (m);
    }
    gst_object_unref (bus);
    return;
  }
  while (!run->eos && !run->error && g_get_monotonic_time () < end) {
    GstMessage *m = gst_bus_timed_pop (bus, 100 * GST_MSECOND);
    if (m) {
      handle_message (run, m);
      gst_message_unref (m);
    }
  }
  gst_object_unref (bus);
}

static const GstStructure *
error_details (Run * run)
{
  const GstStructure *details = NULL;
  fail_unless (run->error != NULL);
  gst_message_parse_error_details (run->error, &details);
  fail_unless (details != NULL);
  return details;
}

static gchar *
error_text (Run * run)
{
  GError *err = NULL;
  gchar *text;
  gst_message_parse_error (run->error, &err, NULL);
  text = g_strdup (err->message);
  g_error_free (err);
  return text;
}

GST_START_TEST (test_image_to_video_pipeline)
{
  Emulator *emu = emulator_start ("1", NULL);
  g_autofree gchar *props = g_strdup_printf ("prompt=\"A ball bounces\" "
      "images=\"<%s>\" cache-mode=disabled", png);
  Run *run = run_new (emu, props);
  gchar *task_id = NULL;
  gchar *value = NULL;

  run_play (run);
  fail_if (run->error != NULL, "unexpected error");
  fail_unless (run->eos);
  /* 5 s at 24 fps */
  fail_unless_equals_int (run->frames, 120);

  /* progress: START ... CONTINUE ... COMPLETE, and task messages up to 100 */
  fail_unless (g_list_length (run->progress) >= 3);
  fail_unless_equals_int (GPOINTER_TO_INT (run->progress->data),
      GST_PROGRESS_TYPE_START);
  fail_unless (g_list_find (run->progress,
          GINT_TO_POINTER (GST_PROGRESS_TYPE_CONTINUE)));
  fail_unless_equals_int (GPOINTER_TO_INT (g_list_last (run->progress)->data),
      GST_PROGRESS_TYPE_COMPLETE);
  fail_unless (run->task_messages >= 2);
  fail_unless_equals_int (run->last_task_progress, 100);

  g_object_get (run->src, "task-id", &task_id, NULL);
  fail_unless (g_str_has_prefix (task_id, "task-unified-"));
  fail_unless (run->tags != NULL);
  fail_unless (gst_tag_list_get_string (run->tags, "klingo1-task-id", &value));
  fail_unless_equals_string (value, task_id);
  g_free (value);
  fail_unless (gst_tag_list_get_string (run->tags, "klingo1-model", &value));
  fail_unless_equals_string (value, "kling-o1-image-to-video");
  g_free (value);
  fail_unless (gst_tag_list_get_string (run->tags, GST_TAG_DESCRIPTION,
          &value));
  fail_unless_equals_string (value, "A ball bounces");
  g_free (value);
  g_free (task_id);

  fail_unless_equals_int (emulator_stat (emu, "creates"), 1);
  fail_unless_equals_int (emulator_stat (emu, "uploads"), 1);
  run_free (run);
  emulator_stop (emu);
}

GST_END_TEST;

/* Caps of the H.264 stream: the requested aspect ratio; 10 s = 240 frames. */
GST_START_TEST (test_aspect_and_duration)
{
  Emulator *emu = emulator_start ("0.5", NULL);
  g_autofree gchar *props = g_strdup_printf ("prompt=\"Tall\" "
      "images=\"<%s>\" duration=10 aspect-ratio=9:16 cache-mode=disabled", png);
  Run *run = run_new (emu, props);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (run->pipeline), "sink");
  GstPad *pad;
  GstCaps *caps;
  GstStructure *s;
  gint w, h;

  run_play (run);
  fail_if (run->error != NULL);
  fail_unless_equals_int (run->frames, 240);
  pad = gst_element_get_static_pad (sink, "sink");
  caps = gst_pad_get_current_caps (pad);
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_has_name (s, "video/x-h264"));
  fail_unless (gst_structure_get_int (s, "width", &w));
  fail_unless (gst_structure_get_int (s, "height", &h));
  fail_unless (h > w, "9:16 must be portrait, got %dx%d", w, h);
  fail_unless_equals_int (w * 16, h * 9);
  gst_caps_unref (caps);
  gst_object_unref (pad);
  gst_object_unref (sink);
  run_free (run);
  emulator_stop (emu);
}

GST_END_TEST;

/* Each bad input fails READY->PAUSED naming the property; nothing is sent. */
GST_START_TEST (test_bad_input_sends_nothing)
{
  Emulator *emu = emulator_start ("1", NULL);
  g_autofree gchar *gif = g_build_filename (tmpdir, "x.gif", NULL);
  struct
  {
    const gchar *props;
    const gchar *field;
  } cases[] = {
    {"prompt=\"\" images=\"<%s>\"", "prompt"},
    {"prompt=x images=\"<%s,%s,%s>\"", "images"},
    {"prompt=x images=\"<>\"", "images"},
    {"prompt=x images=\"<%s>\" duration=7", "duration"},
    {"prompt=x images=\"<%s>\" callback-url=http://example.com/cb",
        "callback-url"},
    {"prompt=x images=\"<%s>\" video=%s", "video"},
    {"prompt=x images=\"<GIF>\"", "images"},
  };
  guint i;

  g_file_set_contents (gif, "GIF89a\x01\x00\x01\x00", 10, NULL);
  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *props = NULL;
    g_autofree gchar *text = NULL;
    Run *run;

    if (strstr (cases[i].props, "GIF"))
      props = g_strdup_printf ("prompt=x images=\"<%s>\"", gif);
    else
      props = g_strdup_printf (cases[i].props, png, png, png);
    run = run_new (emu, props);
    fail_unless_equals_int (gst_element_set_state (run->pipeline,
            GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    run_play (run);
    fail_unless (run->error != NULL, "case %u: no error", i);
    fail_unless_equals_string (gst_structure_get_string (error_details (run),
            "field"), cases[i].field);
    text = error_text (run);
    fail_unless (g_str_has_prefix (text, cases[i].field), "case %u: %s", i,
        text);
    run_free (run);
  }

  /* no key at all */
  {
    g_autofree gchar *desc = g_strdup_printf ("klingo1src prompt=x "
        "images=\"<%s>\" api-url=%s ! fakesink", png, emu->url);
    GstElement *p = gst_parse_launch (desc, NULL);
    g_unsetenv ("KLINGO1_API_KEY");
    fail_unless_equals_int (gst_element_set_state (p, GST_STATE_PAUSED),
        GST_STATE_CHANGE_FAILURE);
    gst_element_set_state (p, GST_STATE_NULL);
    gst_object_unref (p);
  }

  fail_unless_equals_int (emulator_stat (emu, "create_requests"), 0);
  fail_unless_equals_int (emulator_stat (emu, "uploads"), 0);
  emulator_stop (emu);
}

GST_END_TEST;

GST_START_TEST (test_bad_key)
{
  Emulator *emu = emulator_start ("1", NULL);
  /* a URL with a query string, quoted inside the array as in gst-launch */
  const gchar *props = "prompt=x "
      "images=<\"https://example.com/a.jpg?x=1&y=2\"> cache-mode=disabled";
  Run *run = run_new (emu, props);
  const GstStructure *details;
  guint status = 0;
  g_autofree gchar *text = NULL;
  GValue images = G_VALUE_INIT;

  g_value_init (&images, GST_TYPE_ARRAY);
  g_object_get_property (G_OBJECT (run->src), "images", &images);
  fail_unless_equals_int (gst_value_array_get_size (&images), 1);
  fail_unless_equals_string (g_value_get_string (gst_value_array_get_value
          (&images, 0)), "https://example.com/a.jpg?x=1&y=2");
  g_value_unset (&images);

  g_object_set (run->src, "api-key", "sk-wrong", NULL);
  run_play (run);
  details = error_details (run);
  fail_unless (gst_structure_get_uint (details, "http-status", &status));
  fail_unless_equals_int (status, 401);
  fail_unless (gst_structure_get_string (details, "api-message") != NULL);
  text = error_text (run);
  fail_unless (strstr (text, "401") != NULL, "%s", text);
  fail_unless (strstr (text, "sk-wrong") == NULL, "key leaked: %s", text);
  fail_unless_equals_int (emulator_stat (emu, "creates"), 0);
  run_free (run);
  emulator_stop (emu);
}

GST_END_TEST;

GST_START_TEST (test_http_errors_carry_api_message)
{
  Emulator *emu = emulator_start ("1", NULL);
  const guint statuses[] = { 400, 402, 403, 404 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (statuses); i++) {
    g_autofree gchar *props = g_strdup_printf ("prompt=\"x [http:%u]\" "
        "images=\"<https://example.com/a.jpg>\" cache-mode=disabled",
        statuses[i]);
    Run *run = run_new (emu, props);
    guint status = 0;

    run_play (run);
    fail_unless (gst_structure_get_uint (error_details (run), "http-status",
            &status));
    fail_unless_equals_int (status, statuses[i]);
    fail_unless (gst_structure_get_string (error_details (run),
            "api-code") != NULL);
    run_free (run);
  }
  fail_unless_equals_int (emulator_stat (emu, "creates"), 0);
  emulator_stop (emu);
}

GST_END_TEST;

GST_START_TEST (test_failed_task)
{
  Emulator *emu = emulator_start ("0.5", NULL);
  g_autofree gchar *props = g_strdup_printf ("prompt=\"x "
      "[fail:content_policy_violation]\" images=\"<%s>\" cache-mode=disabled",
      png);
  Run *run = run_new (emu, props);
  const GstStructure *details;
  g_autofree gchar *text = NULL;

  run_play (run);
  details = error_details (run);
  fail_unless_equals_string (gst_structure_get_string (details, "api-code"),
      "content_policy_violation");
  fail_unless (g_str_has_prefix (gst_structure_get_string (details, "task-id"),
          "task-unified-"));
  text = error_text (run);
  fail_unless (strstr (text, "content_policy_violation") != NULL, "%s", text);
  fail_unless_equals_int (GPOINTER_TO_INT (g_list_last (run->progress)->data),
      GST_PROGRESS_TYPE_ERROR);
  run_free (run);
  emulator_stop (emu);
}

GST_END_TEST;

/* PLAYING returns at once; NULL while polling returns within a second. */
GST_START_TEST (test_state_changes_never_wait)
{
  Emulator *emu = emulator_start ("60", NULL);
  g_autofree gchar *props = g_strdup_printf ("prompt=slow images=\"<%s>\" "
      "cache-mode=disabled poll-interval=3", png);
  Run *run = run_new (emu, props);
  gchar *status = NULL;
  gint64 t0;
  gint i;

  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_element_set_state (run->pipeline,
          GST_STATE_PLAYING), GST_STATE_CHANGE_ASYNC);
  fail_unless (g_get_monotonic_time () - t0 < G_USEC_PER_SEC);

  /* wait until the task is being polled */
  for (i = 0; i < 200 && emulator_stat (emu, "polls") == 0; i++)
    g_usleep (50 * 1000);
  fail_unless (emulator_stat (emu, "polls") > 0);
  g_object_get (run->src, "status", &status, NULL);
  fail_unless (g_strcmp0 (status, "pending") == 0
      || g_strcmp0 (status, "processing") == 0, "status %s", status);
  g_free (status);

  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_element_set_state (run->pipeline,
          GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  fail_unless (g_get_monotonic_time () - t0 < G_USEC_PER_SEC,
      "NULL took %" G_GINT64_FORMAT " us", g_get_monotonic_time () - t0);
  run_free (run);
  emulator_stop (emu);
}

GST_END_TEST;

/* A re-run of the same request plays the kept clip with no API call; a
 * task-id attaches and creates nothing. */
GST_START_TEST (test_cache_and_attach)
{
  Emulator *emu = emulator_start ("0.5", NULL);
  g_autofree gchar *props = g_strdup_printf ("prompt=\"Cached\" "
      "images=\"<%s>\"", png);
  Run *run = run_new (emu, props);
  gchar *task_id = NULL;
  gint64 polls, downloads;

  run_play (run);
  fail_if (run->error != NULL);
  fail_unless_equals_int (run->frames, 120);
  g_object_get (run->src, "task-id", &task_id, NULL);
  run_free (run);
  fail_unless_equals_int (emulator_stat (emu, "creates"), 1);
  polls = emulator_stat (emu, "polls");
  downloads = emulator_stat (emu, "downloads");

  run = run_new (emu, props);
  run_play (run);
  fail_if (run->error != NULL);
  fail_unless_equals_int (run->frames, 120);
  {
    gchar *tag_task_id = NULL;
    fail_unless (run->tags != NULL);
    fail_unless (gst_tag_list_get_string (run->tags, "klingo1-task-id",
            &tag_task_id));
    fail_unless_equals_string (tag_task_id, task_id);
    g_free (tag_task_id);
  }
  run_free (run);
  fail_unless_equals_int (emulator_stat (emu, "create_requests"), 1);
  fail_unless_equals_int (emulator_stat (emu, "polls"), polls);
  fail_unless_equals_int (emulator_stat (emu, "downloads"), downloads);
  fail_unless_equals_int (emulator_stat (emu, "uploads"), 1);

  /* refresh generates anew */
  {
    g_autofree gchar *refresh = g_strdup_printf ("%s cache-mode=refresh",
        props);
    run = run_new (emu, refresh);
    run_play (run);
    fail_if (run->error != NULL);
    run_free (run);
    fail_unless_equals_int (emulator_stat (emu, "creates"), 2);
    /* the input is not uploaded again while its URL is valid */
    fail_unless_equals_int (emulator_stat (emu, "uploads"), 1);
  }

  /* attach */
  {
    g_autofree gchar *attach = g_strdup_printf ("task-id=%s "
        "cache-mode=disabled", task_id);
    run = run_new (emu, attach);
    run_play (run);
    fail_if (run->error != NULL);
    fail_unless_equals_int (run->frames, 120);
    run_free (run);
    fail_unless_equals_int (emulator_stat (emu, "create_requests"), 2);
  }
  g_free (task_id);
  emulator_stop (emu);
}

GST_END_TEST;

/* Result links die (24 h on the real service, 1 s here): attaching to a task
 * whose link expired fails clearly, naming the task. */
GST_START_TEST (test_expired_link)
{
  Emulator *emu = emulator_start ("0.3", "--link-ttl=1");
  g_autofree gchar *props = g_strdup_printf ("prompt=\"Expire\" "
      "images=\"<%s>\" cache-mode=disabled", png);
  g_autofree gchar *attach = NULL;
  Run *run = run_new (emu, props);
  gchar *task_id = NULL;
  GError *err = NULL;

  run_play (run);
  fail_if (run->error != NULL);
  g_object_get (run->src, "task-id", &task_id, NULL);
  run_free (run);

  g_usleep (1500 * 1000);
  attach = g_strdup_printf ("task-id=%s cache-mode=disabled", task_id);
  run = run_new (emu, attach);
  run_play (run);
  fail_unless_equals_string (gst_structure_get_string (error_details (run),
          "task-id"), task_id);
  gst_message_parse_error (run->error, &err, NULL);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NOT_FOUND), "%s", err->message);
  g_error_free (err);
  fail_unless_equals_int (emulator_stat (emu, "creates"), 1);
  run_free (run);
  g_free (task_id);
  emulator_stop (emu);
}

GST_END_TEST;

static void
setup (void)
{
  tmpdir = g_dir_make_tmp ("klingo1src-XXXXXX", NULL);
  png = make_media (tmpdir, "first.png", PNG_PIPELINE);
}

static void
teardown (void)
{
  g_autofree gchar *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_clear_pointer (&tmpdir, g_free);
  g_clear_pointer (&png, g_free);
}

static Suite *
klingo1src_suite (void)
{
  Suite *s = suite_create ("klingo1src");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_image_to_video_pipeline);
  tcase_add_test (tc, test_aspect_and_duration);
  tcase_add_test (tc, test_bad_input_sends_nothing);
  tcase_add_test (tc, test_bad_key);
  tcase_add_test (tc, test_http_errors_carry_api_message);
  tcase_add_test (tc, test_failed_task);
  tcase_add_test (tc, test_state_changes_never_wait);
  tcase_add_test (tc, test_cache_and_attach);
  tcase_add_test (tc, test_expired_link);
  return s;
}

GST_CHECK_MAIN (klingo1src);
