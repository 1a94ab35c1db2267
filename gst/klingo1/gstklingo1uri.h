/* gst-klingo1: the klingo1:// URI handler of klingo1src
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* GstURIHandler interface of klingo1src (G_IMPLEMENT_INTERFACE). */
void gst_klingo1_src_uri_handler_init (gpointer g_iface, gpointer iface_data);

G_END_DECLS
