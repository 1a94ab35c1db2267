/* klingo1 credits: what the key can still spend (GET /v1/credits)
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <libsoup/soup.h>

#include "klingo1-tool.h"

/* Reads one number member of @o, FALSE when absent. */
static gboolean
get_number (JsonObject * o, const gchar * name, gdouble * value)
{
  JsonNode *node = o ? json_object_get_member (o, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) == G_TYPE_STRING)
    return FALSE;
  *value = json_node_get_double (node);
  return TRUE;
}

/* {"success":true,"data":{"user":{"remaining_credits","used_credits"},
 *  "token":{"remaining_credits","used_credits","unlimited_credits"}}}:
 * a key with its own limit can spend what the key has left, else what the
 * account has. */
static gboolean
parse_credits (GBytes * body, gdouble * remaining, gdouble * used,
    GError ** error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *root, *data, *user = NULL, *token = NULL;
  gsize len;
  const gchar *text = g_bytes_get_data (body, &len);

  if (!json_parser_load_from_data (parser, text, len, error))
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    goto bad;
  root = json_node_get_object (json_parser_get_root (parser));
  data = json_object_has_member (root, "data")
      && JSON_NODE_HOLDS_OBJECT (json_object_get_member (root, "data")) ?
      json_object_get_object_member (root, "data") : NULL;
  if (data == NULL)
    goto bad;
  if (json_object_has_member (data, "user")
      && JSON_NODE_HOLDS_OBJECT (json_object_get_member (data, "user")))
    user = json_object_get_object_member (data, "user");
  if (json_object_has_member (data, "token")
      && JSON_NODE_HOLDS_OBJECT (json_object_get_member (data, "token")))
    token = json_object_get_object_member (data, "token");

  if (token && !json_object_get_boolean_member_with_default (token,
          "unlimited_credits", TRUE)
      && get_number (token, "remaining_credits", remaining)) {
    if (!get_number (token, "used_credits", used))
      *used = -1;
    return TRUE;
  }
  if (get_number (user, "remaining_credits", remaining)) {
    if (!get_number (user, "used_credits", used))
      *used = -1;
    return TRUE;
  }
bad:
  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
      "the credits response has no remaining_credits");
  return FALSE;
}

/* One GET, no retries: reading a balance is cheap to do again by hand. */
static gboolean
get_credits (const gchar * api_url, const gchar * key, gdouble * remaining,
    gdouble * used, GError ** error)
{
  g_autoptr (SoupSession) session = soup_session_new_with_options ("timeout",
      30, "user-agent", "klingo1/" VERSION, NULL);
  g_autofree gchar *base = g_strdup (api_url);
  g_autofree gchar *url = NULL;
  g_autofree gchar *auth = g_strdup_printf ("Bearer %s", key);
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GBytes) body = NULL;
  guint status;

  while (g_str_has_suffix (base, "/"))
    base[strlen (base) - 1] = '\0';
  url = g_strconcat (base, "/v1/credits", NULL);
  msg = soup_message_new ("GET", url);
  if (msg == NULL) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
        "api-url: %s is not a URL", api_url);
    return FALSE;
  }
  soup_message_headers_replace (soup_message_get_request_headers (msg),
      "Authorization", auth);
  body = soup_session_send_and_read (session, msg, NULL, error);
  if (body == NULL)
    return FALSE;

  status = soup_message_get_status (msg);
  if (status != 200) {
    g_autofree gchar *code = NULL;
    g_autofree gchar *message = NULL;
    g_autofree gchar *type = NULL;
    gsize len;
    const gchar *text = g_bytes_get_data (body, &len);

    gst_klingo1_api_error_parse (text, len, &code, &message, &type);
    g_set_error (error, GST_KLINGO1_ERROR, status == 401 || status == 403 ?
        GST_KLINGO1_ERROR_AUTH : GST_KLINGO1_ERROR_HTTP,
        "GET /v1/credits: HTTP %u%s%s", status, message ? ": " : "",
        message ? message : "");
    gst_klingo1_error_set_http_status (*error, status);
    if (code || message || type)
      gst_klingo1_error_set_api_error (*error, code, message, type);
    return FALSE;
  }
  return parse_credits (body, remaining, used, error);
}

gint
k1_cmd_credits (gint argc, gchar ** argv)
{
  K1ApiOptions api = { 0, };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  gdouble remaining = 0, used = -1;
  gboolean ok;

  ctx = k1_option_context_new ("credits", NULL,
      "Prints the credits the key can still spend and what it has spent "
      "(GET /v1/credits). Image-to-video costs 40 credits for 5 s, 80 for "
      "10 s.", NULL, NULL, FALSE);
  k1_api_options_add (ctx, &api, FALSE, FALSE);
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

  ok = get_credits (k1_effective_api_url (api.api_url), k1_env_api_key (),
      &remaining, &used, &error);
  k1_api_options_clear (&api);
  if (!ok) {
    k1_print_library_error (error);
    return K1_EXIT_FAILED;
  }
  g_print ("remaining: %g credits\n", remaining);
  if (used >= 0)
    g_print ("used:      %g credits\n", used);
  return K1_EXIT_OK;
}
