/* klingo1: jobs files, one JSON object a line
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   {"output": "cat.mp4", "prompt": "A cat walks", "images": ["cat.png"]}
 *
 * "output" is a file name in the output directory; every other member is a
 * klingo1src property by name, so a job can set anything the element can.
 * Blank lines and lines starting with # are skipped (they still count as
 * lines: line numbers and shards follow the file).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "klingo1-tool.h"

static void
job_free (K1Job * job)
{
  g_free (job->output);
  if (job->members)
    json_object_unref (job->members);
  g_free (job->error);
  g_free (job);
}

static gboolean
output_name_is_valid (const gchar * name)
{
  /* A name in the directory: the output directory is where the batch looks
   * for finished jobs, so nothing may land elsewhere. */
  return *name != '\0' && strchr (name, '/') == NULL
      && strcmp (name, ".") != 0 && strcmp (name, "..") != 0;
}

static K1Job *
parse_line (guint line_no, const gchar * text)
{
  K1Job *job = g_new0 (K1Job, 1);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonNode *root, *output;

  job->line = line_no;
  if (!json_parser_load_from_data (parser, text, -1, &error)) {
    /* json-glib names the buffer "<data>:LINE:COLUMN"; the line is ours. */
    if (g_str_has_prefix (error->message, "<data>:1:"))
      job->error = g_strdup_printf ("not valid JSON: column %s",
          error->message + strlen ("<data>:1:"));
    else
      job->error = g_strdup_printf ("not valid JSON: %s", error->message);
    return job;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    job->error = g_strdup ("expected a JSON object");
    return job;
  }
  job->members = json_object_ref (json_node_get_object (root));

  output = json_object_get_member (job->members, "output");
  if (output == NULL || !JSON_NODE_HOLDS_VALUE (output)
      || json_node_get_value_type (output) != G_TYPE_STRING) {
    job->error = g_strdup ("\"output\" (a file name) is missing");
    return job;
  }
  job->output = g_strdup (json_node_get_string (output));
  if (!output_name_is_valid (job->output)) {
    job->error = g_strdup_printf ("\"output\": \"%s\" is not a file name "
        "(no directories: outputs go to --out-dir)", job->output);
    return job;
  }
  return job;
}

GPtrArray *
k1_jobs_load (const gchar * path, guint shard_k, guint shard_n,
    GError ** error)
{
  g_autofree gchar *contents = NULL;
  g_autoptr (GPtrArray) jobs =
      g_ptr_array_new_with_free_func ((GDestroyNotify) job_free);
  g_autoptr (GHashTable) outputs =
      g_hash_table_new (g_str_hash, g_str_equal);
  g_auto (GStrv) lines = NULL;
  guint i;

  if (strcmp (path, "-") == 0) {
    GString *in = g_string_new (NULL);
    gchar buf[4096];
    gsize n;

    while ((n = fread (buf, 1, sizeof buf, stdin)) > 0)
      g_string_append_len (in, buf, n);
    contents = g_string_free (in, FALSE);
  } else if (!g_file_get_contents (path, &contents, NULL, error)) {
    return NULL;
  }

  lines = g_strsplit (contents, "\n", -1);
  for (i = 0; lines[i]; i++) {
    const gchar *text = g_strstrip (lines[i]);
    K1Job *job, *first;

    if (i % shard_n != shard_k - 1)
      continue;
    if (*text == '\0' || *text == '#')
      continue;

    job = parse_line (i + 1, text);
    if (job->error == NULL) {
      first = g_hash_table_lookup (outputs, job->output);
      if (first)
        job->error = g_strdup_printf ("\"output\": %s is also the output of "
            "line %u", job->output, first->line);
      else
        g_hash_table_insert (outputs, job->output, job);
    }
    g_ptr_array_add (jobs, job);
  }
  return g_steal_pointer (&jobs);
}

gboolean
k1_job_configure (const K1Job * job, GstElement * src, GError ** error)
{
  g_autoptr (GList) names = json_object_get_members (job->members);
  GList *l;

  for (l = names; l; l = l->next) {
    const gchar *name = l->data;

    if (strcmp (name, "output") == 0)
      continue;
    if (!k1_set_property_from_json (src, name,
            json_object_get_member (job->members, name), error))
      return FALSE;
  }
  return TRUE;
}
