/* gst-klingo1: the on-disk cache and task journal
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * Layout under the store directory (default $XDG_CACHE_HOME/klingo1):
 *   tasks/<key>/lock             flock()ed while a process works on it
 *   tasks/<key>/task.json        journal: {"task_id","api_url","created"}
 *   tasks/<key>/create-key       Idempotency-Key of the create in flight
 *   tasks/<key>/lost.json        {"task_id","reason","when"}: paid, then lost
 *   tasks/<key>/clip.mp4.part    download in progress
 *   tasks/<key>/clip.mp4.part.ranges  byte ranges of the part already written
 *   tasks/<key>/clip.mp4         the finished clip
 *   tasks/<key>/clip.json        {"size","sha256","mtime_ns","ino","dev",
 *                                "verified_ns"}: what the clip must be
 *   tasks/<key>/clip.mp4.damaged a clip that failed its check, kept aside
 *   uploads/<sha256(files_url "\n" content-sha256)>.json
 *                                {"url","expires_at","files_url"}
 *   uploads/<content-sha256>.json  the same, from before uploads were keyed
 *                                by server (gst_klingo1_store_*_upload())
 *   hashes/<sha256(absolute path)>.json  memo of a local file's SHA-256
 * Every write is atomic (write to a temporary, fsync, rename).
 */
#define GST_TYPE_KLINGO1_STORE (gst_klingo1_store_get_type ())
G_DECLARE_FINAL_TYPE (GstKlingo1Store, gst_klingo1_store, GST,
    KLINGO1_STORE, GObject)

#define GST_TYPE_KLINGO1_STORE_ENTRY (gst_klingo1_store_entry_get_type ())
G_DECLARE_FINAL_TYPE (GstKlingo1StoreEntry, gst_klingo1_store_entry, GST,
    KLINGO1_STORE_ENTRY, GObject)

/* @dir NULL: g_get_user_cache_dir()/klingo1. Nothing is created until used. */
GstKlingo1Store *gst_klingo1_store_new (const gchar * dir);
const gchar     *gst_klingo1_store_get_dir (GstKlingo1Store * store);

/* Creates tasks/<key>/ when needed. @key is a request hash (hex). */
GstKlingo1StoreEntry *gst_klingo1_store_open_entry (GstKlingo1Store * store,
                                                    const gchar * key,
                                                    GError ** error);

/* Exclusive lock shared by processes and by entries within one process
 * (flock on tasks/<key>/lock). Waits, polling every 100 ms, until it is taken
 * or @cancellable fires. Released by unlock or when the entry is finalized;
 * the kernel releases it when the process dies. */
gboolean gst_klingo1_store_entry_lock (GstKlingo1StoreEntry * entry,
                                       GCancellable * cancellable,
                                       GError ** error);
/* Non-blocking attempt: TRUE when taken now. */
gboolean gst_klingo1_store_entry_try_lock (GstKlingo1StoreEntry * entry,
                                           GError ** error);
void     gst_klingo1_store_entry_unlock (GstKlingo1StoreEntry * entry);

/* Journal: the task id recorded for this request and the API URL it was
 * created on (*@api_url NULL when not recorded).
 *
 * TRUE with *@task_id NULL when there is no journal. FALSE with a
 * GST_KLINGO1_ERROR_IO error when the journal exists but cannot be read or
 * is damaged (empty, not JSON, no task id): a task may have been paid for,
 * so this is never taken as "no task"; the message names the file and says
 * what to do. */
gboolean gst_klingo1_store_entry_read_task (GstKlingo1StoreEntry * entry,
                                            gchar ** task_id,
                                            gchar ** api_url,
                                            GError ** error);
/* Deprecated: takes a damaged journal for "no task" (NULL). Use
 * gst_klingo1_store_entry_read_task(). */
gchar   *gst_klingo1_store_entry_get_task_id (GstKlingo1StoreEntry * entry,
                                              gchar ** api_url);
gboolean gst_klingo1_store_entry_set_task_id (GstKlingo1StoreEntry * entry,
                                              const gchar * task_id,
                                              const gchar * api_url,
                                              GError ** error);

/* The Idempotency-Key of a create that is being or was sent, recorded
 * durably before the request leaves (tasks/<key>/create-key). If the answer
 * never arrives (crash, kill, cancel mid-request), the next run sends the
 * same key, so the API answers with the task it already made instead of
 * starting a second paid one. NULL when none. Setting NULL forgets it
 * (the API refused the create outright, so no task exists). */
gchar   *gst_klingo1_store_entry_get_create_key (GstKlingo1StoreEntry * entry);
gboolean gst_klingo1_store_entry_set_create_key (GstKlingo1StoreEntry * entry,
                                                 const gchar * key,
                                                 GError ** error);
/* As gst_klingo1_store_entry_get_create_key(), but a create-key file that is
 * empty or not UTF-8 is a GST_KLINGO1_ERROR_IO error (a create may have left
 * without its key being readable now), never "no key". TRUE with *@key NULL
 * when there is none. */
gboolean gst_klingo1_store_entry_read_create_key (GstKlingo1StoreEntry * entry,
                                                  gchar ** key,
                                                  GError ** error);

/* A task that was paid for and cannot be had any more (the API no longer
 * knows it, its result link expired): records the journal's task id, @reason
 * and the time in tasks/<key>/lost.json. The journal stays, so the loss is
 * reported on every run instead of paying again silently; clear() (that is
 * cache-mode=refresh) forgets both. */
gboolean gst_klingo1_store_entry_mark_lost (GstKlingo1StoreEntry * entry,
                                            const gchar * reason,
                                            GError ** error);
/* The reason recorded by mark_lost(), NULL when the task is not lost. A
 * damaged record still counts as lost (the reason then says so). */
gchar   *gst_klingo1_store_entry_get_lost (GstKlingo1StoreEntry * entry);

typedef enum
{
  GST_KLINGO1_CLIP_MISSING,
  GST_KLINGO1_CLIP_OK,
  GST_KLINGO1_CLIP_DAMAGED,
} GstKlingo1ClipState;

/* Paths of the finished clip, of the download in progress and of the
 * download's map of the byte ranges already in the part file. */
const gchar *gst_klingo1_store_entry_get_clip_path (GstKlingo1StoreEntry * entry);
const gchar *gst_klingo1_store_entry_get_part_path (GstKlingo1StoreEntry * entry);
const gchar *gst_klingo1_store_entry_get_ranges_path (GstKlingo1StoreEntry * entry);
/* Deprecated: only says that a non-empty clip.mp4 exists. Use
 * gst_klingo1_store_entry_check_clip(). */
gboolean     gst_klingo1_store_entry_has_clip (GstKlingo1StoreEntry * entry);
/* Deprecated: use gst_klingo1_store_entry_commit_clip_checked(). */
gboolean     gst_klingo1_store_entry_commit_clip (GstKlingo1StoreEntry * entry,
                                                  GError ** error);
/* Commits the part file as the clip, @size bytes whose SHA-256 (lowercase
 * hex) is @sha256, as computed while downloading: checks the size, fsyncs
 * the part, renames it to clip.mp4, fsyncs the directory, then records
 * clip.json so that later runs can tell the clip is still what was paid for.
 * A part of another size is not committed (GST_KLINGO1_ERROR_IO). */
gboolean     gst_klingo1_store_entry_commit_clip_checked
                                               (GstKlingo1StoreEntry * entry,
                                                const gchar * sha256,
                                                guint64 size,
                                                GError ** error);
/* Whether clip.mp4 can be served. Without reading it when its size, mtime,
 * inode and device are those recorded (as git and ccache trust a stat) and
 * it had not been written for 2 s when it was verified (a write within the
 * timestamps' granularity could keep the mtime); otherwise, or for a clip committed by an older version (no clip.json), it
 * is hashed: the recorded SHA-256 (or, for an old clip, a non-empty file)
 * is OK and the record is refreshed; anything else is DAMAGED, and the clip
 * is moved to clip.mp4.damaged so nothing serves it. Call it with the entry
 * locked. On failure (I/O, cancelled) sets @error and returns MISSING. */
GstKlingo1ClipState gst_klingo1_store_entry_check_clip
                                               (GstKlingo1StoreEntry * entry,
                                                GCancellable * cancellable,
                                                GError ** error);
/* Forgets the journal, the create key, the lost record, the part and its
 * ranges, the clip, its record and a damaged clip (cache-mode=refresh). */
gboolean     gst_klingo1_store_entry_clear (GstKlingo1StoreEntry * entry,
                                            GError ** error);

/* Uploaded inputs, keyed by the Files API that holds them (@files_url,
 * compared as given) and the SHA-256 of their content: returns the URL when
 * it stays valid for at least @min_remaining_seconds more, else NULL. A file
 * uploaded to one server (an emulator, another account's endpoint) is never
 * offered for another. */
gchar   *gst_klingo1_store_lookup_upload_for (GstKlingo1Store * store,
                                              const gchar * files_url,
                                              const gchar * content_hash,
                                              gint64 min_remaining_seconds);
gboolean gst_klingo1_store_record_upload_for (GstKlingo1Store * store,
                                              const gchar * files_url,
                                              const gchar * content_hash,
                                              const gchar * url,
                                              GDateTime * expires_at,
                                              GError ** error);
/* Deprecated: keyed by content only, so any server's record is reused. Use
 * the _for() variants. */
gchar   *gst_klingo1_store_lookup_upload (GstKlingo1Store * store,
                                          const gchar * content_hash,
                                          gint64 min_remaining_seconds);
gboolean gst_klingo1_store_record_upload (GstKlingo1Store * store,
                                          const gchar * content_hash,
                                          const gchar * url,
                                          GDateTime * expires_at,
                                          GError ** error);

/* Lowercase hex SHA-256 of a local file, remembered under hashes/ with the
 * file's absolute path, size, mtime, ctime, inode and device: while none of
 * them changes the file is not read again (as git and ccache do). A file
 * changed within two seconds of being hashed is not remembered, since a
 * second change could keep all of them. Errors as gst_klingo1_input_hash_file()
 * (GST_KLINGO1_ERROR_IO, or G_IO_ERROR_CANCELLED). */
gchar   *gst_klingo1_store_hash_file (GstKlingo1Store * store,
                                      const gchar * path,
                                      GCancellable * cancellable,
                                      GError ** error);

/**
 * GstKlingo1StoreEntryInfo:
 *
 * One entry of the store, as a listing shows it, read through the accessors
 * below (strings are owned by the info):
 * - key: the entry's key (directory name under tasks/)
 * - task id, API URL (nullable): the journaled task and where it was created
 * - state: "done" (a clip is there), "lost" (paid, then lost), "damaged" (a
 *   damaged journal or create key, or a clip set aside as damaged) or
 *   "pending" (a task or a create in flight, no clip yet)
 * - clip path (nullable): the clip, when done
 * - modified: last change of the entry, Unix time in seconds
 * - lost reason (nullable): why the task is lost
 */
typedef struct _GstKlingo1StoreEntryInfo GstKlingo1StoreEntryInfo;

const gchar *gst_klingo1_store_entry_info_get_key (const GstKlingo1StoreEntryInfo * info);
const gchar *gst_klingo1_store_entry_info_get_task_id (const GstKlingo1StoreEntryInfo * info);
const gchar *gst_klingo1_store_entry_info_get_api_url (const GstKlingo1StoreEntryInfo * info);
const gchar *gst_klingo1_store_entry_info_get_state (const GstKlingo1StoreEntryInfo * info);
const gchar *gst_klingo1_store_entry_info_get_clip_path (const GstKlingo1StoreEntryInfo * info);
gint64       gst_klingo1_store_entry_info_get_modified (const GstKlingo1StoreEntryInfo * info);
const gchar *gst_klingo1_store_entry_info_get_lost_reason (const GstKlingo1StoreEntryInfo * info);

void gst_klingo1_store_entry_info_free (GstKlingo1StoreEntryInfo * info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstKlingo1StoreEntryInfo,
    gst_klingo1_store_entry_info_free)

/* (element-type GstKlingo1StoreEntryInfo): every entry that holds anything,
 * newest first. Reads only, takes no lock: a listing taken while a job runs
 * shows that job's state of a moment ago. An empty or missing store gives an
 * empty array. */
GPtrArray *gst_klingo1_store_list_entries (GstKlingo1Store * store,
                                           GError ** error);

G_END_DECLS
