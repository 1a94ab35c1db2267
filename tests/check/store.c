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
#include <signal.h>
#include <string.h>
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

  return s;
}

GST_CHECK_MAIN (store);
