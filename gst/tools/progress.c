/* klingo1: progress display on stderr
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * On a terminal, one live line is redrawn in place (a bar, or a summary of
 * the running jobs) under lines that stay; elsewhere (logs, CI) only the
 * lines that stay are written, so the output reads as a plain log.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "klingo1-tool.h"

struct _K1Progress
{
  FILE *out;
  gboolean tty;
  gchar *live;                  /* the live line, NULL when none is shown */
};

K1Progress *
k1_progress_new (void)
{
  K1Progress *p = g_new0 (K1Progress, 1);

  p->out = stderr;
  p->tty = k1_stderr_is_tty ();
  return p;
}

gboolean
k1_progress_is_tty (K1Progress * p)
{
  return p->tty;
}

static guint
columns (void)
{
  struct winsize ws;
  const gchar *env;

  if (ioctl (STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  env = g_getenv ("COLUMNS");
  if (env && atoi (env) > 0)
    return atoi (env);
  return 80;
}

static void
draw_live (K1Progress * p)
{
  /* A line that wraps could not be redrawn with \r: cut it to the width. */
  guint width = columns () - 1;
  const gchar *text = p->live;

  fputs ("\r\033[K", p->out);
  if (g_utf8_strlen (text, -1) > width) {
    const gchar *end = g_utf8_offset_to_pointer (text, width);

    fwrite (text, 1, end - text, p->out);
  } else {
    fputs (text, p->out);
  }
  fflush (p->out);
}

void
k1_progress_print (K1Progress * p, const gchar * format, ...)
{
  va_list args;

  if (p->tty && p->live)
    fputs ("\r\033[K", p->out);
  va_start (args, format);
  vfprintf (p->out, format, args);
  va_end (args);
  fputc ('\n', p->out);
  if (p->tty && p->live)
    draw_live (p);
  fflush (p->out);
}

void
k1_progress_live (K1Progress * p, const gchar * text)
{
  if (!p->tty)
    return;
  g_free (p->live);
  p->live = g_strdup (text);
  draw_live (p);
}

gchar *
k1_progress_bar (gint percent, guint width)
{
  GString *s = g_string_new ("[");
  guint i, filled;

  percent = CLAMP (percent, 0, 100);
  filled = percent * width / 100;
  for (i = 0; i < width; i++)
    g_string_append_c (s, i < filled ? '#' : '.');
  g_string_append_printf (s, "] %3d%%", percent);
  return g_string_free (s, FALSE);
}

void
k1_progress_end (K1Progress * p)
{
  if (p->tty && p->live) {
    fputs ("\r\033[K", p->out);
    fflush (p->out);
  }
  g_clear_pointer (&p->live, g_free);
}

void
k1_progress_free (K1Progress * p)
{
  if (p == NULL)
    return;
  k1_progress_end (p);
  g_free (p);
}
