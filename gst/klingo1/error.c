/* gst-klingo1: error domain with details
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The details ride on the GError itself (GLib extended error domains), so they
 * survive g_error_copy() and g_propagate_error() through every layer up to the
 * element, which turns them into the details structure of its error message.
 */
#include <gst/klingo1/error.h>

typedef struct
{
  guint http_status;
  gchar *api_code;
  gchar *api_message;
  gchar *api_type;
  gchar *task_id;
  gchar *field;
  guint retry_after;
} GstKlingo1ErrorPrivate;

static void
gst_klingo1_error_private_init (GstKlingo1ErrorPrivate * priv)
{
}

static void
gst_klingo1_error_private_copy (const GstKlingo1ErrorPrivate * src,
    GstKlingo1ErrorPrivate * dest)
{
  dest->http_status = src->http_status;
  dest->api_code = g_strdup (src->api_code);
  dest->api_message = g_strdup (src->api_message);
  dest->api_type = g_strdup (src->api_type);
  dest->task_id = g_strdup (src->task_id);
  dest->field = g_strdup (src->field);
  dest->retry_after = src->retry_after;
}

static void
gst_klingo1_error_private_clear (GstKlingo1ErrorPrivate * priv)
{
  g_clear_pointer (&priv->api_code, g_free);
  g_clear_pointer (&priv->api_message, g_free);
  g_clear_pointer (&priv->api_type, g_free);
  g_clear_pointer (&priv->task_id, g_free);
  g_clear_pointer (&priv->field, g_free);
}

/* *INDENT-OFF* */
G_DEFINE_EXTENDED_ERROR (GstKlingo1Error, gst_klingo1_error)
/* *INDENT-ON* */

static GstKlingo1ErrorPrivate *
get_private (const GError * error)
{
  if (error == NULL || error->domain != GST_KLINGO1_ERROR)
    return NULL;
  return gst_klingo1_error_get_private (error);
}

static void
replace_string (gchar ** slot, const gchar * value)
{
  g_free (*slot);
  *slot = g_strdup (value);
}

void
gst_klingo1_error_set_http_status (GError * error, guint status)
{
  GstKlingo1ErrorPrivate *priv = get_private (error);

  g_return_if_fail (priv != NULL);
  priv->http_status = status;
}

void
gst_klingo1_error_set_api_error (GError * error, const gchar * code,
    const gchar * message, const gchar * type)
{
  GstKlingo1ErrorPrivate *priv = get_private (error);

  g_return_if_fail (priv != NULL);
  replace_string (&priv->api_code, code);
  replace_string (&priv->api_message, message);
  replace_string (&priv->api_type, type);
}

void
gst_klingo1_error_set_task_id (GError * error, const gchar * task_id)
{
  GstKlingo1ErrorPrivate *priv = get_private (error);

  g_return_if_fail (priv != NULL);
  replace_string (&priv->task_id, task_id);
}

void
gst_klingo1_error_set_field (GError * error, const gchar * field)
{
  GstKlingo1ErrorPrivate *priv = get_private (error);

  g_return_if_fail (priv != NULL);
  replace_string (&priv->field, field);
}

void
gst_klingo1_error_set_retry_after (GError * error, guint seconds)
{
  GstKlingo1ErrorPrivate *priv = get_private (error);

  g_return_if_fail (priv != NULL);
  priv->retry_after = seconds;
}

guint
gst_klingo1_error_get_http_status (const GError * error)
{
  GstKlingo1ErrorPrivate *priv = get_private (error);
  return priv ? priv->http_status : 0;
}

const gchar *
gst_klingo1_error_get_api_code (const GError * error)
{
  GstKlingo1ErrorPrivate *priv = get_private (error);
  return priv ? priv->api_code : NULL;
}

const gchar *
gst_klingo1_error_get_api_message (const GError * error)
{
  GstKlingo1ErrorPrivate *priv = get_private (error);
  return priv ? priv->api_message : NULL;
}

const gchar *
gst_klingo1_error_get_api_type (const GError * error)
{
  GstKlingo1ErrorPrivate *priv = get_private (error);
  return priv ? priv->api_type : NULL;
}

const gchar *
gst_klingo1_error_get_task_id (const GError * error)
{
  GstKlingo1ErrorPrivate *priv = get_private (error);
  return priv ? priv->task_id : NULL;
}

const gchar *
gst_klingo1_error_get_field (const GError * error)
{
  GstKlingo1ErrorPrivate *priv = get_private (error);
  return priv ? priv->field : NULL;
}

guint
gst_klingo1_error_get_retry_after (const GError * error)
{
  GstKlingo1ErrorPrivate *priv = get_private (error);
  return priv ? priv->retry_after : 0;
}

GstStructure *
gst_klingo1_error_to_details (const GError * error)
{
  GstKlingo1ErrorPrivate *priv = get_private (error);
  GstStructure *s = gst_structure_new_empty ("klingo1-error");

  if (priv == NULL)
    return s;
  if (priv->http_status != 0)
    gst_structure_set (s, "http-status", G_TYPE_UINT, priv->http_status, NULL);
  if (priv->api_code)
    gst_structure_set (s, "api-code", G_TYPE_STRING, priv->api_code, NULL);
  if (priv->api_message)
    gst_structure_set (s, "api-message", G_TYPE_STRING, priv->api_message,
        NULL);
  if (priv->api_type)
    gst_structure_set (s, "api-type", G_TYPE_STRING, priv->api_type, NULL);
  if (priv->task_id)
    gst_structure_set (s, "task-id", G_TYPE_STRING, priv->task_id, NULL);
  if (priv->field)
    gst_structure_set (s, "field", G_TYPE_STRING, priv->field, NULL);
  return s;
}
