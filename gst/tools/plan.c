/* klingo1: what a job costs and what the cache already holds, locally
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Used by batch --dry-run and --budget: nothing here touches the network
 * and nothing is written, so a dry run sends zero requests.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <gst/pbutils/pbutils.h>

#include "klingo1-tool.h"

/* Documented (kling-o1-api.md 1.1): image-to-video costs 40 credits for 5 s
 * and 80 for 10 s. */
#define I2V_CREDITS_5S  40.0
#define I2V_CREDITS_10S 80.0

/* The edit models are billed per second of input, clamped to 3-10 s
 * (video-edit) and 6-20 s (video-edit-fast), but the API document gives no
 * per-second price. ASSUMPTION: the image-to-video rate, 40 credits / 5 s. */
#define EDIT_CREDITS_PER_SECOND_ASSUMED 8.0

const gchar *
k1_cache_state_to_string (K1CacheState state)
{
  switch (state) {
    case K1_CACHE_CLIP:
      return "cached";
    case K1_CACHE_TASK:
      return "resumes task";
    case K1_CACHE_LOST:
      return "lost";
    case K1_CACHE_OFF:
      return "cache off";
    case K1_CACHE_NONE:
    default:
      return "no";
  }
}

void
k1_plan_clear (K1Plan * plan)
{
  g_clear_pointer (&plan->key, g_free);
  g_clear_pointer (&plan->entry_dir, g_free);
  memset (plan, 0, sizeof *plan);
}

gdouble
k1_plan_cost (const K1Plan * plan)
{
  if (plan->attach || plan->cache == K1_CACHE_CLIP
      || plan->cache == K1_CACHE_TASK || plan->cache == K1_CACHE_LOST)
    return 0;
  return plan->credits;
}

/* Length of a local video in seconds, -1 when it cannot be told (the same
 * local measurement the element warns from). */
static gdouble
measure_video (const gchar * input)
{
  g_autofree gchar *path = gst_klingo1_input_get_local_path (input);
  g_autofree gchar *abs = NULL;
  g_autofree gchar *uri = NULL;
  g_autoptr (GstDiscoverer) discoverer = NULL;
  g_autoptr (GstDiscovererInfo) info = NULL;
  GstClockTime duration;

  if (path == NULL)
    return -1;
  abs = g_canonicalize_filename (path, NULL);
  uri = g_filename_to_uri (abs, NULL, NULL);
  discoverer = gst_discoverer_new (5 * GST_SECOND, NULL);
  if (uri == NULL || discoverer == NULL)
    return -1;
  info = gst_discoverer_discover_uri (discoverer, uri, NULL);
  if (info == NULL)
    return -1;
  duration = gst_discoverer_info_get_duration (info);
  if (!GST_CLOCK_TIME_IS_VALID (duration))
    return -1;
  return (gdouble) duration / GST_SECOND;
}

static void
price (const GstKlingo1Request * req, K1Plan * plan)
{
  gdouble low, high, seconds;

  GstKlingo1Model model = gst_klingo1_request_get_model (req);
  guint duration = gst_klingo1_request_get_duration (req);

  if (model == GST_KLINGO1_MODEL_IMAGE_TO_VIDEO) {
    plan->billed_seconds = duration == 10 ? 10 : 5;
    plan->credits = duration == 10 ? I2V_CREDITS_10S : I2V_CREDITS_5S;
    return;
  }

  low = model == GST_KLINGO1_MODEL_VIDEO_EDIT ? 3 : 6;
  high = model == GST_KLINGO1_MODEL_VIDEO_EDIT ? 10 : 20;
  seconds = measure_video (gst_klingo1_request_get_video (req));
  if (seconds < 0) {
    /* A remote input is not fetched to be measured: count the most it can
     * be billed, so that a budget is never overrun. */
    seconds = high;
    plan->seconds_upper_bound = TRUE;
  }
  /* Billed by the second: a part of a second is assumed to count whole. */
  plan->billed_seconds = CLAMP (ceil (seconds - 1e-3), low, high);
  plan->credits = plan->billed_seconds * EDIT_CREDITS_PER_SECOND_ASSUMED;
  plan->credits_assumed = TRUE;
}

static gboolean
journal_has_task (const gchar * path)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *object;

  if (!json_parser_load_from_file (parser, path, NULL))
    return FALSE;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  object = json_node_get_object (root);
  return json_object_has_member (object, "task_id")
      && json_object_get_string_member_with_default (object, "task_id",
      "")[0] != '\0';
}

/* The store entry key exactly as gstklingo1job.c's entry_key() makes it:
 * SHA-256 of "request\n<api-url>\n<request hash>", or of
 * "attach\n<api-url>\n<task id>" when attaching. */
static gchar *
entry_key (const GstKlingo1Request * req, const gchar * api_url,
    const gchar * task_id, GstKlingo1Store * store, GError ** error)
{
  g_autofree gchar *what = NULL;

  if (task_id) {
    what = g_strdup_printf ("attach\n%s\n%s", api_url, task_id);
  } else {
    /* The same hash with or without the store's memo of file hashes; with
     * it, large local inputs are not read again. */
    g_autofree gchar *hash = gst_klingo1_request_hash_with_store (req, store,
        NULL, error);

    if (hash == NULL)
      return NULL;
    what = g_strdup_printf ("request\n%s\n%s", api_url, hash);
  }
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, what, -1);
}

/* Where the element keeps this request (tasks/<key>), NULL with the cache
 * disabled. */
static gboolean
entry_dir (GstElement * src, const GstKlingo1Request * req,
    const gchar * task_id, gboolean read_only, gchar ** key, gchar ** dir,
    GError ** error)
{
  g_autoptr (GstKlingo1Store) store = NULL;
  g_autofree gchar *api_url = NULL;
  g_autofree gchar *cache_prop = NULL;
  g_autofree gchar *cache_dir = NULL;

  *key = *dir = NULL;
  if (g_strcmp0 (k1_source_get_enum_nick (src, "cache-mode"), "disabled") == 0)
    return TRUE;

  g_object_get (src, "api-url", &api_url, "cache-dir", &cache_prop, NULL);
  cache_dir = k1_effective_cache_dir (cache_prop);
  /* The memo is written to: not in a dry run. */
  if (!read_only)
    store = gst_klingo1_store_new (cache_dir);
  *key = entry_key (req, k1_effective_api_url (api_url), task_id, store,
      error);
  if (*key == NULL)
    return FALSE;
  *dir = g_build_filename (cache_dir, "tasks", *key, NULL);
  return TRUE;
}

gchar *
k1_source_clip_path (GstElement * src, const gchar * task_id, GError ** error)
{
  g_autoptr (GstKlingo1Request) req = k1_request_from_source (src);
  g_autofree gchar *key = NULL;
  g_autofree gchar *dir = NULL;

  if (!entry_dir (src, req, task_id, FALSE, &key, &dir, error) || dir == NULL)
    return NULL;
  return g_build_filename (dir, "clip.mp4", NULL);
}

gboolean
k1_plan_source (GstElement * src, gboolean read_only, K1Plan * plan,
    GError ** error)
{
  g_autoptr (GstKlingo1Request) req = k1_request_from_source (src);
  g_autofree gchar *task_id = k1_source_get_task_id (src);
  g_autofree gchar *clip = NULL;
  g_autofree gchar *journal = NULL;
  g_autofree gchar *lost = NULL;
  GStatBuf st;

  memset (plan, 0, sizeof *plan);
  plan->attach = task_id != NULL;
  plan->model =
      gst_klingo1_model_to_api_id (gst_klingo1_request_get_model (req));
  plan->billed_seconds = -1;

  /* The element skips request validation when it attaches to a task. */
  if (!plan->attach) {
    if (!gst_klingo1_request_validate (req, error))
      return FALSE;
    price (req, plan);
  }

  if (!entry_dir (src, req, task_id, read_only, &plan->key, &plan->entry_dir,
          error))
    return FALSE;
  /* refresh forgets the entry when the element starts */
  if (plan->entry_dir == NULL || g_strcmp0 (k1_source_get_enum_nick (src,
              "cache-mode"), "read-write") != 0) {
    plan->cache = K1_CACHE_OFF;
    return TRUE;
  }

  /* Read as the store's listing reads an entry (store.h layout), without
   * opening it: open_entry() would create the directory. */
  clip = g_build_filename (plan->entry_dir, "clip.mp4", NULL);
  journal = g_build_filename (plan->entry_dir, "task.json", NULL);
  lost = g_build_filename (plan->entry_dir, "lost.json", NULL);
  if (g_stat (clip, &st) == 0 && S_ISREG (st.st_mode) && st.st_size > 0)
    plan->cache = K1_CACHE_CLIP;
  else if (g_file_test (lost, G_FILE_TEST_EXISTS))
    plan->cache = K1_CACHE_LOST;
  else if (journal_has_task (journal))
    plan->cache = K1_CACHE_TASK;
  else
    plan->cache = K1_CACHE_NONE;
  return TRUE;
}
