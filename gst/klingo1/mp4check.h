/* gst-klingo1: cheap structural checks of ISO BMFF / QuickTime files
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string.h>
#include <glib.h>
#include <gio/gio.h>

G_BEGIN_DECLS

/* Big-endian reads at any address. GStreamer's GST_READ_UINT32_BE and
 * friends load through a guint32 / guint64 pointer on x86, which is
 * undefined behaviour at an address that is not a multiple of the size (a
 * box header in the middle of a buffer, a version 1 mvhd's 64-bit duration
 * at offset 4): UBSan reports it, and a compiler may assume alignment.
 * memcpy () is a single load all the same. */
static inline guint32
gst_klingo1_read_be32 (const guint8 * p)
{
  guint32 v;

  memcpy (&v, p, sizeof (v));
  return GUINT32_FROM_BE (v);
}

static inline guint64
gst_klingo1_read_be64 (const guint8 * p)
{
  guint64 v;

  memcpy (&v, p, sizeof (v));
  return GUINT64_FROM_BE (v);
}

/* TRUE if @data, the first @len bytes of a file, look like an MP4 or
 * QuickTime file: a first box of a known top-level type (ftyp, styp, moov,
 * mdat, free, skip, wide, pnot, uuid, moof, sidx, pdin) with a sane size (>=
 * 8, or 1 with a 64-bit size >= 16, or 0 for "to the end of the file").
 * Needs at least 8 bytes; 16 let it check a 64-bit size too. */
gboolean gst_klingo1_mp4_sniff (const guint8 * data, gsize len);

/* Walks the top-level boxes of the file open at @fd (with pread (), the file
 * position is not used), @size bytes long: every box size consistent (64-bit
 * sizes, size 0 = to the end), the last box ending exactly at @size, a moov
 * with an mvhd (or, for a fragment, a moof), and media data (a non-empty
 * mdat).  Reads box headers only.  Errors are GST_KLINGO1_ERROR_PROTOCOL
 * saying what is wrong and where, or GST_KLINGO1_ERROR_IO when reading
 * fails. */
gboolean gst_klingo1_mp4_check_fd (int fd, guint64 size, GError ** error);

/* The duration in seconds recorded in moov/mvhd (version 0 or 1; for a
 * fragmented file whose mvhd has none, moov/mvex/mehd), wherever the moov
 * is: the mdat is skipped over, only box headers and the mvhd are read.
 * Errors: GST_KLINGO1_ERROR_IO (cannot open or read), _PROTOCOL (not an
 * MP4, no moov, no duration recorded), G_IO_ERROR_CANCELLED. */
gboolean gst_klingo1_mp4_read_duration (const gchar * path, gdouble * seconds,
                                        GCancellable * cancellable,
                                        GError ** error);

G_END_DECLS
