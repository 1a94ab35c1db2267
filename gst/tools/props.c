/* klingo1: klingo1src properties set by name, from text or JSON
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Jobs and options name element properties rather than fields of their own,
 * so the tool follows the element as it grows: every conversion goes through
 * the property's GParamSpec, as gst-launch-1.0 does.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "klingo1-tool.h"

GstElement *
k1_source_new (GError ** error)
{
  GstElement *src = gst_element_factory_make ("klingo1src", NULL);

  if (src == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "the klingo1src element is not available: is the gst-klingo1 plugin "
        "installed, or GST_PLUGIN_PATH set to its directory?");
  return src;
}

gboolean
k1_source_has_property (GstElement * src, const gchar * name)
{
  return g_object_class_find_property (G_OBJECT_GET_CLASS (src), name) != NULL;
}

static GParamSpec *
find_writable (GstElement * src, const gchar * name, GError ** error)
{
  GParamSpec *pspec =
      g_object_class_find_property (G_OBJECT_GET_CLASS (src), name);

  if (pspec == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "unknown property \"%s\" (see gst-inspect-1.0 klingo1src)", name);
    return NULL;
  }
  if (!(pspec->flags & G_PARAM_WRITABLE)
      || (pspec->flags & G_PARAM_CONSTRUCT_ONLY)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "property \"%s\" is read-only", name);
    return NULL;
  }
  return pspec;
}

/* The allowed values of an enum, for error messages. */
static gchar *
describe_type (GParamSpec * pspec)
{
  if (G_IS_PARAM_SPEC_ENUM (pspec)) {
    GEnumClass *klass = G_PARAM_SPEC_ENUM (pspec)->enum_class;
    GString *s = g_string_new ("one of ");
    guint i;

    for (i = 0; i < klass->n_values; i++)
      g_string_append_printf (s, "%s%s", i ? ", " : "",
          klass->values[i].value_nick);
    return g_string_free (s, FALSE);
  }
  if (pspec->value_type == GST_TYPE_ARRAY)
    return g_strdup ("an array of strings");
  return g_strdup_printf ("a %s", g_type_name (pspec->value_type));
}

static gboolean
invalid_value (GParamSpec * pspec, const gchar * text, GError ** error)
{
  g_autofree gchar *expected = describe_type (pspec);

  /* Never echo a key, even a malformed one. */
  if (strstr (pspec->name, "key"))
    text = "(hidden)";
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
      "%s: \"%s\" is not valid here: expected %s", pspec->name, text,
      expected);
  return FALSE;
}

/* Fills @value (not yet initialized) from @text with @pspec's type. */
static gboolean
value_from_text (GParamSpec * pspec, const gchar * text, GValue * value,
    GError ** error)
{
  g_value_init (value, pspec->value_type);
  if (G_VALUE_HOLDS_STRING (value)) {
    g_value_set_string (value, text);
    return TRUE;
  }
  if (!gst_value_deserialize_with_pspec (value, text, pspec))
    return invalid_value (pspec, text, error);
  return TRUE;
}

/* Range checks: g_param_value_validate() changes an invalid value and says
 * so; that is an error here, never a silent clamp. */
static gboolean
set_checked (GstElement * src, GParamSpec * pspec, GValue * value,
    const gchar * text, GError ** error)
{
  if (g_param_value_validate (pspec, value))
    return invalid_value (pspec, text, error);
  g_object_set_property (G_OBJECT (src), pspec->name, value);
  return TRUE;
}

gboolean
k1_set_property_from_string (GstElement * src, const gchar * name,
    const gchar * value, GError ** error)
{
  g_auto (GValue) v = G_VALUE_INIT;
  GParamSpec *pspec = find_writable (src, name, error);

  if (pspec == NULL)
    return FALSE;
  if (!value_from_text (pspec, value, &v, error))
    return FALSE;
  return set_checked (src, pspec, &v, value, error);
}

gboolean
k1_set_images (GstElement * src, const gchar * const *images, GError ** error)
{
  g_auto (GValue) array = G_VALUE_INIT;
  GParamSpec *pspec = find_writable (src, "images", error);
  guint i;

  if (pspec == NULL)
    return FALSE;
  g_value_init (&array, GST_TYPE_ARRAY);
  for (i = 0; images && images[i]; i++) {
    GValue item = G_VALUE_INIT;

    g_value_init (&item, G_TYPE_STRING);
    g_value_set_string (&item, images[i]);
    gst_value_array_append_and_take_value (&array, &item);
  }
  return set_checked (src, pspec, &array, "(images)", error);
}

/* A JSON scalar as the text gst-launch-1.0 would be given. */
static gchar *
scalar_to_text (JsonNode * node)
{
  switch (json_node_get_value_type (node)) {
    case G_TYPE_BOOLEAN:
      return g_strdup (json_node_get_boolean (node) ? "true" : "false");
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
    case G_TYPE_DOUBLE:{
      gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
      return g_strdup (g_ascii_dtostr (buf, sizeof buf,
              json_node_get_double (node)));
    }
    default:
      return g_strdup (json_node_get_string (node));
  }
}

static gboolean
set_array_from_json (GstElement * src, GParamSpec * pspec, JsonNode * node,
    GError ** error)
{
  g_auto (GValue) array = G_VALUE_INIT;
  GParamSpec *item_spec = NULL;
  g_autoptr (GList) items = NULL;
  GList *l;

  if (GST_IS_PARAM_SPEC_ARRAY_LIST (pspec))
    item_spec = GST_PARAM_SPEC_ARRAY_LIST (pspec)->element_spec;

  g_value_init (&array, GST_TYPE_ARRAY);
  /* One string stands for a list of one: "images": "a.png". */
  if (JSON_NODE_HOLDS_VALUE (node))
    items = g_list_prepend (NULL, node);
  else
    items = json_array_get_elements (json_node_get_array (node));

  for (l = items; l; l = l->next) {
    JsonNode *item = l->data;
    g_autofree gchar *text = NULL;
    GValue v = G_VALUE_INIT;

    if (!JSON_NODE_HOLDS_VALUE (item)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "%s: expected an array of strings", pspec->name);
      return FALSE;
    }
    text = scalar_to_text (item);
    if (item_spec == NULL || item_spec->value_type == G_TYPE_STRING) {
      g_value_init (&v, G_TYPE_STRING);
      g_value_set_string (&v, text);
    } else if (!value_from_text (item_spec, text, &v, error)) {
      g_value_unset (&v);
      return FALSE;
    }
    gst_value_array_append_and_take_value (&array, &v);
  }
  return set_checked (src, pspec, &array, "(array)", error);
}

gboolean
k1_set_property_from_json (GstElement * src, const gchar * name,
    JsonNode * node, GError ** error)
{
  g_auto (GValue) v = G_VALUE_INIT;
  g_autofree gchar *text = NULL;
  GParamSpec *pspec = find_writable (src, name, error);

  if (pspec == NULL)
    return FALSE;

  if (JSON_NODE_HOLDS_NULL (node)) {
    g_value_init (&v, pspec->value_type);
    g_param_value_set_default (pspec, &v);
    g_object_set_property (G_OBJECT (src), pspec->name, &v);
    return TRUE;
  }
  if (pspec->value_type == GST_TYPE_ARRAY && !JSON_NODE_HOLDS_OBJECT (node))
    return set_array_from_json (src, pspec, node, error);
  if (!JSON_NODE_HOLDS_VALUE (node)) {
    g_autofree gchar *expected = describe_type (pspec);

    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "%s: expected %s, not a JSON %s", name, expected,
        JSON_NODE_HOLDS_ARRAY (node) ? "array" : "object");
    return FALSE;
  }
  /* "prompt": 5 is more likely a mistake than a prompt. */
  if (pspec->value_type == G_TYPE_STRING
      && json_node_get_value_type (node) != G_TYPE_STRING) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "%s: expected a string", name);
    return FALSE;
  }

  text = scalar_to_text (node);
  if (!value_from_text (pspec, text, &v, error))
    return FALSE;
  return set_checked (src, pspec, &v, text, error);
}

const gchar *
k1_source_get_enum_nick (GstElement * src, const gchar * name)
{
  GParamSpec *pspec =
      g_object_class_find_property (G_OBJECT_GET_CLASS (src), name);
  GEnumValue *ev;
  gint value = 0;

  if (pspec == NULL || !G_IS_PARAM_SPEC_ENUM (pspec))
    return NULL;
  g_object_get (src, name, &value, NULL);
  ev = g_enum_get_value (G_PARAM_SPEC_ENUM (pspec)->enum_class, value);
  return ev ? ev->value_nick : NULL;
}

gchar *
k1_source_get_task_id (GstElement * src)
{
  gchar *task_id = NULL;

  g_object_get (src, "task-id", &task_id, NULL);
  if (task_id && *task_id == '\0')
    g_clear_pointer (&task_id, g_free);
  return task_id;
}

GstKlingo1Request *
k1_request_from_source (GstElement * src)
{
  GstKlingo1Request *req;
  GstKlingo1Model model = GST_KLINGO1_MODEL_IMAGE_TO_VIDEO;
  GstKlingo1AspectRatio ar = GST_KLINGO1_ASPECT_RATIO_UNSET;
  g_autofree gchar *model_id = NULL;
  g_auto (GValue) images = G_VALUE_INIT;
  GParamSpec *duration_spec;
  const gchar *nick;
  g_autofree gchar *prompt = NULL;
  g_autofree gchar *video = NULL;
  g_autofree gchar *callback = NULL;
  guint duration = 0;
  gboolean keep = TRUE;
  guint i;

  /* Enums by nick: the element's enum values are its own business. */
  nick = k1_source_get_enum_nick (src, "model");
  model_id = g_strconcat ("kling-o1-", nick ? nick : "image-to-video", NULL);
  gst_klingo1_model_from_api_id (model_id, &model);
  nick = k1_source_get_enum_nick (src, "aspect-ratio");
  if (nick && strcmp (nick, "auto") != 0)
    gst_klingo1_aspect_ratio_from_string (nick, &ar);

  req = gst_klingo1_request_new (model);
  gst_klingo1_request_set_aspect_ratio (req, ar);
  g_object_get (src, "prompt", &prompt, "video", &video, "duration",
      &duration, "keep-original-sound", &keep, "callback-url", &callback,
      NULL);
  gst_klingo1_request_set_prompt (req, prompt);
  gst_klingo1_request_set_video (req, video);
  gst_klingo1_request_set_duration (req, duration);
  gst_klingo1_request_set_keep_original_sound (req, keep);
  gst_klingo1_request_set_callback_url (req, callback);

  g_value_init (&images, GST_TYPE_ARRAY);
  g_object_get_property (G_OBJECT (src), "images", &images);
  for (i = 0; i < gst_value_array_get_size (&images); i++) {
    const GValue *item = gst_value_array_get_value (&images, i);

    if (G_VALUE_HOLDS_STRING (item) && g_value_get_string (item))
      gst_klingo1_request_add_image (req, g_value_get_string (item));
  }

  /* As the element's start() does: the edit models' output follows the
   * input, so the default duration is not a choice that was made. */
  duration_spec = g_object_class_find_property (G_OBJECT_GET_CLASS (src),
      "duration");
  if (model != GST_KLINGO1_MODEL_IMAGE_TO_VIDEO && duration_spec
      && G_IS_PARAM_SPEC_UINT (duration_spec)
      && duration == G_PARAM_SPEC_UINT (duration_spec)->default_value)
    gst_klingo1_request_set_duration (req, 0);
  return req;
}
