/* klingo1 tasks: what the cache knows (pending, done, lost tasks)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Reads the store only (gst_klingo1_store_list_entries()): no lock is taken
 * and nothing is sent, so it can run while generations are going on (it
 * shows their state of a moment ago).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "klingo1-tool.h"

static gchar *
format_age (gint64 when)
{
  gint64 age = g_get_real_time () / G_USEC_PER_SEC - when;

  if (when <= 0)
    return g_strdup ("?");
  if (age < 0)
    age = 0;
  if (age < 120)
    return g_strdup_printf ("%" G_GINT64_FORMAT " s", age);
  if (age < 2 * 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT " min", age / 60);
  if (age < 2 * 86400)
    return g_strdup_printf ("%" G_GINT64_FORMAT " h", age / 3600);
  return g_strdup_printf ("%" G_GINT64_FORMAT " d", age / 86400);
}

gint
k1_cmd_tasks (gint argc, gchar ** argv)
{
  K1ApiOptions api = { 0, };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GstKlingo1Store) store = NULL;
  const gchar *store_dir;
  guint i, w_state = 5, w_age = 3, w_task = 4;

  ctx = k1_option_context_new ("tasks", NULL,
      "Lists what the cache knows, newest first: pending tasks (a run of the "
      "same request resumes them), done (the clip is kept), lost (paid, then "
      "lost at the API) and damaged entries. Reads the cache only; sends "
      "nothing.", NULL, NULL, FALSE);
  k1_api_options_add (ctx, &api, FALSE, FALSE, TRUE);
  if (!k1_option_context_parse (ctx, &argc, &argv)) {
    k1_api_options_clear (&api);
    return K1_EXIT_USAGE;
  }
  if (argc > 1) {
    k1_api_options_clear (&api);
    return k1_usage_error ("tasks", "unexpected argument '%s'", argv[1]);
  }
  gst_init (NULL, NULL);

  store = gst_klingo1_store_new (api.cache_dir);
  k1_api_options_clear (&api);
  store_dir = gst_klingo1_store_get_dir (store);
  list = gst_klingo1_store_list_entries (store, &error);
  if (list == NULL) {
    g_printerr ("Error: %s\n", error->message);
    return K1_EXIT_FAILED;
  }

  g_print ("Cache: %s\n", store_dir);
  if (list->len == 0) {
    g_print ("No tasks.\n");
    return K1_EXIT_OK;
  }
  for (i = 0; i < list->len; i++) {
    GstKlingo1StoreEntryInfo *info = g_ptr_array_index (list, i);
    const gchar *task = gst_klingo1_store_entry_info_get_task_id (info);
    g_autofree gchar *age =
        format_age (gst_klingo1_store_entry_info_get_modified (info));

    w_state = MAX (w_state,
        strlen (gst_klingo1_store_entry_info_get_state (info)));
    w_age = MAX (w_age, strlen (age));
    w_task = MAX (w_task, task ? strlen (task) : 1);
  }
  g_print ("%-*s  %-*s  %-*s  %s\n", w_state, "STATE", w_age, "AGE", w_task,
      "TASK", "CLIP / ENTRY");
  for (i = 0; i < list->len; i++) {
    GstKlingo1StoreEntryInfo *info = g_ptr_array_index (list, i);
    const gchar *task = gst_klingo1_store_entry_info_get_task_id (info);
    const gchar *clip = gst_klingo1_store_entry_info_get_clip_path (info);
    const gchar *lost = gst_klingo1_store_entry_info_get_lost_reason (info);
    g_autofree gchar *age =
        format_age (gst_klingo1_store_entry_info_get_modified (info));
    g_autofree gchar *entry = NULL;

    if (clip == NULL)
      entry = g_build_filename (store_dir, "tasks",
          gst_klingo1_store_entry_info_get_key (info), NULL);
    g_print ("%-*s  %-*s  %-*s  %s\n", w_state,
        gst_klingo1_store_entry_info_get_state (info), w_age, age, w_task,
        task ? task : "-", clip ? clip : entry);
    /* Why a paid task cannot give its clip any more, and what to do. */
    if (lost)
      g_print ("%-*s  %s (--refresh generates it again, and pays again)\n",
          w_state + w_age + w_task + 4, "", lost);
  }
  return K1_EXIT_OK;
}
