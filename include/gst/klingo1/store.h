/* gst-klingo1: the on-disk cache and task journal
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * Layout under the store directory (default $XDG_CACHE_HOME/klingo1):
 *   tasks/<request-hash>/lock       flock()ed while a process works on it
 *   tasks/<request-hash>/task.json  journal: {"task_id","api_url","created"}
 *   tasks/<request-hash>/create-key Idempotency-Key of the create in flight
 *   tasks/<request-hash>/clip.mp4.part   download in progress
 *   tasks/<request-hash>/clip.mp4   the finished clip
 *   uploads/<content-sha256>.json   {"url","expires_at"} of an uploaded input
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

/* Journal: the task id recorded for this request (NULL when none) and the API
 * URL it was created on. */
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

/* Paths of the finished clip and of the download in progress. */
const gchar *gst_klingo1_store_entry_get_clip_path (GstKlingo1StoreEntry * entry);
const gchar *gst_klingo1_store_entry_get_part_path (GstKlingo1StoreEntry * entry);
gboolean     gst_klingo1_store_entry_has_clip (GstKlingo1StoreEntry * entry);
/* fsyncs and renames the part file to the clip. */
gboolean     gst_klingo1_store_entry_commit_clip (GstKlingo1StoreEntry * entry,
                                                  GError ** error);
/* Forgets the journal, the part and the clip (cache-mode=refresh). */
gboolean     gst_klingo1_store_entry_clear (GstKlingo1StoreEntry * entry,
                                            GError ** error);

/* Uploaded inputs, keyed by the SHA-256 of their content: returns the URL when
 * it stays valid for at least @min_remaining_seconds more, else NULL. */
gchar   *gst_klingo1_store_lookup_upload (GstKlingo1Store * store,
                                          const gchar * content_hash,
                                          gint64 min_remaining_seconds);
gboolean gst_klingo1_store_record_upload (GstKlingo1Store * store,
                                          const gchar * content_hash,
                                          const gchar * url,
                                          GDateTime * expires_at,
                                          GError ** error);

G_END_DECLS
