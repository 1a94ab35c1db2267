/* klingo1 batch: many clips, N pipelines at once in one process
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Resumable by construction: a job whose output exists is skipped, and a job
 * that was interrupted is taken up by the element's journal (its task is
 * resumed, never created twice). This file reads the options and the jobs
 * and checks them; batch-run.c runs them, batch-dry.c costs them.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <glib/gstdio.h>

#include "batch.h"

#define DEFAULT_JOBS 2

static const gchar *status_names[] = {
  "not run", "running", "done", "skipped", "failed", "over budget", "stopped"
};

const gchar *
k1_batch_status_name (K1BatchStatus status)
{
  return status_names[status];
}

static void
entry_free (K1BatchEntry * e)
{
  k1_run_free (e->run);
  g_free (e->path);
  g_free (e->task_id);
  g_free (e->error);
  g_free (e->last_status);
  g_free (e);
}

void
k1_batch_entry_fail (K1BatchEntry * e, K1BatchStatus status,
    const gchar * error)
{
  e->status = status;
  g_free (e->error);
  e->error = g_strdup (error);
}

/* A klingo1src with the batch's API settings, then the job's members (a job
 * may override the settings, like any other property). */
static GstElement *
new_source (K1Batch * b, const K1Job * job, GError ** error)
{
  g_autoptr (GstElement) src = k1_source_new (error);

  if (src == NULL)
    return NULL;
  gst_object_ref_sink (src);
  if ((b->api.api_url && !k1_set_property_from_string (src, "api-url",
              b->api.api_url, error))
      || (b->api.files_url && !k1_set_property_from_string (src, "files-url",
              b->api.files_url, error))
      || (b->api.cache_dir && !k1_set_property_from_string (src, "cache-dir",
              b->api.cache_dir, error)))
    return NULL;
  if (!k1_job_configure (job, src, error))
    return NULL;
  return g_steal_pointer (&src);
}

GstElement *
k1_batch_prepare (K1Batch * b, K1BatchEntry * e, K1Plan * plan,
    GError ** error)
{
  g_autoptr (GstElement) src = new_source (b, e->job, error);

  if (src == NULL || !k1_plan_source (src, b->dry_run, plan, error))
    return NULL;
  return g_steal_pointer (&src);
}

/* ---- the command -------------------------------------------------------- */

static gboolean
parse_shard (const gchar * text, guint * k, guint * n)
{
  gchar *end;
  guint64 a, b;

  a = g_ascii_strtoull (text, &end, 10);
  if (end == text || *end != '/')
    return FALSE;
  text = end + 1;
  b = g_ascii_strtoull (text, &end, 10);
  if (end == text || *end != '\0' || b == 0 || b > G_MAXUINT || a < 1 || a > b)
    return FALSE;
  *k = a;
  *n = b;
  return TRUE;
}

static void
batch_clear (K1Batch * b)
{
  if (b->entries)
    g_ptr_array_unref (b->entries);
  if (b->jobs)
    g_ptr_array_unref (b->jobs);
  if (b->loop)
    g_main_loop_unref (b->loop);
  k1_progress_free (b->progress);
  g_free (b->out_dir);
  g_free (b->shard);
  k1_api_options_clear (&b->api);
}

gint
k1_cmd_batch (gint argc, gchar ** argv)
{
  K1Batch b = {.max_jobs = DEFAULT_JOBS,.budget = -1 };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *budget = NULL;
  guint shard_k = 1, shard_n = 1, i;
  gint code;
  GOptionEntry entries[] = {
    {"jobs", 'j', 0, G_OPTION_ARG_INT, &b.max_jobs,
        "Pipelines at once (default 2)", "N"},
    {"out-dir", 'o', 0, G_OPTION_ARG_FILENAME, &b.out_dir,
        "Where outputs are written (default: the current directory)", "DIR"},
    {"budget", 0, 0, G_OPTION_ARG_STRING, &budget,
          "Start no job that would take the credits committed past this "
          "(cached and resumed jobs cost 0)", "CREDITS"},
    {"dry-run", 'n', 0, G_OPTION_ARG_NONE, &b.dry_run,
          "Validate every job and print its billed seconds, credits and "
          "cache state; send nothing", NULL},
    {"shard", 0, 0, G_OPTION_ARG_STRING, &b.shard,
          "Run only the jobs whose 0-based line index % N is K-1 (K is "
          "1-based)", "K/N"},
    {NULL}
  };

  ctx = k1_option_context_new ("batch", "JOBS.jsonl",
      "Runs one clip per line of JOBS.jsonl (- for stdin), N at a time. "
      "Each line is a JSON object: \"output\" is the file name in DIR, every "
      "other member a klingo1src property by name (\"prompt\", \"model\", "
      "\"images\" as an array, \"video\", \"duration\", \"aspect-ratio\", "
      "\"keep-original-sound\", \"poll-interval\", ...).\n\n"
      "Resumable: a job whose output exists is skipped, and running the "
      "batch again after an interruption resumes the pending tasks (the "
      "element's journal): nothing is created or paid twice.",
      "A summary table goes to stdout. Exit status: 0 all done or skipped, "
      "1 a job failed, was over budget or invalid, 2 usage, 130 "
      "interrupted.", entries, TRUE);
  k1_api_options_add (ctx, &b.api, TRUE, TRUE, TRUE);
  if (!k1_option_context_parse (ctx, &argc, &argv)) {
    batch_clear (&b);
    return K1_EXIT_USAGE;
  }
  if (argc != 2) {
    batch_clear (&b);
    return k1_usage_error ("batch", argc < 2 ? "JOBS.jsonl is missing" :
        "one jobs file only");
  }
  if (b.max_jobs < 1) {
    batch_clear (&b);
    return k1_usage_error ("batch", "--jobs must be at least 1");
  }
  if (budget) {
    gchar *end;

    b.budget = g_ascii_strtod (budget, &end);
    if (end == budget || *end != '\0' || b.budget < 0) {
      batch_clear (&b);
      return k1_usage_error ("batch", "--budget %s: expected credits, a "
          "number >= 0", budget);
    }
  }
  if (b.shard && !parse_shard (b.shard, &shard_k, &shard_n)) {
    batch_clear (&b);
    return k1_usage_error ("batch", "--shard %s: expected K/N with "
        "1 <= K <= N", b.shard);
  }
  if (b.out_dir == NULL)
    b.out_dir = g_strdup (".");

  b.jobs = k1_jobs_load (argv[1], shard_k, shard_n, &error);
  if (b.jobs == NULL) {
    g_printerr ("klingo1 batch: %s\n", error->message);
    batch_clear (&b);
    return K1_EXIT_FAILED;
  }
  b.progress = k1_progress_new ();
  b.entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  for (i = 0; i < b.jobs->len; i++) {
    K1BatchEntry *e = g_new0 (K1BatchEntry, 1);

    e->batch = &b;
    e->job = g_ptr_array_index (b.jobs, i);
    if (e->job->output)
      e->path = g_build_filename (b.out_dir, e->job->output, NULL);
    if (e->job->error)
      k1_batch_entry_fail (e, K1_BATCH_FAILED, e->job->error);
    g_ptr_array_add (b.entries, e);
  }

  if (b.dry_run) {
    code = k1_batch_dry_run (&b);
    batch_clear (&b);
    return code;
  }

  /* Every job is checked before the first is started: a typo in line 90
   * is better known before paying for lines 1-89. The failed ones are
   * reported; the others run. */
  for (i = 0; i < b.entries->len; i++) {
    K1BatchEntry *e = g_ptr_array_index (b.entries, i);
    g_autoptr (GstElement) src = NULL;
    g_autoptr (GError) err = NULL;
    K1Plan plan = { 0, };

    if (e->status == K1_BATCH_QUEUED) {
      src = k1_batch_prepare (&b, e, &plan, &err);
      if (src == NULL)
        k1_batch_entry_fail (e, K1_BATCH_FAILED, err->message);
      k1_plan_clear (&plan);
    }
    if (e->status == K1_BATCH_FAILED)
      g_printerr ("line %u: %s\n", e->job->line, e->error);
  }

  if (g_mkdir_with_parents (b.out_dir, 0755) != 0) {
    g_printerr ("klingo1 batch: cannot create %s: %s\n", b.out_dir,
        g_strerror (errno));
    batch_clear (&b);
    return K1_EXIT_FAILED;
  }

  code = k1_batch_run (&b);
  batch_clear (&b);
  return code;
}
