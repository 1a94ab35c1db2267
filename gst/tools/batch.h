/* klingo1 batch: what its files share, not installed
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "klingo1-tool.h"

G_BEGIN_DECLS

typedef enum
{
  K1_BATCH_QUEUED,
  K1_BATCH_RUNNING,
  K1_BATCH_DONE,
  K1_BATCH_SKIPPED,
  K1_BATCH_FAILED,
  K1_BATCH_OVER_BUDGET,
  K1_BATCH_STOPPED,
  K1_BATCH_N_STATUS,
} K1BatchStatus;

typedef struct _K1Batch K1Batch;

typedef struct
{
  K1Batch *batch;
  K1Job *job;                   /* owned by the jobs array */
  K1BatchStatus status;
  K1Run *run;
  gchar *path;
  gchar *task_id;
  gchar *error;
  gdouble seconds;
  gdouble cost;
  gboolean from_cache;
  gboolean started;
  gchar *last_status;
} K1BatchEntry;

struct _K1Batch
{
  gint max_jobs;
  gchar *out_dir;
  gdouble budget;               /* < 0: none */
  gboolean dry_run;
  gchar *shard;
  K1ApiOptions api;

  GPtrArray *jobs;
  GPtrArray *entries;
  guint next;
  guint running;
  gdouble spent;
  GMainLoop *loop;
  K1Progress *progress;
  gboolean interrupted;
};

/* batch.c */
const gchar *k1_batch_status_name (K1BatchStatus status);
void         k1_batch_entry_fail (K1BatchEntry * e, K1BatchStatus status,
                                  const gchar * error);
/* A configured klingo1src for the entry, its request checked and costed as
 * the element's start() would, without starting anything. */
GstElement  *k1_batch_prepare (K1Batch * b, K1BatchEntry * e, K1Plan * plan,
                               GError ** error);

/* batch-run.c: runs the queued entries, prints the summary table. */
gint         k1_batch_run (K1Batch * b);

/* batch-dry.c: validates and costs every entry; sends nothing. */
gint         k1_batch_dry_run (K1Batch * b);

G_END_DECLS
