/* klingo1 status: one task as the API reports it (one GET /v1/tasks/{id})
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "klingo1-tool.h"

/* Result links are signed: print where they point, never the signature. */
static gchar *
url_without_query (const gchar * url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return g_strdup ("(not a URL)");
  if (g_uri_get_port (uri) > 0)
    return g_strdup_printf ("%s:%d%s", g_uri_get_host (uri),
        g_uri_get_port (uri), g_uri_get_path (uri));
  return g_strdup_printf ("%s%s", g_uri_get_host (uri), g_uri_get_path (uri));
}

static gboolean
print_detail (GQuark field, const GValue * value, gpointer user_data)
{
  g_autofree gchar *text = G_VALUE_HOLDS_STRING (value) ?
      g_value_dup_string (value) : gst_value_serialize (value);

  g_printerr ("  %s: %s\n", g_quark_to_string (field), text ? text : "");
  return TRUE;
}

void
k1_print_library_error (const GError * error)
{
  g_printerr ("Error: %s\n", error->message);
  if (error->domain == GST_KLINGO1_ERROR) {
    GstStructure *details = gst_klingo1_error_to_details (error);

    gst_structure_foreach (details, print_detail, NULL);
    gst_structure_free (details);
  }
}

gint
k1_cmd_status (gint argc, gchar ** argv)
{
  K1ApiOptions api = { 0, };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GstKlingo1Client) client = NULL;
  g_autoptr (GstKlingo1Task) task = NULL;
  const gchar *id, *model, *code, *message, *type;
  const gchar *const *results;
  GstKlingo1TaskStatus status;
  g_autoptr (GError) error = NULL;
  gint i;

  ctx = k1_option_context_new ("status", "TASK_ID",
      "Reads a task once (GET /v1/tasks/{id}) and prints its status, "
      "progress, result and error. Result URLs are shown without their "
      "query (it holds the link's signature).",
      "Exit status: 0 when the task was read (whatever its status), 1 when "
      "it could not be, 2 usage.", NULL, FALSE);
  k1_api_options_add (ctx, &api, TRUE, FALSE, FALSE);
  if (!k1_option_context_parse (ctx, &argc, &argv)) {
    k1_api_options_clear (&api);
    return K1_EXIT_USAGE;
  }
  if (argc != 2) {
    k1_api_options_clear (&api);
    return k1_usage_error ("status", "expected one TASK_ID");
  }
  gst_init (NULL, NULL);

  if (k1_env_api_key () == NULL) {
    g_printerr ("Error: no API key: set KLINGO1_API_KEY\n");
    k1_api_options_clear (&api);
    return K1_EXIT_FAILED;
  }
  client = gst_klingo1_client_new (k1_effective_api_url (api.api_url),
      k1_env_api_key (), NULL);
  k1_api_options_clear (&api);

  task = gst_klingo1_client_get_task (client, argv[1], NULL, &error);
  if (task == NULL) {
    k1_print_library_error (error);
    return K1_EXIT_FAILED;
  }

  id = gst_klingo1_task_get_id (task);
  model = gst_klingo1_task_get_model (task);
  status = gst_klingo1_task_get_status (task);
  results = gst_klingo1_task_get_results (task);
  code = gst_klingo1_task_get_error_code (task);
  message = gst_klingo1_task_get_error_message (task);
  type = gst_klingo1_task_get_error_type (task);

  g_print ("task:      %s\n", id);
  if (model)
    g_print ("model:     %s\n", model);
  g_print ("status:    %s\n", gst_klingo1_task_status_to_string (status));
  g_print ("progress:  %d%%\n", gst_klingo1_task_get_progress (task));
  if (gst_klingo1_task_get_estimated_time (task) >= 0
      && !gst_klingo1_task_status_is_final (status))
    g_print ("remaining: about %d s\n",
        gst_klingo1_task_get_estimated_time (task));
  if (gst_klingo1_task_get_created (task) > 0) {
    g_autoptr (GDateTime) created =
        g_date_time_new_from_unix_local (gst_klingo1_task_get_created (task));
    g_autofree gchar *when = g_date_time_format (created, "%F %T %z");

    g_print ("created:   %s\n", when);
  }
  for (i = 0; results && results[i]; i++) {
    g_autofree gchar *where = url_without_query (results[i]);

    g_print ("result:    %s\n", where);
  }
  if (code || message)
    g_print ("error:     %s%s%s%s%s%s\n", code ? code : "",
        code && message ? ": " : "", message ? message : "",
        type ? " (" : "", type ? type : "", type ? ")" : "");
  return K1_EXIT_OK;
}
