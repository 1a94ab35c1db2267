/* gst-klingo1 tests: start and stop klingo1-emulator, read its stats
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <glib.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#define TEST_KEY "sk-emulator-test"

typedef struct
{
  GPid pid;
  gchar *url;
} Emulator;

/* Starts the emulator built by meson ($KLINGO1_EMULATOR) on a free port and
 * waits for its first line, the base URL. */
static inline Emulator *
emulator_start (const gchar * task_seconds, const gchar * extra_arg)
{
  const gchar *exe = g_getenv ("KLINGO1_EMULATOR");
  const gchar *argv[10] = { exe, "--port", "0", "--key", TEST_KEY,
    "--task-seconds", task_seconds, extra_arg, NULL
  };
  Emulator *emu = g_new0 (Emulator, 1);
  gint out_fd;
  g_autoptr (GError) error = NULL;
  GString *line = g_string_new (NULL);
  gchar c;

  g_assert_nonnull (exe);
  if (!g_spawn_async_with_pipes (NULL, (gchar **) argv, NULL,
          G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &emu->pid, NULL, &out_fd,
          NULL, &error))
    g_error ("cannot start %s: %s", exe, error->message);
  while (read (out_fd, &c, 1) == 1 && c != '\n')
    g_string_append_c (line, c);
  /* Keep the pipe open but unread: the emulator prints only one line. */
  emu->url = g_string_free (line, FALSE);
  g_assert_true (g_str_has_prefix (emu->url, "http://127.0.0.1:"));
  return emu;
}

static inline void
emulator_stop (Emulator * emu)
{
  kill (emu->pid, SIGTERM);
  waitpid (emu->pid, NULL, 0);
  g_spawn_close_pid (emu->pid);
  g_free (emu->url);
  g_free (emu);
}

/* One counter of GET /emulator/stats: creates, create_requests, polls,
 * downloads, uploads. */
static inline gint64
emulator_stat (Emulator * emu, const gchar * name)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree gchar *uri = g_strdup_printf ("%s/emulator/stats", emu->url);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  gsize len;
  const gchar *data;

  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (body, &len);
  g_assert_true (json_parser_load_from_data (parser, data, len, NULL));
  return json_object_get_int_member (json_node_get_object (json_parser_get_root
          (parser)), name);
}

/* Writes a small real image or clip with a GStreamer pipeline. */
static inline gchar *
make_media (const gchar * dir, const gchar * name, const gchar * pipeline_fmt)
{
  gchar *path = g_build_filename (dir, name, NULL);
  g_autofree gchar *desc = g_strdup_printf (pipeline_fmt, path);
  g_autoptr (GError) error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  GstBus *bus;
  GstMessage *m;

  g_assert_no_error (error);
  gst_element_set_state (p, GST_STATE_PLAYING);
  bus = gst_element_get_bus (p);
  m = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (m);
  g_assert_cmpint (GST_MESSAGE_TYPE (m), ==, GST_MESSAGE_EOS);
  gst_message_unref (m);
  gst_object_unref (bus);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  return path;
}

#define PNG_PIPELINE "videotestsrc num-buffers=1 pattern=ball ! " \
  "video/x-raw,width=160,height=90 ! pngenc ! filesink location=%s"
#define JPEG_PIPELINE "videotestsrc num-buffers=1 pattern=smpte ! " \
  "video/x-raw,width=160,height=90 ! jpegenc ! filesink location=%s"
/* 4 s at 24 fps with a tone: inside video-edit's 3-10 s window. */
#define CLIP_PIPELINE "videotestsrc num-buffers=96 pattern=ball ! " \
  "video/x-raw,width=160,height=120,framerate=24/1 ! x264enc " \
  "speed-preset=ultrafast ! h264parse ! mp4mux name=m ! filesink location=%s " \
  "audiotestsrc num-buffers=172 ! audio/x-raw,rate=44100 ! avenc_aac ! " \
  "aacparse ! m."
