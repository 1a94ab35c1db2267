/* klingo1: generate Kling O1 clips from the command line
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A thin application over the klingo1src element, as gst-play is over
 * playbin: every generation runs the element, so the tool shares its cache,
 * its journal (a re-run resumes the same task) and its never-pay-twice rules.
 * This file dispatches the subcommands and holds the settings they share.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <locale.h>
#include <string.h>
#include <unistd.h>

#include "klingo1-tool.h"

typedef struct
{
  const gchar *name;
  gint (*func) (gint argc, gchar ** argv);
  const gchar *summary;
} Command;

static const Command commands[] = {
  {"generate", k1_cmd_generate, "generate a clip and write it to a file"},
  {"submit", k1_cmd_submit, "create a task and print its id, without waiting"},
  {"batch", k1_cmd_batch, "run the jobs of a JSON-lines file, N at a time"},
  {"status", k1_cmd_status, "show a task as the API reports it"},
  {"tasks", k1_cmd_tasks, "list the tasks and clips kept in the cache"},
  {"credits", k1_cmd_credits, "show the account's remaining credits"},
};

/* ---- shared settings ---------------------------------------------------- */

void
k1_api_options_add (GOptionContext * ctx, K1ApiOptions * opts,
    gboolean api, gboolean files, gboolean cache)
{
  GOptionEntry entries[4] = { {NULL} };
  guint n = 0;

  if (api)
    entries[n++] = (GOptionEntry) { "api-url", 0, 0, G_OPTION_ARG_STRING,
      &opts->api_url, "Base URL of the API (default: $KLINGO1_API_URL, else "
          GST_KLINGO1_DEFAULT_API_URL ")", "URL" };
  if (files)
    entries[n++] = (GOptionEntry) { "files-url", 0, 0, G_OPTION_ARG_STRING,
      &opts->files_url, "Base URL of the Files API for local inputs "
          "(default: $KLINGO1_FILES_URL, else "
          GST_KLINGO1_DEFAULT_FILES_URL ")", "URL" };
  if (cache)
    entries[n++] = (GOptionEntry) { "cache-dir", 0, 0, G_OPTION_ARG_FILENAME,
      &opts->cache_dir, "Cache and task journal (default: "
          "$XDG_CACHE_HOME/klingo1)", "DIR" };

  /* In the main group, so that --help shows them. */
  g_option_context_add_main_entries (ctx, entries, NULL);
}

void
k1_api_options_clear (K1ApiOptions * opts)
{
  g_clear_pointer (&opts->api_url, g_free);
  g_clear_pointer (&opts->files_url, g_free);
  g_clear_pointer (&opts->cache_dir, g_free);
}

const gchar *
k1_effective_api_url (const gchar * api_url)
{
  const gchar *env;

  if (api_url && *api_url)
    return api_url;
  env = g_getenv ("KLINGO1_API_URL");
  return env && *env ? env : GST_KLINGO1_DEFAULT_API_URL;
}

const gchar *
k1_env_api_key (void)
{
  const gchar *env = g_getenv ("KLINGO1_API_KEY");

  return env && *env ? env : NULL;
}

gchar *
k1_effective_cache_dir (const gchar * cache_dir)
{
  /* Ask the store, so that the default can never drift from the element's. */
  g_autoptr (GstKlingo1Store) store = gst_klingo1_store_new (cache_dir);

  return g_strdup (gst_klingo1_store_get_dir (store));
}

gboolean
k1_stderr_is_tty (void)
{
  return isatty (STDERR_FILENO) && g_strcmp0 (g_getenv ("TERM"), "dumb") != 0;
}

GOptionContext *
k1_option_context_new (const gchar * name, const gchar * params,
    const gchar * summary, const gchar * description,
    const GOptionEntry * entries, gboolean with_gst)
{
  GOptionContext *ctx = g_option_context_new (params);
  g_autofree gchar *prgname = g_strdup_printf ("klingo1 %s", name);

  g_set_prgname (prgname);
  if (summary)
    g_option_context_set_summary (ctx, summary);
  if (description)
    g_option_context_set_description (ctx, description);
  if (entries)
    g_option_context_add_main_entries (ctx, entries, NULL);
  if (with_gst)
    g_option_context_add_group (ctx, gst_init_get_option_group ());
  return ctx;
}

gboolean
k1_option_context_parse (GOptionContext * ctx, gint * argc, gchar *** argv)
{
  g_autoptr (GError) error = NULL;

  if (!g_option_context_parse (ctx, argc, argv, &error)) {
    g_printerr ("%s: %s\nRun '%s --help' for the options.\n", g_get_prgname (),
        error->message, g_get_prgname ());
    return FALSE;
  }
  return TRUE;
}

gint
k1_usage_error (const gchar * name, const gchar * format, ...)
{
  g_autofree gchar *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("klingo1 %s: %s\nRun 'klingo1 %s --help' for the options.\n",
      name, text, name);
  return K1_EXIT_USAGE;
}

/* ---- main --------------------------------------------------------------- */

static void
print_usage (FILE * out)
{
  guint i;

  fprintf (out, "Usage: klingo1 COMMAND [OPTION…]\n\n"
      "Generate video clips with the Kling O1 API through the klingo1src "
      "GStreamer element.\n\nCommands:\n");
  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun 'klingo1 COMMAND --help' for a command's options.\n"
      "The API key is read from $KLINGO1_API_KEY.\n");
}

int
main (int argc, char **argv)
{
  guint i;

  setlocale (LC_ALL, "");
  if (argc < 2) {
    print_usage (stderr);
    return K1_EXIT_USAGE;
  }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0) {
    if (argc > 2 && strcmp (argv[1], "help") == 0) {
      /* "klingo1 help batch" is "klingo1 batch --help" */
      gchar *args[] = { argv[2], (gchar *) "--help", NULL };
      for (i = 0; i < G_N_ELEMENTS (commands); i++)
        if (strcmp (argv[2], commands[i].name) == 0)
          return commands[i].func (2, args);
    }
    print_usage (stdout);
    return K1_EXIT_OK;
  }
  if (strcmp (argv[1], "--version") == 0) {
    g_autofree gchar *gst = gst_version_string ();

    g_print ("klingo1 %s (%s)\n", VERSION, gst);
    return K1_EXIT_OK;
  }

  for (i = 0; i < G_N_ELEMENTS (commands); i++) {
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].func (argc - 1, argv + 1);
  }

  g_printerr ("klingo1: unknown command '%s'\n\n", argv[1]);
  print_usage (stderr);
  return K1_EXIT_USAGE;
}
