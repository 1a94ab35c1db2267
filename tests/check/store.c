/* gst-klingo1: tests of the on-disk cache and task journal
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/klingo1/store.h>
#include <gst/klingo1/error.h>
#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static gchar *tmp_dir;

static void
setup (void)
{
  GError *err = NULL;

  tmp_dir = g_dir_make_tmp ("klingo1-store-XXXXXX", &err);
  fail_unless (tmp_dir != NULL, "%s", err ? err->message : "");
}

static gboolean
rm_rf (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);

  if (dir != NULL) {
    const gchar *name;

    while ((name = g_dir_read_name (dir)) != NULL) {
      g_autofree gchar *child = g_build_filename (path, name, NULL);
      rm_rf (child);
    }
    g_dir_close (dir);
    return g_rmdir (path) == 0;
  }
  return g_unlink (path) == 0;
}

static void
teardown (void)
{
  rm_rf (tmp_dir);
  g_clear_pointer (&tmp_dir, g_free);
}

static GstKlingo1StoreEntry *
open_entry (GstKlingo1Store * store, const gchar * key)
{
  g_autoptr (GError) err = NULL;
  GstKlingo1StoreEntry *entry;

  entry = gst_klingo1_store_open_entry (store, key, &err);
  fail_unless (entry != NULL, "open_entry: %s", err ? err->message : "");
  return entry;
}

GST_START_TEST (test_default_dir)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (NULL);
  g_autofree gchar *expected =
      g_build_filename (g_get_user_cache_dir (), "klingo1", NULL);

  fail_unless_equals_string (gst_klingo1_store_get_dir (store), expected);
}

GST_END_TEST;

GST_START_TEST (test_lazy_creation)
{
  g_autofree gchar *dir = g_build_filename (tmp_dir, "sub", "cache", NULL);
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (dir);
  g_autoptr (GstKlingo1StoreEntry) entry = NULL;
  g_autofree gchar *entry_dir = NULL;

  fail_unless_equals_string (gst_klingo1_store_get_dir (store), dir);
  fail_if (g_file_test (dir, G_FILE_TEST_EXISTS));

  entry = open_entry (store, KEY);
  entry_dir = g_build_filename (dir, "tasks", KEY, NULL);
  fail_unless (g_file_test (entry_dir, G_FILE_TEST_IS_DIR));
}

GST_END_TEST;

GST_START_TEST (test_key_validation)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  const gchar *bad[] = { "", "..", "../x", "a/b", "abc.def", "/abs",
    "with space", "a\\b", NULL
  };
  g_autofree gchar *too_long = g_strnfill (4096, 'a');
  gint i;

  for (i = 0; bad[i] != NULL; i++) {
    g_autoptr (GError) err = NULL;
    GstKlingo1StoreEntry *entry;

    entry = gst_klingo1_store_open_entry (store, bad[i], &err);
    fail_unless (entry == NULL, "key '%s' accepted", bad[i]);
    fail_unless (g_error_matches (err, GST_KLINGO1_ERROR,
            GST_KLINGO1_ERROR_IO), "key '%s'", bad[i]);
  }
  {
    g_autoptr (GError) err = NULL;
    fail_unless (gst_klingo1_store_open_entry (store, too_long, &err) == NULL);
    fail_unless (err != NULL);
  }
  {
    g_autoptr (GError) err = NULL;
    g_autoptr (GstKlingo1StoreEntry) entry =
        gst_klingo1_store_open_entry (store, "ABCdef0129", &err);
    fail_unless (entry != NULL);
  }
  /* Nothing was created for the rejected keys. */
  {
    g_autofree gchar *tasks = g_build_filename (tmp_dir, "tasks", NULL);
    g_autoptr (GDir) dir = g_dir_open (tasks, 0, NULL);
    fail_unless (dir != NULL);
    fail_unless_equals_string (g_dir_read_name (dir), "ABCdef0129");
    fail_unless (g_dir_read_name (dir) == NULL);
  }
}

GST_END_TEST;

GST_START_TEST (test_journal_round_trip)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) entry = open_entry (store, KEY);
  g_autoptr (GstKlingo1StoreEntry) again = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *task_id = NULL;
  g_autofree gchar *api_url = NULL;
  g_autofree gchar *contents = NULL;
  GStatBuf st;

  /* No journal yet. */
  {
    /* The out argument is reset even when there is no journal. */
    gchar *out = (gchar *) "sentinel";

    task_id = gst_klingo1_store_entry_get_task_id (entry, &out);
    fail_unless (task_id == NULL);
    fail_unless (out == NULL);
  }

  fail_unless (gst_klingo1_store_entry_set_task_id (entry, "task-unified-1",
          "https://api.example.com", &err));
  fail_unless (err == NULL);

  /* A fresh entry (as after a re-run) sees the same journal. */
  again = open_entry (store, KEY);
  task_id = gst_klingo1_store_entry_get_task_id (again, &api_url);
  fail_unless_equals_string (task_id, "task-unified-1");
  fail_unless_equals_string (api_url, "https://api.example.com");
  g_clear_pointer (&task_id, g_free);
  g_clear_pointer (&api_url, g_free);

  /* api_url is optional to read. */
  task_id = gst_klingo1_store_entry_get_task_id (again, NULL);
  fail_unless_equals_string (task_id, "task-unified-1");
  g_clear_pointer (&task_id, g_free);

  /* Overwrite replaces. */
  fail_unless (gst_klingo1_store_entry_set_task_id (entry, "task-2",
          "http://127.0.0.1:1234", NULL));
  task_id = gst_klingo1_store_entry_get_task_id (entry, &api_url);
  fail_unless_equals_string (task_id, "task-2");
  fail_unless_equals_string (api_url, "http://127.0.0.1:1234");

  /* The file has the documented shape and private permissions. */
  {
    g_autofree gchar *path =
        g_build_filename (tmp_dir, "tasks", KEY, "task.json", NULL);
    fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
    fail_unless (strstr (contents, "\"task_id\"") != NULL);
    fail_unless (strstr (contents, "\"api_url\"") != NULL);
    fail_unless (strstr (contents, "\"created\"") != NULL);
    fail_unless (g_stat (path, &st) == 0);
    fail_unless_equals_int (st.st_mode & 0777, 0600);
  }
}

GST_END_TEST;

GST_START_TEST (test_create_key)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) entry = open_entry (store, KEY);
  g_autoptr (GstKlingo1StoreEntry) again = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *key = NULL;

  fail_unless (gst_klingo1_store_entry_get_create_key (entry) == NULL);
  fail_unless (gst_klingo1_store_entry_set_create_key (entry, "k-1", &err));
  fail_unless (err == NULL);

  /* A re-run (a fresh entry) finds the key of the create in flight. */
  again = open_entry (store, KEY);
  key = gst_klingo1_store_entry_get_create_key (again);
  fail_unless_equals_string (key, "k-1");
  g_clear_pointer (&key, g_free);

  /* NULL forgets it; forgetting twice is fine. */
  fail_unless (gst_klingo1_store_entry_set_create_key (again, NULL, &err));
  fail_unless (gst_klingo1_store_entry_set_create_key (again, NULL, &err));
  fail_unless (gst_klingo1_store_entry_get_create_key (entry) == NULL);

  /* clear (refresh) forgets it too. */
  fail_unless (gst_klingo1_store_entry_set_create_key (entry, "k-2", &err));
  fail_unless (gst_klingo1_store_entry_clear (entry, &err));
  fail_unless (gst_klingo1_store_entry_get_create_key (again) == NULL);
}

GST_END_TEST;

GST_START_TEST (test_journal_corrupt)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) entry = open_entry (store, KEY);
  g_autofree gchar *path =
      g_build_filename (tmp_dir, "tasks", KEY, "task.json", NULL);
  const gchar *bad[] = {
    "", "{", "not json at all", "[1,2,3]", "42", "{\"task_id\": 17}",
    "{\"task_id\": null}", "{\"task_id\": \"\"}", "{\"task_id\": {}}",
    "{\"api_url\": \"http://x\"}", "\x01\x02\xff\xfe", NULL
  };
  gint i;

  for (i = 0; bad[i] != NULL; i++) {
    g_autofree gchar *task_id = NULL;
    g_autofree gchar *api_url = NULL;

    fail_unless (g_file_set_contents (path, bad[i], -1, NULL));
    task_id = gst_klingo1_store_entry_get_task_id (entry, &api_url);
    fail_unless (task_id == NULL, "accepted journal '%s'", bad[i]);
    fail_unless (api_url == NULL);
  }

  /* A wrongly typed api_url does not hide a good task id. */
  {
    g_autofree gchar *task_id = NULL;
    g_autofree gchar *api_url = NULL;

    fail_unless (g_file_set_contents (path,
            "{\"task_id\": \"t1\", \"api_url\": 5}", -1, NULL));
    task_id = gst_klingo1_store_entry_get_task_id (entry, &api_url);
    fail_unless_equals_string (task_id, "t1");
    fail_unless (api_url == NULL);
  }

  /* A corrupt journal can be overwritten. */
  fail_unless (gst_klingo1_store_entry_set_task_id (entry, "t2", "u", NULL));
  {
    g_autofree gchar *task_id =
        gst_klingo1_store_entry_get_task_id (entry, NULL);
    fail_unless_equals_string (task_id, "t2");
  }
}

GST_END_TEST;

GST_START_TEST (test_clip_commit_clear)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) entry = open_entry (store, KEY);
  g_autoptr (GError) err = NULL;
  g_autofree gchar *contents = NULL;
  const gchar *clip, *part;
  gsize len = 0;

  clip = gst_klingo1_store_entry_get_clip_path (entry);
  part = gst_klingo1_store_entry_get_part_path (entry);
  fail_unless (g_str_has_suffix (clip, "clip.mp4"));
  fail_unless (g_str_has_suffix (part, "clip.mp4.part"));
  /* Stable strings owned by the entry. */
  fail_unless (clip == gst_klingo1_store_entry_get_clip_path (entry));
  fail_unless (part == gst_klingo1_store_entry_get_part_path (entry));

  fail_if (gst_klingo1_store_entry_has_clip (entry));

  /* Committing without a part file is an I/O error naming the path. */
  fail_if (gst_klingo1_store_entry_commit_clip (entry, &err));
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO));
  fail_unless (strstr (err->message, part) != NULL, "%s", err->message);
  g_clear_error (&err);

  /* An empty clip does not count. */
  fail_unless (g_file_set_contents (clip, "", 0, NULL));
  fail_if (gst_klingo1_store_entry_has_clip (entry));
  g_unlink (clip);

  fail_unless (g_file_set_contents (part, "ftypmoov", -1, NULL));
  fail_if (gst_klingo1_store_entry_has_clip (entry));
  fail_unless (gst_klingo1_store_entry_commit_clip (entry, &err));
  fail_unless (err == NULL);
  fail_unless (gst_klingo1_store_entry_has_clip (entry));
  fail_if (g_file_test (part, G_FILE_TEST_EXISTS));
  fail_unless (g_file_get_contents (clip, &contents, &len, NULL));
  fail_unless_equals_string (contents, "ftypmoov");

  /* A second entry (a re-run) sees the clip. */
  {
    g_autoptr (GstKlingo1StoreEntry) again = open_entry (store, KEY);
    fail_unless (gst_klingo1_store_entry_has_clip (again));
  }

  /* Clear removes journal, part and clip. */
  fail_unless (gst_klingo1_store_entry_set_task_id (entry, "t", "u", NULL));
  fail_unless (g_file_set_contents (part, "partial", -1, NULL));
  fail_unless (gst_klingo1_store_entry_clear (entry, &err));
  fail_unless (err == NULL);
  fail_if (gst_klingo1_store_entry_has_clip (entry));
  fail_if (g_file_test (clip, G_FILE_TEST_EXISTS));
  fail_if (g_file_test (part, G_FILE_TEST_EXISTS));
  fail_unless (gst_klingo1_store_entry_get_task_id (entry, NULL) == NULL);

  /* Clearing an empty entry is fine. */
  fail_unless (gst_klingo1_store_entry_clear (entry, &err));
  fail_unless (err == NULL);
}

GST_END_TEST;

GST_START_TEST (test_uploads)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GError) err = NULL;
  g_autofree gchar *url = NULL;

  fail_unless (gst_klingo1_store_lookup_upload (store, HASH, 0) == NULL);

  /* Expired an hour ago. */
  {
    g_autoptr (GDateTime) past = g_date_time_add_hours (now, -1);
    fail_unless (gst_klingo1_store_record_upload (store, HASH,
            "https://files.example.com/past.jpg", past, &err));
    fail_unless (err == NULL);
    fail_unless (gst_klingo1_store_lookup_upload (store, HASH, 0) == NULL);
    fail_unless (gst_klingo1_store_lookup_upload (store, HASH, 3600) == NULL);
  }

  /* Expires in 10 minutes: good for a short need, not for a long one. */
  {
    g_autoptr (GDateTime) soon = g_date_time_add_minutes (now, 10);
    fail_unless (gst_klingo1_store_record_upload (store, HASH,
            "https://files.example.com/soon.jpg", soon, NULL));
    url = gst_klingo1_store_lookup_upload (store, HASH, 60);
    fail_unless_equals_string (url, "https://files.example.com/soon.jpg");
    g_clear_pointer (&url, g_free);
    fail_unless (gst_klingo1_store_lookup_upload (store, HASH, 3600) == NULL);
  }

  /* Expires in 3 days, recorded with a non-UTC zone. */
  {
    g_autoptr (GTimeZone) tz = g_time_zone_new_offset (5 * 3600 + 1800);
    g_autoptr (GDateTime) far_utc = g_date_time_add_days (now, 3);
    g_autoptr (GDateTime) far = g_date_time_to_timezone (far_utc, tz);
    fail_unless (gst_klingo1_store_record_upload (store, HASH,
            "https://files.example.com/far.jpg", far, NULL));
    url = gst_klingo1_store_lookup_upload (store, HASH, 24 * 3600);
    fail_unless_equals_string (url, "https://files.example.com/far.jpg");
    g_clear_pointer (&url, g_free);
    fail_unless (gst_klingo1_store_lookup_upload (store, HASH,
            4 * 24 * 3600) == NULL);
  }

  /* Other hashes are independent; invalid ones are refused. */
  fail_unless (gst_klingo1_store_lookup_upload (store, "abcd", 0) == NULL);
  fail_unless (gst_klingo1_store_lookup_upload (store, "../x", 0) == NULL);
  fail_if (gst_klingo1_store_record_upload (store, "../x", "u", now, &err));
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO));
  g_clear_error (&err);

  /* Corrupt records are ignored. */
  {
    g_autofree gchar *path =
        g_build_filename (tmp_dir, "uploads", HASH ".json", NULL);
    const gchar *bad[] = { "", "{", "{\"url\": \"u\"}",
      "{\"url\": \"u\", \"expires_at\": \"yesterday\"}",
      "{\"url\": 3, \"expires_at\": \"2999-01-01T00:00:00Z\"}", NULL
    };
    gint i;

    for (i = 0; bad[i] != NULL; i++) {
      fail_unless (g_file_set_contents (path, bad[i], -1, NULL));
      fail_unless (gst_klingo1_store_lookup_upload (store, HASH, 0) == NULL,
          "accepted '%s'", bad[i]);
    }
    fail_unless (g_file_set_contents (path,
            "{\"url\": \"u\", \"expires_at\": \"2999-01-01T00:00:00Z\"}", -1,
            NULL));
    url = gst_klingo1_store_lookup_upload (store, HASH, 0);
    fail_unless_equals_string (url, "u");
  }
}

GST_END_TEST;

GST_START_TEST (test_lock_same_process)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) a = open_entry (store, KEY);
  g_autoptr (GstKlingo1StoreEntry) b = open_entry (store, KEY);
  g_autoptr (GstKlingo1StoreEntry) other = open_entry (store, HASH);
  g_autoptr (GError) err = NULL;

  fail_unless (gst_klingo1_store_entry_try_lock (a, &err));
  fail_unless (err == NULL);
  /* Taking it again through the same entry is harmless. */
  fail_unless (gst_klingo1_store_entry_try_lock (a, &err));

  fail_if (gst_klingo1_store_entry_try_lock (b, &err));
  fail_unless (err == NULL, "contention is not an error");
  /* Other keys are independent. */
  fail_unless (gst_klingo1_store_entry_try_lock (other, &err));

  gst_klingo1_store_entry_unlock (a);
  fail_unless (gst_klingo1_store_entry_try_lock (b, &err));
  fail_if (gst_klingo1_store_entry_try_lock (a, &err));
  fail_unless (err == NULL);

  /* Finalizing the holder releases the lock. */
  g_clear_object (&b);
  fail_unless (gst_klingo1_store_entry_lock (a, NULL, &err));
  gst_klingo1_store_entry_unlock (a);
  /* Unlocking twice is harmless. */
  gst_klingo1_store_entry_unlock (a);
}

GST_END_TEST;

typedef struct
{
  GstKlingo1StoreEntry *entry;
  GCancellable *cancellable;
  gint64 fire_time;
  guint delay_ms;
} LaterData;

static gpointer
cancel_later (gpointer user_data)
{
  LaterData *data = user_data;

  g_usleep (data->delay_ms * 1000);
  /* Read only after g_thread_join(), which orders the accesses. */
  data->fire_time = g_get_monotonic_time ();
  if (data->cancellable)
    g_cancellable_cancel (data->cancellable);
  else
    gst_klingo1_store_entry_unlock (data->entry);
  return NULL;
}

GST_START_TEST (test_lock_waits_for_unlock)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) a = open_entry (store, KEY);
  g_autoptr (GstKlingo1StoreEntry) b = open_entry (store, KEY);
  g_autoptr (GError) err = NULL;
  LaterData data = { a, NULL, 0, 300 };
  GThread *thread;
  gint64 start, end;

  fail_unless (gst_klingo1_store_entry_lock (a, NULL, &err));
  start = g_get_monotonic_time ();
  thread = g_thread_new ("unlocker", cancel_later, &data);
  fail_unless (gst_klingo1_store_entry_lock (b, NULL, &err));
  end = g_get_monotonic_time ();
  g_thread_join (thread);

  fail_unless (end - start >= 250 * G_TIME_SPAN_MILLISECOND,
      "lock returned before the holder let go");
  fail_unless (end - data.fire_time
      < 250 * G_TIME_SPAN_MILLISECOND, "lock slow to notice release");
}

GST_END_TEST;

GST_START_TEST (test_lock_cancel)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) a = open_entry (store, KEY);
  g_autoptr (GstKlingo1StoreEntry) b = open_entry (store, KEY);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) err = NULL;
  LaterData data = { NULL, cancellable, 0, 350 };
  GThread *thread;
  gint64 end, latency;

  fail_unless (gst_klingo1_store_entry_lock (a, NULL, &err));
  thread = g_thread_new ("canceller", cancel_later, &data);
  fail_if (gst_klingo1_store_entry_lock (b, cancellable, &err));
  end = g_get_monotonic_time ();
  g_thread_join (thread);

  fail_unless (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED),
      "unexpected error %s", err ? err->message : "(none)");
  latency = end - data.fire_time;
  GST_INFO ("cancel latency %" G_GINT64_FORMAT " us", latency);
  fail_unless (latency < 200 * G_TIME_SPAN_MILLISECOND,
      "cancel took %" G_GINT64_FORMAT " us", latency);

  /* Already cancelled: returns at once. */
  g_clear_error (&err);
  fail_if (gst_klingo1_store_entry_lock (b, cancellable, &err));
  fail_unless (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  /* The holder is unaffected. */
  g_clear_error (&err);
  fail_if (gst_klingo1_store_entry_try_lock (b, &err));
  fail_unless (err == NULL);
}

GST_END_TEST;

GST_START_TEST (test_lock_across_processes)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) entry = open_entry (store, KEY);
  g_autoptr (GError) err = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  gint fds[2];
  gchar byte = 0;
  pid_t pid;
  gint status;
  gint64 start, elapsed;

  fail_unless (pipe (fds) == 0);

  pid = fork ();
  fail_unless (pid >= 0);
  if (pid == 0) {
    /* Child: its own store and entry, so its own open file description. */
    GstKlingo1Store *cstore;
    GstKlingo1StoreEntry *centry;

    close (fds[0]);
    /* Never outlive a parent that failed before killing us. */
    alarm (60);
    cstore = gst_klingo1_store_new (tmp_dir);
    centry = gst_klingo1_store_open_entry (cstore, KEY, NULL);
    byte = (centry && gst_klingo1_store_entry_try_lock (centry, NULL))
        ? 'L' : 'E';
    if (write (fds[1], &byte, 1) != 1)
      _exit (2);
    /* Hold the lock until killed. */
    for (;;)
      pause ();
  }

  close (fds[1]);
  fail_unless (read (fds[0], &byte, 1) == 1);
  close (fds[0]);
  fail_unless (byte == 'L', "child could not take the lock");

  fail_if (gst_klingo1_store_entry_try_lock (entry, &err));
  fail_unless (err == NULL);

  /* A crashed holder must not block the request forever. */
  fail_unless (kill (pid, SIGKILL) == 0);
  start = g_get_monotonic_time ();
  fail_unless (gst_klingo1_store_entry_lock (entry, cancellable, &err),
      "%s", err ? err->message : "");
  elapsed = g_get_monotonic_time () - start;
  fail_unless (elapsed < G_TIME_SPAN_SECOND,
      "lock took %" G_GINT64_FORMAT " us after the holder died", elapsed);

  fail_unless (waitpid (pid, &status, 0) == pid);
  fail_unless (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
}

GST_END_TEST;

/* The element's flow: the second of two concurrent jobs waits on the lock,
 * then finds the first one's journal instead of creating a task. */
GST_START_TEST (test_second_job_finds_journal)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) first = open_entry (store, KEY);
  g_autoptr (GstKlingo1StoreEntry) second = open_entry (store, KEY);
  g_autofree gchar *task_id = NULL;
  LaterData data = { first, NULL, 0, 150 };
  GThread *thread;

  fail_unless (gst_klingo1_store_entry_lock (first, NULL, NULL));
  fail_unless (gst_klingo1_store_entry_get_task_id (first, NULL) == NULL);
  fail_unless (gst_klingo1_store_entry_set_task_id (first, "task-x",
          "http://api", NULL));

  thread = g_thread_new ("unlocker", cancel_later, &data);
  fail_unless (gst_klingo1_store_entry_lock (second, NULL, NULL));
  g_thread_join (thread);

  task_id = gst_klingo1_store_entry_get_task_id (second, NULL);
  fail_unless_equals_string (task_id, "task-x");
}

GST_END_TEST;

/* Error texts end up in bus messages, logs and UIs: a store under a
 * directory whose name is not UTF-8 must not make them invalid. */
GST_START_TEST (test_errors_utf8)
{
  g_autofree gchar *dir = g_build_filename (tmp_dir, "\xff-cache", NULL);
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (dir);
  g_autoptr (GstKlingo1StoreEntry) entry = open_entry (store, KEY);
  g_autoptr (GError) err = NULL;

  /* commit without a part file: the error names the part */
  fail_if (gst_klingo1_store_entry_commit_clip (entry, &err));
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO));
  fail_unless (g_utf8_validate (err->message, -1, NULL), "not UTF-8");
  fail_unless (strstr (err->message, "clip.mp4.part") != NULL, "%s",
      err->message);
  g_clear_error (&err);

  /* a store under a regular file cannot be created */
  {
    g_autofree gchar *file = g_build_filename (tmp_dir, "\xfe-file", NULL);
    g_autofree gchar *under = g_build_filename (file, "cache", NULL);
    g_autoptr (GstKlingo1Store) bad = gst_klingo1_store_new (under);

    fail_unless (g_file_set_contents (file, "x", -1, NULL));
    fail_unless (gst_klingo1_store_open_entry (bad, KEY, &err) == NULL);
    fail_unless (g_error_matches (err, GST_KLINGO1_ERROR,
            GST_KLINGO1_ERROR_IO));
    fail_unless (g_utf8_validate (err->message, -1, NULL), "not UTF-8");
    g_clear_error (&err);
  }

  /* an invalid key that is not UTF-8 is quoted as UTF-8 */
  fail_unless (gst_klingo1_store_open_entry (store, "a\xff", &err) == NULL);
  fail_unless (g_utf8_validate (err->message, -1, NULL), "not UTF-8");
}

GST_END_TEST;

static gchar *
entry_file (const gchar * key, const gchar * name)
{
  return g_build_filename (tmp_dir, "tasks", key, name, NULL);
}

GST_START_TEST (test_read_task)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) entry = open_entry (store, KEY);
  g_autofree gchar *path = entry_file (KEY, "task.json");
  g_autoptr (GError) err = NULL;
  const gchar *bad[] = {
    "", " \n", "{", "not json at all", "[1,2,3]", "42", "null",
    "{\"task_id\": 17}", "{\"task_id\": null}", "{\"task_id\": \"\"}",
    "{\"task_id\": {}}", "{\"api_url\": \"http://x\"}", "\x01\x02\xff\xfe",
    NULL
  };
  gint i;

  /* no journal: TRUE, nothing */
  {
    gchar *task_id = (gchar *) "sentinel";
    gchar *api_url = (gchar *) "sentinel";

    fail_unless (gst_klingo1_store_entry_read_task (entry, &task_id, &api_url,
            &err));
    fail_unless (err == NULL);
    fail_unless (task_id == NULL);
    fail_unless (api_url == NULL);
  }

  fail_unless (gst_klingo1_store_entry_set_task_id (entry, "t-1",
          "https://api.example.com", NULL));
  {
    g_autofree gchar *task_id = NULL;
    g_autofree gchar *api_url = NULL;

    fail_unless (gst_klingo1_store_entry_read_task (entry, &task_id, &api_url,
            &err));
    fail_unless_equals_string (task_id, "t-1");
    fail_unless_equals_string (api_url, "https://api.example.com");
  }
  /* api_url is optional to read */
  {
    g_autofree gchar *task_id = NULL;

    fail_unless (gst_klingo1_store_entry_read_task (entry, &task_id, NULL,
            &err));
    fail_unless_equals_string (task_id, "t-1");
  }

  /* a journal that exists but says nothing usable is damaged, not absent:
   * a task may have been paid for */
  for (i = 0; bad[i] != NULL; i++) {
    gchar *task_id = (gchar *) "sentinel";
    gchar *api_url = (gchar *) "sentinel";

    fail_unless (g_file_set_contents (path, bad[i], -1, NULL));
    fail_if (gst_klingo1_store_entry_read_task (entry, &task_id, &api_url,
            &err), "accepted journal '%s'", bad[i]);
    fail_unless (task_id == NULL);
    fail_unless (api_url == NULL);
    fail_unless (g_error_matches (err, GST_KLINGO1_ERROR,
            GST_KLINGO1_ERROR_IO), "journal '%s'", bad[i]);
    fail_unless (strstr (err->message, path) != NULL, "%s", err->message);
    fail_unless (strstr (err->message, "damaged") != NULL, "%s",
        err->message);
    fail_unless (strstr (err->message, "paid") != NULL, "%s", err->message);
    fail_unless (strstr (err->message, "cache-mode=refresh") != NULL, "%s",
        err->message);
    g_clear_error (&err);
  }

  /* a wrongly typed api_url does not hide a good task id */
  {
    g_autofree gchar *task_id = NULL;
    g_autofree gchar *api_url = NULL;

    fail_unless (g_file_set_contents (path,
            "{\"task_id\": \"t1\", \"api_url\": 5}", -1, NULL));
    fail_unless (gst_klingo1_store_entry_read_task (entry, &task_id, &api_url,
            &err));
    fail_unless_equals_string (task_id, "t1");
    fail_unless (api_url == NULL);
  }

  /* unreadable is an error too */
  g_unlink (path);
  fail_unless_equals_int (g_mkdir (path, 0700), 0);
  {
    gchar *task_id = NULL;

    fail_if (gst_klingo1_store_entry_read_task (entry, &task_id, NULL, &err));
    fail_unless (task_id == NULL);
    fail_unless (g_error_matches (err, GST_KLINGO1_ERROR,
            GST_KLINGO1_ERROR_IO));
    g_clear_error (&err);
  }
  g_rmdir (path);

  /* refresh clears a damaged journal */
  fail_unless (g_file_set_contents (path, "", -1, NULL));
  fail_unless (gst_klingo1_store_entry_clear (entry, &err));
  {
    gchar *task_id = NULL;

    fail_unless (gst_klingo1_store_entry_read_task (entry, &task_id, NULL,
            &err));
    fail_unless (task_id == NULL);
  }
}

GST_END_TEST;

GST_START_TEST (test_read_task_not_utf8_dir)
{
  g_autofree gchar *dir = g_build_filename (tmp_dir, "\xff", NULL);
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (dir);
  g_autoptr (GstKlingo1StoreEntry) entry = open_entry (store, KEY);
  g_autofree gchar *path =
      g_build_filename (dir, "tasks", KEY, "task.json", NULL);
  g_autoptr (GError) err = NULL;
  gchar *task_id = NULL;

  fail_unless (g_file_set_contents (path, "{", -1, NULL));
  fail_if (gst_klingo1_store_entry_read_task (entry, &task_id, NULL, &err));
  fail_unless (g_utf8_validate (err->message, -1, NULL), "not UTF-8");
  fail_unless (strstr (err->message, "task.json") != NULL, "%s",
      err->message);
}

GST_END_TEST;

GST_START_TEST (test_read_create_key)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) entry = open_entry (store, KEY);
  g_autofree gchar *path = entry_file (KEY, "create-key");
  g_autoptr (GError) err = NULL;
  const gchar *bad[] = { "", " \n\t", "\xff\xfe", NULL };
  gint i;

  {
    gchar *key = (gchar *) "sentinel";

    fail_unless (gst_klingo1_store_entry_read_create_key (entry, &key, &err));
    fail_unless (err == NULL);
    fail_unless (key == NULL);
  }

  fail_unless (gst_klingo1_store_entry_set_create_key (entry, "k-1", NULL));
  {
    g_autofree gchar *key = NULL;

    fail_unless (gst_klingo1_store_entry_read_create_key (entry, &key, &err));
    fail_unless_equals_string (key, "k-1");
  }

  for (i = 0; bad[i] != NULL; i++) {
    gchar *key = (gchar *) "sentinel";

    fail_unless (g_file_set_contents (path, bad[i], -1, NULL));
    fail_if (gst_klingo1_store_entry_read_create_key (entry, &key, &err),
        "accepted create key '%s'", bad[i]);
    fail_unless (key == NULL);
    fail_unless (g_error_matches (err, GST_KLINGO1_ERROR,
            GST_KLINGO1_ERROR_IO));
    fail_unless (g_utf8_validate (err->message, -1, NULL));
    fail_unless (strstr (err->message, path) != NULL, "%s", err->message);
    fail_unless (strstr (err->message, "damaged") != NULL, "%s",
        err->message);
    fail_unless (strstr (err->message, "cache-mode=refresh") != NULL, "%s",
        err->message);
    g_clear_error (&err);
  }
}

GST_END_TEST;

GST_START_TEST (test_lost)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) entry = open_entry (store, KEY);
  g_autofree gchar *path = entry_file (KEY, "lost.json");
  g_autoptr (GError) err = NULL;
  g_autofree gchar *reason = NULL;
  g_autofree gchar *contents = NULL;

  fail_unless (gst_klingo1_store_entry_get_lost (entry) == NULL);

  fail_unless (gst_klingo1_store_entry_set_task_id (entry, "task-9",
          "https://api.example.com", NULL));
  fail_unless (gst_klingo1_store_entry_mark_lost (entry,
          "the API no longer knows the task", &err));
  fail_unless (err == NULL);

  /* a re-run sees it */
  {
    g_autoptr (GstKlingo1StoreEntry) again = open_entry (store, KEY);
    g_autofree gchar *task_id = NULL;

    reason = gst_klingo1_store_entry_get_lost (again);
    fail_unless_equals_string (reason, "the API no longer knows the task");
    /* the journal stays */
    fail_unless (gst_klingo1_store_entry_read_task (again, &task_id, NULL,
            &err));
    fail_unless_equals_string (task_id, "task-9");
  }

  /* the record names the task and the time */
  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  fail_unless (strstr (contents, "\"task-9\"") != NULL, "%s", contents);
  fail_unless (strstr (contents, "\"reason\"") != NULL, "%s", contents);
  fail_unless (strstr (contents, "\"when\"") != NULL, "%s", contents);

  /* a damaged record still says lost */
  fail_unless (g_file_set_contents (path, "{", -1, NULL));
  g_clear_pointer (&reason, g_free);
  reason = gst_klingo1_store_entry_get_lost (entry);
  fail_unless (reason != NULL);
  fail_unless (g_utf8_validate (reason, -1, NULL));

  /* refresh forgets it, and the journal */
  fail_unless (gst_klingo1_store_entry_clear (entry, &err));
  fail_unless (gst_klingo1_store_entry_get_lost (entry) == NULL);
  fail_unless (gst_klingo1_store_entry_get_task_id (entry, NULL) == NULL);

  /* marking without a journal (the task id was never read back) works */
  fail_unless (gst_klingo1_store_entry_mark_lost (entry, "gone", &err));
  g_clear_pointer (&reason, g_free);
  reason = gst_klingo1_store_entry_get_lost (entry);
  fail_unless_equals_string (reason, "gone");
}

GST_END_TEST;

static gchar *
sha256_of (const gchar * data, gsize len)
{
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256,
      (const guchar *) data, len);
}

/* Commits @data as the clip the checked way. */
static void
commit_checked (GstKlingo1StoreEntry * entry, const gchar * data)
{
  g_autofree gchar *sha = sha256_of (data, strlen (data));
  g_autoptr (GError) err = NULL;

  fail_unless (g_file_set_contents (gst_klingo1_store_entry_get_part_path
          (entry), data, -1, NULL));
  fail_unless (gst_klingo1_store_entry_commit_clip_checked (entry, sha,
          strlen (data), &err), "%s", err ? err->message : "");
}

static GstKlingo1ClipState
check_clip (GstKlingo1StoreEntry * entry)
{
  g_autoptr (GError) err = NULL;
  GstKlingo1ClipState state;

  state = gst_klingo1_store_entry_check_clip (entry, NULL, &err);
  fail_unless (err == NULL, "%s", err ? err->message : "");
  return state;
}

/* Sets @path's mtime @seconds into the past. */
static void
age_file (const gchar * path, gint seconds)
{
  struct timespec ts[2];

  fail_unless (clock_gettime (CLOCK_REALTIME, &ts[0]) == 0);
  ts[0].tv_sec -= seconds;
  ts[1] = ts[0];
  fail_unless (utimensat (AT_FDCWD, path, ts, 0) == 0);
}

/* Overwrites bytes of @path in place, keeping its size and inode. */
static void
overwrite_in_place (const gchar * path, goffset offset, const gchar * bytes)
{
  gint fd = open (path, O_WRONLY);

  fail_unless (fd >= 0);
  fail_unless (pwrite (fd, bytes, strlen (bytes), offset) ==
      (gssize) strlen (bytes));
  close (fd);
}

GST_START_TEST (test_clip_checked)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) entry = open_entry (store, KEY);
  g_autoptr (GError) err = NULL;
  g_autofree gchar *record = entry_file (KEY, "clip.json");
  g_autofree gchar *damaged = entry_file (KEY, "clip.mp4.damaged");
  g_autofree gchar *contents = NULL;
  const gchar *clip = gst_klingo1_store_entry_get_clip_path (entry);
  const gchar *part = gst_klingo1_store_entry_get_part_path (entry);
  const gchar *data = "....ftypisom....moov and some mdat bytes";
  g_autofree gchar *sha = sha256_of (data, strlen (data));
  GStatBuf st;

  fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_MISSING);

  /* a part of another size than downloaded is not committed */
  fail_unless (g_file_set_contents (part, data, -1, NULL));
  fail_if (gst_klingo1_store_entry_commit_clip_checked (entry, sha,
          strlen (data) + 1, &err));
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO));
  g_clear_error (&err);
  fail_unless (g_file_test (part, G_FILE_TEST_EXISTS));
  fail_if (g_file_test (clip, G_FILE_TEST_EXISTS));

  fail_unless (gst_klingo1_store_entry_commit_clip_checked (entry, sha,
          strlen (data), &err));
  fail_if (g_file_test (part, G_FILE_TEST_EXISTS));
  fail_unless (g_file_get_contents (record, &contents, NULL, NULL));
  fail_unless (strstr (contents, sha) != NULL, "%s", contents);
  fail_unless (strstr (contents, "\"mtime_ns\"") != NULL, "%s", contents);
  fail_unless (strstr (contents, "\"ino\"") != NULL, "%s", contents);
  fail_unless (strstr (contents, "\"dev\"") != NULL, "%s", contents);
  fail_unless (g_stat (record, &st) == 0);
  fail_unless_equals_int (st.st_mode & 0777, 0600);
  fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_OK);
  fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_OK);

  /* touched, same bytes: OK (re-hashed, record refreshed) */
  age_file (clip, 100);
  fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_OK);
  fail_unless (g_file_test (clip, G_FILE_TEST_EXISTS));

  /* with the record refreshed, an unchanged clip is trusted on its stat
   * alone: a record that lies about the content goes unnoticed, which shows
   * that the clip was not read */
  {
    g_autofree gchar *fake = NULL;
    g_autofree gchar *other = sha256_of ("other", 5);
    g_auto (GStrv) halves = NULL;

    g_clear_pointer (&contents, g_free);
    fail_unless (g_file_get_contents (record, &contents, NULL, NULL));
    halves = g_strsplit (contents, sha, 2);
    fail_unless_equals_int (g_strv_length (halves), 2);
    fake = g_strconcat (halves[0], other, halves[1], NULL);
    fail_unless (g_file_set_contents (record, fake, -1, NULL));
    fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_OK);
    /* put the true record back: touch, re-hash finds the lie */
    age_file (clip, 50);
    fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_DAMAGED);
    fail_unless (gst_klingo1_store_entry_clear (entry, &err));
    commit_checked (entry, data);
  }

  /* bytes overwritten in place, size unchanged: DAMAGED, and set aside */
  overwrite_in_place (clip, 4, "FTYP");
  fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_DAMAGED);
  fail_if (g_file_test (clip, G_FILE_TEST_EXISTS));
  fail_unless (g_file_test (damaged, G_FILE_TEST_EXISTS));
  fail_if (gst_klingo1_store_entry_has_clip (entry));
  fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_MISSING);

  /* truncated: DAMAGED */
  commit_checked (entry, data);
  fail_unless_equals_int (truncate (clip, 10), 0);
  fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_DAMAGED);
  fail_if (g_file_test (clip, G_FILE_TEST_EXISTS));

  /* replaced by another file of the same size: DAMAGED */
  commit_checked (entry, data);
  {
    g_autofree gchar *tmp = g_strconcat (clip, ".tmp", NULL);
    g_autofree gchar *same_size = g_strdup (data);

    same_size[0] = 'X';
    fail_unless (g_file_set_contents (tmp, same_size, -1, NULL));
    fail_unless (g_rename (tmp, clip) == 0);
    fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_DAMAGED);
  }

  /* a clip committed by an older version (no record): hashed and recorded */
  fail_unless (g_file_set_contents (part, data, -1, NULL));
  fail_unless (gst_klingo1_store_entry_commit_clip (entry, &err));
  fail_if (g_file_test (record, G_FILE_TEST_EXISTS));
  fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_OK);
  fail_unless (g_file_test (record, G_FILE_TEST_EXISTS));
  overwrite_in_place (clip, 0, "!");
  fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_DAMAGED);

  /* ... unless it is empty */
  fail_unless (gst_klingo1_store_entry_clear (entry, &err));
  fail_unless (g_file_set_contents (clip, "", 0, NULL));
  fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_DAMAGED);
  fail_if (g_file_test (clip, G_FILE_TEST_EXISTS));

  /* a stale record from an earlier clip does not condemn a new one */
  commit_checked (entry, data);
  commit_checked (entry, "another clip entirely");
  fail_unless_equals_int (check_clip (entry), GST_KLINGO1_CLIP_OK);

  /* cancelled while hashing: an error, not a verdict */
  age_file (clip, 30);
  {
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();

    g_cancellable_cancel (cancellable);
    gst_klingo1_store_entry_check_clip (entry, cancellable, &err);
    fail_unless (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED));
    g_clear_error (&err);
    fail_unless (g_file_test (clip, G_FILE_TEST_EXISTS));
  }
}

GST_END_TEST;

GST_START_TEST (test_clear_everything)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GstKlingo1StoreEntry) entry = open_entry (store, KEY);
  g_autoptr (GError) err = NULL;
  const gchar *names[] = { "task.json", "create-key", "lost.json",
    "clip.mp4.part", "clip.mp4.part.ranges", "clip.mp4", "clip.json",
    "clip.mp4.damaged", NULL
  };
  g_autofree gchar *ranges = entry_file (KEY, "clip.mp4.part.ranges");
  g_autofree gchar *lock = entry_file (KEY, "lock");
  gint i;

  fail_unless_equals_string (gst_klingo1_store_entry_get_ranges_path (entry),
      ranges);
  fail_unless (gst_klingo1_store_entry_get_ranges_path (entry) ==
      gst_klingo1_store_entry_get_ranges_path (entry));

  for (i = 0; names[i] != NULL; i++) {
    g_autofree gchar *path = entry_file (KEY, names[i]);

    fail_unless (g_file_set_contents (path, "x", -1, NULL));
  }
  fail_unless (gst_klingo1_store_entry_try_lock (entry, &err));
  fail_unless (gst_klingo1_store_entry_clear (entry, &err));
  for (i = 0; names[i] != NULL; i++) {
    g_autofree gchar *path = entry_file (KEY, names[i]);

    fail_if (g_file_test (path, G_FILE_TEST_EXISTS), "%s left", names[i]);
  }
  /* the lock file stays: others may hold it open */
  fail_unless (g_file_test (lock, G_FILE_TEST_EXISTS));
}

GST_END_TEST;

GST_START_TEST (test_uploads_per_server)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) later = g_date_time_add_days (now, 1);
  g_autoptr (GError) err = NULL;
  g_autofree gchar *url = NULL;
  const gchar *a = "https://files.evolink.ai/v1/files";
  const gchar *b = "http://127.0.0.1:8080/v1/files";

  fail_unless (gst_klingo1_store_lookup_upload_for (store, a, HASH, 0) ==
      NULL);
  fail_unless (gst_klingo1_store_record_upload_for (store, a, HASH,
          "https://files.evolink.ai/u/1.png", later, &err));
  fail_unless (err == NULL);

  url = gst_klingo1_store_lookup_upload_for (store, a, HASH, 60);
  fail_unless_equals_string (url, "https://files.evolink.ai/u/1.png");
  g_clear_pointer (&url, g_free);

  /* recorded for server A: not offered for server B */
  fail_unless (gst_klingo1_store_lookup_upload_for (store, b, HASH, 0) ==
      NULL);
  /* nor through the old, server-blind lookup */
  fail_unless (gst_klingo1_store_lookup_upload (store, HASH, 0) == NULL);

  /* B gets its own record; A's stays */
  fail_unless (gst_klingo1_store_record_upload_for (store, b, HASH,
          "http://127.0.0.1:8080/u/1.png", later, &err));
  url = gst_klingo1_store_lookup_upload_for (store, b, HASH, 0);
  fail_unless_equals_string (url, "http://127.0.0.1:8080/u/1.png");
  g_clear_pointer (&url, g_free);
  url = gst_klingo1_store_lookup_upload_for (store, a, HASH, 0);
  fail_unless_equals_string (url, "https://files.evolink.ai/u/1.png");
  g_clear_pointer (&url, g_free);

  /* a record of the old, server-blind kind is not trusted for any server */
  fail_unless (gst_klingo1_store_record_upload (store, HASH, "u-old", later,
          NULL));
  fail_unless (gst_klingo1_store_lookup_upload_for (store,
          "https://other.example.com/v1/files", HASH, 0) == NULL);

  /* expiry works as before */
  {
    g_autoptr (GDateTime) soon = g_date_time_add_minutes (now, 10);

    fail_unless (gst_klingo1_store_record_upload_for (store, a, HASH,
            "https://files.evolink.ai/u/2.png", soon, NULL));
    fail_unless (gst_klingo1_store_lookup_upload_for (store, a, HASH,
            3600) == NULL);
  }

  /* invalid content hashes are refused */
  fail_unless (gst_klingo1_store_lookup_upload_for (store, a, "../x", 0) ==
      NULL);
  fail_if (gst_klingo1_store_record_upload_for (store, a, "../x", "u", later,
          &err));
  fail_unless (g_error_matches (err, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO));
}

GST_END_TEST;

static guint
count_files (const gchar * dir_path)
{
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  guint n = 0;

  if (dir == NULL)
    return 0;
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* Rewrites the one memo under hashes/ so that it claims @fake as the hash. */
static void
falsify_memo (const gchar * real, const gchar * fake)
{
  g_autofree gchar *hashes = g_build_filename (tmp_dir, "hashes", NULL);
  g_autoptr (GDir) dir = g_dir_open (hashes, 0, NULL);
  const gchar *name;

  fail_unless (dir != NULL);
  while ((name = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *path = g_build_filename (hashes, name, NULL);
    g_autofree gchar *contents = NULL;
    g_autofree gchar *changed = NULL;
    g_auto (GStrv) halves = NULL;

    fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
    halves = g_strsplit (contents, real, 2);
    if (g_strv_length (halves) != 2)
      continue;
    changed = g_strconcat (halves[0], fake, halves[1], NULL);
    fail_unless (g_file_set_contents (path, changed, -1, NULL));
    return;
  }
  fail ("no memo holds %s", real);
}

GST_START_TEST (test_hash_memo)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GError) err = NULL;
  g_autofree gchar *input = g_build_filename (tmp_dir, "in\xff.png", NULL);
  g_autofree gchar *hashes = g_build_filename (tmp_dir, "hashes", NULL);
  g_autofree gchar *h = NULL;
  g_autofree gchar *real = sha256_of ("input one", 9);
  g_autofree gchar *changed = sha256_of ("input two", 9);
  g_autofree gchar *fake = sha256_of ("fake", 4);

  /* a file changed just now is hashed but not remembered: a second change
   * within the filesystem's timestamp granularity could keep every stat */
  fail_unless (g_file_set_contents (input, "input one", -1, NULL));
  h = gst_klingo1_store_hash_file (store, input, NULL, &err);
  fail_unless_equals_string (h, real);
  g_clear_pointer (&h, g_free);
  fail_unless_equals_int (count_files (hashes), 0);

  /* ctime cannot be set: let it age */
  g_usleep (2100 * G_TIME_SPAN_MILLISECOND);

  h = gst_klingo1_store_hash_file (store, input, NULL, &err);
  fail_unless (err == NULL, "%s", err ? err->message : "");
  fail_unless_equals_string (h, real);
  g_clear_pointer (&h, g_free);
  fail_unless_equals_int (count_files (hashes), 1);

  /* unchanged file: the memo is used, the file is not read (a memo that
   * lies goes unnoticed) */
  falsify_memo (real, fake);
  h = gst_klingo1_store_hash_file (store, input, NULL, &err);
  fail_unless_equals_string (h, fake);
  g_clear_pointer (&h, g_free);
  /* the same file by a relative path */
  {
    g_autofree gchar *cwd = g_get_current_dir ();

    fail_unless_equals_int (g_chdir (tmp_dir), 0);
    h = gst_klingo1_store_hash_file (store, "./in\xff.png", NULL, &err);
    fail_unless_equals_int (g_chdir (cwd), 0);
    fail_unless_equals_string (h, fake);
    g_clear_pointer (&h, g_free);
  }
  /* not readable any more, still not read (as root, reads would pass) */
  if (geteuid () != 0) {
    fail_unless (g_chmod (input, 0) == 0);
    h = gst_klingo1_store_hash_file (store, input, NULL, &err);
    fail_unless (g_chmod (input, 0600) == 0);
    fail_unless_equals_string (h, fake);
    g_clear_pointer (&h, g_free);
  }

  /* mtime changed: hashed again */
  age_file (input, 100);
  h = gst_klingo1_store_hash_file (store, input, NULL, &err);
  fail_unless_equals_string (h, real);
  g_clear_pointer (&h, g_free);

  /* content changed in place, size and mtime kept: ctime tells */
  g_usleep (2100 * G_TIME_SPAN_MILLISECOND);
  h = gst_klingo1_store_hash_file (store, input, NULL, &err);
  g_clear_pointer (&h, g_free);
  falsify_memo (real, fake);
  {
    GStatBuf before;
    struct timespec ts[2];

    fail_unless (g_stat (input, &before) == 0);
    overwrite_in_place (input, 6, "two");
    ts[0] = before.st_atim;
    ts[1] = before.st_mtim;
    fail_unless (utimensat (AT_FDCWD, input, ts, 0) == 0);
  }
  h = gst_klingo1_store_hash_file (store, input, NULL, &err);
  fail_unless_equals_string (h, changed);
  g_clear_pointer (&h, g_free);

  /* replaced by another file (new inode) */
  {
    g_autofree gchar *tmp = g_strconcat (input, ".tmp", NULL);

    fail_unless (g_file_set_contents (tmp, "input one", -1, NULL));
    fail_unless (g_rename (tmp, input) == 0);
    h = gst_klingo1_store_hash_file (store, input, NULL, &err);
    fail_unless_equals_string (h, real);
    g_clear_pointer (&h, g_free);
  }

  /* errors: missing file (name not UTF-8), cancelled */
  {
    g_autofree gchar *missing =
        g_build_filename (tmp_dir, "missing\xff.png", NULL);
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    g_autofree gchar *big = g_build_filename (tmp_dir, "big", NULL);
    g_autofree gchar *data = g_strnfill (300 * 1024, 'b');

    fail_unless (gst_klingo1_store_hash_file (store, missing, NULL,
            &err) == NULL);
    fail_unless (g_error_matches (err, GST_KLINGO1_ERROR,
            GST_KLINGO1_ERROR_IO));
    fail_unless (g_utf8_validate (err->message, -1, NULL));
    fail_unless (strstr (err->message, "missing") != NULL, "%s",
        err->message);
    g_clear_error (&err);

    fail_unless (g_file_set_contents (big, data, -1, NULL));
    g_cancellable_cancel (cancellable);
    fail_unless (gst_klingo1_store_hash_file (store, big, cancellable,
            &err) == NULL);
    fail_unless (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED));
    g_clear_error (&err);

    /* a directory is no input */
    fail_unless (gst_klingo1_store_hash_file (store, tmp_dir, NULL,
            &err) == NULL);
    fail_unless (g_error_matches (err, GST_KLINGO1_ERROR,
            GST_KLINGO1_ERROR_IO));
  }
}

GST_END_TEST;

static GstKlingo1StoreEntryInfo *
find_info (GPtrArray * infos, const gchar * key)
{
  guint i;

  for (i = 0; i < infos->len; i++) {
    GstKlingo1StoreEntryInfo *info = g_ptr_array_index (infos, i);

    if (strcmp (gst_klingo1_store_entry_info_get_key (info), key) == 0)
      return info;
  }
  return NULL;
}

#define KEY_PENDING "aaaa"
#define KEY_DONE "bbbb"
#define KEY_LOST "cccc"
#define KEY_DAMAGED "dddd"
#define KEY_EMPTY "eeee"
#define KEY_CREATING "ffff"
#define KEY_BAD_CLIP "abab"

GST_START_TEST (test_list_entries)
{
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (tmp_dir);
  g_autoptr (GPtrArray) infos = NULL;
  g_autoptr (GError) err = NULL;
  GstKlingo1StoreEntryInfo *info;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  guint i;

  /* nothing yet: empty, not an error */
  infos = gst_klingo1_store_list_entries (store, &err);
  fail_unless (infos != NULL, "%s", err ? err->message : "");
  fail_unless_equals_int (infos->len, 0);
  g_clear_pointer (&infos, g_ptr_array_unref);

  {
    g_autoptr (GstKlingo1StoreEntry) pending = open_entry (store, KEY_PENDING);
    g_autoptr (GstKlingo1StoreEntry) done = open_entry (store, KEY_DONE);
    g_autoptr (GstKlingo1StoreEntry) lost = open_entry (store, KEY_LOST);
    g_autoptr (GstKlingo1StoreEntry) damaged = open_entry (store, KEY_DAMAGED);
    g_autoptr (GstKlingo1StoreEntry) empty = open_entry (store, KEY_EMPTY);
    g_autoptr (GstKlingo1StoreEntry) creating =
        open_entry (store, KEY_CREATING);
    g_autoptr (GstKlingo1StoreEntry) bad_clip =
        open_entry (store, KEY_BAD_CLIP);
    g_autofree gchar *journal = entry_file (KEY_DAMAGED, "task.json");
    g_autofree gchar *junk_file = g_build_filename (tmp_dir, "tasks",
        "README", NULL);
    g_autofree gchar *junk_dir = g_build_filename (tmp_dir, "tasks",
        "not.a.key", NULL);

    fail_unless (gst_klingo1_store_entry_set_task_id (pending, "t-pending",
            "https://api.example.com", NULL));
    fail_unless (gst_klingo1_store_entry_set_task_id (done, "t-done",
            "https://api.example.com", NULL));
    commit_checked (done, "clip bytes");
    fail_unless (gst_klingo1_store_entry_set_task_id (lost, "t-lost",
            "https://api.example.com", NULL));
    fail_unless (gst_klingo1_store_entry_mark_lost (lost, "link expired",
            NULL));
    fail_unless (g_file_set_contents (journal, "", 0, NULL));
    /* the holder of a lock leaves a lock file, nothing else */
    fail_unless (gst_klingo1_store_entry_try_lock (empty, NULL));
    fail_unless (gst_klingo1_store_entry_set_create_key (creating, "k",
            NULL));
    fail_unless (gst_klingo1_store_entry_set_task_id (bad_clip, "t-bad",
            "https://api.example.com", NULL));
    commit_checked (bad_clip, "clip bytes");
    fail_unless_equals_int (truncate (gst_klingo1_store_entry_get_clip_path
            (bad_clip), 2), 0);
    fail_unless_equals_int (check_clip (bad_clip), GST_KLINGO1_CLIP_DAMAGED);
    fail_unless (g_file_set_contents (junk_file, "hello", -1, NULL));
    fail_unless_equals_int (g_mkdir (junk_dir, 0700), 0);

    infos = gst_klingo1_store_list_entries (store, &err);
    fail_unless (infos != NULL, "%s", err ? err->message : "");
    fail_unless_equals_int (infos->len, 6);

    info = find_info (infos, KEY_PENDING);
    fail_unless (info != NULL);
    fail_unless_equals_string (gst_klingo1_store_entry_info_get_state (info), "pending");
    fail_unless_equals_string (gst_klingo1_store_entry_info_get_task_id (info), "t-pending");
    fail_unless_equals_string (gst_klingo1_store_entry_info_get_api_url
        (info), "https://api.example.com");
    fail_unless (gst_klingo1_store_entry_info_get_clip_path (info) == NULL);
    fail_unless (gst_klingo1_store_entry_info_get_lost_reason (info) == NULL);

    info = find_info (infos, KEY_DONE);
    fail_unless (info != NULL);
    fail_unless_equals_string (gst_klingo1_store_entry_info_get_state (info), "done");
    fail_unless_equals_string (gst_klingo1_store_entry_info_get_task_id (info), "t-done");
    fail_unless_equals_string (gst_klingo1_store_entry_info_get_clip_path (info),
        gst_klingo1_store_entry_get_clip_path (done));

    info = find_info (infos, KEY_LOST);
    fail_unless (info != NULL);
    fail_unless_equals_string (gst_klingo1_store_entry_info_get_state (info), "lost");
    fail_unless_equals_string (gst_klingo1_store_entry_info_get_task_id (info), "t-lost");
    fail_unless_equals_string (gst_klingo1_store_entry_info_get_lost_reason
        (info), "link expired");
    fail_unless (gst_klingo1_store_entry_info_get_clip_path (info) == NULL);

    info = find_info (infos, KEY_DAMAGED);
    fail_unless (info != NULL);
    fail_unless_equals_string (gst_klingo1_store_entry_info_get_state (info), "damaged");
    fail_unless (gst_klingo1_store_entry_info_get_task_id (info) == NULL);

    info = find_info (infos, KEY_CREATING);
    fail_unless (info != NULL);
    fail_unless_equals_string (gst_klingo1_store_entry_info_get_state (info), "pending");
    fail_unless (gst_klingo1_store_entry_info_get_task_id (info) == NULL);

    info = find_info (infos, KEY_BAD_CLIP);
    fail_unless (info != NULL);
    fail_unless_equals_string (gst_klingo1_store_entry_info_get_state (info), "damaged");
    fail_unless_equals_string (gst_klingo1_store_entry_info_get_task_id (info), "t-bad");
    fail_unless (gst_klingo1_store_entry_info_get_clip_path (info) == NULL);

    fail_unless (find_info (infos, KEY_EMPTY) == NULL);

    /* newest first, times in Unix seconds */
    for (i = 0; i < infos->len; i++) {
      gint64 modified;

      info = g_ptr_array_index (infos, i);
      modified = gst_klingo1_store_entry_info_get_modified (info);

      fail_unless (modified >= now - 5 && modified <= now + 5,
          "%s: modified %" G_GINT64_FORMAT,
          gst_klingo1_store_entry_info_get_key (info), modified);
      if (i > 0)
        fail_unless (modified <= gst_klingo1_store_entry_info_get_modified
            (g_ptr_array_index (infos, i - 1)));
    }
  }

  /* the array frees its infos; a single info frees alone */
  {
    g_autoptr (GstKlingo1StoreEntryInfo) one =
        g_ptr_array_steal_index (infos, 0);

    fail_unless (one != NULL);
  }
  gst_klingo1_store_entry_info_free (NULL);
}

GST_END_TEST;

static Suite *
store_suite (void)
{
  Suite *s = suite_create ("klingo1-store");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_default_dir);
  tcase_add_test (tc, test_lazy_creation);
  tcase_add_test (tc, test_key_validation);
  tcase_add_test (tc, test_journal_round_trip);
  tcase_add_test (tc, test_create_key);
  tcase_add_test (tc, test_journal_corrupt);
  tcase_add_test (tc, test_clip_commit_clear);
  tcase_add_test (tc, test_uploads);
  tcase_add_test (tc, test_lock_same_process);
  tcase_add_test (tc, test_lock_waits_for_unlock);
  tcase_add_test (tc, test_lock_cancel);
  tcase_add_test (tc, test_lock_across_processes);
  tcase_add_test (tc, test_second_job_finds_journal);
  tcase_add_test (tc, test_errors_utf8);
  tcase_add_test (tc, test_read_task);
  tcase_add_test (tc, test_read_task_not_utf8_dir);
  tcase_add_test (tc, test_read_create_key);
  tcase_add_test (tc, test_lost);
  tcase_add_test (tc, test_clip_checked);
  tcase_add_test (tc, test_clear_everything);
  tcase_add_test (tc, test_uploads_per_server);
  tcase_add_test (tc, test_hash_memo);
  tcase_add_test (tc, test_list_entries);

  return s;
}

GST_CHECK_MAIN (store);
