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
#define HASH_CHUNK (64 * 1024)
/* A file whose ctime (or mtime, for clips) lies within this much of the
 * moment it was hashed may change again without any stat field changing:
 * timestamps have the granularity of the kernel tick, or of 2 s on FAT. Its
 * stat is not trusted (git calls this "racy"). */
#define RACY_NS ((gint64) 2 * 1000 * 1000 * 1000)

/* Names inside an entry's directory. */
#define JOURNAL_NAME "task.json"
#define CREATE_KEY_NAME "create-key"
#define LOST_NAME "lost.json"
#define PART_NAME "clip.mp4.part"
#define RANGES_NAME "clip.mp4.part.ranges"
#define CLIP_NAME "clip.mp4"
#define CLIP_RECORD_NAME "clip.json"
#define DAMAGED_NAME "clip.mp4.damaged"

struct _GstKlingo1Store
{
  GObject parent;

  gchar *dir;
  gchar *tasks_dir;
  gchar *uploads_dir;
  gchar *hashes_dir;
};

struct _GstKlingo1StoreEntry
{
  GObject parent;

  gchar *dir;
  gchar *lock_path;
  gchar *journal_path;
  gchar *create_key_path;
  gchar *lost_path;
  gchar *part_path;
  gchar *ranges_path;
  gchar *clip_path;
  gchar *clip_record_path;
  gchar *damaged_path;

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

/* Paths are bytes, messages UTF-8: every path quoted in an error goes
 * through g_filename_display_name(). */
static void
set_errno_error (GError ** error, gint errsv, const gchar * path,
    const gchar * what)
{
  g_autofree gchar *shown = g_filename_display_name (path);

  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
      "%s: %s: %s", shown, what, g_strerror (errsv));
}

static gint64
stat_mtime_ns (const struct stat *st)
{
  return (gint64) st->st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) +
      st->st_mtim.tv_nsec;
}

static gint64
stat_ctime_ns (const struct stat *st)
{
  return (gint64) st->st_ctim.tv_sec * G_GINT64_CONSTANT (1000000000) +
      st->st_ctim.tv_nsec;
}

static gint64
real_time_ns (void)
{
  return g_get_real_time () * 1000;
}

/* Everything that changes when a file's content may have: what git and
 * ccache compare before trusting a remembered hash. */
static gboolean
same_file_state (const struct stat *a, const struct stat *b)
{
  return a->st_size == b->st_size && a->st_ino == b->st_ino
      && a->st_dev == b->st_dev && stat_mtime_ns (a) == stat_mtime_ns (b)
      && stat_ctime_ns (a) == stat_ctime_ns (b);
}

static gboolean
is_sha256_hex (const gchar * s)
{
  gint i;

  if (s == NULL)
    return FALSE;
  for (i = 0; i < 64; i++) {
    if (!g_ascii_isxdigit (s[i]) || g_ascii_isupper (s[i]))
      return FALSE;
  }
  return s[64] == '\0';
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
    g_autofree gchar *shown = g_filename_display_name (path);

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "%s: cannot write: %s", shown, local->message);
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

static gboolean
is_blank (const gchar * data, gsize length)
{
  gsize i;

  for (i = 0; i < length; i++) {
    if (!g_ascii_isspace (data[i]))
      return FALSE;
  }
  return TRUE;
}

typedef enum
{
  RECORD_MISSING,
  RECORD_OK,
  RECORD_DAMAGED,
  RECORD_UNREADABLE,
} RecordStatus;

/* Reads a JSON object from @path. *@why says what is wrong with a damaged or
 * unreadable file, in words for an error message. */
static RecordStatus
load_record (const gchar * path, JsonObject ** object, gchar ** why)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) err = NULL;
  g_autofree gchar *contents = NULL;
  gsize length = 0;
  JsonNode *root;

  *object = NULL;
  if (why != NULL)
    *why = NULL;

  if (!g_file_get_contents (path, &contents, &length, &err)) {
    if (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return RECORD_MISSING;
    if (why != NULL)
      *why = g_strdup (err->message);
    return RECORD_UNREADABLE;
  }
  if (is_blank (contents, length)) {
    if (why != NULL)
      *why = g_strdup ("it is empty");
    return RECORD_DAMAGED;
  }
  if (!json_parser_load_from_data (parser, contents, length, &err)) {
    if (why != NULL)
      *why = g_strdup_printf ("it is not JSON: %s", err->message);
    return RECORD_DAMAGED;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    if (why != NULL)
      *why = g_strdup ("it holds no JSON object");
    return RECORD_DAMAGED;
  }
  *object = json_object_ref (json_node_get_object (root));
  return RECORD_OK;
}

/* Reads a JSON object from @path; NULL when missing or unparsable. For
 * records that only save work (uploads, hashes, the old journal reader):
 * garbage there is treated as absent rather than as a reason to fail. */
static JsonObject *
read_object (const gchar * path)
{
  JsonObject *object = NULL;
  g_autofree gchar *why = NULL;

  if (load_record (path, &object, &why) != RECORD_OK && why != NULL)
    GST_DEBUG ("%s: ignoring: %s", path, why);
  return object;
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

static gboolean
get_int_member (JsonObject * object, const gchar * name, gint64 * value)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}

/* Inode and device numbers are unsigned 64-bit; JSON integers here are
 * signed. The cast keeps every bit, and reading casts back. */
static void
set_stat_members (JsonObject * object, const struct stat *st)
{
  json_object_set_int_member (object, "size", st->st_size);
  json_object_set_int_member (object, "mtime_ns", stat_mtime_ns (st));
  /* a write that puts the mtime back (touch -r, a careless copy tool) still
   * moves the ctime */
  json_object_set_int_member (object, "ctime_ns", stat_ctime_ns (st));
  json_object_set_int_member (object, "ino", (gint64) st->st_ino);
  json_object_set_int_member (object, "dev", (gint64) st->st_dev);
}

static gboolean
stat_members_match (JsonObject * object, const struct stat *st)
{
  gint64 size, mtime_ns, ctime_ns, ino, dev;

  return get_int_member (object, "size", &size)
      && get_int_member (object, "mtime_ns", &mtime_ns)
      && get_int_member (object, "ctime_ns", &ctime_ns)
      && get_int_member (object, "ino", &ino)
      && get_int_member (object, "dev", &dev)
      && size == (gint64) st->st_size && mtime_ns == stat_mtime_ns (st)
      && ctime_ns == stat_ctime_ns (st)
      && (guint64) ino == (guint64) st->st_ino
      && (guint64) dev == (guint64) st->st_dev;
}

/* GstKlingo1Store */

static void
gst_klingo1_store_finalize (GObject * object)
{
  GstKlingo1Store *self = GST_KLINGO1_STORE (object);

  g_free (self->dir);
  g_free (self->tasks_dir);
  g_free (self->uploads_dir);
  g_free (self->hashes_dir);

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
  self->hashes_dir = g_build_filename (self->dir, "hashes", NULL);

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
    g_autofree gchar *shown = g_filename_display_name (store->tasks_dir);
    g_autofree gchar *shown_key = key ? g_utf8_make_valid (key, -1) : NULL;

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "%s: invalid cache key '%s' (expected 1-%d letters and digits)",
        shown, shown_key ? shown_key : "(null)", MAX_KEY_LENGTH);
    return NULL;
  }

  dir = g_build_filename (store->tasks_dir, key, NULL);
  if (!ensure_dir (dir, error))
    return NULL;

  entry = g_object_new (GST_TYPE_KLINGO1_STORE_ENTRY, NULL);
  entry->lock_path = g_build_filename (dir, "lock", NULL);
  entry->journal_path = g_build_filename (dir, JOURNAL_NAME, NULL);
  entry->create_key_path = g_build_filename (dir, CREATE_KEY_NAME, NULL);
  entry->lost_path = g_build_filename (dir, LOST_NAME, NULL);
  entry->part_path = g_build_filename (dir, PART_NAME, NULL);
  entry->ranges_path = g_build_filename (dir, RANGES_NAME, NULL);
  entry->clip_path = g_build_filename (dir, CLIP_NAME, NULL);
  entry->clip_record_path = g_build_filename (dir, CLIP_RECORD_NAME, NULL);
  entry->damaged_path = g_build_filename (dir, DAMAGED_NAME, NULL);
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
  g_free (self->lost_path);
  g_free (self->part_path);
  g_free (self->ranges_path);
  g_free (self->clip_path);
  g_free (self->clip_record_path);
  g_free (self->damaged_path);

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

/* The journal and the create key are what stands between a crash and a
 * second payment: when one exists but cannot be understood, stop and say so,
 * rather than take it for "nothing was created" and create again. */
static void
set_record_error (GError ** error, const gchar * what, const gchar * path,
    const gchar * state, const gchar * why, const gchar * risk)
{
  g_autofree gchar *shown = g_filename_display_name (path);

  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
      "the %s %s %s (%s); %s: check it, then delete the file or run with "
      "cache-mode=refresh to generate again", what, shown, state, why, risk);
}

#define set_damaged_error(error, what, path, why, risk) \
  set_record_error (error, what, path, "is damaged", why, risk)
#define set_unreadable_error(error, what, path, why, risk) \
  set_record_error (error, what, path, "cannot be read", why, risk)

#define TASK_RISK "a task may have been paid for"
#define CREATE_RISK "a create may have been sent and paid for (look for the " \
  "task in your account)"

static gboolean
read_task_record (const gchar * path, gchar ** task_id, gchar ** api_url,
    GError ** error)
{
  g_autoptr (JsonObject) object = NULL;
  g_autofree gchar *why = NULL;
  const gchar *id;

  *task_id = NULL;
  if (api_url != NULL)
    *api_url = NULL;

  switch (load_record (path, &object, &why)) {
    case RECORD_MISSING:
      return TRUE;
    case RECORD_UNREADABLE:
      set_unreadable_error (error, "task record", path, why, TASK_RISK);
      return FALSE;
    case RECORD_DAMAGED:
      set_damaged_error (error, "task record", path, why, TASK_RISK);
      return FALSE;
    case RECORD_OK:
      break;
  }

  id = get_string_member (object, "task_id");
  if (id == NULL || *id == '\0') {
    set_damaged_error (error, "task record", path, "it holds no task id",
        TASK_RISK);
    return FALSE;
  }

  *task_id = g_strdup (id);
  /* a missing or mistyped URL only costs the check that the task belongs
   * to this API; the task id is what matters */
  if (api_url != NULL)
    *api_url = g_strdup (get_string_member (object, "api_url"));
  return TRUE;
}

gboolean
gst_klingo1_store_entry_read_task (GstKlingo1StoreEntry * entry,
    gchar ** task_id, gchar ** api_url, GError ** error)
{
  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), FALSE);
  g_return_val_if_fail (task_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return read_task_record (entry->journal_path, task_id, api_url, error);
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

static gboolean
read_create_key_file (const gchar * path, gchar ** key, GError ** error)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *contents = NULL;
  gsize length = 0;

  *key = NULL;
  if (!g_file_get_contents (path, &contents, &length, &err)) {
    if (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return TRUE;
    set_unreadable_error (error, "create record", path, err->message,
        CREATE_RISK);
    return FALSE;
  }
  /* we never write an empty key: an empty file is a write that did not
   * survive, of a key that may already have gone out with a create */
  if (is_blank (contents, length)) {
    set_damaged_error (error, "create record", path, "it is empty",
        CREATE_RISK);
    return FALSE;
  }
  if (memchr (contents, '\0', length) != NULL
      || !g_utf8_validate (contents, length, NULL)) {
    set_damaged_error (error, "create record", path, "it is not text",
        CREATE_RISK);
    return FALSE;
  }
  *key = g_strdup (g_strstrip (contents));
  return TRUE;
}

gboolean
gst_klingo1_store_entry_read_create_key (GstKlingo1StoreEntry * entry,
    gchar ** key, GError ** error)
{
  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return read_create_key_file (entry->create_key_path, key, error);
}

/* Lost tasks */

gboolean
gst_klingo1_store_entry_mark_lost (GstKlingo1StoreEntry * entry,
    const gchar * reason, GError ** error)
{
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (GDateTime) now = NULL;
  g_autofree gchar *task_id = NULL;
  g_autofree gchar *when = NULL;
  g_autofree gchar *data = NULL;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), FALSE);
  g_return_val_if_fail (reason != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!ensure_dir (entry->dir, error))
    return FALSE;

  /* A damaged journal has no id to give; the loss is recorded anyway. */
  if (!read_task_record (entry->journal_path, &task_id, NULL, NULL))
    GST_DEBUG ("%s: marking lost without a readable task id", entry->dir);

  now = g_date_time_new_now_utc ();
  when = g_date_time_format_iso8601 (now);

  object = json_object_new ();
  if (task_id != NULL)
    json_object_set_string_member (object, "task_id", task_id);
  else
    json_object_set_null_member (object, "task_id");
  json_object_set_string_member (object, "reason", reason);
  json_object_set_string_member (object, "when", when);
  data = object_to_string (object);

  if (!write_atomically (entry->lost_path, data, error))
    return FALSE;

  GST_DEBUG ("%s: task %s lost: %s", entry->dir, GST_STR_NULL (task_id),
      reason);
  return TRUE;
}

static gchar *
read_lost_reason (const gchar * path)
{
  g_autoptr (JsonObject) object = NULL;
  g_autofree gchar *shown = NULL;
  const gchar *reason;

  switch (load_record (path, &object, NULL)) {
    case RECORD_MISSING:
      return NULL;
    case RECORD_OK:
      reason = get_string_member (object, "reason");
      if (reason != NULL)
        return g_strdup (reason);
      break;
    case RECORD_DAMAGED:
    case RECORD_UNREADABLE:
      break;
  }

  /* Still lost: the record exists because a paid task was lost, and taking
   * it for "not lost" would lead to paying again without a word. */
  shown = g_filename_display_name (path);
  return g_strdup_printf ("unknown (the record %s is damaged)", shown);
}

gchar *
gst_klingo1_store_entry_get_lost (GstKlingo1StoreEntry * entry)
{
  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), NULL);

  return read_lost_reason (entry->lost_path);
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

const gchar *
gst_klingo1_store_entry_get_ranges_path (GstKlingo1StoreEntry * entry)
{
  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), NULL);

  return entry->ranges_path;
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
    g_autofree gchar *shown_part = g_filename_display_name (entry->part_path);
    g_autofree gchar *shown_clip = g_filename_display_name (entry->clip_path);

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "%s: cannot rename to %s: %s", shown_part, shown_clip,
        g_strerror (errsv));
    return FALSE;
  }

  if (!fsync_path (entry->dir, O_RDONLY | O_DIRECTORY, error))
    return FALSE;

  GST_DEBUG ("%s: committed", entry->clip_path);
  return TRUE;
}

static gint
open_retry (const gchar * path, gint flags)
{
  gint fd;

  do {
    fd = open (path, flags | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

/* SHA-256 of a regular file, read through one descriptor whose state before
 * and after the read is returned: what was hashed is exactly the file those
 * describe, whatever is renamed over @path meanwhile. */
static gchar *
hash_regular_file (const gchar * path, GCancellable * cancellable,
    struct stat *before, struct stat *after, GError ** error)
{
  g_autoptr (GChecksum) checksum = NULL;
  g_autofree guint8 *buf = NULL;
  gint fd;

  fd = open_retry (path, O_RDONLY | O_NOCTTY);
  if (fd < 0) {
    set_errno_error (error, errno, path, "cannot open");
    return NULL;
  }
  if (fstat (fd, before) != 0) {
    set_errno_error (error, errno, path, "cannot stat");
    close (fd);
    return NULL;
  }
  /* a FIFO would block, a directory cannot be read */
  if (!S_ISREG (before->st_mode)) {
    g_autofree gchar *shown = g_filename_display_name (path);

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "%s: not a regular file", shown);
    close (fd);
    return NULL;
  }

  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  buf = g_malloc (HASH_CHUNK);
  for (;;) {
    gssize n;

    /* inputs can be 100 MB: stay interruptible between chunks */
    if (g_cancellable_set_error_if_cancelled (cancellable, error)) {
      close (fd);
      return NULL;
    }
    n = read (fd, buf, HASH_CHUNK);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      set_errno_error (error, errno, path, "cannot read");
      close (fd);
      return NULL;
    }
    if (n == 0)
      break;
    g_checksum_update (checksum, buf, n);
  }

  if (fstat (fd, after) != 0) {
    set_errno_error (error, errno, path, "cannot stat");
    close (fd);
    return NULL;
  }
  close (fd);
  return g_strdup (g_checksum_get_string (checksum));
}

/* clip.json: what the committed clip must be. @verified_ns is when its
 * content was last known to have @sha256 (hashed or downloaded). */
static gboolean
write_clip_record (GstKlingo1StoreEntry * entry, const struct stat *st,
    const gchar * sha256, gint64 verified_ns, GError ** error)
{
  g_autoptr (JsonObject) object = json_object_new ();
  g_autofree gchar *data = NULL;

  set_stat_members (object, st);
  json_object_set_string_member (object, "sha256", sha256);
  json_object_set_int_member (object, "verified_ns", verified_ns);
  data = object_to_string (object);
  return write_atomically (entry->clip_record_path, data, error);
}

gboolean
gst_klingo1_store_entry_commit_clip_checked (GstKlingo1StoreEntry * entry,
    const gchar * sha256, guint64 size, GError ** error)
{
  struct stat st;
  gint fd, res;
  gboolean had_record;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), FALSE);
  g_return_val_if_fail (is_sha256_hex (sha256), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  fd = open_retry (entry->part_path, O_RDONLY);
  if (fd < 0) {
    set_errno_error (error, errno, entry->part_path, "cannot open");
    return FALSE;
  }
  if (fstat (fd, &st) != 0) {
    set_errno_error (error, errno, entry->part_path, "cannot stat");
    close (fd);
    return FALSE;
  }
  /* The size the download counted is what was hashed: a part file of
   * another size holds something else (another writer, a lost write). */
  if ((guint64) st.st_size != size) {
    g_autofree gchar *shown = g_filename_display_name (entry->part_path);

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "%s: %" G_GUINT64_FORMAT " bytes, but %" G_GUINT64_FORMAT " were "
        "downloaded; not committing it", shown, (guint64) st.st_size, size);
    close (fd);
    return FALSE;
  }
  /* Data first, then the rename, then the directory: otherwise a crash can
   * leave a clip.mp4 whose name survived but whose blocks did not. */
  do {
    res = fsync (fd);
  } while (res < 0 && errno == EINTR);
  if (res != 0) {
    set_errno_error (error, errno, entry->part_path, "cannot fsync");
    close (fd);
    return FALSE;
  }
  close (fd);

  /* A record of an earlier clip must not outlive the rename: after a crash
   * right behind it, it would condemn the new clip as damaged. Without a
   * record, check_clip() hashes the clip and records it. */
  had_record = g_file_test (entry->clip_record_path, G_FILE_TEST_EXISTS);
  if (!remove_if_exists (entry->clip_record_path, error))
    return FALSE;
  if (had_record && !fsync_path (entry->dir, O_RDONLY | O_DIRECTORY, error))
    return FALSE;

  if (g_rename (entry->part_path, entry->clip_path) != 0) {
    gint errsv = errno;
    g_autofree gchar *shown_part = g_filename_display_name (entry->part_path);
    g_autofree gchar *shown_clip = g_filename_display_name (entry->clip_path);

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "%s: cannot rename to %s: %s", shown_part, shown_clip,
        g_strerror (errsv));
    return FALSE;
  }
  if (!fsync_path (entry->dir, O_RDONLY | O_DIRECTORY, error))
    return FALSE;

  /* rename() keeps the inode and the mtime: stat the clip as it is now */
  if (g_stat (entry->clip_path, &st) != 0) {
    set_errno_error (error, errno, entry->clip_path, "cannot stat");
    return FALSE;
  }
  if (!write_clip_record (entry, &st, sha256, real_time_ns (), error))
    return FALSE;

  GST_DEBUG ("%s: committed, %" G_GUINT64_FORMAT " bytes, sha256 %s",
      entry->clip_path, size, sha256);
  return TRUE;
}

/* Moves a clip that failed its check out of the way, so that nothing serves
 * it, and keeps it for whoever wants to look at it. */
static gboolean
set_clip_aside (GstKlingo1StoreEntry * entry, GError ** error)
{
  if (g_rename (entry->clip_path, entry->damaged_path) != 0) {
    set_errno_error (error, errno, entry->clip_path, "cannot move aside");
    return FALSE;
  }
  if (!remove_if_exists (entry->clip_record_path, error))
    return FALSE;
  if (!fsync_path (entry->dir, O_RDONLY | O_DIRECTORY, error))
    return FALSE;

  GST_WARNING ("%s: damaged, moved to %s", entry->clip_path,
      entry->damaged_path);
  return TRUE;
}

GstKlingo1ClipState
gst_klingo1_store_entry_check_clip (GstKlingo1StoreEntry * entry,
    GCancellable * cancellable, GError ** error)
{
  g_autoptr (JsonObject) record = NULL;
  g_autofree gchar *digest = NULL;
  struct stat st, before, after;
  const gchar *recorded_sha = NULL;
  gint64 recorded_size = -1, verified_ns = 0, started_ns;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry),
      GST_KLINGO1_CLIP_MISSING);
  g_return_val_if_fail (error == NULL || *error == NULL,
      GST_KLINGO1_CLIP_MISSING);

  if (stat (entry->clip_path, &st) != 0) {
    if (errno == ENOENT)
      return GST_KLINGO1_CLIP_MISSING;
    set_errno_error (error, errno, entry->clip_path, "cannot stat");
    return GST_KLINGO1_CLIP_MISSING;
  }
  if (!S_ISREG (st.st_mode)) {
    if (!set_clip_aside (entry, error))
      return GST_KLINGO1_CLIP_MISSING;
    return GST_KLINGO1_CLIP_DAMAGED;
  }

  /* A damaged record vouches for nothing: the clip is then treated as one
   * committed without a record, by an older version. */
  record = read_object (entry->clip_record_path);
  if (record != NULL) {
    recorded_sha = get_string_member (record, "sha256");
    if (!is_sha256_hex (recorded_sha) ||
        !get_int_member (record, "size", &recorded_size)) {
      recorded_sha = NULL;
      g_clear_pointer (&record, json_object_unref);
    } else if (!get_int_member (record, "verified_ns", &verified_ns)) {
      verified_ns = 0;
    }
  }

  /* The fast path: the clip is the file that was verified, and has not been
   * written since. A write within RACY_NS of the verification could keep
   * the mtime, so such a record is not trusted on its stat alone. */
  if (record != NULL && stat_members_match (record, &st)
      && stat_mtime_ns (&st) < verified_ns - RACY_NS)
    return GST_KLINGO1_CLIP_OK;

  started_ns = real_time_ns ();
  digest = hash_regular_file (entry->clip_path, cancellable, &before, &after,
      error);
  if (digest == NULL)
    return GST_KLINGO1_CLIP_MISSING;

  if (record != NULL) {
    if (strcmp (digest, recorded_sha) != 0
        || recorded_size != (gint64) after.st_size) {
      GST_WARNING ("%s: sha256 %s, %" G_GINT64_FORMAT " bytes; recorded %s, "
          "%" G_GINT64_FORMAT " bytes", entry->clip_path, digest,
          (gint64) after.st_size, recorded_sha, recorded_size);
      if (!set_clip_aside (entry, error))
        return GST_KLINGO1_CLIP_MISSING;
      return GST_KLINGO1_CLIP_DAMAGED;
    }
  } else if (after.st_size == 0) {
    /* committed by an older version: all it can be judged by is that a
     * download leaves more than nothing */
    if (!set_clip_aside (entry, error))
      return GST_KLINGO1_CLIP_MISSING;
    return GST_KLINGO1_CLIP_DAMAGED;
  }

  /* Same bytes (or an old clip seen for the first time): remember this
   * state, unless the file changed while it was read. A failed write only
   * costs another hash next time. */
  if (same_file_state (&before, &after)) {
    g_autoptr (GError) err = NULL;

    if (!write_clip_record (entry, &after, digest, started_ns, &err))
      GST_WARNING ("%s", err->message);
  }
  return GST_KLINGO1_CLIP_OK;
}

gboolean
gst_klingo1_store_entry_clear (GstKlingo1StoreEntry * entry, GError ** error)
{
  g_return_val_if_fail (GST_IS_KLINGO1_STORE_ENTRY (entry), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* The journal goes first: a crash midway must not leave a task id that
   * would resume the job we were asked to forget. The clip goes before its
   * record: a clip without a record is checked by hashing, a record without
   * a clip is nothing. The lock file stays, as other processes may hold it
   * open. */
  if (!remove_if_exists (entry->journal_path, error) ||
      !remove_if_exists (entry->create_key_path, error) ||
      !remove_if_exists (entry->lost_path, error) ||
      !remove_if_exists (entry->part_path, error) ||
      !remove_if_exists (entry->ranges_path, error) ||
      !remove_if_exists (entry->clip_path, error) ||
      !remove_if_exists (entry->clip_record_path, error) ||
      !remove_if_exists (entry->damaged_path, error))
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

/* One file per (Files API, content): the same bytes uploaded to two servers
 * are two uploads, and a URL of one server means nothing to another. */
static gchar *
upload_path_for (GstKlingo1Store * store, const gchar * files_url,
    const gchar * content_hash)
{
  g_autofree gchar *text = g_strconcat (files_url, "\n", content_hash, NULL);
  g_autofree gchar *key =
      g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);

  return upload_path (store, key);
}

/* @files_url NULL: a record of the old kind, keyed by content only. */
static gchar *
lookup_upload_at (const gchar * path, const gchar * files_url,
    const gchar * content_hash, gint64 min_remaining_seconds)
{
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (GDateTime) expires = NULL;
  g_autoptr (GDateTime) now = NULL;
  const gchar *url, *expires_str;
  GTimeSpan remaining;

  object = read_object (path);
  if (object == NULL)
    return NULL;

  /* The file name is a hash of both: check that the record says so too, so
   * that a file copied or renamed by hand cannot point at another server. */
  if (files_url != NULL) {
    const gchar *rec_files = get_string_member (object, "files_url");
    const gchar *rec_hash = get_string_member (object, "content_hash");

    if (g_strcmp0 (rec_files, files_url) != 0
        || g_strcmp0 (rec_hash, content_hash) != 0) {
      GST_DEBUG ("%s: record for another server or content, ignoring", path);
      return NULL;
    }
  }

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

static gboolean
record_upload_at (GstKlingo1Store * store, const gchar * path,
    const gchar * files_url, const gchar * content_hash, const gchar * url,
    GDateTime * expires_at, GError ** error)
{
  g_autofree gchar *expires_str = NULL;
  g_autofree gchar *data = NULL;
  g_autoptr (GDateTime) utc = NULL;
  g_autoptr (JsonObject) object = NULL;

  if (!ensure_dir (store->uploads_dir, error))
    return FALSE;

  utc = g_date_time_to_utc (expires_at);
  expires_str = g_date_time_format_iso8601 (utc);

  object = json_object_new ();
  json_object_set_string_member (object, "url", url);
  json_object_set_string_member (object, "expires_at", expires_str);
  if (files_url != NULL) {
    json_object_set_string_member (object, "files_url", files_url);
    json_object_set_string_member (object, "content_hash", content_hash);
  }
  data = object_to_string (object);

  return write_atomically (path, data, error);
}

static void
set_invalid_hash_error (GstKlingo1Store * store, const gchar * content_hash,
    GError ** error)
{
  g_autofree gchar *shown = g_filename_display_name (store->uploads_dir);
  g_autofree gchar *shown_hash =
      content_hash ? g_utf8_make_valid (content_hash, -1) : NULL;

  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
      "%s: invalid content hash '%s'", shown,
      shown_hash ? shown_hash : "(null)");
}

gchar *
gst_klingo1_store_lookup_upload (GstKlingo1Store * store,
    const gchar * content_hash, gint64 min_remaining_seconds)
{
  g_autofree gchar *path = NULL;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE (store), NULL);

  if (!is_valid_key (content_hash))
    return NULL;

  path = upload_path (store, content_hash);
  return lookup_upload_at (path, NULL, content_hash, min_remaining_seconds);
}

gboolean
gst_klingo1_store_record_upload (GstKlingo1Store * store,
    const gchar * content_hash, const gchar * url, GDateTime * expires_at,
    GError ** error)
{
  g_autofree gchar *path = NULL;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE (store), FALSE);
  g_return_val_if_fail (url != NULL, FALSE);
  g_return_val_if_fail (expires_at != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!is_valid_key (content_hash)) {
    set_invalid_hash_error (store, content_hash, error);
    return FALSE;
  }

  path = upload_path (store, content_hash);
  return record_upload_at (store, path, NULL, content_hash, url, expires_at,
      error);
}

gchar *
gst_klingo1_store_lookup_upload_for (GstKlingo1Store * store,
    const gchar * files_url, const gchar * content_hash,
    gint64 min_remaining_seconds)
{
  g_autofree gchar *path = NULL;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE (store), NULL);
  g_return_val_if_fail (files_url != NULL, NULL);

  if (!is_valid_key (content_hash))
    return NULL;

  path = upload_path_for (store, files_url, content_hash);
  return lookup_upload_at (path, files_url, content_hash,
      min_remaining_seconds);
}

gboolean
gst_klingo1_store_record_upload_for (GstKlingo1Store * store,
    const gchar * files_url, const gchar * content_hash, const gchar * url,
    GDateTime * expires_at, GError ** error)
{
  g_autofree gchar *path = NULL;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE (store), FALSE);
  g_return_val_if_fail (files_url != NULL, FALSE);
  g_return_val_if_fail (url != NULL, FALSE);
  g_return_val_if_fail (expires_at != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!is_valid_key (content_hash)) {
    set_invalid_hash_error (store, content_hash, error);
    return FALSE;
  }

  path = upload_path_for (store, files_url, content_hash);
  return record_upload_at (store, path, files_url, content_hash, url,
      expires_at, error);
}

/* Hashes of local inputs */

static gchar *
hash_memo_path (GstKlingo1Store * store, const gchar * abs_path)
{
  g_autofree gchar *key =
      g_compute_checksum_for_string (G_CHECKSUM_SHA256, abs_path, -1);
  g_autofree gchar *name = g_strconcat (key, ".json", NULL);

  return g_build_filename (store->hashes_dir, name, NULL);
}

/* The memo's digest when it describes the file in the state @st. */
static gchar *
lookup_hash_memo (const gchar * memo_path, const gchar * path_b64,
    const struct stat *st)
{
  g_autoptr (JsonObject) memo = read_object (memo_path);
  const gchar *sha256;
  gint64 ctime_ns;

  if (memo == NULL)
    return NULL;

  sha256 = get_string_member (memo, "sha256");
  if (g_strcmp0 (get_string_member (memo, "path"), path_b64) != 0
      || !stat_members_match (memo, st)
      || !get_int_member (memo, "ctime_ns", &ctime_ns)
      || ctime_ns != stat_ctime_ns (st) || !is_sha256_hex (sha256)) {
    GST_DEBUG ("%s: stale", memo_path);
    return NULL;
  }
  return g_strdup (sha256);
}

static void
record_hash_memo (GstKlingo1Store * store, const gchar * memo_path,
    const gchar * path_b64, const struct stat *st, const gchar * sha256)
{
  g_autoptr (JsonObject) memo = json_object_new ();
  g_autoptr (GError) err = NULL;
  g_autofree gchar *data = NULL;

  /* The path is kept (as base64: it is bytes, JSON strings are UTF-8) so
   * that the memo is checked against the file it was made for. */
  json_object_set_string_member (memo, "path", path_b64);
  set_stat_members (memo, st);
  json_object_set_int_member (memo, "ctime_ns", stat_ctime_ns (st));
  json_object_set_string_member (memo, "sha256", sha256);
  data = object_to_string (memo);

  /* Only a saving: failing to keep it is no reason to fail the run. */
  if (!ensure_dir (store->hashes_dir, &err)
      || !write_atomically (memo_path, data, &err))
    GST_WARNING ("cannot remember a hash: %s", err->message);
}

gchar *
gst_klingo1_store_hash_file (GstKlingo1Store * store, const gchar * path,
    GCancellable * cancellable, GError ** error)
{
  g_autofree gchar *abs_path = NULL;
  g_autofree gchar *path_b64 = NULL;
  g_autofree gchar *memo_path = NULL;
  g_autofree gchar *digest = NULL;
  struct stat st, before, after;
  gint64 started_ns;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE (store), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Lexically absolute (no symlinks resolved): the file is then told apart
   * by its inode and device, which stat() takes from the link's target. */
  abs_path = g_canonicalize_filename (path, NULL);
  path_b64 = g_base64_encode ((const guchar *) abs_path, strlen (abs_path));
  memo_path = hash_memo_path (store, abs_path);

  if (stat (abs_path, &st) != 0) {
    set_errno_error (error, errno, path, "cannot stat");
    return NULL;
  }
  if (S_ISREG (st.st_mode)) {
    digest = lookup_hash_memo (memo_path, path_b64, &st);
    if (digest != NULL) {
      GST_DEBUG ("%s: hash remembered", abs_path);
      return g_steal_pointer (&digest);
    }
  }

  started_ns = real_time_ns ();
  digest = hash_regular_file (abs_path, cancellable, &before, &after, error);
  if (digest == NULL)
    return NULL;

  /* Remember it only when the file stood still while it was read and had
   * not changed for a while before: a change within the timestamps'
   * granularity of the last one could leave every stat field as it is. */
  if (same_file_state (&before, &after)
      && stat_ctime_ns (&after) < started_ns - RACY_NS)
    record_hash_memo (store, memo_path, path_b64, &after, digest);
  else
    GST_DEBUG ("%s: changed recently, hash not remembered", abs_path);

  return g_steal_pointer (&digest);
}

/* Listing */

/* One listed entry. */
struct _GstKlingo1StoreEntryInfo
{
  gchar *key;
  gchar *task_id;
  gchar *api_url;
  gchar *state;
  gchar *clip_path;
  gint64 modified;
  gchar *lost_reason;
};

const gchar *
gst_klingo1_store_entry_info_get_key (const GstKlingo1StoreEntryInfo * info)
{
  return info->key;
}

const gchar *
gst_klingo1_store_entry_info_get_task_id (const GstKlingo1StoreEntryInfo * info)
{
  return info->task_id;
}

const gchar *
gst_klingo1_store_entry_info_get_api_url (const GstKlingo1StoreEntryInfo * info)
{
  return info->api_url;
}

const gchar *
gst_klingo1_store_entry_info_get_state (const GstKlingo1StoreEntryInfo * info)
{
  return info->state;
}

const gchar *
gst_klingo1_store_entry_info_get_clip_path (const GstKlingo1StoreEntryInfo * info)
{
  return info->clip_path;
}

gint64
gst_klingo1_store_entry_info_get_modified (const GstKlingo1StoreEntryInfo * info)
{
  return info->modified;
}

const gchar *
gst_klingo1_store_entry_info_get_lost_reason (const GstKlingo1StoreEntryInfo * info)
{
  return info->lost_reason;
}

void
gst_klingo1_store_entry_info_free (GstKlingo1StoreEntryInfo * info)
{
  if (info == NULL)
    return;

  g_free (info->key);
  g_free (info->task_id);
  g_free (info->api_url);
  g_free (info->state);
  g_free (info->clip_path);
  g_free (info->lost_reason);
  g_free (info);
}

/* What a listing says of tasks/<key>/; NULL for an entry that holds nothing
 * (opened, maybe locked, never used). */
static GstKlingo1StoreEntryInfo *
describe_entry (const gchar * dir, const gchar * key)
{
  static const gchar *const names[] = { JOURNAL_NAME, CREATE_KEY_NAME,
    LOST_NAME, PART_NAME, RANGES_NAME, CLIP_NAME, CLIP_RECORD_NAME,
    DAMAGED_NAME
  };
  g_autofree gchar *journal = g_build_filename (dir, JOURNAL_NAME, NULL);
  g_autofree gchar *create_key = g_build_filename (dir, CREATE_KEY_NAME,
      NULL);
  g_autofree gchar *lost = g_build_filename (dir, LOST_NAME, NULL);
  g_autofree gchar *clip = g_build_filename (dir, CLIP_NAME, NULL);
  g_autofree gchar *damaged = g_build_filename (dir, DAMAGED_NAME, NULL);
  g_autofree gchar *key_value = NULL;
  GstKlingo1StoreEntryInfo *info;
  gboolean found = FALSE, bad_records = FALSE, has_clip;
  gint64 modified = 0;
  struct stat st;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree gchar *path = g_build_filename (dir, names[i], NULL);

    if (stat (path, &st) == 0) {
      found = TRUE;
      modified = MAX (modified, (gint64) st.st_mtim.tv_sec);
    }
  }
  if (!found)
    return NULL;

  info = g_new0 (GstKlingo1StoreEntryInfo, 1);
  info->key = g_strdup (key);
  info->modified = modified;

  if (!read_task_record (journal, &info->task_id, &info->api_url, NULL))
    bad_records = TRUE;
  if (!read_create_key_file (create_key, &key_value, NULL))
    bad_records = TRUE;
  info->lost_reason = read_lost_reason (lost);
  has_clip = stat (clip, &st) == 0 && S_ISREG (st.st_mode) && st.st_size > 0;

  if (has_clip) {
    info->state = g_strdup ("done");
    info->clip_path = g_steal_pointer (&clip);
  } else if (info->lost_reason != NULL) {
    info->state = g_strdup ("lost");
  } else if (bad_records || g_file_test (damaged, G_FILE_TEST_EXISTS)) {
    info->state = g_strdup ("damaged");
  } else {
    info->state = g_strdup ("pending");
  }
  return info;
}

static gint
compare_newest_first (gconstpointer a, gconstpointer b)
{
  const GstKlingo1StoreEntryInfo *ia = *(GstKlingo1StoreEntryInfo **) a;
  const GstKlingo1StoreEntryInfo *ib = *(GstKlingo1StoreEntryInfo **) b;

  if (ia->modified != ib->modified)
    return ia->modified > ib->modified ? -1 : 1;
  return strcmp (ia->key, ib->key);
}

GPtrArray *
gst_klingo1_store_list_entries (GstKlingo1Store * store, GError ** error)
{
  g_autoptr (GPtrArray) infos = NULL;
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GError) err = NULL;
  const gchar *name;

  g_return_val_if_fail (GST_IS_KLINGO1_STORE (store), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  infos = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_klingo1_store_entry_info_free);

  dir = g_dir_open (store->tasks_dir, 0, &err);
  if (dir == NULL) {
    g_autofree gchar *shown = NULL;

    if (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return g_steal_pointer (&infos);
    shown = g_filename_display_name (store->tasks_dir);
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "%s: cannot list: %s", shown, err->message);
    return NULL;
  }

  while ((name = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *path = NULL;
    GstKlingo1StoreEntryInfo *info;

    /* only what open_entry() could have made: skips stray files and the
     * temporaries of atomic writes */
    if (!is_valid_key (name))
      continue;
    path = g_build_filename (store->tasks_dir, name, NULL);
    if (!g_file_test (path, G_FILE_TEST_IS_DIR))
      continue;
    info = describe_entry (path, name);
    if (info != NULL)
      g_ptr_array_add (infos, info);
  }

  g_ptr_array_sort (infos, compare_newest_first);
  return g_steal_pointer (&infos);
}
