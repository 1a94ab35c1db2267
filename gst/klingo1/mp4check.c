/* gst-klingo1: cheap structural checks of ISO BMFF / QuickTime files
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A result link that answers 200 with an HTML error page, a download cut
 * short by a proxy, a clip whose moov never got written: all of these would
 * otherwise reach a demuxer as "clip.mp4" and fail far from the cause, or be
 * cached and served forever.  Walking the top-level boxes costs a few
 * pread () calls of 16 bytes, whatever the file size, and says precisely what
 * is wrong.
 *
 * The same walk gives the duration of an input video (from moov/mvhd)
 * without a demuxer and without reading the media data, wherever the moov
 * is.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mp4check.h"

#include <gst/klingo1/error.h>

#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FOURCC(a,b,c,d) \
  (((guint32) (a) << 24) | ((guint32) (b) << 16) | ((guint32) (c) << 8) | \
   (guint32) (d))
#define BOX_FTYP FOURCC ('f', 't', 'y', 'p')
#define BOX_STYP FOURCC ('s', 't', 'y', 'p')
#define BOX_MOOV FOURCC ('m', 'o', 'o', 'v')
#define BOX_MDAT FOURCC ('m', 'd', 'a', 't')
#define BOX_MOOF FOURCC ('m', 'o', 'o', 'f')
#define BOX_MVHD FOURCC ('m', 'v', 'h', 'd')
#define BOX_MVEX FOURCC ('m', 'v', 'e', 'x')
#define BOX_MEHD FOURCC ('m', 'e', 'h', 'd')

/* Types a file may start with. */
static const guint32 top_level_types[] = {
  BOX_FTYP, BOX_STYP, BOX_MOOV, BOX_MDAT, BOX_MOOF,
  FOURCC ('f', 'r', 'e', 'e'), FOURCC ('s', 'k', 'i', 'p'),
  FOURCC ('w', 'i', 'd', 'e'), FOURCC ('p', 'n', 'o', 't'),
  FOURCC ('u', 'u', 'i', 'd'), FOURCC ('s', 'i', 'd', 'x'),
  FOURCC ('p', 'd', 'i', 'n'),
};

/* A moov larger than this is not something we would walk into. */
#define MAX_MOOV_CHILDREN 4096

typedef struct
{
  guint64 offset;
  /* the whole box, header included */
  guint64 size;
  guint header;
  guint32 type;
  gchar name[5];
} Box;

static gboolean
is_top_level_type (guint32 type)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (top_level_types); i++)
    if (top_level_types[i] == type)
      return TRUE;
  return FALSE;
}

static gboolean
is_printable_fourcc (const guint8 * p)
{
  guint i;

  for (i = 0; i < 4; i++)
    if (p[i] < 0x20 || p[i] > 0x7e)
      return FALSE;
  return TRUE;
}

gboolean
gst_klingo1_mp4_sniff (const guint8 * data, gsize len)
{
  guint32 size, type;

  if (data == NULL || len < 8)
    return FALSE;

  size = gst_klingo1_read_be32 (data);
  type = gst_klingo1_read_be32 (data + 4);
  if (!is_top_level_type (type))
    return FALSE;

  if (size == 1) {
    /* without the 64-bit size at hand, the type has to do */
    return len < 16 || gst_klingo1_read_be64 (data + 8) >= 16;
  }
  if (size != 0 && size < 8)
    return FALSE;
  /* ftyp/styp carry at least a major brand and a minor version */
  if ((type == BOX_FTYP || type == BOX_STYP) && size != 0) {
    if (size < 16)
      return FALSE;
    if (len >= 12 && !is_printable_fourcc (data + 8))
      return FALSE;
  }
  return TRUE;
}

/* pread () until @len bytes or the end of the file; returns the count read,
 * -1 with errno on failure. */
static gssize
pread_full (int fd, guint8 * buf, gsize len, guint64 offset)
{
  gsize done = 0;

  while (done < len) {
    gssize n = pread (fd, buf + done, len - done, (off_t) (offset + done));

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0)
      break;
    done += n;
  }
  return done;
}

static gboolean
read_exact (int fd, guint8 * buf, gsize len, guint64 offset, GError ** error)
{
  gssize n = pread_full (fd, buf, len, offset);

  if (n < 0) {
    gint errsv = errno;

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "cannot read at offset %" G_GUINT64_FORMAT ": %s", offset,
        g_strerror (errsv));
    return FALSE;
  }
  if ((gsize) n < len) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "truncated: the file ends at %" G_GUINT64_FORMAT ", before the "
        "size it was said to have", offset + n);
    return FALSE;
  }
  return TRUE;
}

/* What the first bytes of something that is not an MP4 are likely to be:
 * what a result link serves when it fails. */
static const gchar *
guess_content (const guint8 * data, gsize len)
{
  gsize i = 0;

  /* a UTF-8 byte order mark, then whitespace */
  if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf)
    i = 3;
  while (i < len && g_ascii_isspace (data[i]))
    i++;
  if (i == len)
    return len == 0 ? "" : " (blank)";
  if (data[i] == '<')
    return " (an HTML or XML page?)";
  if (data[i] == '{' || data[i] == '[')
    return " (a JSON document?)";
  return "";
}

static gchar *
describe_bytes (const guint8 * data, gsize len)
{
  GString *s = g_string_new ("\"");
  gsize i;

  for (i = 0; i < MIN (len, 8); i++) {
    if (g_ascii_isprint (data[i]) && data[i] != '"' && data[i] != '\\')
      g_string_append_c (s, data[i]);
    else
      g_string_append_printf (s, "\\x%02x", data[i]);
  }
  g_string_append_c (s, '"');
  return g_string_free (s, FALSE);
}

/* Reads the header of the box at @offset, which must end by @end (the end of
 * the file or of the parent box, named @container).  @top_of_file: the first
 * box of the file, judged as by gst_klingo1_mp4_sniff (). */
static gboolean
read_box (int fd, guint64 offset, guint64 end, const gchar * container,
    gboolean top_of_file, Box * box, GError ** error)
{
  guint8 head[16];
  guint64 avail = end - offset;
  gsize want = MIN (avail, sizeof (head));
  guint32 size32;

  if (avail < 8) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "truncated: %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT
        " are too short for a box header (%s ends at %" G_GUINT64_FORMAT ")",
        avail, offset, container, end);
    return FALSE;
  }
  if (!read_exact (fd, head, want, offset, error))
    return FALSE;

  if (top_of_file && !gst_klingo1_mp4_sniff (head, want)) {
    g_autofree gchar *start = describe_bytes (head, want);

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "not an MP4/QuickTime file: it starts with %s%s", start,
        guess_content (head, want));
    return FALSE;
  }
  if (!is_printable_fourcc (head + 4)) {
    g_autofree gchar *bytes = describe_bytes (head, want);

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "no box at offset %" G_GUINT64_FORMAT " in %s (bytes %s): the box "
        "before it has a wrong size, or the file is damaged", offset,
        container, bytes);
    return FALSE;
  }

  box->offset = offset;
  box->type = gst_klingo1_read_be32 (head + 4);
  memcpy (box->name, head + 4, 4);
  box->name[4] = '\0';
  size32 = gst_klingo1_read_be32 (head);

  if (size32 == 1) {
    if (avail < 16) {
      g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
          "truncated: the %s box at offset %" G_GUINT64_FORMAT " has a 64-bit "
          "size but %s ends at %" G_GUINT64_FORMAT, box->name, offset,
          container, end);
      return FALSE;
    }
    box->header = 16;
    box->size = gst_klingo1_read_be64 (head + 8);
    if (box->size < 16) {
      g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
          "the %s box at offset %" G_GUINT64_FORMAT " has an invalid 64-bit "
          "size %" G_GUINT64_FORMAT, box->name, offset, box->size);
      return FALSE;
    }
  } else if (size32 == 0) {
    /* extends to the end of the file (or of its parent) */
    box->header = 8;
    box->size = avail;
  } else if (size32 < 8) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "the %s box at offset %" G_GUINT64_FORMAT " has an invalid size %u",
        box->name, offset, size32);
    return FALSE;
  } else {
    box->header = 8;
    box->size = size32;
  }

  if (box->size > avail) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "truncated: the %s box at offset %" G_GUINT64_FORMAT " claims %"
        G_GUINT64_FORMAT " bytes but %s ends at %" G_GUINT64_FORMAT,
        box->name, offset, box->size, container, end);
    return FALSE;
  }
  return TRUE;
}

/* Finds the first child of type @type in @parent; FALSE with no error when
 * there is none. */
static gboolean
find_child (int fd, const Box * parent, guint32 type, Box * child,
    gboolean * found, GError ** error)
{
  g_autofree gchar *container = g_strdup_printf ("the %s box at offset %"
      G_GUINT64_FORMAT, parent->name, parent->offset);
  guint64 end = parent->offset + parent->size;
  guint64 offset = parent->offset + parent->header;
  guint n;

  *found = FALSE;
  for (n = 0; offset < end && n < MAX_MOOV_CHILDREN; n++) {
    if (!read_box (fd, offset, end, container, FALSE, child, error))
      return FALSE;
    if (child->type == type) {
      *found = TRUE;
      return TRUE;
    }
    offset += child->size;
  }
  return TRUE;
}

gboolean
gst_klingo1_mp4_check_fd (int fd, guint64 size, GError ** error)
{
  gboolean have_moov = FALSE, have_moof = FALSE, have_media = FALSE;
  gboolean have_mdat = FALSE;
  guint64 offset = 0;

  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (size == 0) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "not an MP4/QuickTime file: it is empty");
    return FALSE;
  }
  if (size < 8) {
    guint8 head[8];

    if (!read_exact (fd, head, size, 0, error))
      return FALSE;
    {
      g_autofree gchar *bytes = describe_bytes (head, size);

      g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
          "not an MP4/QuickTime file: only %" G_GUINT64_FORMAT " bytes (%s)",
          size, bytes);
    }
    return FALSE;
  }

  while (offset < size) {
    Box box;

    if (!read_box (fd, offset, size, "the file", offset == 0, &box, error))
      return FALSE;

    switch (box.type) {
      case BOX_MOOV:{
        Box mvhd;
        gboolean found;

        if (!find_child (fd, &box, BOX_MVHD, &mvhd, &found, error))
          return FALSE;
        if (!found) {
          g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
              "the moov box at offset %" G_GUINT64_FORMAT " has no movie "
              "header (mvhd)", box.offset);
          return FALSE;
        }
        have_moov = TRUE;
        break;
      }
      case BOX_MOOF:
        have_moof = TRUE;
        break;
      case BOX_MDAT:
        have_mdat = TRUE;
        if (box.size > box.header)
          have_media = TRUE;
        break;
      default:
        break;
    }
    offset += box.size;
  }

  if (!have_moov && !have_moof) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "no moov box: the movie header is missing (a recording that was "
        "never finished?)");
    return FALSE;
  }
  if (!have_media) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        have_mdat ? "the mdat box is empty: no media data" :
        "no mdat box: no media data");
    return FALSE;
  }
  return TRUE;
}

/* The duration of a version 0/1 mvhd or mehd at @box, in the units of
 * @timescale (read from mvhd when @timescale is not NULL).  FALSE with no
 * error when the box says "unknown". */
static gboolean
read_full_box_duration (int fd, const Box * box, guint32 * timescale,
    guint64 * duration, gboolean * known, GError ** error)
{
  /* version + flags, then mvhd: creation and modification time, timescale,
   * duration; mehd: fragment_duration */
  guint8 buf[4 + 8 + 8 + 4 + 8];
  guint64 payload = box->size - box->header;
  guint version;
  gsize need, at;

  *known = FALSE;
  if (payload < 4)
    goto too_short;
  if (!read_exact (fd, buf, MIN (payload, sizeof (buf)),
          box->offset + box->header, error))
    return FALSE;

  version = buf[0];
  if (version > 1) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "the %s box at offset %" G_GUINT64_FORMAT " has unknown version %u",
        box->name, box->offset, version);
    return FALSE;
  }

  if (timescale != NULL) {
    need = version == 1 ? 4 + 8 + 8 + 4 + 8 : 4 + 4 + 4 + 4 + 4;
    at = version == 1 ? 4 + 8 + 8 : 4 + 4 + 4;
  } else {
    need = version == 1 ? 4 + 8 : 4 + 4;
    at = 4;
  }
  if (payload < need)
    goto too_short;

  if (timescale != NULL) {
    *timescale = gst_klingo1_read_be32 (buf + at);
    at += 4;
  }
  if (version == 1) {
    *duration = gst_klingo1_read_be64 (buf + at);
    *known = *duration != G_MAXUINT64;
  } else {
    *duration = gst_klingo1_read_be32 (buf + at);
    *known = *duration != G_MAXUINT32;
  }
  /* a fragmented file's mvhd says 0: the fragments carry the samples */
  if (*duration == 0)
    *known = FALSE;
  return TRUE;

too_short:
  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
      "the %s box at offset %" G_GUINT64_FORMAT " is too short (%"
      G_GUINT64_FORMAT " bytes)", box->name, box->offset, box->size);
  return FALSE;
}

static gboolean
duration_from_moov (int fd, const Box * moov, gdouble * seconds,
    GError ** error)
{
  Box mvhd, mvex, mehd;
  gboolean found, known;
  guint32 timescale = 0;
  guint64 duration = 0;

  if (!find_child (fd, moov, BOX_MVHD, &mvhd, &found, error))
    return FALSE;
  if (!found) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "the moov box at offset %" G_GUINT64_FORMAT " has no movie header "
        "(mvhd)", moov->offset);
    return FALSE;
  }
  if (!read_full_box_duration (fd, &mvhd, &timescale, &duration, &known,
          error))
    return FALSE;
  if (timescale == 0) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "the movie header (mvhd) at offset %" G_GUINT64_FORMAT " has "
        "timescale 0", mvhd.offset);
    return FALSE;
  }

  if (!known) {
    /* fragmented: the total may be announced in mvex/mehd */
    if (!find_child (fd, moov, BOX_MVEX, &mvex, &found, error))
      return FALSE;
    if (found && !find_child (fd, &mvex, BOX_MEHD, &mehd, &found, error))
      return FALSE;
    if (found && !read_full_box_duration (fd, &mehd, NULL, &duration, &known,
            error))
      return FALSE;
  }
  if (!known) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "the file does not record its duration (movie header at offset %"
        G_GUINT64_FORMAT ")", mvhd.offset);
    return FALSE;
  }

  *seconds = (gdouble) duration / timescale;
  return TRUE;
}

gboolean
gst_klingo1_mp4_read_duration (const gchar * path, gdouble * seconds,
    GCancellable * cancellable, GError ** error)
{
  struct stat st;
  guint64 offset = 0, size;
  gboolean ret = FALSE;
  int fd;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0 || fstat (fd, &st) != 0) {
    gint errsv = errno;

    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_IO,
        "%s: cannot read: %s", path, g_strerror (errsv));
    if (fd >= 0)
      close (fd);
    return FALSE;
  }
  size = st.st_size;

  if (size == 0) {
    g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
        "not an MP4/QuickTime file: it is empty");
    goto out;
  }

  /* Skips over whatever precedes the moov (a large mdat when the file is not
   * "fast start"): one header read per box. */
  while (TRUE) {
    Box box;

    if (g_cancellable_set_error_if_cancelled (cancellable, error))
      goto out;
    if (offset >= size) {
      g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_PROTOCOL,
          "no moov box: the movie header is missing");
      goto out;
    }
    if (!read_box (fd, offset, size, "the file", offset == 0, &box, error))
      goto out;
    if (box.type == BOX_MOOV) {
      ret = duration_from_moov (fd, &box, seconds, error);
      goto out;
    }
    offset += box.size;
  }

out:
  close (fd);
  if (!ret && error != NULL && *error != NULL &&
      (*error)->domain == GST_KLINGO1_ERROR)
    g_prefix_error (error, "%s: ", path);
  return ret;
}
