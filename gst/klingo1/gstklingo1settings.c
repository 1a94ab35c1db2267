/* gst-klingo1: the settings of one klingo1src run, with every default
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "request-private.h"
#include "gstklingo1settings.h"

void
gst_klingo1_settings_init (GstKlingo1Settings * s)
{
  memset (s, 0, sizeof (*s));
  s->request = gst_klingo1_request_new (GST_KLINGO1_DEFAULT_MODEL);
  s->request->aspect_ratio = GST_KLINGO1_DEFAULT_ASPECT_RATIO;
  s->request->duration = GST_KLINGO1_DEFAULT_DURATION;
  s->request->keep_original_sound = GST_KLINGO1_DEFAULT_KEEP_SOUND;
  s->poll_interval = GST_KLINGO1_DEFAULT_POLL_INTERVAL;
  s->timeout = GST_KLINGO1_DEFAULT_TIMEOUT;
  s->io_timeout = GST_KLINGO1_DEFAULT_IO_TIMEOUT;
  s->cache_mode = GST_KLINGO1_DEFAULT_CACHE_MODE;
  s->max_size = GST_KLINGO1_DEFAULT_MAX_SIZE;
  s->user_agent = g_strdup (GST_KLINGO1_DEFAULT_USER_AGENT);
}

void
gst_klingo1_settings_clear (GstKlingo1Settings * s)
{
  g_clear_pointer (&s->api_key, g_free);
  g_clear_pointer (&s->api_url, g_free);
  g_clear_pointer (&s->files_url, g_free);
  g_clear_pointer (&s->request, gst_klingo1_request_free);
  g_clear_pointer (&s->task_id, g_free);
  g_clear_pointer (&s->cache_dir, g_free);
  g_clear_pointer (&s->user_agent, g_free);
  g_clear_pointer (&s->proxy, g_free);
  g_clear_pointer (&s->ca_file, g_free);
}

void
gst_klingo1_settings_copy (const GstKlingo1Settings * src,
    GstKlingo1Settings * dest)
{
  *dest = *src;
  dest->api_key = g_strdup (src->api_key);
  dest->api_url = g_strdup (src->api_url);
  dest->files_url = g_strdup (src->files_url);
  dest->request = gst_klingo1_request_copy (src->request);
  dest->task_id = g_strdup (src->task_id);
  dest->cache_dir = g_strdup (src->cache_dir);
  dest->user_agent = g_strdup (src->user_agent);
  dest->proxy = g_strdup (src->proxy);
  dest->ca_file = g_strdup (src->ca_file);
}

static void
from_env (gchar ** slot, const gchar * variable, const gchar * fallback)
{
  const gchar *env;

  if (*slot != NULL)
    return;
  env = g_getenv (variable);
  if (env != NULL && *env != '\0')
    *slot = g_strdup (env);
  else
    *slot = g_strdup (fallback);
}

static gboolean
invalid (GError ** error, const gchar * field, const gchar * message)
{
  g_set_error (error, GST_KLINGO1_ERROR, GST_KLINGO1_ERROR_INVALID_REQUEST,
      "%s: %s", field, message);
  gst_klingo1_error_set_field (*error, field);
  return FALSE;
}

gboolean
gst_klingo1_settings_resolve (GstKlingo1Settings * s, GError ** error)
{
  from_env (&s->api_key, "KLINGO1_API_KEY", NULL);
  from_env (&s->api_url, "KLINGO1_API_URL", GST_KLINGO1_DEFAULT_API_URL);
  from_env (&s->files_url, "KLINGO1_FILES_URL",
      GST_KLINGO1_DEFAULT_FILES_URL);

  if (s->api_key == NULL)
    return invalid (error, "api-key", "no API key; set the KLINGO1_API_KEY "
        "environment variable (or the api-key property)");
  if (s->poll_interval < 0)
    return invalid (error, "poll-interval", "must be 0 (follow the task) or "
        "more");

  /* duration has a default for image-to-video; for the edit models the
   * output follows the input, so only a duration set on purpose is wrong */
  if (s->request->model != GST_KLINGO1_MODEL_IMAGE_TO_VIDEO
      && s->request->duration == GST_KLINGO1_DEFAULT_DURATION)
    s->request->duration = 0;

  if (s->task_id == NULL)
    return gst_klingo1_request_validate (s->request, error);
  return TRUE;
}
