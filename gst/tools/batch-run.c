/* klingo1 batch: running the jobs, N pipelines at once, and the summary
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * All pipelines share one GMainLoop; each is watched through its bus. A job
 * is costed when it starts, not up front: an earlier job of the batch may
 * have filled the cache since.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <glib-unix.h>

#include "batch.h"

/* ---- display ------------------------------------------------------------ */

static void
draw_live (K1Batch * b)
{
  g_autoptr (GString) s = g_string_new (NULL);
  guint i, done = 0, failed = 0, queued = 0;

  if (!k1_progress_is_tty (b->progress))
    return;
  for (i = 0; i < b->entries->len; i++) {
    K1BatchEntry *e = g_ptr_array_index (b->entries, i);

    done += e->status == K1_BATCH_DONE || e->status == K1_BATCH_SKIPPED;
    failed += e->status == K1_BATCH_FAILED
        || e->status == K1_BATCH_OVER_BUDGET;
    queued += e->status == K1_BATCH_QUEUED;
  }
  g_string_append_printf (s, "%u running, %u queued, %u done, %u failed",
      b->running, queued, done, failed);
  for (i = 0; i < b->entries->len; i++) {
    K1BatchEntry *e = g_ptr_array_index (b->entries, i);

    if (e->status != K1_BATCH_RUNNING)
      continue;
    g_string_append_printf (s, " | %u: %s", e->job->line, e->run->status);
    if (e->run->percent > 0)
      g_string_append_printf (s, " %d%%", e->run->percent);
  }
  k1_progress_live (b->progress, s->str);
}

static void schedule (K1Batch * b);

static void
on_run_event (K1Run * run, K1RunEvent event, const gchar * text,
    gpointer user_data)
{
  K1BatchEntry *e = user_data;
  K1Batch *b = e->batch;
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
        e->status = K1_BATCH_DONE;
        k1_progress_print (b->progress, "line %u (%s): done%s in %.1f s",
            e->job->line, out, run->from_cache ? " from the cache" : "",
            e->seconds);
      } else if (run->state == K1_RUN_STOPPED) {
        e->status = K1_BATCH_STOPPED;
      } else {
        g_autofree gchar *indent = g_strdup_printf ("line %u (%s): ",
            e->job->line, out);

        k1_batch_entry_fail (e, K1_BATCH_FAILED, run->error_message);
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
start_entry (K1Batch * b, K1BatchEntry * e)
{
  g_autoptr (GError) error = NULL;
  K1Plan plan = { 0, };
  GstElement *src;

  if (g_file_test (e->path, G_FILE_TEST_EXISTS)) {
    k1_batch_entry_fail (e, K1_BATCH_SKIPPED, NULL);
    return;
  }
  /* The plan is made now, not up front: an earlier job of this batch may
   * have filled the cache since. */
  src = k1_batch_prepare (b, e, &plan, &error);
  if (src == NULL) {
    k1_batch_entry_fail (e, K1_BATCH_FAILED, error->message);
    k1_progress_print (b->progress, "line %u (%s): %s", e->job->line,
        e->job->output, error->message);
    return;
  }
  e->cost = k1_plan_cost (&plan);
  k1_plan_clear (&plan);
  if (b->budget >= 0 && b->spent + e->cost > b->budget + 1e-9) {
    g_autofree gchar *why = g_strdup_printf ("needs %g credits, %g of the "
        "budget of %g left", e->cost, b->budget - b->spent, b->budget);

    k1_batch_entry_fail (e, K1_BATCH_OVER_BUDGET, why);
    k1_progress_print (b->progress, "line %u (%s): not started: %s",
        e->job->line, e->job->output, why);
    gst_object_unref (src);
    return;
  }

  e->run = k1_run_new (src, e->path, on_run_event, e, &error);
  if (e->run == NULL) {
    k1_batch_entry_fail (e, K1_BATCH_FAILED, error->message);
    return;
  }
  b->spent += e->cost;
  e->status = K1_BATCH_RUNNING;
  e->started = TRUE;
  b->running++;
  k1_run_start (e->run);
}

static void
schedule (K1Batch * b)
{
  while (!b->interrupted && b->running < (guint) b->max_jobs
      && b->next < b->entries->len) {
    K1BatchEntry *e = g_ptr_array_index (b->entries, b->next++);

    if (e->status == K1_BATCH_QUEUED)
      start_entry (b, e);
  }
  draw_live (b);
  if (b->running == 0 && (b->interrupted || b->next >= b->entries->len))
    g_main_loop_quit (b->loop);
}

static gboolean
on_signal (gpointer user_data)
{
  K1Batch *b = user_data;
  guint i, tasks = 0;

  if (b->interrupted)
    return G_SOURCE_CONTINUE;
  b->interrupted = TRUE;
  for (i = 0; i < b->entries->len; i++) {
    K1BatchEntry *e = g_ptr_array_index (b->entries, i);

    if (e->status == K1_BATCH_RUNNING) {
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

/* ---- the summary -------------------------------------------------------- */

static gint
print_summary (K1Batch * b)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_strfreev);
  guint i, counts[K1_BATCH_N_STATUS] = { 0, };

  g_ptr_array_add (rows, k1_table_row ("LINE", "OUTPUT", "STATUS", "TASK",
          "SECONDS", "ERROR", NULL));
  for (i = 0; i < b->entries->len; i++) {
    K1BatchEntry *e = g_ptr_array_index (b->entries, i);
    g_autofree gchar *line = g_strdup_printf ("%u", e->job->line);
    g_autofree gchar *secs = e->started ?
        g_strdup_printf ("%.1f", e->seconds) : g_strdup ("-");
    const gchar *status = k1_batch_status_name (e->status);
    const gchar *error = e->error ? e->error : "";

    if (e->status == K1_BATCH_DONE && e->from_cache)
      status = "done (cache)";
    if (e->status == K1_BATCH_SKIPPED)
      error = "output exists";
    counts[e->status]++;
    g_ptr_array_add (rows, k1_table_row (line, e->job->output ? e->job->output :
            "-", status, e->task_id ? e->task_id : "-", secs, error, NULL));
  }
  k1_table_print (rows, 6);

  g_print ("%u done, %u skipped, %u failed", counts[K1_BATCH_DONE],
      counts[K1_BATCH_SKIPPED], counts[K1_BATCH_FAILED]);
  if (counts[K1_BATCH_OVER_BUDGET])
    g_print (", %u over budget", counts[K1_BATCH_OVER_BUDGET]);
  if (counts[K1_BATCH_STOPPED] || counts[K1_BATCH_QUEUED])
    g_print (", %u stopped, %u not run", counts[K1_BATCH_STOPPED],
        counts[K1_BATCH_QUEUED]);
  if (b->budget >= 0)
    g_print ("; %g of %g credits committed", b->spent, b->budget);
  g_print ("\n");

  if (b->interrupted)
    return K1_EXIT_INTERRUPTED;
  if (counts[K1_BATCH_FAILED] || counts[K1_BATCH_OVER_BUDGET]
      || counts[K1_BATCH_STOPPED])
    return K1_EXIT_FAILED;
  return K1_EXIT_OK;
}

gint
k1_batch_run (K1Batch * b)
{
  guint sigint, sigterm;

  b->loop = g_main_loop_new (NULL, FALSE);
  sigint = g_unix_signal_add (SIGINT, on_signal, b);
  sigterm = g_unix_signal_add (SIGTERM, on_signal, b);
  schedule (b);
  if (b->running > 0)
    g_main_loop_run (b->loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  k1_progress_end (b->progress);
  return print_summary (b);
}
