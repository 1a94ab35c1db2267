/* gst-klingo1: the settings of one klingo1src run, with every default
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/klingo1/klingo1.h>

G_BEGIN_DECLS

/**
 * GstKlingo1CacheMode:
 * @GST_KLINGO1_CACHE_READ_WRITE: play a cached clip, resume a journaled task,
 *   record new ones
 * @GST_KLINGO1_CACHE_REFRESH: forget what is cached for this request and
 *   generate anew (the new task is recorded)
 * @GST_KLINGO1_CACHE_DISABLED: no cache and no journal
 */
typedef enum
{
  GST_KLINGO1_CACHE_READ_WRITE,
  GST_KLINGO1_CACHE_REFRESH,
  GST_KLINGO1_CACHE_DISABLED,
} GstKlingo1CacheMode;

/* Every default, in one place: the element's property specs use these. */
#define GST_KLINGO1_DEFAULT_MODEL          GST_KLINGO1_MODEL_IMAGE_TO_VIDEO
#define GST_KLINGO1_DEFAULT_ASPECT_RATIO   GST_KLINGO1_ASPECT_RATIO_UNSET
#define GST_KLINGO1_DEFAULT_KEEP_SOUND     TRUE
#define GST_KLINGO1_DEFAULT_POLL_INTERVAL  0.0  /* follow the task */
#define GST_KLINGO1_DEFAULT_TIMEOUT        1800
#define GST_KLINGO1_DEFAULT_IO_TIMEOUT     30
#define GST_KLINGO1_DEFAULT_CACHE_MODE     GST_KLINGO1_CACHE_READ_WRITE
#define GST_KLINGO1_DEFAULT_MAX_SIZE       (G_GUINT64_CONSTANT (2) << 30)
#define GST_KLINGO1_DEFAULT_USER_AGENT     "gst-klingo1/" VERSION

/**
 * GstKlingo1Settings:
 *
 * What the element's properties say, copied as one snapshot when the element
 * starts and handed to the job, so that the streaming thread never reads a
 * property the application may be changing. Strings are owned.
 */
typedef struct
{
  gchar *api_key;               /* NULL: $KLINGO1_API_KEY */
  gchar *api_url;               /* NULL: $KLINGO1_API_URL, else the default */
  gchar *files_url;             /* NULL: $KLINGO1_FILES_URL, else the default */
  GstKlingo1Request *request;   /* model, prompt, inputs, ... */
  gchar *task_id;               /* attach to this task, create none */
  gboolean submit_only;         /* create (or find) the task, no download */
  gdouble poll_interval;        /* s; 0: follow the API's estimate */
  guint timeout;                /* s, whole run; 0: none */
  guint io_timeout;             /* s without a byte before a transfer is retried */
  gchar *cache_dir;             /* NULL: the user's cache dir */
  GstKlingo1CacheMode cache_mode;
  guint64 max_size;             /* bytes; 0: none */
  gchar *user_agent;
  gchar *proxy;                 /* NULL: the environment's */
  gchar *ca_file;               /* NULL: the system's CAs */
} GstKlingo1Settings;

void     gst_klingo1_settings_init (GstKlingo1Settings * settings);
void     gst_klingo1_settings_clear (GstKlingo1Settings * settings);
void     gst_klingo1_settings_copy (const GstKlingo1Settings * src,
                                    GstKlingo1Settings * dest);

/* Fills what was left unset from the environment and the defaults, and
 * checks everything against the documented limits (local inputs are read a
 * few bytes each). Errors name the property. */
gboolean gst_klingo1_settings_resolve (GstKlingo1Settings * settings,
                                       GError ** error);

G_END_DECLS
