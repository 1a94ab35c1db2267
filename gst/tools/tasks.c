/* klingo1 tasks: what the cache knows (pending, done, lost tasks)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Reads the store only: no lock is taken and nothing is sent, so it can run
 * while generations are going on (it shows their state of a moment ago).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>

#include "klingo1-tool.h"

typedef struct
{
  gchar *key;
  gchar *state;
  gchar *task_id;
  gchar *api_url;
  gchar *clip_path;
  gint64 modified;
} Info;

static void
info_free (Info * info)
{
  g_free (info->key);
  g_free (info->state);
  g_free (info->task_id);
  g_free (info->api_url);
  g_free (info->clip_path);
  g_free (info);
}

static gint64
mtime_of (const gchar * path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 ? (gint64) st.st_mtime : 0;
}

/* One entry directory, read with the layout of store.h: task.json (the
 * journal), create-key (a create whose answer may be lost), clip.mp4. */
static Info *
read_entry (const gchar * tasks_dir, const gchar * key)
{
  g_autofree gchar *dir = g_build_filename (tasks_dir, key, NULL);
  g_autofree gchar *clip = g_build_filename (dir, "clip.mp4", NULL);
  g_autofree gchar *journal = g_build_filename (dir, "task.json", NULL);
  g_autofree gchar *create_key = g_build_filename (dir, "create-key", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  Info *info = g_new0 (Info, 1);

  info->key = g_strdup (key);
  if (json_parser_load_from_file (parser, journal, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    JsonObject *o = json_node_get_object (json_parser_get_root (parser));

    info->task_id = g_strdup (json_object_get_string_member_with_default (o,
            "task_id", NULL));
    info->api_url = g_strdup (json_object_get_string_member_with_default (o,
            "api_url", NULL));
    info->modified = json_object_get_int_member_with_default (o, "created",
        0);
  }

  if (g_file_test (clip, G_FILE_TEST_IS_REGULAR)) {
    info->state = g_strdup ("done");
    info->clip_path = g_steal_pointer (&clip);
    info->modified = mtime_of (info->clip_path);
  } else if (info->task_id) {
    info->state = g_strdup ("pending");
  } else if (g_file_test (create_key, G_FILE_TEST_IS_REGULAR)) {
    /* Sent, answer never read: the same request recovers it. */
    info->state = g_strdup ("pending");
    info->modified = mtime_of (create_key);
  } else {
    info_free (info);
    return NULL;
  }
  if (info->modified == 0)
    info->modified = mtime_of (dir);
  return info;
}

static gint
newest_first (gconstpointer a, gconstpointer b)
{
  const Info *x = *(Info **) a, *y = *(Info **) b;

  return (x->modified < y->modified) - (x->modified > y->modified);
}

static GPtrArray *
list_entries (const gchar * store_dir, GError ** error)
{
  g_autofree gchar *tasks_dir = g_build_filename (store_dir, "tasks", NULL);
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) info_free);
  g_autoptr (GDir) dir = g_dir_open (tasks_dir, 0, NULL);
  const gchar *name;

  if (dir == NULL)
    return list;
  while ((name = g_dir_read_name (dir))) {
    Info *info = read_entry (tasks_dir, name);

    if (info)
      g_ptr_array_add (list, info);
  }
  g_ptr_array_sort (list, newest_first);
  return list;
}

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
  g_autofree gchar *store_dir = NULL;
  guint i, w_state = 5, w_age = 3, w_task = 4;

  ctx = k1_option_context_new ("tasks", NULL,
      "Lists what the cache knows: pending tasks (a run of the same request "
      "resumes them), finished clips, and lost tasks, newest first. Reads "
      "the cache only; sends nothing.", NULL, NULL, FALSE);
  k1_api_options_add (ctx, &api, FALSE, TRUE);
  /* --api-url makes no sense here; only --cache-dir is read. */
  if (!k1_option_context_parse (ctx, &argc, &argv)) {
    k1_api_options_clear (&api);
    return K1_EXIT_USAGE;
  }
  if (argc > 1) {
    k1_api_options_clear (&api);
    return k1_usage_error ("tasks", "unexpected argument '%s'", argv[1]);
  }
  gst_init (NULL, NULL);

  store_dir = k1_effective_cache_dir (api.cache_dir);
  k1_api_options_clear (&api);
  list = list_entries (store_dir, &error);
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
    Info *info = g_ptr_array_index (list, i);
    g_autofree gchar *age = format_age (info->modified);

    w_state = MAX (w_state, strlen (info->state));
    w_age = MAX (w_age, strlen (age));
    w_task = MAX (w_task, info->task_id ? strlen (info->task_id) : 1);
  }
  g_print ("%-*s  %-*s  %-*s  %s\n", w_state, "STATE", w_age, "AGE", w_task,
      "TASK", "CLIP / ENTRY");
  for (i = 0; i < list->len; i++) {
    Info *info = g_ptr_array_index (list, i);
    g_autofree gchar *age = format_age (info->modified);
    g_autofree gchar *entry = NULL;

    if (info->clip_path == NULL)
      entry = g_build_filename (store_dir, "tasks", info->key, NULL);
    g_print ("%-*s  %-*s  %-*s  %s\n", w_state, info->state, w_age, age,
        w_task, info->task_id ? info->task_id : "-",
        info->clip_path ? info->clip_path : entry);
  }
  return K1_EXIT_OK;
}
