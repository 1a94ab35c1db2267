/* klingo1 batch: many clips, N pipelines at once in one process
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Resumable by construction: a job whose output exists is skipped, and a job
 * that was interrupted is taken up by the element's journal (its task is
 * resumed, never created twice). All pipelines share one GMainLoop; each is
 * watched through its bus.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "klingo1-tool.h"

#define DEFAULT_JOBS 2

typedef enum
{
  ST_QUEUED,
  ST_RUNNING,
  ST_DONE,
  ST_SKIPPED,
  ST_FAILED,
  ST_OVER_BUDGET,
  ST_STOPPED,
} Status;

static const gchar *status_names[] = {
  "not run", "running", "done", "skipped", "failed", "over budget", "stopped"
};

typedef struct _Batch Batch;

typedef struct
{
  Batch *batch;
  K1Job *job;                   /* owned by the jobs array */
  Status status;
  K1Run *run;
  gchar *path;
  gchar *task_id;
  gchar *error;
  gdouble seconds;
  gdouble cost;
  gboolean from_cache;
  gboolean started;
  gchar *last_status;
} Entry;

struct _Batch
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

static void
entry_free (Entry * e)
{
  k1_run_free (e->run);
  g_free (e->path);
  g_free (e->task_id);
  g_free (e->error);
  g_free (e->last_status);
  g_free (e);
}

static void
entry_fail (Entry * e, Status status, const gchar * error)
{
  e->status = status;
  g_free (e->error);
  e->error = g_strdup (error);
}

/* A klingo1src with the batch's API settings, then the job's members (a job
 * may override the settings, like any other property). */
static GstElement *
new_source (Batch * b, const K1Job * job, GError ** error)
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

/* Builds the element and checks the request as the element's start() would,
 * without starting anything. */
static GstElement *
prepare (Batch * b, Entry * e, K1Plan * plan, GError ** error)
{
  g_autoptr (GstElement) src = new_source (b, e->job, error);

  if (src == NULL || !k1_plan_source (src, b->dry_run, plan, error))
    return NULL;
  return g_steal_pointer (&src);
}

/* ---- display ------------------------------------------------------------ */

static void
draw_live (Batch * b)
{
  g_autoptr (GString) s = g_string_new (NULL);
  guint i, done = 0, failed = 0, queued = 0;

  if (!k1_progress_is_tty (b->progress))
    return;
  for (i = 0; i < b->entries->len; i++) {
    Entry *e = g_ptr_array_index (b->entries, i);

    done += e->status == ST_DONE || e->status == ST_SKIPPED;
    failed += e->status == ST_FAILED || e->status == ST_OVER_BUDGET;
    queued += e->status == ST_QUEUED;
  }
  g_string_append_printf (s, "%u running, %u queued, %u done, %u failed",
      b->running, queued, done, failed);
  for (i = 0; i < b->entries->len; i++) {
    Entry *e = g_ptr_array_index (b->entries, i);

    if (e->status != ST_RUNNING)
      continue;
    g_string_append_printf (s, " | %u: %s", e->job->line, e->run->status);
    if (e->run->percent > 0)
      g_string_append_printf (s, " %d%%", e->run->percent);
  }
  k1_progress_live (b->progress, s->str);
}

static void schedule (Batch * b);

static void
on_run_event (K1Run * run, K1RunEvent event, const gchar * text,
    gpointer user_data)
{
  Entry *e = user_data;
  Batch *b = e->batch;
  const gchar *out = e->job->output;

  switch (event) {
    case K1_RUN_EVENT_STEP:
      k1_progress_print (b->progress, "line %u (%s): %s", e->job->line, out,
          text);
      break;
    case K1_RUN_EVENT_TASK:
      /* In a log, one line per status change; polls can be many. */
      if (!k1_progress_is_tty (b->progress)
          && g_strcmp0 (e->last_status, run->status) != 0)
        k1_progress_print (b->progress, "line %u (%s): task %s %s",
            e->job->line, out, run->task_id ? run->task_id : "", run->status);
      g_free (e->last_status);
      e->last_status = g_strdup (run->status);
      break;
    case K1_RUN_EVENT_WARNING:
      k1_progress_print (b->progress, "line %u (%s): warning: %s",
          e->job->line, out, text);
      break;
    case K1_RUN_EVENT_DONE:
      b->running--;
      e->seconds = k1_run_seconds (run);
      e->task_id = g_strdup (run->task_id);
      e->from_cache = run->from_cache;
      if (run->state == K1_RUN_DONE) {
        e->status = ST_DONE;
        k1_progress_print (b->progress, "line %u (%s): done%s in %.1f s",
            e->job->line, out, run->from_cache ? " from the cache" : "",
            e->seconds);
      } else if (run->state == K1_RUN_STOPPED) {
        e->status = ST_STOPPED;
      } else {
        g_autofree gchar *indent = g_strdup_printf ("line %u (%s): ",
            e->job->line, out);

        entry_fail (e, ST_FAILED, run->error_message);
        k1_progress_end (b->progress);
        k1_run_print_error (run, stderr, indent);
      }
      /* Freed now, not at the end: a long batch keeps only N pipelines. */
      g_clear_pointer (&e->run, k1_run_free);
      schedule (b);
      return;
  }
  draw_live (b);
}

/* ---- running ------------------------------------------------------------ */

static void
start_entry (Batch * b, Entry * e)
{
  g_autoptr (GError) error = NULL;
  K1Plan plan = { 0, };
  GstElement *src;

  if (g_file_test (e->path, G_FILE_TEST_EXISTS)) {
    entry_fail (e, ST_SKIPPED, NULL);
    return;
  }
  /* The plan is made now, not up front: an earlier job of this batch may
   * have filled the cache since. */
  src = prepare (b, e, &plan, &error);
  if (src == NULL) {
    entry_fail (e, ST_FAILED, error->message);
    k1_progress_print (b->progress, "line %u (%s): %s", e->job->line,
        e->job->output, error->message);
    return;
  }
  e->cost = k1_plan_cost (&plan);
  k1_plan_clear (&plan);
  if (b->budget >= 0 && b->spent + e->cost > b->budget + 1e-9) {
    g_autofree gchar *why = g_strdup_printf ("needs %g credits, %g of the "
        "budget of %g left", e->cost, b->budget - b->spent, b->budget);

    entry_fail (e, ST_OVER_BUDGET, why);
    k1_progress_print (b->progress, "line %u (%s): not started: %s",
        e->job->line, e->job->output, why);
    gst_object_unref (src);
    return;
  }

  e->run = k1_run_new (src, e->path, on_run_event, e, &error);
  if (e->run == NULL) {
    entry_fail (e, ST_FAILED, error->message);
    return;
  }
  b->spent += e->cost;
  e->status = ST_RUNNING;
  e->started = TRUE;
  b->running++;
  k1_run_start (e->run);
}

static void
schedule (Batch * b)
{
  while (!b->interrupted && b->running < (guint) b->max_jobs
      && b->next < b->entries->len) {
    Entry *e = g_ptr_array_index (b->entries, b->next++);

    if (e->status == ST_QUEUED)
      start_entry (b, e);
  }
  draw_live (b);
  if (b->running == 0 && (b->interrupted || b->next >= b->entries->len))
    g_main_loop_quit (b->loop);
}

static gboolean
on_signal (gpointer user_data)
{
  Batch *b = user_data;
  guint i, tasks = 0;

  if (b->interrupted)
    return G_SOURCE_CONTINUE;
  b->interrupted = TRUE;
  for (i = 0; i < b->entries->len; i++) {
    Entry *e = g_ptr_array_index (b->entries, i);

    if (e->status == ST_RUNNING) {
      tasks += e->run->task_id != NULL;
      k1_run_stop (e->run);
    }
  }
  k1_progress_end (b->progress);
  g_printerr ("Interrupted. %u task%s go%s on at the API; running the same "
      "batch again resumes %s and skips the finished outputs (nothing is "
      "created or paid twice).\n", tasks, tasks == 1 ? "" : "s",
      tasks == 1 ? "es" : "", tasks == 1 ? "it" : "them");
  return G_SOURCE_CONTINUE;
}

/* ---- reports ------------------------------------------------------------ */

static void
print_table (GPtrArray * rows, guint n_cols)
{
  g_autofree guint *width = g_new0 (guint, n_cols);
  guint r, c;

  for (r = 0; r < rows->len; r++) {
    gchar **row = g_ptr_array_index (rows, r);

    for (c = 0; c < n_cols; c++)
      width[c] = MAX (width[c], g_utf8_strlen (row[c], -1));
  }
  for (r = 0; r < rows->len; r++) {
    gchar **row = g_ptr_array_index (rows, r);
    g_autoptr (GString) line = g_string_new (NULL);

    for (c = 0; c < n_cols; c++) {
      g_string_append (line, row[c]);
      /* The last column is free text: no padding after it. */
      if (c < n_cols - 1)
        g_string_append_printf (line, "%*s  ",
            (gint) (width[c] - g_utf8_strlen (row[c], -1)), "");
    }
    g_print ("%s\n", g_strchomp (line->str));
  }
}

static gchar **
row_new (const gchar * first, ...)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  const gchar *s;
  va_list args;
  gchar **row;

  va_start (args, first);
  for (s = first; s; s = va_arg (args, const gchar *))
      g_strv_builder_add (builder, s);
  va_end (args);
  row = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return row;
}

static gint
print_summary (Batch * b)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_strfreev);
  guint i, counts[G_N_ELEMENTS (status_names)] = { 0, };

  g_ptr_array_add (rows, row_new ("LINE", "OUTPUT", "STATUS", "TASK",
          "SECONDS", "ERROR", NULL));
  for (i = 0; i < b->entries->len; i++) {
    Entry *e = g_ptr_array_index (b->entries, i);
    g_autofree gchar *line = g_strdup_printf ("%u", e->job->line);
    g_autofree gchar *secs = e->started ?
        g_strdup_printf ("%.1f", e->seconds) : g_strdup ("-");
    const gchar *status = status_names[e->status];
    const gchar *error = e->error ? e->error : "";

    if (e->status == ST_DONE && e->from_cache)
      status = "done (cache)";
    if (e->status == ST_SKIPPED)
      error = "output exists";
    counts[e->status]++;
    g_ptr_array_add (rows, row_new (line, e->job->output ? e->job->output :
            "-", status, e->task_id ? e->task_id : "-", secs, error, NULL));
  }
  print_table (rows, 6);

  g_print ("%u done, %u skipped, %u failed", counts[ST_DONE],
      counts[ST_SKIPPED], counts[ST_FAILED]);
  if (counts[ST_OVER_BUDGET])
    g_print (", %u over budget", counts[ST_OVER_BUDGET]);
  if (counts[ST_STOPPED] || counts[ST_QUEUED])
    g_print (", %u stopped, %u not run", counts[ST_STOPPED],
        counts[ST_QUEUED]);
  if (b->budget >= 0)
    g_print ("; %g of %g credits committed", b->spent, b->budget);
  g_print ("\n");

  if (b->interrupted)
    return K1_EXIT_INTERRUPTED;
  if (counts[ST_FAILED] || counts[ST_OVER_BUDGET] || counts[ST_STOPPED])
    return K1_EXIT_FAILED;
  return K1_EXIT_OK;
}

static gchar *
format_seconds (const K1Plan * plan)
{
  if (plan->billed_seconds < 0)
    return g_strdup ("-");
  return g_strdup_printf ("%s%g s", plan->seconds_upper_bound ? "<=" : "",
      plan->billed_seconds);
}

/* Validates every job and says what it would cost; sends nothing. */
static gint
dry_run (Batch * b)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_strfreev);
  gdouble total = 0;
  guint i, n_new = 0, n_bad = 0, n_blocked = 0;
  gboolean assumed = FALSE;

  g_ptr_array_add (rows, row_new ("LINE", "OUTPUT", "MODEL", "BILLED",
          "CREDITS", "CACHED", "NOTE", NULL));
  for (i = 0; i < b->entries->len; i++) {
    Entry *e = g_ptr_array_index (b->entries, i);
    g_autofree gchar *line = g_strdup_printf ("%u", e->job->line);
    g_autoptr (GError) error = NULL;
    g_autoptr (GstElement) src = NULL;
    g_autofree gchar *secs = NULL;
    g_autofree gchar *credits = NULL;
    const gchar *note = "";
    K1Plan plan = { 0, };
    gdouble cost;

    if (e->status == ST_FAILED) {
      g_ptr_array_add (rows, row_new (line, e->job->output ? e->job->output :
              "-", "-", "-", "-", "-", e->error, NULL));
      n_bad++;
      continue;
    }
    src = prepare (b, e, &plan, &error);
    if (src == NULL) {
      g_ptr_array_add (rows, row_new (line, e->job->output, "-", "-", "-",
              "-", error->message, NULL));
      n_bad++;
      continue;
    }

    cost = k1_plan_cost (&plan);
    secs = format_seconds (&plan);
    if (g_file_test (e->path, G_FILE_TEST_EXISTS)) {
      cost = 0;
      note = "skipped: output exists";
    } else if (plan.attach) {
      note = "attaches to a task: nothing created";
    } else if (plan.cache == K1_CACHE_LOST) {
      note = "paid, then lost: fails; \"cache-mode\": \"refresh\" pays again";
      n_blocked++;
    } else if (b->budget >= 0 && total + cost > b->budget + 1e-9) {
      note = "over budget: would not start";
      n_blocked++;
      cost = 0;
    } else if (cost > 0) {
      n_new++;
    }
    credits = g_strdup_printf ("%g%s", cost,
        cost > 0 && plan.credits_assumed ? "*" : "");
    assumed |= cost > 0 && plan.credits_assumed;
    total += cost;
    g_ptr_array_add (rows, row_new (line, e->job->output,
            plan.attach ? "(attach)" : plan.model, secs, credits,
            k1_cache_state_to_string (plan.cache), note, NULL));
    k1_plan_clear (&plan);
  }
  print_table (rows, 7);
  g_print ("Total: %g credits for %u new task%s", total, n_new,
      n_new == 1 ? "" : "s");
  if (b->budget >= 0)
    g_print (" (budget %g)", b->budget);
  g_print ("; %u invalid\n", n_bad);
  if (assumed)
    g_print ("* edit models: %s\n", "billed per second of input (3-10 s, "
        "6-20 s); the API document gives no per-second price, 8 credits/s "
        "(the image-to-video rate) is an assumption");
  return n_bad || n_blocked ? K1_EXIT_FAILED : K1_EXIT_OK;
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
batch_clear (Batch * b)
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
  Batch b = {.max_jobs = DEFAULT_JOBS,.budget = -1 };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *budget = NULL;
  guint shard_k = 1, shard_n = 1, i, sigint, sigterm;
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
    Entry *e = g_new0 (Entry, 1);

    e->batch = &b;
    e->job = g_ptr_array_index (b.jobs, i);
    if (e->job->output)
      e->path = g_build_filename (b.out_dir, e->job->output, NULL);
    if (e->job->error)
      entry_fail (e, ST_FAILED, e->job->error);
    g_ptr_array_add (b.entries, e);
  }

  if (b.dry_run) {
    code = dry_run (&b);
    batch_clear (&b);
    return code;
  }

  /* Every job is checked before the first is started: a typo in line 90
   * is better known before paying for lines 1-89. The failed ones are
   * reported; the others run. */
  for (i = 0; i < b.entries->len; i++) {
    Entry *e = g_ptr_array_index (b.entries, i);
    g_autoptr (GstElement) src = NULL;
    g_autoptr (GError) err = NULL;
    K1Plan plan = { 0, };

    if (e->status == ST_QUEUED) {
      src = prepare (&b, e, &plan, &err);
      if (src == NULL)
        entry_fail (e, ST_FAILED, err->message);
      k1_plan_clear (&plan);
    }
    if (e->status == ST_FAILED)
      g_printerr ("line %u: %s\n", e->job->line, e->error);
  }

  if (g_mkdir_with_parents (b.out_dir, 0755) != 0) {
    g_printerr ("klingo1 batch: cannot create %s: %s\n", b.out_dir,
        g_strerror (errno));
    batch_clear (&b);
    return K1_EXIT_FAILED;
  }

  b.loop = g_main_loop_new (NULL, FALSE);
  sigint = g_unix_signal_add (SIGINT, on_signal, &b);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, &b);
  schedule (&b);
  if (b.running > 0)
    g_main_loop_run (b.loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  k1_progress_end (b.progress);

  code = print_summary (&b);
  batch_clear (&b);
  return code;
}
