/* gst-klingo1: what differs between the services offering Kling O1, not
 * installed
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The client (client.c) owns the transport: sessions, retries, timeouts, the
 * mapping of HTTP statuses to errors, where the credentials may go. A provider
 * says what to send and how to read the answers. A new service is one new
 * provider-*.c file that fills this table (and a line below); members it
 * cannot offer are NULL.
 */
#pragma once

#include <libsoup/soup.h>
#include <gst/klingo1/request.h>
#include <gst/klingo1/task.h>

G_BEGIN_DECLS

typedef struct _GstKlingo1Provider GstKlingo1Provider;

struct _GstKlingo1Provider
{
  const gchar *name;

  /* Paths under the API URL. @task_path gets the escaped task id appended.
   * @credits_path NULL: no balance call. */
  const gchar *create_path;
  const gchar *task_path;
  const gchar *credits_path;
  /* Path of the streamed multipart upload under the Files URL, and the form
   * field of the file. NULL: local files cannot be sent. */
  const gchar *upload_path;
  const gchar *upload_field;
  /* Request header carrying the caller's idempotency key of a create; NULL:
   * the service has none (the key is not sent). */
  const gchar *idempotency_header;

  /* Puts @credentials on a request bound for the API's or the Files API's
   * origin; called before every hop, so a signed token can be made fresh. */
  void        (*authorize)        (SoupMessageHeaders * headers,
                                   const gchar * credentials);

  /* The body (JSON) of a create for @request, whose inputs are URLs. */
  gchar      *(*build_create_body) (const GstKlingo1Request * request,
                                    GError ** error);

  /* The task in a 2xx answer of a create or a task read; fails with
   * GST_KLINGO1_ERROR_PROTOCOL when the body is no task. */
  GstKlingo1Task *(*parse_task)   (const gchar * data, gsize len,
                                   GError ** error);

  /* The service's code, message and type in an error body (outputs may be
   * NULL); FALSE when the body is no error of the service. */
  gboolean    (*parse_error)      (const gchar * data, gsize len,
                                   gchar ** code, gchar ** message,
                                   gchar ** type);

  /* The file URL in a 2xx upload answer, @expires_at (may be NULL) when it
   * is gone. A body that refuses the upload (with a 2xx status) returns NULL
   * with @error unset and *@refused_status the HTTP status it names, 0 when
   * it names none; the client then builds the error from parse_error(). */
  gchar      *(*parse_upload)     (const gchar * data, gsize len,
                                   GDateTime ** expires_at,
                                   guint * refused_status, GError ** error);

  /* The balance in a 2xx answer of the credits call. */
  gboolean    (*parse_credits)    (const gchar * data, gsize len,
                                   gdouble * remaining, gdouble * used,
                                   GError ** error);
};

/* EvoLink (api.evolink.ai + files-api.evolink.ai): the default. */
const GstKlingo1Provider *gst_klingo1_provider_evolink (void);

G_END_DECLS
