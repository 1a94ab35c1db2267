/* gst-klingo1: error domain of the Kling O1 client library
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_KLINGO1_ERROR (gst_klingo1_error_quark ())

/**
 * GstKlingo1ErrorCode:
 * @GST_KLINGO1_ERROR_INVALID_REQUEST: input failed validation; nothing was sent
 * @GST_KLINGO1_ERROR_AUTH: HTTP 401/403
 * @GST_KLINGO1_ERROR_QUOTA: HTTP 402
 * @GST_KLINGO1_ERROR_NOT_FOUND: HTTP 404 (model or task)
 * @GST_KLINGO1_ERROR_RATE_LIMITED: HTTP 429
 * @GST_KLINGO1_ERROR_SERVER: HTTP 5xx
 * @GST_KLINGO1_ERROR_HTTP: any other unexpected HTTP status, or a transport failure
 * @GST_KLINGO1_ERROR_PROTOCOL: a response that is not what the contract describes
 * @GST_KLINGO1_ERROR_TASK_FAILED: the task ended with status failed
 * @GST_KLINGO1_ERROR_TASK_CANCELLED: the task was cancelled on the server
 * @GST_KLINGO1_ERROR_TIMEOUT: the overall deadline passed
 * @GST_KLINGO1_ERROR_EXPIRED: a result link is no longer served
 * @GST_KLINGO1_ERROR_IO: local file or cache failure
 *
 * Every error of this domain can carry details (HTTP status, the API's own
 * code, message and type, the task id), read with the getters below.
 */
typedef enum
{
  GST_KLINGO1_ERROR_INVALID_REQUEST,
  GST_KLINGO1_ERROR_AUTH,
  GST_KLINGO1_ERROR_QUOTA,
  GST_KLINGO1_ERROR_NOT_FOUND,
  GST_KLINGO1_ERROR_RATE_LIMITED,
  GST_KLINGO1_ERROR_SERVER,
  GST_KLINGO1_ERROR_HTTP,
  GST_KLINGO1_ERROR_PROTOCOL,
  GST_KLINGO1_ERROR_TASK_FAILED,
  GST_KLINGO1_ERROR_TASK_CANCELLED,
  GST_KLINGO1_ERROR_TIMEOUT,
  GST_KLINGO1_ERROR_EXPIRED,
  GST_KLINGO1_ERROR_IO,
} GstKlingo1ErrorCode;

GQuark        gst_klingo1_error_quark (void);

/* Setters: only valid on errors of the GST_KLINGO1_ERROR domain. */
void          gst_klingo1_error_set_http_status (GError * error, guint status);
void          gst_klingo1_error_set_api_error (GError * error,
                                               const gchar * code,
                                               const gchar * message,
                                               const gchar * type);
void          gst_klingo1_error_set_task_id (GError * error,
                                             const gchar * task_id);
void          gst_klingo1_error_set_field (GError * error, const gchar * field);
void          gst_klingo1_error_set_retry_after (GError * error, guint seconds);

/* Getters: return 0 / NULL for errors of other domains or unset details. */
guint         gst_klingo1_error_get_http_status (const GError * error);
const gchar * gst_klingo1_error_get_api_code (const GError * error);
const gchar * gst_klingo1_error_get_api_message (const GError * error);
const gchar * gst_klingo1_error_get_api_type (const GError * error);
const gchar * gst_klingo1_error_get_task_id (const GError * error);
const gchar * gst_klingo1_error_get_field (const GError * error);
guint         gst_klingo1_error_get_retry_after (const GError * error);

/* A "klingo1-error" structure with the fields http-status (uint), api-code,
 * api-message, api-type, task-id, field (strings, when set); for
 * GST_ELEMENT_ERROR_WITH_DETAILS. */
GstStructure *gst_klingo1_error_to_details (const GError * error);

G_END_DECLS
