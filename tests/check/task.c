/* gst-klingo1: task parsing tests
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The payloads are the documented examples of the API contract (create
 * response, the task states, both generations of error bodies).
 */
#include <string.h>
#include <gst/check/gstcheck.h>
#include "task-private.h"
#include <gst/klingo1/task.h>
#include <gst/klingo1/error.h>

static const gchar *create_response =
    "{\n"
    "  \"created\": 1757169743,\n"
    "  \"id\": \"task-unified-1757169743-7cvnl5zw\",\n"
    "  \"model\": \"kling-o1-image-to-video\",\n"
    "  \"object\": \"video.generation.task\",\n"
    "  \"progress\": 0,\n"
    "  \"status\": \"pending\",\n"
    "  \"task_info\": { \"can_cancel\": true, \"estimated_time\": 300,"
    " \"video_duration\": 9 },\n"
    "  \"type\": \"video\",\n"
    "  \"usage\": { \"billing_rule\": \"per_call\", \"credits_reserved\": 7,"
    " \"user_group\": \"default\" }\n" "}";

static const gchar *pending_response =
    "{\"created\":1757169743,\"id\":\"task-unified-1757169743-7cvnl5zw\","
    "\"model\":\"kling-o1-video-edit\",\"object\":\"video.generation.task\","
    "\"progress\":0,\"status\":\"pending\",\"task_info\":{\"can_cancel\":true,"
    "\"estimated_time\":300,\"video_duration\":9},\"type\":\"video\"}";

static const gchar *processing_response =
    "{\"created\":1757169743,\"id\":\"task-unified-1757169743-7cvnl5zw\","
    "\"model\":\"kling-o1-video-edit\",\"object\":\"video.generation.task\","
    "\"progress\":42,\"status\":\"processing\",\"task_info\":"
    "{\"can_cancel\":false},\"type\":\"video\"}";

static const gchar *completed_response =
    "{\"created\":1757169743,\"id\":\"task-unified-1757169743-7cvnl5zw\","
    "\"model\":\"kling-o1-image-to-video\",\"object\":\"video.generation.task\","
    "\"progress\":100,\"results\":[\"https://cdn.example.com/video.mp4\"],"
    "\"status\":\"completed\",\"task_info\":{\"can_cancel\":false},"
    "\"type\":\"video\"}";

static const gchar *failed_response =
    "{\"id\":\"task-unified-1772618027-cmeisy8h\","
    "\"object\":\"video.generation.task\",\"status\":\"failed\","
    "\"model\":\"kling-o1-video-edit\",\"progress\":0,\"error\":"
    "{\"code\":\"content_policy_violation\",\"message\":\"Content policy "
    "violation.\\nYour request was blocked by safety filters...\","
    "\"type\":\"task_error\"}}";

GST_START_TEST (test_create_response)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstKlingo1Task) task = NULL;

  task = gst_klingo1_task_new_from_json (create_response, -1, &error);
  g_assert_no_error (error);
  fail_unless (task != NULL);
  fail_unless_equals_string (task->id, "task-unified-1757169743-7cvnl5zw");
  fail_unless_equals_string (task->model, "kling-o1-image-to-video");
  fail_unless_equals_int (task->status, GST_KLINGO1_TASK_STATUS_PENDING);
  fail_unless_equals_int (task->progress, 0);
  fail_unless_equals_int64 (task->created, 1757169743);
  fail_unless_equals_int (task->estimated_time, 300);
  fail_unless (task->results == NULL);
  fail_unless (task->error_code == NULL);
  fail_unless (task->error_message == NULL);
  fail_unless (!gst_klingo1_task_status_is_final (task->status));
  fail_unless (gst_klingo1_task_to_error (task) == NULL);
}

GST_END_TEST;

GST_START_TEST (test_pending_processing)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstKlingo1Task) pending = NULL;
  g_autoptr (GstKlingo1Task) processing = NULL;

  pending = gst_klingo1_task_new_from_json (pending_response,
      strlen (pending_response), &error);
  g_assert_no_error (error);
  fail_unless_equals_int (pending->status, GST_KLINGO1_TASK_STATUS_PENDING);
  fail_unless_equals_string (pending->model, "kling-o1-video-edit");
  fail_unless_equals_int (pending->estimated_time, 300);

  processing = gst_klingo1_task_new_from_json (processing_response, -1,
      &error);
  g_assert_no_error (error);
  fail_unless_equals_int (processing->status,
      GST_KLINGO1_TASK_STATUS_PROCESSING);
  fail_unless_equals_int (processing->progress, 42);
  /* task_info without estimated_time */
  fail_unless_equals_int (processing->estimated_time, -1);
  fail_unless_equals_string (gst_klingo1_task_status_to_string
      (processing->status), "processing");
}

GST_END_TEST;

GST_START_TEST (test_completed)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstKlingo1Task) task = NULL;
  g_autoptr (GstKlingo1Task) copy = NULL;

  task = gst_klingo1_task_new_from_json (completed_response, -1, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (task->status, GST_KLINGO1_TASK_STATUS_COMPLETED);
  fail_unless_equals_int (task->progress, 100);
  fail_unless (task->results != NULL);
  fail_unless_equals_int (g_strv_length (task->results), 1);
  fail_unless_equals_string (task->results[0],
      "https://cdn.example.com/video.mp4");
  fail_unless (gst_klingo1_task_status_is_final (task->status));
  fail_unless (gst_klingo1_task_to_error (task) == NULL);

  copy = gst_klingo1_task_copy (task);
  fail_unless (copy != task);
  fail_unless_equals_string (copy->id, task->id);
  fail_unless (copy->results != task->results);
  fail_unless_equals_string (copy->results[0], task->results[0]);
  fail_unless_equals_int64 (copy->created, task->created);
  fail_unless_equals_int (copy->estimated_time, task->estimated_time);
}

GST_END_TEST;

GST_START_TEST (test_results_variants)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstKlingo1Task) a = NULL;
  g_autoptr (GstKlingo1Task) b = NULL;

  /* results as objects */
  a = gst_klingo1_task_new_from_json ("{\"id\":\"task-unified-1-a\","
      "\"status\":\"completed\",\"results\":[{\"url\":\"https://x/1.mp4\"},"
      "{\"video_url\":\"https://x/2.mp4\"}, 7, null]}", -1, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (g_strv_length (a->results), 2);
  fail_unless_equals_string (a->results[0], "https://x/1.mp4");
  fail_unless_equals_string (a->results[1], "https://x/2.mp4");

  /* result_data[].video_url, seen in EvoLink's own client */
  b = gst_klingo1_task_new_from_json ("{\"id\":\"task-unified-1-b\","
      "\"status\":\"completed\",\"result_data\":[{\"video_url\":"
      "\"https://x/3.mp4\"}]}", -1, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (g_strv_length (b->results), 1);
  fail_unless_equals_string (b->results[0], "https://x/3.mp4");
}

GST_END_TEST;

GST_START_TEST (test_failed)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) terr = NULL;
  g_autoptr (GstKlingo1Task) task = NULL;

  task = gst_klingo1_task_new_from_json (failed_response, -1, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (task->status, GST_KLINGO1_TASK_STATUS_FAILED);
  fail_unless_equals_string (task->error_code, "content_policy_violation");
  fail_unless (g_str_has_prefix (task->error_message,
          "Content policy violation.\nYour request"));
  fail_unless_equals_string (task->error_type, "task_error");
  fail_unless_equals_int64 (task->created, 0);
  fail_unless_equals_int (task->estimated_time, -1);
  fail_unless (gst_klingo1_task_status_is_final (task->status));

  terr = gst_klingo1_task_to_error (task);
  fail_unless (terr != NULL);
  fail_unless (g_error_matches (terr, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_TASK_FAILED));
  fail_unless (strstr (terr->message,
          "Task task-unified-1772618027-cmeisy8h failed: Content policy "
          "violation.") != NULL, "message: %s", terr->message);
  fail_unless (strstr (terr->message, "(code content_policy_violation)")
      != NULL, "message: %s", terr->message);
  fail_unless_equals_string (gst_klingo1_error_get_api_code (terr),
      "content_policy_violation");
  fail_unless_equals_string (gst_klingo1_error_get_api_type (terr),
      "task_error");
  fail_unless_equals_string (gst_klingo1_error_get_api_message (terr),
      task->error_message);
  fail_unless_equals_string (gst_klingo1_error_get_task_id (terr),
      "task-unified-1772618027-cmeisy8h");
}

GST_END_TEST;

GST_START_TEST (test_cancelled_both_forms)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) terr = NULL;
  g_autoptr (GstKlingo1Task) a = NULL;
  g_autoptr (GstKlingo1Task) b = NULL;
  g_autoptr (GstKlingo1Task) c = NULL;

  /* the form a third-party note describes */
  a = gst_klingo1_task_new_from_json ("{\"id\":\"task-unified-2-a\","
      "\"status\":\"failed\",\"error\":{\"code\":\"request_cancelled\","
      "\"message\":\"Request was cancelled\",\"type\":\"task_error\"}}", -1,
      &error);
  g_assert_no_error (error);
  fail_unless_equals_int (a->status, GST_KLINGO1_TASK_STATUS_CANCELLED);
  terr = gst_klingo1_task_to_error (a);
  fail_unless (g_error_matches (terr, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_TASK_CANCELLED));
  fail_unless (strstr (terr->message, "task-unified-2-a") != NULL);
  fail_unless (strstr (terr->message, "request_cancelled") != NULL);
  fail_unless_equals_string (gst_klingo1_error_get_task_id (terr),
      "task-unified-2-a");

  /* the form EvoLink's newest client expects, both spellings */
  b = gst_klingo1_task_new_from_json ("{\"id\":\"task-unified-2-b\","
      "\"status\":\"cancelled\"}", -1, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (b->status, GST_KLINGO1_TASK_STATUS_CANCELLED);
  fail_unless_equals_string (gst_klingo1_task_status_to_string (b->status),
      "cancelled");

  c = gst_klingo1_task_new_from_json ("{\"id\":\"task-unified-2-c\","
      "\"status\":\"canceled\"}", -1, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (c->status, GST_KLINGO1_TASK_STATUS_CANCELLED);
  fail_unless (gst_klingo1_task_status_is_final (c->status));
}

GST_END_TEST;

GST_START_TEST (test_error_code_integer)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) terr = NULL;
  g_autoptr (GstKlingo1Task) task = NULL;

  task = gst_klingo1_task_new_from_json ("{\"id\":\"task-unified-3-a\","
      "\"status\":\"failed\",\"error\":{\"code\":500,\"message\":\"boom\","
      "\"type\":\"task_error\"}}", -1, &error);
  g_assert_no_error (error);
  fail_unless_equals_string (task->error_code, "500");
  terr = gst_klingo1_task_to_error (task);
  fail_unless_equals_string (terr->message,
      "Task task-unified-3-a failed: boom (code 500)");
  fail_unless_equals_string (gst_klingo1_error_get_api_code (terr), "500");
}

GST_END_TEST;

GST_START_TEST (test_tolerant_fields)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstKlingo1Task) a = NULL;
  g_autoptr (GstKlingo1Task) b = NULL;
  g_autoptr (GstKlingo1Task) c = NULL;
  g_autoptr (GstKlingo1Task) d = NULL;

  /* unknown fields of every kind, double progress, error: null */
  a = gst_klingo1_task_new_from_json ("{\"id\":\"task-unified-4-a\","
      "\"status\":\"processing\",\"progress\":55.7,\"error\":null,"
      "\"whatever\":{\"nested\":[1,2,{\"x\":null}]},\"usage\":{\"cost\":"
      "{\"usd\":0.5}},\"created\":1757169743.0,\"results\":null,"
      "\"task_info\":{\"estimated_time\":null,\"new\":true}}", -1, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (a->status, GST_KLINGO1_TASK_STATUS_PROCESSING);
  fail_unless_equals_int (a->progress, 55);
  fail_unless_equals_int64 (a->created, 1757169743);
  fail_unless_equals_int (a->estimated_time, -1);
  fail_unless (a->results == NULL);
  fail_unless (a->error_code == NULL);
  fail_unless (a->model == NULL);

  /* progress clamped on both sides */
  b = gst_klingo1_task_new_from_json ("{\"id\":\"task-unified-4-b\","
      "\"status\":\"processing\",\"progress\":150}", -1, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (b->progress, 100);
  c = gst_klingo1_task_new_from_json ("{\"id\":\"task-unified-4-c\","
      "\"status\":\"processing\",\"progress\":-3}", -1, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (c->progress, 0);

  /* an unknown status is kept as UNKNOWN, not refused */
  d = gst_klingo1_task_new_from_json ("{\"id\":\"task-unified-4-d\","
      "\"status\":\"warming_up\"}", -1, &error);
  g_assert_no_error (error);
  fail_unless_equals_int (d->status, GST_KLINGO1_TASK_STATUS_UNKNOWN);
  fail_unless (!gst_klingo1_task_status_is_final (d->status));
  fail_unless (gst_klingo1_task_to_error (d) == NULL);
}

GST_END_TEST;

static void
assert_protocol_error (const gchar * data, gssize len, const gchar * needle)
{
  g_autoptr (GError) error = NULL;
  GstKlingo1Task *task;

  task = gst_klingo1_task_new_from_json (data, len, &error);
  fail_unless (task == NULL);
  fail_unless (g_error_matches (error, GST_KLINGO1_ERROR,
          GST_KLINGO1_ERROR_PROTOCOL), "unexpected error for %s", data);
  fail_unless (strstr (error->message, needle) != NULL,
      "\"%s\" not in \"%s\"", needle, error->message);
}

GST_START_TEST (test_invalid)
{
  assert_protocol_error ("{\"id\": ", -1, "Invalid JSON");
  assert_protocol_error ("<html>Bad gateway</html>", -1, "Invalid JSON");
  assert_protocol_error ("", -1, "Empty");
  assert_protocol_error ("[1,2,3]", -1, "not a JSON object");
  assert_protocol_error ("\"task\"", -1, "not a JSON object");
  assert_protocol_error ("{\"status\":\"pending\"}", -1, "\"id\"");
  assert_protocol_error ("{\"id\":42,\"status\":\"pending\"}", -1, "\"id\"");
  assert_protocol_error ("{\"id\":\"task-unified-5\"}", -1, "\"status\"");
  assert_protocol_error ("{\"id\":\"task-unified-5\",\"status\":null}", -1,
      "\"status\"");
  /* len is honoured: the object is cut short */
  assert_protocol_error (completed_response, 20, "Invalid JSON");
}

GST_END_TEST;

GST_START_TEST (test_oversize)
{
  gsize size = GST_KLINGO1_MAX_RESPONSE_BYTES + 64;
  g_autofree gchar *big = g_malloc (size + 1);
  const gchar *head = "{\"id\":\"task-unified-6\",\"status\":\"pending\","
      "\"pad\":\"";

  memset (big, 'a', size);
  memcpy (big, head, strlen (head));
  big[size - 2] = '"';
  big[size - 1] = '}';
  big[size] = '\0';

  assert_protocol_error (big, -1, "exceeds the limit");
  assert_protocol_error (big, size, "exceeds the limit");
}

GST_END_TEST;

static void
check_api_error (const gchar * body, const gchar * ecode,
    const gchar * emessage, const gchar * etype)
{
  g_autofree gchar *code = NULL;
  g_autofree gchar *message = NULL;
  g_autofree gchar *type = NULL;

  fail_unless (gst_klingo1_api_error_parse (body, -1, &code, &message,
          &type), "not parsed: %s", body);
  fail_unless_equals_string (code, ecode);
  fail_unless_equals_string (message, emessage);
  fail_unless_equals_string (type, etype);
}

GST_START_TEST (test_api_error_parse)
{
  g_autofree gchar *code = NULL;

  /* older generation: integer code, extra keys */
  check_api_error ("{\"error\":{\"code\":402,\"message\":\"Insufficient "
      "quota\",\"type\":\"insufficient_quota_error\",\"fallback_suggestion\":"
      "\"https://evolink.ai/dashboard/billing\"}}", "402",
      "Insufficient quota", "insufficient_quota_error");
  check_api_error ("{\"error\":{\"code\":404,\"message\":\"Task not found "
      "or expired\",\"type\":\"not_found_error\",\"param\":\"task_id\"}}",
      "404", "Task not found or expired", "not_found_error");
  /* newer generation: string code */
  check_api_error ("{\"error\":{\"code\":\"rate_limit_exceeded\","
      "\"message\":\"Rate limit exceeded\",\"type\":\"evo_api_error\"}}",
      "rate_limit_exceeded", "Rate limit exceeded", "evo_api_error");
  check_api_error ("{\"error\":{\"code\":\"unauthorized\",\"message\":"
      "\"Invalid or expired token\",\"type\":\"authentication_error\"}}",
      "unauthorized", "Invalid or expired token", "authentication_error");
  /* Files API */
  check_api_error ("{\"success\":false,\"code\":413,\"msg\":\"File too "
      "large\"}", "413", "File too large", NULL);
  /* defensive: gateway shapes */
  check_api_error ("{\"message\":\"Bad gateway\"}", NULL, "Bad gateway",
      NULL);
  check_api_error ("{\"error\":\"Unauthorized\"}", NULL, "Unauthorized",
      NULL);

  /* outputs may be NULL */
  fail_unless (gst_klingo1_api_error_parse ("{\"error\":{\"code\":\"x\"}}",
          -1, NULL, NULL, NULL));
  fail_unless (gst_klingo1_api_error_parse ("{\"error\":{\"code\":\"x\"}}",
          -1, &code, NULL, NULL));
  fail_unless_equals_string (code, "x");

  /* not an error body */
  fail_if (gst_klingo1_api_error_parse ("not json", -1, NULL, NULL, NULL));
  fail_if (gst_klingo1_api_error_parse ("[]", -1, NULL, NULL, NULL));
  fail_if (gst_klingo1_api_error_parse ("{\"success\":true,\"data\":{}}", -1,
          NULL, NULL, NULL));
  fail_if (gst_klingo1_api_error_parse (completed_response, -1, NULL, NULL,
          NULL));
  fail_if (gst_klingo1_api_error_parse (NULL, 0, NULL, NULL, NULL));
}

GST_END_TEST;

static Suite *
task_suite (void)
{
  Suite *s = suite_create ("klingo1-task");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_create_response);
  tcase_add_test (tc, test_pending_processing);
  tcase_add_test (tc, test_completed);
  tcase_add_test (tc, test_results_variants);
  tcase_add_test (tc, test_failed);
  tcase_add_test (tc, test_cancelled_both_forms);
  tcase_add_test (tc, test_error_code_integer);
  tcase_add_test (tc, test_tolerant_fields);
  tcase_add_test (tc, test_invalid);
  tcase_add_test (tc, test_oversize);
  tcase_add_test (tc, test_api_error_parse);
  return s;
}

GST_CHECK_MAIN (task);
