/* gst-klingo1: runs a fuzz target over files, for builds without libFuzzer.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>

int LLVMFuzzerTestOneInput (const guint8 * data, size_t size);

int
main (int argc, char **argv)
{
  int i, n = 0;

  for (i = 1; i < argc; i++) {
    g_autoptr (GDir) dir = g_dir_open (argv[i], 0, NULL);
    const gchar *name;

    while (dir && (name = g_dir_read_name (dir))) {
      g_autofree gchar *path = g_build_filename (argv[i], name, NULL);
      g_autofree gchar *contents = NULL;
      gsize len;

      if (!g_file_get_contents (path, &contents, &len, NULL))
        continue;
      LLVMFuzzerTestOneInput ((const guint8 *) contents, len);
      n++;
    }
  }
  g_print ("replayed %d inputs\n", n);
  return n > 0 ? 0 : 1;
}
