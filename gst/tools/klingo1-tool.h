/* klingo1: the command-line tool over klingo1src, shared declarations
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <gst/klingo1/klingo1.h>

G_BEGIN_DECLS

#define K1_EXIT_OK          0
#define K1_EXIT_FAILED      1
#define K1_EXIT_USAGE       2
#define K1_EXIT_INTERRUPTED 130

/* ---- klingo1.c: settings shared by the subcommands ---------------------- */

typedef struct
{
  gchar *api_url;
  gchar *files_url;
  gchar *cache_dir;
} K1ApiOptions;

void         k1_api_options_add (GOptionContext * ctx, K1ApiOptions * opts,
                                 gboolean api, gboolean files,
                                 gboolean cache);
void         k1_api_options_clear (K1ApiOptions * opts);
/* What the element would use: the option, else the environment, else the
 * default. */
const gchar *k1_effective_api_url (const gchar * api_url);
/* NULL when no key is known. Never printed. */
const gchar *k1_env_api_key (void);
/* The store directory the element would use for @cache_dir (NULL: default). */
gchar       *k1_effective_cache_dir (const gchar * cache_dir);
/* Creates the subcommand's context; prgname reads "klingo1 NAME" in --help. */
GOptionContext *k1_option_context_new (const gchar * name,
                                       const gchar * params,
                                       const gchar * summary,
                                       const gchar * description,
                                       const GOptionEntry * entries,
                                       gboolean with_gst);
/* Parses; on failure prints the error and a hint and returns FALSE. */
gboolean     k1_option_context_parse (GOptionContext * ctx, gint * argc,
                                      gchar *** argv);
gint         k1_usage_error (const gchar * name, const gchar * format, ...)
    G_GNUC_PRINTF (2, 3);
gboolean     k1_stderr_is_tty (void);

/* ---- props.c: klingo1src properties set by name ------------------------- */

/* A new klingo1src, or NULL with an error saying where the plugin is looked
 * for. */
GstElement  *k1_source_new (GError ** error);
gboolean     k1_source_has_property (GstElement * src, const gchar * name);
/* @value as text, as gst-launch-1.0 reads it (enum nicks, "<a, b>" arrays). */
gboolean     k1_set_property_from_string (GstElement * src,
                                          const gchar * name,
                                          const gchar * value,
                                          GError ** error);
/* @node from a jobs file: strings, numbers, booleans, arrays of strings for
 * array properties; null resets the default. */
gboolean     k1_set_property_from_json (GstElement * src, const gchar * name,
                                        JsonNode * node, GError ** error);
gboolean     k1_set_images (GstElement * src, const gchar * const *images,
                            GError ** error);
/* The request as the element reads it from its properties in start(). */
GstKlingo1Request *k1_request_from_source (GstElement * src);
/* The value nick of an enum property ("refresh", "video-edit"...). */
const gchar *k1_source_get_enum_nick (GstElement * src, const gchar * name);
/* The task-id property, when set to attach to an existing task. */
gchar       *k1_source_get_task_id (GstElement * src);

/* ---- plan.c: what a run costs, and what the cache already holds --------- */

typedef enum
{
  K1_CACHE_NONE,                /* nothing: a run creates (and pays) a task */
  K1_CACHE_TASK,                /* a journaled task: a run resumes it */
  K1_CACHE_CLIP,                /* the finished clip: a run makes no API call */
  K1_CACHE_LOST,                /* paid, then lost: a run fails, pays nothing */
  K1_CACHE_OFF,                 /* cache-mode disabled or refresh */
} K1CacheState;

typedef struct
{
  gboolean attach;              /* task-id set: nothing is created */
  const gchar *model;           /* API model id */
  gdouble billed_seconds;       /* -1: unknown */
  gboolean seconds_upper_bound; /* remote edit input, not measured: the most */
  gdouble credits;              /* if a task is created */
  gboolean credits_assumed;     /* from the assumed per-second edit rate */
  K1CacheState cache;
  gchar *key;                   /* store entry key, NULL with the cache off */
  gchar *entry_dir;
} K1Plan;

/* Validates the request like the element's start() and works out its cost,
 * locally: no network. @read_only: write nothing either (the store's memo of
 * file hashes is only read). */
gboolean     k1_plan_source (GstElement * src, gboolean read_only,
                             K1Plan * plan, GError ** error);
/* The clip.mp4 of the element's store entry for its request, NULL with the
 * cache disabled (or on error). @task_id: the task-id property as it was set
 * before the start (once started, the element reads its task back there). */
gchar       *k1_source_clip_path (GstElement * src, const gchar * task_id,
                                  GError ** error);
/* What starting it now would cost: 0 when the cache or journal serves it. */
gdouble      k1_plan_cost (const K1Plan * plan);
const gchar *k1_cache_state_to_string (K1CacheState state);
void         k1_plan_clear (K1Plan * plan);

/* ---- run.c: one klingo1src pipeline driven from the main loop ----------- */

typedef enum
{
  K1_RUN_IDLE,
  K1_RUN_RUNNING,
  K1_RUN_DONE,
  K1_RUN_FAILED,
  K1_RUN_STOPPED,
} K1RunState;

typedef enum
{
  K1_RUN_EVENT_STEP,            /* a phase began: text says which */
  K1_RUN_EVENT_TASK,            /* status or progress of the task changed */
  K1_RUN_EVENT_WARNING,         /* text is the element's warning */
  K1_RUN_EVENT_DONE,            /* state is final */
} K1RunEvent;

typedef struct _K1Run K1Run;
typedef void (*K1RunCallback) (K1Run * run, K1RunEvent event,
                               const gchar * text, gpointer user_data);

struct _K1Run
{
  K1RunState state;
  gchar *task_id;
  gchar *status;                /* uploading, pending, processing, ... */
  gint percent;                 /* -1: unknown */
  gint eta;                     /* s, -1: unknown */
  gboolean from_cache;          /* the clip came from the store, no API call */
  gchar *error_message;
  GstStructure *error_details;  /* klingo1-error, may be NULL */
  gchar *output;                /* final file, NULL: bytes discarded */

  /*< private >*/
  GstElement *pipeline;
  GstElement *src;
  gchar *tmp_path;
  guint bus_watch;
  guint done_idle;
  guint commit_wait;
  gint64 commit_deadline;
  gchar *commit_clip;
  gchar *attach_task_id;        /* task-id as configured */
  gboolean saw_api;
  gboolean saw_complete;
  gint64 started;
  gint64 ended;
  K1RunCallback callback;
  gpointer user_data;
};

/* Takes @src (configured; transfer full, floating or not). @output NULL:
 * the bytes go to a fakesink (submit). The clip is written to a temporary
 * name next to @output and renamed there at EOS. */
K1Run       *k1_run_new (GstElement * src, const gchar * output,
                         K1RunCallback callback, gpointer user_data,
                         GError ** error);
void         k1_run_start (K1Run * run);
/* Interrupts the run (the task goes on at the API). */
void         k1_run_stop (K1Run * run);
gdouble      k1_run_seconds (const K1Run * run);
void         k1_run_free (K1Run * run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (K1Run, k1_run_free)
/* Prints the error and its klingo1-error details, indented by @indent. */
void         k1_run_print_error (const K1Run * run, FILE * out,
                                 const gchar * indent);

/* ---- progress.c: the terminal display on stderr ------------------------- */

typedef struct _K1Progress K1Progress;

K1Progress  *k1_progress_new (void);
gboolean     k1_progress_is_tty (K1Progress * p);
/* A line that stays (the live line is redrawn under it). */
void         k1_progress_print (K1Progress * p, const gchar * format, ...)
    G_GNUC_PRINTF (2, 3);
/* On a terminal, replaces the live line; otherwise ignored. */
void         k1_progress_live (K1Progress * p, const gchar * text);
/* "[#####.....]  42%" */
gchar       *k1_progress_bar (gint percent, guint width);
void         k1_progress_end (K1Progress * p);
void         k1_progress_free (K1Progress * p);

/* ---- table.c: plain text tables on stdout ------------------------------ */

/* A row of NULL-terminated cells, for a GPtrArray freed with g_strfreev. */
gchar      **k1_table_row (const gchar * first, ...) G_GNUC_NULL_TERMINATED;
/* Columns padded to their widest cell; the last one is free text. */
void         k1_table_print (GPtrArray * rows, guint n_cols);

/* ---- jobs.c: jobs files ------------------------------------------------- */

typedef struct
{
  guint line;                   /* 1-based */
  gchar *output;                /* a file name in the output directory */
  JsonObject *members;          /* klingo1src properties by name */
  gchar *error;                 /* why the line is invalid, NULL if valid */
} K1Job;

/* Reads @path, keeping the jobs of shard @shard_k of @shard_n (1-based K;
 * a job is in the shard when its 0-based line index % N == K-1). Lines that
 * cannot be read become jobs with @error set; only an unreadable file
 * fails. */
GPtrArray   *k1_jobs_load (const gchar * path, guint shard_k, guint shard_n,
                           GError ** error);
/* Sets the job's members on @src, in file order. */
gboolean     k1_job_configure (const K1Job * job, GstElement * src,
                               GError ** error);

/* ---- status.c ---------------------------------------------------------- */

/* A library error and its details (HTTP status, API code...) on stderr. */
void         k1_print_library_error (const GError * error);

/* ---- subcommands -------------------------------------------------------- */

gint         k1_cmd_generate (gint argc, gchar ** argv);
gint         k1_cmd_submit (gint argc, gchar ** argv);
gint         k1_cmd_batch (gint argc, gchar ** argv);
gint         k1_cmd_status (gint argc, gchar ** argv);
gint         k1_cmd_tasks (gint argc, gchar ** argv);
gint         k1_cmd_credits (gint argc, gchar ** argv);

G_END_DECLS
