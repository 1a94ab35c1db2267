/* klingo1: plain text tables on stdout
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>

#include "klingo1-tool.h"

void
k1_table_print (GPtrArray * rows, guint n_cols)
{
  g_autofree guint *width = g_new0 (guint, n_cols);
  guint r, c;

  for (r = 0; r < rows->len; r++) {
    gchar **row = g_ptr_array_index (rows, r);

    for (c = 0; c < n_cols; c++)
      width[c] = MAX (width[c], g_utf8_strlen (row[c], -1));
  }
  for (r = 0; r < rows->len; r++) {
    gchar **row = g_ptr_array_index (rows, r);
    g_autoptr (GString) line = g_string_new (NULL);

    for (c = 0; c < n_cols; c++) {
      g_string_append (line, row[c]);
      /* The last column is free text: no padding after it. */
      if (c < n_cols - 1)
        g_string_append_printf (line, "%*s  ",
            (gint) (width[c] - g_utf8_strlen (row[c], -1)), "");
    }
    g_print ("%s\n", g_strchomp (line->str));
  }
}

gchar **
k1_table_row (const gchar * first, ...)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  const gchar *s;
  va_list args;
  gchar **row;

  va_start (args, first);
  for (s = first; s; s = va_arg (args, const gchar *))
    g_strv_builder_add (builder, s);
  va_end (args);
  row = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return row;
}
