/* klingo1 batch --dry-run: every job checked and costed, nothing sent
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "batch.h"

static gchar *
format_seconds (const K1Plan * plan)
{
  if (plan->billed_seconds < 0)
    return g_strdup ("-");
  return g_strdup_printf ("%s%g s", plan->seconds_upper_bound ? "<=" : "",
      plan->billed_seconds);
}

/* Validates every job and says what it would cost; sends nothing. */
gint
k1_batch_dry_run (K1Batch * b)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_strfreev);
  gdouble total = 0;
  guint i, n_new = 0, n_bad = 0, n_blocked = 0;
  gboolean assumed = FALSE;

  g_ptr_array_add (rows, k1_table_row ("LINE", "OUTPUT", "MODEL", "BILLED",
          "CREDITS", "CACHED", "NOTE", NULL));
  for (i = 0; i < b->entries->len; i++) {
    K1BatchEntry *e = g_ptr_array_index (b->entries, i);
    g_autofree gchar *line = g_strdup_printf ("%u", e->job->line);
    g_autoptr (GError) error = NULL;
    g_autoptr (GstElement) src = NULL;
    g_autofree gchar *secs = NULL;
    g_autofree gchar *credits = NULL;
    const gchar *note = "";
    K1Plan plan = { 0, };
    gdouble cost;

    if (e->status == K1_BATCH_FAILED) {
      g_ptr_array_add (rows, k1_table_row (line,
              e->job->output ? e->job->output : "-", "-", "-", "-", "-",
              e->error, NULL));
      n_bad++;
      continue;
    }
    src = k1_batch_prepare (b, e, &plan, &error);
    if (src == NULL) {
      g_ptr_array_add (rows, k1_table_row (line, e->job->output, "-", "-", "-",
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
    g_ptr_array_add (rows, k1_table_row (line, e->job->output,
            plan.attach ? "(attach)" : plan.model, secs, credits,
            k1_cache_state_to_string (plan.cache), note, NULL));
    k1_plan_clear (&plan);
  }
  k1_table_print (rows, 7);
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

