/* gst-klingo1: the klingo1:// URI handler of klingo1src
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/*
 * Two forms (docs/uris.md):
 *
 *   klingo1://generate?model=image-to-video&prompt=A%20cat&image=/a.png&...
 *   klingo1://task/<task-id>[?settings]
 *
 * Every parameter is the name of a klingo1src property and is set on the
 * element itself through GObject, so a URI is checked exactly like a launch
 * line: here only what a property cannot hold (a number that is not one, an
 * unknown enum nick, an out-of-range value); the documented limits are
 * checked by start(), before anything is sent. This file knows the element
 * only through its properties.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include "gstklingo1uri.h"

GST_DEBUG_CATEGORY_STATIC (klingo1_uri_debug);
#define GST_CAT_DEFAULT klingo1_uri_debug

#define URI_SCHEME "klingo1"

typedef enum
{
  PARAM_REQUEST,                /* part of what is generated: generate form */
  PARAM_SETTING,                /* how it is obtained: both forms */
} ParamKind;

typedef enum
{
  VALUE_PLAIN,
  VALUE_INPUT,                  /* http(s) URL, file:// URI or absolute path */
  VALUE_DIRECTORY,              /* absolute path */
} ValueCheck;

typedef struct
{
  const gchar *name;            /* URI parameter */
  const gchar *property;        /* klingo1src property */
  ParamKind kind;
  ValueCheck check;
} UriParam;

/* In canonical order; get_uri writes them in this order. */
static const UriParam uri_params[] = {
  {"model", "model", PARAM_REQUEST, VALUE_PLAIN},
  {"prompt", "prompt", PARAM_REQUEST, VALUE_PLAIN},
  {"image", "images", PARAM_REQUEST, VALUE_INPUT},      /* repeated, in order */
  {"video", "video", PARAM_REQUEST, VALUE_INPUT},
  {"duration", "duration", PARAM_REQUEST, VALUE_PLAIN},
  {"aspect-ratio", "aspect-ratio", PARAM_REQUEST, VALUE_PLAIN},
  {"keep-original-sound", "keep-original-sound", PARAM_REQUEST, VALUE_PLAIN},
  {"callback-url", "callback-url", PARAM_REQUEST, VALUE_PLAIN},
  {"api-url", "api-url", PARAM_SETTING, VALUE_PLAIN},
  {"files-url", "files-url", PARAM_SETTING, VALUE_PLAIN},
  {"cache-dir", "cache-dir", PARAM_SETTING, VALUE_DIRECTORY},
  {"cache-mode", "cache-mode", PARAM_SETTING, VALUE_PLAIN},
  {"poll-interval", "poll-interval", PARAM_SETTING, VALUE_PLAIN},
  {"timeout", "timeout", PARAM_SETTING, VALUE_PLAIN},
};

/* Properties a URI replaces as a whole: a URI names one complete request,
 * so what it leaves out goes back to the default instead of lingering from
 * an earlier URI or launch line. Settings it leaves out are kept, so an
 * application may set them before or after the URI (playbin's
 * source-setup comes after set_uri). */
static const gchar *const request_properties[] = {
  "model", "prompt", "images", "video", "duration", "aspect-ratio",
  "keep-original-sound", "callback-url", "task-id", NULL
};

/* Never in a URI: URIs end up in logs, playlists, shell histories and the
 * debug output of every element that handles them. */
static const gchar *const secret_params[] = { "api-key", "key", "apikey",
  NULL
};

/* Characters left as they are in values: readable paths and URLs. Everything
 * else outside RFC 3986's unreserved set is percent-encoded, '+' included,
 * since some readers take it for a space. */
#define VALUE_ALLOWED_RESERVED "/:@,"

static const UriParam *
find_param (const gchar * name)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (uri_params); i++)
    if (strcmp (uri_params[i].name, name) == 0)
      return &uri_params[i];
  return NULL;
}

static GParamSpec *
find_property (GObject * object, const gchar * name)
{
  return g_object_class_find_property (G_OBJECT_GET_CLASS (object), name);
}

/* ---- Parsing ------------------------------------------------------------ */

typedef struct
{
  GParamSpec *pspec;
  GValue value;
} Assignment;

static void
assignment_free (Assignment * a)
{
  g_value_unset (&a->value);
  g_free (a);
}

/* "%41" -> "A"; NULL (with @error) for a bad escape, an encoded NUL or text
 * that is not UTF-8. */
static gchar *
decode_component (const gchar * start, const gchar * end, const gchar * what,
    GError ** error)
{
  g_autofree gchar *raw = g_strndup (start, end - start);
  gchar *decoded = g_uri_unescape_segment (raw, raw + strlen (raw), NULL);

  if (decoded == NULL) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "%s: bad percent-encoding in '%s'", what, raw);
    return NULL;
  }
  if (!g_utf8_validate (decoded, -1, NULL)) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "%s: not UTF-8 once percent-decoded", what);
    g_free (decoded);
    return NULL;
  }
  return decoded;
}

static gboolean
has_scheme (const gchar * s)
{
  const gchar *p = s;

  if (!g_ascii_isalpha (*p))
    return FALSE;
  while (g_ascii_isalnum (*p) || *p == '+' || *p == '-' || *p == '.')
    p++;
  return p[0] == ':' && p[1] == '/' && p[2] == '/';
}

static gboolean
check_value (const UriParam * param, const gchar * value, GError ** error)
{
  switch (param->check) {
    case VALUE_INPUT:
      /* A URI means the same wherever it is used: a relative path would
       * depend on the working directory of whoever opens it. */
      if (*value != '\0' && !g_path_is_absolute (value) && !has_scheme (value)) {
        g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
            "%s: '%s' is a relative path; a klingo1:// URI takes an absolute "
            "path, a file:// URI or an http(s) URL", param->name, value);
        return FALSE;
      }
      break;
    case VALUE_DIRECTORY:
      if (*value != '\0' && !g_path_is_absolute (value)) {
        g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
            "%s: '%s' is not an absolute path", param->name, value);
        return FALSE;
      }
      break;
    case VALUE_PLAIN:
      break;
  }
  return TRUE;
}

static gchar *
describe_enum (GType type)
{
  g_autoptr (GEnumClass) klass = g_type_class_ref (type);
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < klass->n_values; i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "",
        klass->values[i].value_nick);
  return g_string_free (s, FALSE);
}

/* Turns the text of one parameter into a value of its property, refusing
 * what the property cannot hold. */
static gboolean
value_from_string (const UriParam * param, GParamSpec * pspec,
    const gchar * text, GValue * value, GError ** error)
{
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);

  if (!check_value (param, text, error))
    return FALSE;

  g_value_init (value, type == GST_TYPE_ARRAY ? G_TYPE_STRING : type);
  if (G_VALUE_HOLDS_STRING (value)) {
    g_value_set_string (value, text);
    return TRUE;
  }

  if (!gst_value_deserialize_with_pspec (value, text, pspec)) {
    if (G_TYPE_IS_ENUM (type)) {
      g_autofree gchar *nicks = describe_enum (type);
      g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
          "%s: '%s' is not one of %s", param->name, text, nicks);
    } else {
      const gchar *expected = "value";
      if (type == G_TYPE_BOOLEAN)
        expected = "boolean (true or false)";
      else if (type == G_TYPE_UINT || type == G_TYPE_INT
          || type == G_TYPE_UINT64 || type == G_TYPE_INT64)
        expected = "whole number";
      else if (type == G_TYPE_DOUBLE || type == G_TYPE_FLOAT)
        expected = "number";
      g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
          "%s: '%s' is not a %s", param->name, text, expected);
    }
    return FALSE;
  }
  if (G_VALUE_HOLDS_DOUBLE (value) && !isfinite (g_value_get_double (value))) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "%s: '%s' is not a finite number", param->name, text);
    return FALSE;
  }
  /* g_param_value_validate() clamps and says whether it had to. */
  if (g_param_value_validate (pspec, value)) {
    g_autofree gchar *clamped = gst_value_serialize (value);
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "%s: '%s' is out of range (nearest allowed: %s)", param->name, text,
        clamped);
    return FALSE;
  }
  return TRUE;
}

/* Splits "klingo1://<what>[/<rest>][?query]" and fills @assignments with
 * the properties to set; @task_id is set for the task form. Nothing is
 * applied here, so a bad URI leaves the element untouched. */
static gboolean
parse_uri (GObject * object, const gchar * uri, gchar ** task_id,
    GPtrArray * assignments, GError ** error)
{
  const gchar *p, *auth_end, *path, *query;
  g_autofree gchar *authority = NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GValue images = G_VALUE_INIT;
  GParamSpec *images_pspec = NULL;
  gboolean task_form;
  gboolean ok = FALSE;

  *task_id = NULL;

  if (g_ascii_strncasecmp (uri, URI_SCHEME "://",
          strlen (URI_SCHEME "://")) != 0) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_UNSUPPORTED_PROTOCOL,
        "Not a klingo1:// URI");
    return FALSE;
  }
  p = uri + strlen (URI_SCHEME "://");

  /* '#' would silently cut a prompt that contains it: make the user encode
   * it instead. */
  if (strchr (p, '#')) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "klingo1:// URIs have no fragment: write '#' in a value as %%23");
    return FALSE;
  }

  query = strchr (p, '?');
  auth_end = p + strcspn (p, "/?");
  authority = g_ascii_strdown (p, auth_end - p);
  path = auth_end;

  if (strchr (authority, '@')) {
    /* klingo1://sk-...@generate: user info is where keys go by habit. */
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_REFERENCE,
        "klingo1:// URIs carry no credentials: the API key comes from "
        "KLINGO1_API_KEY or the api-key property");
    return FALSE;
  }

  if (strcmp (authority, "generate") == 0) {
    task_form = FALSE;
    if (!(path == query || *path == '\0' || (path[0] == '/'
                && (path + 1 == query || path[1] == '\0')))) {
      g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
          "klingo1://generate takes no path, only parameters: "
          "klingo1://generate?prompt=...");
      return FALSE;
    }
  } else if (strcmp (authority, "task") == 0) {
    const gchar *id_end = query ? query : path + strlen (path);

    task_form = TRUE;
    if (*path != '/' || path + 1 >= id_end) {
      g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
          "klingo1://task/<task-id>: the task id is missing");
      return FALSE;
    }
    if (memchr (path + 1, '/', id_end - path - 1)) {
      g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
          "klingo1://task/<task-id>: one path segment expected");
      return FALSE;
    }
    *task_id = decode_component (path + 1, id_end, "task id", error);
    if (*task_id == NULL)
      return FALSE;
  } else {
    /* Messages quote parts, never the whole URI: it may hold a key that the
     * check below would have refused. */
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "Unknown klingo1:// URI 'klingo1://%s': expected "
        "klingo1://generate?... or klingo1://task/<task-id>", authority);
    return FALSE;
  }

  p = query ? query + 1 : NULL;
  while (p && *p) {
    const gchar *end = p + strcspn (p, "&");
    const gchar *eq = memchr (p, '=', end - p);
    g_autofree gchar *name = NULL;
    g_autofree gchar *text = NULL;
    const UriParam *param;
    GParamSpec *pspec;
    Assignment *a;
    gchar *c;

    if (end == p) {             /* "&&" or a trailing '&' */
      p = end + 1;
      continue;
    }
    name = decode_component (p, eq ? eq : end, "parameter name", error);
    if (name == NULL)
      goto out;
    /* The API spells them with '_' (aspect_ratio): accept both. */
    for (c = name; *c; c++)
      *c = *c == '_' ? '-' : g_ascii_tolower (*c);

    if (g_strv_contains (secret_params, name)) {
      g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_REFERENCE,
          "%s: a klingo1:// URI never carries the API key (URIs end up in "
          "logs and histories); it comes from KLINGO1_API_KEY or the "
          "api-key property", name);
      goto out;
    }

    param = find_param (name);
    pspec = param ? find_property (object, param->property) : NULL;
    if (pspec == NULL) {
      if (strcmp (name, "task-id") == 0)
        g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
            "task-id: not a parameter; attach with klingo1://task/<task-id>");
      else
        g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
            "Unknown parameter '%s' in klingo1:// URI", name);
      goto out;
    }
    if (task_form && param->kind == PARAM_REQUEST) {
      g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
          "%s: klingo1://task/<task-id> attaches to an existing task and "
          "takes no request parameters", name);
      goto out;
    }
    if (eq == NULL) {
      g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
          "%s: parameter without a value (write %s=...)", name, name);
      goto out;
    }
    if (G_PARAM_SPEC_VALUE_TYPE (pspec) != GST_TYPE_ARRAY) {
      if (g_hash_table_contains (seen, param->name)) {
        g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
            "%s: given more than once", name);
        goto out;
      }
      g_hash_table_add (seen, (gpointer) param->name);
    }

    text = decode_component (eq + 1, end, name, error);
    if (text == NULL)
      goto out;

    a = g_new0 (Assignment, 1);
    a->pspec = pspec;
    if (!value_from_string (param, pspec, text, &a->value, error)) {
      assignment_free (a);
      goto out;
    }
    if (G_PARAM_SPEC_VALUE_TYPE (pspec) == GST_TYPE_ARRAY) {
      /* "image" parameters gather, in order, into the one array. */
      if (!images_pspec) {
        images_pspec = pspec;
        g_value_init (&images, GST_TYPE_ARRAY);
      }
      if (*g_value_get_string (&a->value))
        gst_value_array_append_value (&images, &a->value);
      assignment_free (a);
    } else {
      g_ptr_array_add (assignments, a);
    }

    p = *end ? end + 1 : NULL;
  }

  if (images_pspec) {
    Assignment *a = g_new0 (Assignment, 1);
    a->pspec = images_pspec;
    g_value_init (&a->value, GST_TYPE_ARRAY);
    g_value_copy (&images, &a->value);
    g_ptr_array_add (assignments, a);
  }
  ok = TRUE;

out:
  if (G_IS_VALUE (&images))
    g_value_unset (&images);
  if (!ok)
    g_clear_pointer (task_id, g_free);
  return ok;
}

/* ---- GstURIHandler ------------------------------------------------------ */

static GstURIType
gst_klingo1_src_uri_get_type (GType type)
{
  return GST_URI_SRC;
}

static const gchar *const *
gst_klingo1_src_uri_get_protocols (GType type)
{
  static const gchar *protocols[] = { URI_SCHEME, NULL };

  return protocols;
}

static gchar *
serialize_value (const GValue * value)
{
  if (G_VALUE_HOLDS_STRING (value))
    return g_value_dup_string (value);
  if (G_VALUE_HOLDS_ENUM (value)) {
    g_autoptr (GEnumClass) klass = g_type_class_ref (G_VALUE_TYPE (value));
    GEnumValue *ev = g_enum_get_value (klass, g_value_get_enum (value));
    return ev ? g_strdup (ev->value_nick) : NULL;
  }
  if (G_VALUE_HOLDS_BOOLEAN (value))
    return g_strdup (g_value_get_boolean (value) ? "true" : "false");
  if (G_VALUE_HOLDS_DOUBLE (value)) {
    /* The shortest text that reads back as the same double: 0.1, not
     * 0.10000000000000001. */
    gdouble d = g_value_get_double (value);
    gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
    gint digits;

    for (digits = 6; digits < 17; digits++) {
      g_autofree gchar *fmt = g_strdup_printf ("%%.%dg", digits);
      g_ascii_formatd (buf, sizeof (buf), fmt, d);
      if (g_ascii_strtod (buf, NULL) == d)
        return g_strdup (buf);
    }
    return g_strdup (g_ascii_dtostr (buf, sizeof (buf), d));
  }
  return gst_value_serialize (value);
}

static void
append_param (GString * uri, const gchar * name, const gchar * text)
{
  g_autofree gchar *escaped =
      g_uri_escape_string (text, VALUE_ALLOWED_RESERVED, FALSE);

  g_string_append_c (uri, strchr (uri->str, '?') ? '&' : '?');
  g_string_append_printf (uri, "%s=%s", name, escaped);
}

/* The canonical URI of the current properties: the task form when the
 * element attaches to a task (task-id set, no prompt), else the generate
 * form with the model and every request property that differs from its
 * default, then the settings that are set. Never the key: it is not one of
 * the parameters. */
static gchar *
gst_klingo1_src_uri_get_uri (GstURIHandler * handler)
{
  GObject *object = G_OBJECT (handler);
  g_autofree gchar *task_id = NULL;
  g_autofree gchar *prompt = NULL;
  gboolean task_form;
  GString *uri;
  guint i;

  if (find_property (object, "task-id"))
    g_object_get (object, "task-id", &task_id, NULL);
  g_object_get (object, "prompt", &prompt, NULL);
  task_form = task_id && *task_id && !prompt;

  uri = g_string_new (URI_SCHEME "://");
  if (task_form) {
    g_autofree gchar *escaped = g_uri_escape_string (task_id, NULL, FALSE);
    g_string_append_printf (uri, "task/%s", escaped);
  } else {
    g_string_append (uri, "generate");
  }

  for (i = 0; i < G_N_ELEMENTS (uri_params); i++) {
    const UriParam *param = &uri_params[i];
    GParamSpec *pspec = find_property (object, param->property);
    GValue value = G_VALUE_INIT;

    if (pspec == NULL || !(pspec->flags & G_PARAM_READABLE))
      continue;
    if (task_form && param->kind == PARAM_REQUEST)
      continue;

    g_value_init (&value, G_PARAM_SPEC_VALUE_TYPE (pspec));
    g_object_get_property (object, param->property, &value);

    if (G_VALUE_TYPE (&value) == GST_TYPE_ARRAY) {
      guint n = gst_value_array_get_size (&value), j;
      for (j = 0; j < n; j++) {
        const GValue *v = gst_value_array_get_value (&value, j);
        g_autofree gchar *text = serialize_value (v);
        if (text && *text)
          append_param (uri, param->name, text);
      }
    } else if (strcmp (param->name, "model") == 0
        || !g_param_value_defaults (pspec, &value)) {
      g_autofree gchar *text = serialize_value (&value);
      if (text && *text)
        append_param (uri, param->name, text);
    }
    g_value_unset (&value);
  }

  return g_string_free (uri, FALSE);
}

static gboolean
gst_klingo1_src_uri_set_uri (GstURIHandler * handler, const gchar * uri,
    GError ** error)
{
  GObject *object = G_OBJECT (handler);
  GstElement *element = GST_ELEMENT (handler);
  g_autoptr (GPtrArray) assignments =
      g_ptr_array_new_with_free_func ((GDestroyNotify) assignment_free);
  g_autofree gchar *task_id = NULL;
  GError *parse_error = NULL;
  GstState state;
  guint i;

  GST_OBJECT_LOCK (element);
  state = GST_STATE (element);
  GST_OBJECT_UNLOCK (element);
  if (state > GST_STATE_READY) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
        "The URI of %s can only be changed in the NULL or READY state",
        GST_ELEMENT_NAME (element));
    return FALSE;
  }

  if (uri == NULL) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI, "No URI");
    return FALSE;
  }

  if (!parse_uri (object, uri, &task_id, assignments, &parse_error)) {
    /* The message names the parameter, never a key: keys are refused
     * before their value is read. */
    GST_WARNING_OBJECT (element, "refused URI: %s", parse_error->message);
    g_propagate_error (error, parse_error);
    return FALSE;
  }

  g_object_freeze_notify (object);
  for (i = 0; request_properties[i]; i++) {
    GParamSpec *pspec = find_property (object, request_properties[i]);
    GValue value = G_VALUE_INIT;

    if (pspec == NULL || !(pspec->flags & G_PARAM_WRITABLE))
      continue;
    g_value_init (&value, G_PARAM_SPEC_VALUE_TYPE (pspec));
    g_param_value_set_default (pspec, &value);
    g_object_set_property (object, pspec->name, &value);
    g_value_unset (&value);
  }
  if (task_id)
    g_object_set (object, "task-id", task_id, NULL);
  for (i = 0; i < assignments->len; i++) {
    Assignment *a = g_ptr_array_index (assignments, i);
    g_object_set_property (object, a->pspec->name, &a->value);
  }
  g_object_thaw_notify (object);

  GST_DEBUG_OBJECT (element, "URI set: %s %s", task_id ? "task" : "generate",
      task_id ? task_id : "");
  return TRUE;
}

void
gst_klingo1_src_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  GstURIHandlerInterface *iface = g_iface;

  GST_DEBUG_CATEGORY_INIT (klingo1_uri_debug, "klingo1uri", 0,
      "klingo1:// URI handler");

  iface->get_type = gst_klingo1_src_uri_get_type;
  iface->get_protocols = gst_klingo1_src_uri_get_protocols;
  iface->get_uri = gst_klingo1_src_uri_get_uri;
  iface->set_uri = gst_klingo1_src_uri_set_uri;
}
