/* gst-klingo1: the klingo1:// URI handler of klingo1src
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstklingo1uri.h"

static GstURIType
gst_klingo1_src_uri_get_type (GType type)
{
  return GST_URI_SRC;
}

static const gchar *const *
gst_klingo1_src_uri_get_protocols (GType type)
{
  static const gchar *protocols[] = { "klingo1", NULL };

  return protocols;
}

static gchar *
gst_klingo1_src_uri_get_uri (GstURIHandler * handler)
{
  return NULL;
}

static gboolean
gst_klingo1_src_uri_set_uri (GstURIHandler * handler, const gchar * uri,
    GError ** error)
{
  g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
      "klingo1:// URIs are not supported yet");
  return FALSE;
}

void
gst_klingo1_src_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  GstURIHandlerInterface *iface = g_iface;

  iface->get_type = gst_klingo1_src_uri_get_type;
  iface->get_protocols = gst_klingo1_src_uri_get_protocols;
  iface->get_uri = gst_klingo1_src_uri_get_uri;
  iface->set_uri = gst_klingo1_src_uri_set_uri;
}
