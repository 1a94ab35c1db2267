/* gst-klingo1 soak benchmark: many generations in one process, with its
 * memory, threads and file descriptors watched
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One emulator (--result-file of a small real MP4, so that the emulator
 * renders nothing and the run measures us), one process, N generations of
 * klingo1src ! qtdemux ! fakesink, each with a fresh prompt (a new task, a
 * new cache entry or none). An application that generates clips all day
 * must stay flat: VmRSS is printed every --every generations, with the
 * growth from the first print to the last, and the threads (by name) and
 * file descriptors (by target) of the process at the start, after the
 * first generation and at the end.
 *
 *   soak [-n 200] [--every 20] [--cache-mode read-write|disabled]
 *        [--task-seconds 0.1] [--max-growth-kib 1024] [--baseline]
 *
 * --baseline runs filesrc of the same clip instead, for GStreamer's share.
 *
 * Exit status 1 when a generation fails, RSS grew by more than
 * --max-growth-kib between the first print and the last, or a thread or
 * file descriptor is left behind: more at the end than after the first
 * generation, which started what is meant to stay (GIO's worker and
 * settings threads, its wake-up descriptors, the thread pools).
 *
 * The heap in use (mallinfo2 ()) is printed too: it tells a leak from RSS
 * that the allocator keeps. With GLIBC_TUNABLES=glibc.malloc.tcache_count=0
 * it is exact (per-thread caches count as "in use").
 */
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <malloc.h>
#include <unistd.h>

#include "../check/emulator-helper.h"

#define CLIP_ONLY_VIDEO "videotestsrc num-buffers=48 pattern=ball ! " \
  "video/x-raw,width=160,height=120,framerate=24/1 ! x264enc " \
  "speed-preset=ultrafast ! h264parse ! mp4mux ! filesink location=%s"

typedef struct
{
  gint64 rss_kib;
  gint threads;
  gint fds;
  GHashTable *thread_names;     /* name -> count (GINT_TO_POINTER) */
  GHashTable *fd_targets;       /* "socket:[…]" etc. -> count */
} Snapshot;

static gint64
status_field (const gchar * name)
{
  g_autofree gchar *text = NULL;
  g_auto (GStrv) lines = NULL;
  gsize len = strlen (name);
  guint i;

  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return -1;
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; lines[i]; i++) {
    if (strncmp (lines[i], name, len) == 0 && lines[i][len] == ':')
      return g_ascii_strtoll (lines[i] + len + 1, NULL, 10);
  }
  return -1;
}

/* Bytes malloc () handed out and not taken back, all arenas: what a leak
 * grows, without RSS's pages of fragmentation and arenas. */
static gint64
heap_in_use_kib (void)
{
  struct mallinfo2 mi = mallinfo2 ();

  return (gint64) (mi.uordblks + mi.hblkhd) / 1024;
}

static void
count_take (GHashTable * table, gchar * key)
{
  gint n = GPOINTER_TO_INT (g_hash_table_lookup (table, key));

  g_hash_table_insert (table, key, GINT_TO_POINTER (n + 1));
}

/* Socket and pipe inodes differ from run to run: the kind is what counts. */
static gchar *
fd_kind (const gchar * target)
{
  const gchar *bracket = strchr (target, '[');

  if (bracket && (g_str_has_prefix (target, "socket:")
          || g_str_has_prefix (target, "pipe:")
          || g_str_has_prefix (target, "anon_inode:")))
    return g_strndup (target, bracket - target);
  return g_strdup (target);
}

/* Pooled threads change names as they are reused: GStreamer's task threads
 * keep the element and pad they last ran ("qtdemux198:sink"), GLib's are
 * "pool-<program>". Their pools bound them; the other threads are named
 * for good ("klingo1-dl", "gmain", "dconf worker"). */
#define POOL_GST "GStreamer task pool"
#define POOL_GLIB "GLib thread pools"

static gchar *
thread_kind (const gchar * comm)
{
  if (strchr (comm, ':'))
    return g_strdup (POOL_GST);
  if (g_str_has_prefix (comm, "pool-"))
    return g_strdup (POOL_GLIB);
  return g_strdup (comm);
}

static void
snapshot_take (Snapshot * s)
{
  g_autoptr (GDir) tasks = NULL;
  GDir *fds;
  const gchar *name;

  s->rss_kib = status_field ("VmRSS");
  s->threads = status_field ("Threads");
  s->thread_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  s->fd_targets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);

  tasks = g_dir_open ("/proc/self/task", 0, NULL);
  while (tasks && (name = g_dir_read_name (tasks))) {
    g_autofree gchar *path = g_strdup_printf ("/proc/self/task/%s/comm",
        name);
    g_autofree gchar *comm = NULL;

    if (g_file_get_contents (path, &comm, NULL, NULL))
      count_take (s->thread_names, thread_kind (g_strstrip (comm)));
  }
  /* closed before the descriptors are counted */
  g_clear_pointer (&tasks, g_dir_close);

  s->fds = 0;
  fds = g_dir_open ("/proc/self/fd", 0, NULL);
  while (fds && (name = g_dir_read_name (fds))) {
    g_autofree gchar *path = g_build_filename ("/proc/self/fd", name, NULL);
    g_autofree gchar *target = g_file_read_link (path, NULL);

    /* the listing's own descriptor is not the process's */
    if (target == NULL || (g_str_has_prefix (target, "/proc/")
            && g_str_has_suffix (target, "/fd")))
      continue;
    count_take (s->fd_targets, fd_kind (target));
    s->fds++;
  }
  if (fds)
    g_dir_close (fds);
}

static void
snapshot_clear (Snapshot * s)
{
  g_clear_pointer (&s->thread_names, g_hash_table_unref);
  g_clear_pointer (&s->fd_targets, g_hash_table_unref);
}

static gint
compare_keys (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

static gchar *
describe (GHashTable * table)
{
  g_autofree gpointer *keys = NULL;
  GString *s = g_string_new (NULL);
  guint i, n;

  keys = g_hash_table_get_keys_as_array (table, &n);
  qsort (keys, n, sizeof (gpointer), compare_keys);
  for (i = 0; i < n; i++)
    g_string_append_printf (s, "%s%s x%d", i ? ", " : "", (gchar *) keys[i],
        GPOINTER_TO_INT (g_hash_table_lookup (table, keys[i])));
  return g_string_free (s, FALSE);
}

/* What @later has more of than @earlier, or NULL. */
static gchar *
more_in (GHashTable * later, GHashTable * earlier)
{
  GHashTableIter iter;
  gpointer key, value;
  GString *s = g_string_new (NULL);

  g_hash_table_iter_init (&iter, later);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    gint before = GPOINTER_TO_INT (g_hash_table_lookup (earlier, key));
    if (GPOINTER_TO_INT (value) > before)
      g_string_append_printf (s, "%s%s +%d", s->len ? ", " : "",
          (gchar *) key, GPOINTER_TO_INT (value) - before);
  }
  if (s->len == 0) {
    g_string_free (s, TRUE);
    return NULL;
  }
  return g_string_free (s, FALSE);
}

static void
snapshot_print (const gchar * when, Snapshot * s)
{
  g_autofree gchar *threads = describe (s->thread_names);
  g_autofree gchar *fds = describe (s->fd_targets);

  g_print ("%s: VmRSS %" G_GINT64_FORMAT " KiB, %d threads (%s), %d fds "
      "(%s)\n", when, s->rss_kib, s->threads, threads, s->fds, fds);
}

/* The emulator of emulator-helper.h, with credits for any number of
 * generations (its default, 100000, pays for 2500). */
static Emulator *
start_emulator (const gchar * clip, gdouble task_seconds)
{
  const gchar *exe = g_getenv ("KLINGO1_EMULATOR");
  gchar seconds[G_ASCII_DTOSTR_BUF_SIZE];
  const gchar *argv[] = { exe, "--port", "0", "--key", TEST_KEY,
    "--task-seconds", g_ascii_dtostr (seconds, sizeof (seconds),
        task_seconds), "--result-file", clip, "--credits", "1000000000",
    NULL
  };
  Emulator *emu = g_new0 (Emulator, 1);
  g_autoptr (GError) error = NULL;
  GString *line = g_string_new (NULL);
  gint out_fd;
  gchar c;

  if (exe == NULL)
    g_error ("KLINGO1_EMULATOR is not set (meson test --benchmark sets it)");
  if (!g_spawn_async_with_pipes (NULL, (gchar **) argv, NULL,
          G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &emu->pid, NULL, &out_fd,
          NULL, &error))
    g_error ("cannot start %s: %s", exe, error->message);
  while (read (out_fd, &c, 1) == 1 && c != '\n')
    g_string_append_c (line, c);
  /* it prints nothing more: the pipe stays open, unread */
  emu->url = g_string_free (line, FALSE);
  if (!g_str_has_prefix (emu->url, "http://127.0.0.1:"))
    g_error ("the emulator did not start");
  return emu;
}

/* One generation: a new pipeline, a fresh prompt, until EOS. With
 * @baseline_clip, filesrc plays that file instead: the same loop without
 * our code, to tell GStreamer's and the allocator's share of any growth. */
static gboolean
generate (const gchar * url, const gchar * image, const gchar * cache_dir,
    const gchar * cache_mode, const gchar * baseline_clip, guint n,
    GError ** error)
{
  g_autofree gchar *prompt = g_strdup_printf ("Soak generation %u of pid %d",
      n, (int) getpid ());
  g_autofree gchar *images = g_strdup_printf ("<%s>", image);
  GstElement *pipeline, *src;
  GstBus *bus;
  GstMessage *msg;
  gboolean ok = FALSE;

  pipeline = gst_parse_launch (baseline_clip ? "filesrc name=src ! qtdemux "
      "! fakesink sync=false" : "klingo1src name=src ! qtdemux ! "
      "fakesink sync=false", error);
  if (pipeline == NULL)
    return FALSE;
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  if (baseline_clip) {
    g_object_set (src, "location", baseline_clip, NULL);
  } else {
    g_object_set (src, "api-url", url, "files-url", url, "api-key", TEST_KEY,
        "prompt", prompt, "poll-interval", 0.05, "cache-dir", cache_dir,
        "timeout", 60, NULL);
    gst_util_set_object_arg (G_OBJECT (src), "images", images);
    gst_util_set_object_arg (G_OBJECT (src), "cache-mode", cache_mode);
  }
  gst_object_unref (src);

  bus = gst_element_get_bus (pipeline);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
        "generation %u: cannot start the pipeline", n);
    msg = NULL;
  } else {
    msg = gst_bus_timed_pop_filtered (bus, 90 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  }
  if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
    ok = TRUE;
  } else if (msg) {
    GError *err = NULL;
    g_autofree gchar *debug = NULL;

    gst_message_parse_error (msg, &err, &debug);
    g_set_error (error, err->domain, err->code, "generation %u: %s (%s)", n,
        err->message, debug ? debug : "");
    g_error_free (err);
  } else if (error && *error == NULL) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
        "generation %u: neither EOS nor an error in 90 s", n);
  }
  if (msg)
    gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  return ok;
}

/* Files a run left in the cache that a finished clip never keeps. */
static guint
count_leftovers (const gchar * dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  guint n = 0;

  while (d && (name = g_dir_read_name (d))) {
    g_autofree gchar *path = g_build_filename (dir, name, NULL);

    if (g_file_test (path, G_FILE_TEST_IS_DIR))
      n += count_leftovers (path);
    else if (g_str_has_suffix (name, ".part")
        || g_str_has_suffix (name, ".ranges") || strstr (name, ".tmp"))
      n++;
  }
  return n;
}

static void
remove_tree (const gchar * dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (d && (name = g_dir_read_name (d))) {
    g_autofree gchar *path = g_build_filename (dir, name, NULL);

    if (g_file_test (path, G_FILE_TEST_IS_DIR)
        && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
      remove_tree (path);
    else
      g_unlink (path);
  }
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  gint generations = 200, every = 20;
  gint64 max_growth_kib = 1024;
  g_autofree gchar *cache_mode = NULL;
  gboolean baseline = FALSE;
  gdouble task_seconds = 0.1;
  GOptionEntry entries[] = {
    {"generations", 'n', 0, G_OPTION_ARG_INT, &generations,
        "Generations to run (default 200)", "N"},
    {"every", 0, 0, G_OPTION_ARG_INT, &every,
        "Print VmRSS every N generations (default 20)", "N"},
    {"cache-mode", 0, 0, G_OPTION_ARG_STRING, &cache_mode,
        "klingo1src cache-mode: read-write (default) or disabled", "MODE"},
    {"max-growth-kib", 0, 0, G_OPTION_ARG_INT64, &max_growth_kib,
        "Fail when VmRSS grew by more than this from the first print to the "
          "last (default 1024)", "KIB"},
    {"task-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &task_seconds,
        "Emulator's time from create to completed (default 0.1: a few "
          "polls at poll-interval=0.05)", "S"},
    {"baseline", 0, 0, G_OPTION_ARG_NONE, &baseline,
        "filesrc of the same clip instead of klingo1src: GStreamer's own "
          "figures", NULL},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *clip = NULL;
  g_autofree gchar *image = NULL;
  g_autofree gchar *cache_dir = NULL;
  Snapshot start = { 0, }, warm = { 0, }, end = { 0, };
  gint64 first_rss = -1, last_rss = -1, first_heap = -1, last_heap = -1;
  gint64 t0, t1;
  Emulator *emu;
  gboolean failed = FALSE;
  gint i;

  ctx = g_option_context_new ("- klingo1src soak benchmark");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("soak: %s\n", error->message);
    return 2;
  }
  if (cache_mode == NULL)
    cache_mode = g_strdup ("read-write");
  if (generations < 1 || every < 1 || task_seconds < 0) {
    g_printerr ("soak: -n and --every must be positive, --task-seconds not "
        "negative\n");
    return 2;
  }
  gst_init (NULL, NULL);

  dir = g_dir_make_tmp ("klingo1-soak-XXXXXX", &error);
  g_assert_no_error (error);
  clip = make_media (dir, "result.mp4", CLIP_ONLY_VIDEO);
  cache_dir = g_build_filename (dir, "cache", NULL);
  emu = start_emulator (clip, task_seconds);
  /* with --result-file the emulator fetches no input: any image URL will
   * do, and a remote one keeps uploads out of the measurement */
  image = g_strdup_printf ("%s/static/first.png", emu->url);

  if (baseline)
    g_print ("soak: %d runs of filesrc ! qtdemux ! fakesink (baseline)\n",
        generations);
  else
    g_print ("soak: %d generations, cache-mode=%s, emulator %s with "
        "--task-seconds %g\n", generations, cache_mode, emu->url,
        task_seconds);
  snapshot_take (&start);
  snapshot_print ("start", &start);

  t0 = g_get_monotonic_time ();
  for (i = 1; i <= generations; i++) {
    if (!generate (emu->url, image, cache_dir, cache_mode,
            baseline ? clip : NULL, i, &error)) {
      g_printerr ("soak: %s\n", error->message);
      failed = TRUE;
      break;
    }
    if (i == 1) {
      snapshot_take (&warm);
      snapshot_print ("after generation 1", &warm);
    }
    if (i % every == 0) {
      gint64 rss = status_field ("VmRSS");
      gint64 heap = heap_in_use_kib ();

      if (first_rss < 0)
        first_rss = rss;
      last_rss = rss;
      if (first_heap < 0)
        first_heap = heap;
      last_heap = heap;
      g_print ("generation %4d: VmRSS %6" G_GINT64_FORMAT " KiB, heap in "
          "use %6" G_GINT64_FORMAT " KiB, %2" G_GINT64_FORMAT " threads, "
          "%.1f s\n", i, rss, heap, status_field ("Threads"),
          (g_get_monotonic_time () - t0) / 1e6);
    }
  }
  t1 = g_get_monotonic_time ();
  snapshot_take (&end);
  snapshot_print ("end", &end);

  if (!failed) {
    gint64 creates = emulator_stat (emu, "creates");
    guint leftovers = count_leftovers (cache_dir);
    g_autofree gchar *more_threads = more_in (end.thread_names,
        warm.thread_names);
    g_autofree gchar *more_fds = more_in (end.fd_targets, warm.fd_targets);

    g_print ("%d generations in %.1f s (%.0f ms each), %" G_GINT64_FORMAT
        " tasks created\n", generations, (t1 - t0) / 1e6,
        (t1 - t0) / 1e3 / generations, creates);
    if (first_rss >= 0 && last_rss >= 0 && generations > every) {
      gint64 growth = last_rss - first_rss;
      gint gens = (generations / every) * every - every;

      g_print ("VmRSS growth from generation %d to %d: %+" G_GINT64_FORMAT
          " KiB (%+.2f KiB per generation); heap in use: %+" G_GINT64_FORMAT
          " KiB\n", every, (generations / every) * every, growth,
          (gdouble) growth / gens, last_heap - first_heap);
      if (growth > max_growth_kib) {
        g_printerr ("FAIL: VmRSS grew by more than %" G_GINT64_FORMAT
            " KiB\n", max_growth_kib);
        failed = TRUE;
      }
    }
    g_print ("threads: %d at the start, %d after generation 1, %d at the "
        "end\n", start.threads, warm.threads, end.threads);
    g_print ("fds: %d at the start, %d after generation 1, %d at the end\n",
        start.fds, warm.fds, end.fds);
    /* a pool may keep one more idle thread after a busy moment; any other
     * thread must not outlive the generation that started it */
    if (more_threads) {
      GHashTable *named = g_hash_table_new (g_str_hash, g_str_equal);
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, end.thread_names);
      while (g_hash_table_iter_next (&iter, &key, &value)) {
        if (!g_str_equal (key, POOL_GST) && !g_str_equal (key, POOL_GLIB)
            && GPOINTER_TO_INT (value) > GPOINTER_TO_INT (g_hash_table_lookup
                    (warm.thread_names, key)))
          g_hash_table_add (named, key);
      }
      if (g_hash_table_size (named) > 0) {
        g_printerr ("FAIL: threads left behind: %s\n", more_threads);
        failed = TRUE;
      } else {
        g_print ("(idle pool threads: %s)\n", more_threads);
      }
      g_hash_table_unref (named);
    }
    if (more_fds) {
      g_printerr ("FAIL: file descriptors left behind: %s\n", more_fds);
      failed = TRUE;
    }
    if (!baseline && creates != generations) {
      g_printerr ("FAIL: %" G_GINT64_FORMAT " tasks created for %d "
          "generations\n", creates, generations);
      failed = TRUE;
    }
    if (leftovers) {
      g_printerr ("FAIL: %u part, ranges or temporary files left in the "
          "cache\n", leftovers);
      failed = TRUE;
    }
  }

  emulator_stop (emu);
  remove_tree (dir);
  snapshot_clear (&start);
  snapshot_clear (&warm);
  snapshot_clear (&end);
  g_print ("soak: %s\n", failed ? "FAILED" : "ok");
  return failed ? 1 : 0;
}
