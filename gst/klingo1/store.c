/* gst-klingo1: the on-disk cache and task journal
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The store is what makes a re-run free and a crash recoverable: the journal
 * records a task id before the first poll, so a killed process resumes the
 * paid task instead of creating a second one, and the finished clip stays on
 * disk after the result URL has expired.  Every file is replaced atomically so
 * that a crash at any point leaves either the old or the new content.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/klingo1/store.h>
#include <gst/klingo1/error.h>

#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (klingo1_store_debug);
#define GST_CAT_DEFAULT klingo1_store_debug

#define LOCK_POLL_INTERVAL_MS 100
/* Longer than any hash we key on, short enough to stay far from NAME_MAX. */
#define MAX_KEY_LENGTH 128

struct _GstKlingo1Store
{
  GObject parent;

  gchar *dir;
  gchar *tasks_dir;
  gchar *uploads_dir;
};

struct _GstKlingo1StoreEntry
{
  GObject parent;

  gchar *dir;
  gchar *lock_path;
  gchar *journal_path;
  gchar *create_key_path;
  gchar *part_path;
  gchar *clip_path;

  /* One open file description per entry: flock() locks belong to it, so two
   * entries of the same key exclude each other even within one process. */
  gint lock_fd;
  gboolean locked;
};

G_DEFINE_FINAL_TYPE (GstKlingo1Store, gst_klingo1_store, G_TYPE_OBJECT);
G_DEFINE_FINAL_TYPE (GstKlingo1StoreEntry, gst_klingo1_store_entry,
    G_TYPE_OBJECT);

static void
init_debug (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (klingo1_store_debug, "klingo1store", 0,
        "Kling O1 cache and task journal");
    g_once_init_leave (&done, 1);
  }
}

static void
set_errno_error (GError ** error, gint errsv, const gchar * path,
    const gchar * what)
{
  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
      "%s: %s: %s", path, what, g_strerror (errsv));
}

static gboolean
ensure_dir (const gchar * path, GError ** error)
{
  if (g_mkdir_with_parents (path, 0700) != 0) {
    set_errno_error (error, errno, path, "cannot create directory");
    return FALSE;
  }
  return TRUE;
}

/* Keys and content hashes become file names: only plain alphanumerics keep
 * them from escaping the store ('/', "..") or colliding with our own files. */
static gboolean
is_valid_key (const gchar * key)
{
  gsize len;
  const gchar *p;

  if (key == NULL)
    return FALSE;
  len = strlen (key);
  if (len == 0 || len > MAX_KEY_LENGTH)
    return FALSE;
  for (p = key; *p != '\0'; p++) {
    if (!g_ascii_isalnum (*p))
      return FALSE;
  }
  return TRUE;
}

/* Replaces @path with @contents so that readers see the old or the new file,
 * never a torn one, even after a power cut. */
static gboolean
write_atomically (const gchar * path, const gchar * contents, GError ** error)
{
  g_autoptr (GError) local = NULL;

  if (!g_file_set_contents_full (path, contents, -1,
          G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
          0600, &local)) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "%s: cannot write: %s", path, local->message);
    return FALSE;
  }
  return TRUE;
}

static gchar *
object_to_string (JsonObject * object)
{
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autoptr (JsonGenerator) gen = json_generator_new ();

  json_node_set_object (root, object);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_data (gen, NULL);
}

/* Reads a JSON object from @path; NULL when missing or unparsable. The files
 * are ours, but a disk full or a hand edit can still leave garbage, which we
 * treat as absent rather than as a reason to fail the pipeline. */
static JsonObject *
read_object (const gchar * path)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) err = NULL;
  g_autofree gchar *contents = NULL;
  gsize length = 0;
  JsonNode *root;

  if (!g_file_get_contents (path, &contents, &length, &err)) {
    GST_DEBUG ("%s: not readable: %s", path, err->message);
    return NULL;
  }
  if (!json_parser_load_from_data (parser, contents, length, &err)) {
    GST_DEBUG ("%s: ignoring corrupt file: %s", path, err->message);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    GST_DEBUG ("%s: ignoring file without a JSON object", path);
    return NULL;
  }
  return json_object_ref (json_node_get_object (root));
}

/* json_object_get_string_member() is loud about wrong types; the files may
 * be corrupt, so check quietly. */
static const gchar *
get_string_member (JsonObject * object, const gchar * name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* GstKlingo1Store */

static void
gst_klingo1_store_finalize (GObject * object)
{
  GstKlingo1Store *self = GST_KLINGO1_STORE (object);

  g_free (self->dir);
  g_free (self->tasks_dir);
  g_free (self->uploads_dir);

  G_OBJECT_CLASS (gst_klingo1_store_parent_class)->finalize (object);
}

static void
gst_klingo1_store_class_init (GstKlingo1StoreClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->finalize = gst_klingo1_store_finalize;
  init_debug ();
}

static void
gst_klingo1_store_init (GstKlingo1Store * self)
{
}

GstKlingo1Store *
gst_klingo1_store_new (const gchar * dir)
{
  GstKlingo1Store *self = g_object_new (GST_TYPE_KLINGO1_STORE, NULL);

  if (dir != NULL && *dir != '\0')
    self->dir = g_strdup (dir);
  else
    self->dir = g_build_filename (g_get_user_cache_dir (), "klingo1", NULL);
  self->tasks_dir = g_build_filename (self->dir, "tasks", NULL);
  self->uploads_dir = g_build_filename (self->dir, "uploads", NULL);

  return self;
}

const gchar *
gst_klingo1_store_get_dir (GstKlingo1Store * store)
{
  g_return_val_if_fail (GST_IS_KLINGO1_STORE (store), NULL);

  return store->dir;
}

GstKlingo1StoreEntry *
gst_klingo1_store_open_entry (GstKlingo1Store * store, const gchar * key,
    GError ** error)
{
  g_autofree gchar *dir = NULL;
  GstKlingo1StoreEntry *entry;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE (store), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!is_valid_key (key)) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "%s: invalid cache key '%s' (expected 1-%d letters and digits)",
        store->tasks_dir, key ? key : "(null)", MAX_KEY_LENGTH);
    return NULL;
  }

  dir = g_build_filename (store->tasks_dir, key, NULL);
  if (!ensure_dir (dir, error))
    return NULL;

  entry = g_object_new (GST_TYPE_KLINGO1_STORE_ENTRY, NULL);
  entry->lock_path = g_build_filename (dir, "lock", NULL);
  entry->journal_path = g_build_filename (dir, "task.json", NULL);
  entry->create_key_path = g_build_filename (dir, "create-key", NULL);
  entry->part_path = g_build_filename (dir, "clip.mp4.part", NULL);
  entry->clip_path = g_build_filename (dir, "clip.mp4", NULL);
  entry->dir = g_steal_pointer (&dir);

  GST_DEBUG ("opened entry %s", entry->dir);
  return entry;
}

/* GstKlingo1StoreEntry */

static void
gst_klingo1_store_entry_finalize (GObject * object)
{
  GstKlingo1StoreEntry *self = GST_KLINGO1_STORE_ENTRY (object);

  /* Closing the last descriptor of the open file description is what
   * releases the flock(). */
  if (self->lock_fd >= 0)
    close (self->lock_fd);

  g_free (self->dir);
  g_free (self->lock_path);
  g_free (self->journal_path);
  g_free (self->create_key_path);
  g_free (self->part_path);
  g_free (self->clip_path);

  G_OBJECT_CLASS (gst_klingo1_store_entry_parent_class)->finalize (object);
}

static void
gst_klingo1_store_entry_class_init (GstKlingo1StoreEntryClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->finalize = gst_klingo1_store_entry_finalize;
  init_debug ();
}

static void
gst_klingo1_store_entry_init (GstKlingo1StoreEntry * self)
{
  self->lock_fd = -1;
}

static gboolean
ensure_lock_fd (GstKlingo1StoreEntry * entry, GError ** error)
{
  if (entry->lock_fd >= 0)
    return TRUE;

  /* Someone may have removed the cache directory under us. */
  if (!ensure_dir (entry->dir, error))
    return FALSE;

  do {
    entry->lock_fd = open (entry->lock_path, O_RDWR | O_CREAT | O_CLOEXEC,
        0600);
  } while (entry->lock_fd < 0 && errno == EINTR);

  if (entry->lock_fd < 0) {
    set_errno_error (error, errno, entry->lock_path, "cannot open lock file");
    return FALSE;
  }
  return TRUE;
}

/* One non-blocking attempt. Returns TRUE with *@taken set, or FALSE on a real
 * error. */
static gboolean
try_flock (GstKlingo1StoreEntry * entry, gboolean * taken, GError ** error)
{
  gint res;

  *taken = FALSE;
  if (!ensure_lock_fd (entry, error))
    return FALSE;

  do {
    res = flock (entry->lock_fd, LOCK_EX | LOCK_NB);
  } while (res < 0 && errno == EINTR);

  if (res == 0) {
    entry->locked = TRUE;
    *taken = TRUE;
    return TRUE;
  }
  if (errno == EWOULDBLOCK)
    return TRUE;

  set_errno_error (error, errno, entry->lock_path, "cannot lock");
  return FALSE;
}

/* Sleeps up to the poll interval, waking at once when @cancellable fires. */
static void
wait_interval (GCancellable * cancellable)
{
  GPollFD pollfd;

  if (cancellable != NULL && g_cancellable_make_pollfd (cancellable, &pollfd)) {
    g_poll (&pollfd, 1, LOCK_POLL_INTERVAL_MS);
    g_cancellable_release_fd (cancellable);
    return;
  }
  /* No pollable cancellable: the 100 ms granularity still bounds the delay
   * before the caller's cancellation check. */
  g_usleep (LOCK_POLL_INTERVAL_MS * 1000);
}

gboolean
gst_klingo1_store_entry_lock (GstKlingo1StoreEntry * entry,
    GCancellable * cancellable, GError ** error)
{
  gboolean taken = FALSE;
  gboolean logged = FALSE;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* flock() has no timeout and cannot be interrupted by a GCancellable, so
   * poll it non-blocking instead of blocking in the kernel. */
  for (;;) {
    if (g_cancellable_set_error_if_cancelled (cancellable, error))
      return FALSE;
    if (!try_flock (entry, &taken, error))
      return FALSE;
    if (taken)
      return TRUE;
    if (!logged) {
      GST_DEBUG ("%s: held by another job, waiting", entry->lock_path);
      logged = TRUE;
    }
    wait_interval (cancellable);
  }
}

gboolean
gst_klingo1_store_entry_try_lock (GstKlingo1StoreEntry * entry,
    GError ** error)
{
  gboolean taken = FALSE;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!try_flock (entry, &taken, error))
    return FALSE;
  return taken;
}

void
gst_klingo1_store_entry_unlock (GstKlingo1StoreEntry * entry)
{
  g_return_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry));

  if (entry->lock_fd < 0 || !entry->locked)
    return;

  /* Keep the descriptor: the next lock() reuses the same open file
   * description, so the lock file stays the one others contend on. */
  if (flock (entry->lock_fd, LOCK_UN) != 0)
    GST_DEBUG ("%s: unlock failed: %s", entry->lock_path, g_strerror (errno));
  entry->locked = FALSE;
}

gchar *
gst_klingo1_store_entry_get_task_id (GstKlingo1StoreEntry * entry,
    gchar ** api_url)
{
  g_autoptr (JsonObject) object = NULL;
  const gchar *task_id;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), NULL);

  if (api_url != NULL)
    *api_url = NULL;

  object = read_object (entry->journal_path);
  if (object == NULL)
    return NULL;

  task_id = get_string_member (object, "task_id");
  if (task_id == NULL || *task_id == '\0') {
    GST_DEBUG ("%s: journal without a task id, ignoring", entry->journal_path);
    return NULL;
  }

  if (api_url != NULL)
    *api_url = g_strdup (get_string_member (object, "api_url"));
  return g_strdup (task_id);
}

gboolean
gst_klingo1_store_entry_set_task_id (GstKlingo1StoreEntry * entry,
    const gchar * task_id, const gchar * api_url, GError ** error)
{
  g_autoptr (JsonObject) object = NULL;
  g_autofree gchar *data = NULL;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), FALSE);
  g_return_val_if_fail (task_id != NULL && *task_id != '\0', FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!ensure_dir (entry->dir, error))
    return FALSE;

  object = json_object_new ();
  json_object_set_string_member (object, "task_id", task_id);
  if (api_url != NULL)
    json_object_set_string_member (object, "api_url", api_url);
  else
    json_object_set_null_member (object, "api_url");
  json_object_set_int_member (object, "created",
      g_get_real_time () / G_USEC_PER_SEC);

  data = object_to_string (object);
  if (!write_atomically (entry->journal_path, data, error))
    return FALSE;

  GST_DEBUG ("%s: journaled task %s", entry->journal_path, task_id);
  return TRUE;
}

static gboolean
remove_if_exists (const gchar * path, GError ** error)
{
  if (g_unlink (path) != 0 && errno != ENOENT) {
    set_errno_error (error, errno, path, "cannot remove");
    return FALSE;
  }
  return TRUE;
}

gchar *
gst_klingo1_store_entry_get_create_key (GstKlingo1StoreEntry * entry)
{
  gchar *contents = NULL;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), NULL);

  if (!g_file_get_contents (entry->create_key_path, &contents, NULL, NULL))
    return NULL;
  g_strstrip (contents);
  if (*contents == '\0' || !g_utf8_validate (contents, -1, NULL)) {
    g_free (contents);
    return NULL;
  }
  return contents;
}

gboolean
gst_klingo1_store_entry_set_create_key (GstKlingo1StoreEntry * entry,
    const gchar * key, GError ** error)
{
  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), FALSE);

  if (key == NULL || *key == '\0')
    return remove_if_exists (entry->create_key_path, error);
  return write_atomically (entry->create_key_path, key, error);
}

const gchar *
gst_klingo1_store_entry_get_clip_path (GstKlingo1StoreEntry * entry)
{
  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), NULL);

  return entry->clip_path;
}

const gchar *
gst_klingo1_store_entry_get_part_path (GstKlingo1StoreEntry * entry)
{
  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), NULL);

  return entry->part_path;
}

gboolean
gst_klingo1_store_entry_has_clip (GstKlingo1StoreEntry * entry)
{
  GStatBuf st;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), FALSE);

  /* An empty clip can only come from a failed download: never serve it. */
  if (g_stat (entry->clip_path, &st) != 0)
    return FALSE;
  return S_ISREG (st.st_mode) && st.st_size > 0;
}

static gboolean
fsync_path (const gchar * path, gint flags, GError ** error)
{
  gint fd;
  gint res;

  do {
    fd = open (path, flags | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    set_errno_error (error, errno, path, "cannot open");
    return FALSE;
  }

  do {
    res = fsync (fd);
  } while (res < 0 && errno == EINTR);
  if (res != 0) {
    gint errsv = errno;

    close (fd);
    set_errno_error (error, errsv, path, "cannot fsync");
    return FALSE;
  }

  close (fd);
  return TRUE;
}

gboolean
gst_klingo1_store_entry_commit_clip (GstKlingo1StoreEntry * entry,
    GError ** error)
{
  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Data first, then the rename, then the directory: otherwise a crash can
   * leave a clip.mp4 whose name survived but whose blocks did not. */
  if (!fsync_path (entry->part_path, O_RDONLY, error))
    return FALSE;

  if (g_rename (entry->part_path, entry->clip_path) != 0) {
    gint errsv = errno;

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "%s: cannot rename to %s: %s", entry->part_path, entry->clip_path,
        g_strerror (errsv));
    return FALSE;
  }

  if (!fsync_path (entry->dir, O_RDONLY | O_DIRECTORY, error))
    return FALSE;

  GST_DEBUG ("%s: committed", entry->clip_path);
  return TRUE;
}

gboolean
gst_klingo1_store_entry_clear (GstKlingo1StoreEntry * entry, GError ** error)
{
  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* The journal goes first: a crash midway must not leave a task id that
   * would resume the job we were asked to forget. The lock file stays, as
   * other processes may hold it open. */
  if (!remove_if_exists (entry->journal_path, error) ||
      !remove_if_exists (entry->create_key_path, error) ||
      !remove_if_exists (entry->part_path, error) ||
      !remove_if_exists (entry->clip_path, error))
    return FALSE;

  GST_DEBUG ("%s: cleared", entry->dir);
  return TRUE;
}

/* Uploads */

static gchar *
upload_path (GstKlingo1Store * store, const gchar * content_hash)
{
  g_autofree gchar *name = g_strconcat (content_hash, ".json", NULL);

  return g_build_filename (store->uploads_dir, name, NULL);
}

gchar *
gst_klingo1_store_lookup_upload (GstKlingo1Store * store,
    const gchar * content_hash, gint64 min_remaining_seconds)
{
  g_autofree gchar *path = NULL;
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (GDateTime) expires = NULL;
  g_autoptr (GDateTime) now = NULL;
  const gchar *url, *expires_str;
  GTimeSpan remaining;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE (store), NULL);

  if (!is_valid_key (content_hash))
    return NULL;

  path = upload_path (store, content_hash);
  object = read_object (path);
  if (object == NULL)
    return NULL;

  url = get_string_member (object, "url");
  expires_str = get_string_member (object, "expires_at");
  if (url == NULL || *url == '\0' || expires_str == NULL) {
    GST_DEBUG ("%s: incomplete upload record, ignoring", path);
    return NULL;
  }

  /* A time without a zone would be ambiguous; we always write UTC. */
  expires = g_date_time_new_from_iso8601 (expires_str, NULL);
  if (expires == NULL) {
    GST_DEBUG ("%s: unparsable expires_at '%s', ignoring", path, expires_str);
    return NULL;
  }

  now = g_date_time_new_now_utc ();
  remaining = g_date_time_difference (expires, now);
  if (remaining < min_remaining_seconds * G_TIME_SPAN_SECOND) {
    GST_DEBUG ("%s: upload expires too soon (%" G_GINT64_FORMAT " s left)",
        path, (gint64) (remaining / G_TIME_SPAN_SECOND));
    return NULL;
  }

  return g_strdup (url);
}

gboolean
gst_klingo1_store_record_upload (GstKlingo1Store * store,
    const gchar * content_hash, const gchar * url, GDateTime * expires_at,
    GError ** error)
{
  g_autofree gchar *path = NULL;
  g_autofree gchar *expires_str = NULL;
  g_autofree gchar *data = NULL;
  g_autoptr (GDateTime) utc = NULL;
  g_autoptr (JsonObject) object = NULL;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE (store), FALSE);
  g_return_val_if_fail (url != NULL, FALSE);
  g_return_val_if_fail (expires_at != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!is_valid_key (content_hash)) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "%s: invalid content hash '%s'", store->uploads_dir,
        content_hash ? content_hash : "(null)");
    return FALSE;
  }

  if (!ensure_dir (store->uploads_dir, error))
    return FALSE;

  utc = g_date_time_to_utc (expires_at);
  expires_str = g_date_time_format_iso8601 (utc);

  object = json_object_new ();
  json_object_set_string_member (object, "url", url);
  json_object_set_string_member (object, "expires_at", expires_str);
  data = object_to_string (object);

  path = upload_path (store, content_hash);
  return write_atomically (path, data, error);
}
