/* klingo1 credits: what the key can still spend (GET /v1/credits)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "klingo1-tool.h"

gint
k1_cmd_credits (gint argc, gchar ** argv)
{
  K1ApiOptions api = { 0, };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GstKlingo1Client) client = NULL;
  g_autoptr (GError) error = NULL;
  gdouble remaining = 0, used = 0;

  ctx = k1_option_context_new ("credits", NULL,
      "Prints the credits the key can still spend and what it has spent "
      "(GET /v1/credits). With a per-key limit that is the key's, else the "
      "account's. Image-to-video costs 40 credits for 5 s, 80 for 10 s.",
      "Exit status: 0 read, 1 not, 2 usage.", NULL, FALSE);
  k1_api_options_add (ctx, &api, TRUE, FALSE, FALSE);
  if (!k1_option_context_parse (ctx, &argc, &argv)) {
    k1_api_options_clear (&api);
    return K1_EXIT_USAGE;
  }
  if (argc > 1) {
    k1_api_options_clear (&api);
    return k1_usage_error ("credits", "unexpected argument '%s'", argv[1]);
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
  if (!gst_klingo1_client_get_credits (client, &remaining, &used, NULL,
          &error)) {
    k1_print_library_error (error);
    return K1_EXIT_FAILED;
  }
  g_print ("remaining: %g credits\n", remaining);
  g_print ("used:      %g credits\n", used);
  return K1_EXIT_OK;
}
