/* gst-klingo1: the EvoLink provider of Kling O1
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * EvoLink serves the generation and task API at api.evolink.ai and a Files API
 * for local inputs at files-api.evolink.ai, both with "Authorization: Bearer
 * <key>". See /work/shared/api/kling-o1-api.md, sections 1.4-1.9.
 */
#include "config.h"

#include <string.h>
#include <json-glib/json-glib.h>

#include "request-private.h"
#include "task-private.h"
#include <gst/klingo1/error.h>

#include "provider.h"

/* Files expire after 72 h when the answer does not say (section 1.9). */
#define FILES_LIFETIME_HOURS 72

static void
evolink_authorize (SoupMessageHeaders * headers, const gchar * credentials)
{
  g_autofree gchar *auth = g_strdup_printf ("Bearer %s", credentials);

  soup_message_headers_replace (headers, "Authorization", auth);
  /* the header value is a copy of the key too */
  memset (auth, 0, strlen (auth));
}

static gchar *
evolink_build_create_body (const GstKlingo1Request * request, GError ** error)
{
  return gst_klingo1_request_to_json (request);
}

static GstKlingo1Task *
evolink_parse_task (const gchar * data, gsize len, GError ** error)
{
  return gst_klingo1_task_new_from_json (data, len, error);
}

static gboolean
evolink_parse_error (const gchar * data, gsize len, gchar ** code,
    gchar ** message, gchar ** type)
{
  return gst_klingo1_api_error_parse (data, len, code, message, type);
}

static JsonObject *
parse_object (const gchar * data, gsize len, const gchar * what,
    JsonParser ** parser_out, GError ** error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) err = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, data, len, &err)) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Invalid JSON in %s: %s", what, err->message);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "%s is not a JSON object", what);
    return NULL;
  }
  *parser_out = g_steal_pointer (&parser);
  return json_node_get_object (root);
}

static JsonObject *
get_object_member (JsonObject * obj, const gchar * name)
{
  JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

  return node && JSON_NODE_HOLDS_OBJECT (node) ?
      json_node_get_object (node) : NULL;
}

/* {"success":false,...}: the Files API's way to refuse with a 2xx status */
static gboolean
is_refusal (JsonObject * obj)
{
  JsonNode *success = json_object_get_member (obj, "success");

  return success != NULL && JSON_NODE_HOLDS_VALUE (success)
      && json_node_get_value_type (success) == G_TYPE_BOOLEAN
      && !json_node_get_boolean (success);
}

/* The Files API's "code" mirrors an HTTP status; 0 when it names none. */
static guint
refusal_status (JsonObject * obj)
{
  JsonNode *node = json_object_get_member (obj, "code");
  gint64 n = 0;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return 0;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    n = json_node_get_int (node);
  else if (json_node_get_value_type (node) == G_TYPE_STRING)
    n = g_ascii_strtoll (json_node_get_string (node), NULL, 10);
  return n >= 400 && n < 600 ? (guint) n : 0;
}

/* {"success":true,"data":{"file_url","expires_at",...}} */
static gchar *
evolink_parse_upload (const gchar * data, gsize len, GDateTime ** expires_at,
    guint * refused_status, GError ** error)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *obj, *fields;
  const gchar *file_url = NULL, *expires = NULL;

  *refused_status = 0;
  obj = parse_object (data, len, "upload response", &parser, error);
  if (obj == NULL)
    return NULL;

  if (is_refusal (obj)) {
    *refused_status = refusal_status (obj);
    return NULL;
  }

  fields = get_object_member (obj, "data");
  if (fields != NULL) {
    file_url = json_object_get_string_member_with_default (fields,
        "file_url", NULL);
    expires = json_object_get_string_member_with_default (fields,
        "expires_at", NULL);
  }
  if (file_url == NULL || *file_url == '\0') {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Upload response has no data.file_url");
    return NULL;
  }

  if (expires_at != NULL) {
    GDateTime *when = NULL;

    if (expires != NULL)
      when = g_date_time_new_from_iso8601 (expires, NULL);
    if (when == NULL) {
      g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

      when = g_date_time_add_hours (now, FILES_LIFETIME_HOURS);
    }
    *expires_at = when;
  }
  return g_strdup (file_url);
}

/* A number, or a string holding one (gateways differ); FALSE otherwise. */
static gboolean
get_number (JsonObject * obj, const gchar * name, gdouble * value)
{
  JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;
  const gchar *s;
  gchar *end = NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  switch (json_node_get_value_type (node)) {
    case G_TYPE_INT64:
      *value = (gdouble) json_node_get_int (node);
      return TRUE;
    case G_TYPE_DOUBLE:
      *value = json_node_get_double (node);
      return TRUE;
    case G_TYPE_STRING:
      s = json_node_get_string (node);
      *value = g_ascii_strtod (s, &end);
      return end != s && *end == '\0';
    default:
      return FALSE;
  }
}

static gboolean
get_boolean (JsonObject * obj, const gchar * name)
{
  JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

  return node != NULL && JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_BOOLEAN
      && json_node_get_boolean (node);
}

/* {"success":true,"data":{"user":{"remaining_credits","used_credits"},
 *  "token":{"remaining_credits","used_credits","unlimited_credits"}}}
 *
 * "user" is the account's balance, "token" the limit of the key in use.
 * A limited key can spend the smaller of its limit and the account's
 * balance, and what it used is what this key spent; an unlimited key (or
 * no token object) spends the account's balance. */
static gboolean
evolink_parse_credits (const gchar * data, gsize len, gdouble * remaining,
    gdouble * used, GError ** error)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *obj, *fields, *user, *token;
  gdouble user_left = 0, user_used = 0, token_left = 0, token_used = 0;
  gboolean have_user, have_token;

  obj = parse_object (data, len, "credits response", &parser, error);
  if (obj == NULL)
    return FALSE;
  fields = get_object_member (obj, "data");
  user = get_object_member (fields, "user");
  token = get_object_member (fields, "token");

  have_user = get_number (user, "remaining_credits", &user_left);
  get_number (user, "used_credits", &user_used);
  have_token = token != NULL && !get_boolean (token, "unlimited_credits")
      && get_number (token, "remaining_credits", &token_left);
  if (have_token)
    get_number (token, "used_credits", &token_used);

  if (have_token) {
    *remaining = have_user ? MIN (token_left, user_left) : token_left;
    *used = token_used;
  } else if (have_user) {
    *remaining = user_left;
    *used = user_used;
  } else {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "Credits response has no data.user.remaining_credits");
    return FALSE;
  }
  return TRUE;
}

static const GstKlingo1Provider evolink = {
  .name = "evolink",
  .create_path = "/v1/videos/generations",
  .task_path = "/v1/tasks/",
  .credits_path = "/v1/credits",
  .upload_path = "/api/v1/files/upload/stream",
  .upload_field = "file",
  /* not in the docs; EvoLink's own client sends it (section 1.0) */
  .idempotency_header = "Idempotency-Key",
  .authorize = evolink_authorize,
  .build_create_body = evolink_build_create_body,
  .parse_task = evolink_parse_task,
  .parse_error = evolink_parse_error,
  .parse_upload = evolink_parse_upload,
  .parse_credits = evolink_parse_credits,
};

const GstKlingo1Provider *
gst_klingo1_provider_evolink (void)
{
  return &evolink;
}
