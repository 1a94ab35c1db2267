/* gst-klingo1: a generation request and its validation
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Validation checks every limit of the API contract (kling-o1-api.md 1.1-1.3,
 * 1.6) before anything is uploaded or billed, and names the element property
 * at fault so the user knows what to change. Cheap checks (prompt, counts,
 * duration, aspect ratio, callback URL) run before the ones that touch files.
 */
#include <string.h>

#include <json-glib/json-glib.h>

#include "request-private.h"
#include <gst/klingo1/request.h>
#include <gst/klingo1/input.h>
#include <gst/klingo1/store.h>
#include <gst/klingo1/error.h>

#define HASH_VERSION "klingo1-request-v1\n"

static const gchar *const model_ids[] = {
  [GST_KLINGO1_MODEL_IMAGE_TO_VIDEO] = "kling-o1-image-to-video",
  [GST_KLINGO1_MODEL_VIDEO_EDIT] = "kling-o1-video-edit",
  [GST_KLINGO1_MODEL_VIDEO_EDIT_FAST] = "kling-o1-video-edit-fast",
};

static const gchar *const aspect_strings[] = {
  [GST_KLINGO1_ASPECT_RATIO_UNSET] = NULL,
  [GST_KLINGO1_ASPECT_RATIO_16_9] = "16:9",
  [GST_KLINGO1_ASPECT_RATIO_9_16] = "9:16",
  [GST_KLINGO1_ASPECT_RATIO_1_1] = "1:1",
};

GstKlingo1Request *
gst_klingo1_request_new (GstKlingo1Model model)
{
  GstKlingo1Request *req = g_new0 (GstKlingo1Request, 1);

  req->model = model;
  req->images = g_ptr_array_new_with_free_func (g_free);
  req->aspect_ratio = GST_KLINGO1_ASPECT_RATIO_UNSET;
  req->duration = 0;
  /* The O1 pages state no default; O3 and the resellers default to keeping
   * the sound, and dropping it silently would surprise more. */
  req->keep_original_sound = TRUE;

  return req;
}

GstKlingo1Request *
gst_klingo1_request_copy (const GstKlingo1Request * req)
{
  GstKlingo1Request *copy;
  guint i;

  g_return_val_if_fail (req != NULL, NULL);

  copy = gst_klingo1_request_new (req->model);
  copy->prompt = g_strdup (req->prompt);
  if (req->images != NULL) {
    for (i = 0; i < req->images->len; i++)
      g_ptr_array_add (copy->images,
          g_strdup (g_ptr_array_index (req->images, i)));
  }
  copy->video = g_strdup (req->video);
  copy->aspect_ratio = req->aspect_ratio;
  copy->duration = req->duration;
  copy->keep_original_sound = req->keep_original_sound;
  copy->callback_url = g_strdup (req->callback_url);

  return copy;
}

void
gst_klingo1_request_free (GstKlingo1Request * req)
{
  if (req == NULL)
    return;

  g_free (req->prompt);
  g_clear_pointer (&req->images, g_ptr_array_unref);
  g_free (req->video);
  g_free (req->callback_url);
  g_free (req);
}

const gchar *
gst_klingo1_model_to_api_id (GstKlingo1Model model)
{
  if ((guint) model >= G_N_ELEMENTS (model_ids))
    return NULL;
  return model_ids[model];
}

gboolean
gst_klingo1_model_from_api_id (const gchar * id, GstKlingo1Model * model)
{
  guint i;

  if (id == NULL)
    return FALSE;

  for (i = 0; i < G_N_ELEMENTS (model_ids); i++) {
    if (strcmp (id, model_ids[i]) == 0) {
      if (model != NULL)
        *model = (GstKlingo1Model) i;
      return TRUE;
    }
  }
  return FALSE;
}

const gchar *
gst_klingo1_aspect_ratio_to_string (GstKlingo1AspectRatio ar)
{
  if ((guint) ar >= G_N_ELEMENTS (aspect_strings))
    return NULL;
  return aspect_strings[ar];
}

gboolean
gst_klingo1_aspect_ratio_from_string (const gchar * s,
    GstKlingo1AspectRatio * ar)
{
  guint i;

  /* NULL is the unset value, so that to_string/from_string round-trip */
  if (s == NULL) {
    if (ar != NULL)
      *ar = GST_KLINGO1_ASPECT_RATIO_UNSET;
    return TRUE;
  }

  for (i = 0; i < G_N_ELEMENTS (aspect_strings); i++) {
    if (aspect_strings[i] != NULL && strcmp (s, aspect_strings[i]) == 0) {
      if (ar != NULL)
        *ar = (GstKlingo1AspectRatio) i;
      return TRUE;
    }
  }
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Validation */

static gboolean
is_edit_model (GstKlingo1Model model)
{
  return model == GST_KLINGO1_MODEL_VIDEO_EDIT
      || model == GST_KLINGO1_MODEL_VIDEO_EDIT_FAST;
}

static guint
n_images (const GstKlingo1Request * req)
{
  return req->images != NULL ? req->images->len : 0;
}

/* The callback URL is optional; an empty string (a cleared property) counts
 * as unset everywhere. */
static const gchar *
effective_callback (const GstKlingo1Request * req)
{
  if (req->callback_url == NULL || req->callback_url[0] == '\0')
    return NULL;
  return req->callback_url;
}

static guint
effective_duration (const GstKlingo1Request * req)
{
  if (is_edit_model (req->model))
    return 0;
  return req->duration != 0 ? req->duration : GST_KLINGO1_DEFAULT_DURATION;
}

static void
set_invalid (GError ** error, const gchar * field, const gchar * format, ...)
    G_GNUC_PRINTF (3, 4);

static void
set_invalid (GError ** error, const gchar * field, const gchar * format, ...)
{
  va_list args;
  gchar *message;

  if (error == NULL)
    return;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error_literal (error, GST_KLINGO1_ERROR,
      GST_KLINGO1_ERROR_INVALID_REQUEST, message);
  gst_klingo1_error_set_field (*error, field);
  g_free (message);
}

static gboolean
validate_prompt (const GstKlingo1Request * req, GError ** error)
{
  g_autofree gchar *trimmed = NULL;
  glong n_chars;

  if (req->prompt == NULL) {
    set_invalid (error, "prompt", "prompt: required (1 to %d characters)",
        GST_KLINGO1_PROMPT_MAX_CHARS);
    return FALSE;
  }

  if (!g_utf8_validate (req->prompt, -1, NULL)) {
    set_invalid (error, "prompt", "prompt: not valid UTF-8");
    return FALSE;
  }

  trimmed = g_strstrip (g_strdup (req->prompt));
  if (trimmed[0] == '\0') {
    set_invalid (error, "prompt",
        "prompt: empty or only whitespace, it must have 1 to %d characters",
        GST_KLINGO1_PROMPT_MAX_CHARS);
    return FALSE;
  }

  /* The limit is in characters, not bytes: count code points of the prompt
   * as it will be sent (untrimmed). */
  n_chars = g_utf8_strlen (req->prompt, -1);
  if (n_chars > GST_KLINGO1_PROMPT_MAX_CHARS) {
    set_invalid (error, "prompt", "prompt: %ld characters, the limit is %d",
        n_chars, GST_KLINGO1_PROMPT_MAX_CHARS);
    return FALSE;
  }

  return TRUE;
}

static gboolean
validate_shape (const GstKlingo1Request * req, GError ** error)
{
  const gchar *model_id = gst_klingo1_model_to_api_id (req->model);
  guint n = n_images (req);

  if (model_id == NULL) {
    set_invalid (error, "model", "model: unknown model %d; expected one of "
        "kling-o1-image-to-video, kling-o1-video-edit, "
        "kling-o1-video-edit-fast", (gint) req->model);
    return FALSE;
  }

  if ((guint) req->aspect_ratio >= G_N_ELEMENTS (aspect_strings)) {
    set_invalid (error, "aspect-ratio", "aspect-ratio: unknown value %d; "
        "expected 16:9, 9:16 or 1:1", (gint) req->aspect_ratio);
    return FALSE;
  }

  if (!is_edit_model (req->model)) {
    if (n < 1 || n > 2) {
      set_invalid (error, "images", "images: %s takes 1 or 2 images (first "
          "frame, or first and last), got %u", model_id, n);
      return FALSE;
    }
    if (req->video != NULL) {
      set_invalid (error, "video", "video: %s takes no video (only the "
          "video-edit models do)", model_id);
      return FALSE;
    }
    if (req->duration != 0 && req->duration != 5 && req->duration != 10) {
      set_invalid (error, "duration", "duration: %u s is not allowed; %s "
          "takes 5 or 10", req->duration, model_id);
      return FALSE;
    }
  } else {
    if (req->video == NULL || req->video[0] == '\0') {
      set_invalid (error, "video", "video: required for %s (exactly 1 video)",
          model_id);
      return FALSE;
    }
    if (n > GST_KLINGO1_EDIT_MAX_IMAGES) {
      set_invalid (error, "images", "images: %s takes at most %d reference "
          "images, got %u", model_id, GST_KLINGO1_EDIT_MAX_IMAGES, n);
      return FALSE;
    }
    if (req->duration != 0) {
      set_invalid (error, "duration", "duration: %s takes no duration (the "
          "output follows the input video); it must be 0, got %u s",
          model_id, req->duration);
      return FALSE;
    }
    /* Documented for image-to-video only; one stored rendering of the edit
     * page lists it, the others do not (contract section 2.3). Refuse rather
     * than send a field the server may reject or ignore. */
    if (req->aspect_ratio != GST_KLINGO1_ASPECT_RATIO_UNSET) {
      set_invalid (error, "aspect-ratio", "aspect-ratio: only "
          "kling-o1-image-to-video takes an aspect ratio, not %s", model_id);
      return FALSE;
    }
  }

  return TRUE;
}

/* Why a callback host cannot be a public server, as a phrase that follows
 * "is" ("a loopback address"), or NULL when it can be. */

/* One part of an IPv4 literal as inet_aton() and the WHATWG URL parser read
 * it: 0x/0X hex, a leading 0 octal, else decimal. "0x" alone is 0 for WHATWG
 * (glibc refuses it); accepting it here only refuses more. */
static gboolean
parse_ipv4_part (const gchar * s, gsize len, guint64 * value)
{
  guint base = 10;
  guint64 v = 0;
  gsize i = 0;

  if (len == 0)
    return FALSE;
  if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    i = 2;
  } else if (len >= 2 && s[0] == '0') {
    base = 8;
    i = 1;
  }

  for (; i < len; i++) {
    gint digit;

    if (base == 16) {
      digit = g_ascii_xdigit_value (s[i]);
    } else {
      digit = g_ascii_digit_value (s[i]);
      if (digit >= (gint) base)
        return FALSE;
    }
    if (digit < 0)
      return FALSE;
    v = v * base + digit;
    /* larger than any part can be: stop before guint64 wraps */
    if (v > G_MAXUINT32)
      return FALSE;
  }

  *value = v;
  return TRUE;
}

/* "a", "a.b", "a.b.c" or "a.b.c.d", the last part filling the bytes left
 * (127.1 is 127.0.0.1, 2130706433 is 127.0.0.1 too): what getaddrinfo()
 * resolves and what a server's URL parser connects to. */
static gboolean
parse_ipv4_literal (const gchar * host, guint8 addr[4])
{
  g_auto (GStrv) parts = g_strsplit (host, ".", -1);
  guint n = g_strv_length (parts);
  guint64 values[4];
  guint64 last_max;
  guint32 v = 0;
  guint i;

  if (n < 1 || n > 4)
    return FALSE;

  for (i = 0; i < n; i++) {
    if (!parse_ipv4_part (parts[i], strlen (parts[i]), &values[i]))
      return FALSE;
    if (i < n - 1 && values[i] > 0xff)
      return FALSE;
  }

  last_max = G_MAXUINT32 >> (8 * (n - 1));
  if (values[n - 1] > last_max)
    return FALSE;

  for (i = 0; i < n - 1; i++)
    v |= (guint32) values[i] << (24 - 8 * i);
  v |= (guint32) values[n - 1];

  addr[0] = v >> 24;
  addr[1] = (v >> 16) & 0xff;
  addr[2] = (v >> 8) & 0xff;
  addr[3] = v & 0xff;
  return TRUE;
}

/* The WHATWG rule: a host whose last label is a number is an IPv4 address or
 * invalid, never a name (no top-level domain is numeric). */
static gboolean
ends_in_number (const gchar * host)
{
  const gchar *last = strrchr (host, '.');
  const gchar *p;

  last = last != NULL ? last + 1 : host;
  if (*last == '\0')
    return FALSE;

  if (last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
    for (p = last + 2; *p != '\0'; p++) {
      if (!g_ascii_isxdigit (*p))
        return FALSE;
    }
    return TRUE;
  }

  for (p = last; *p != '\0'; p++) {
    if (!g_ascii_isdigit (*p))
      return FALSE;
  }
  return TRUE;
}

static const gchar *
ipv4_refusal (const guint8 a[4])
{
  if (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0)
    return "the unspecified address";
  if (a[0] == 0)
    return "a this-network address (0.0.0.0/8)";
  if (a[0] == 127)
    return "a loopback address";
  if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16)
      || (a[0] == 192 && a[1] == 168))
    return "a private address";
  if (a[0] == 169 && a[1] == 254)
    return "a link-local address";
  if (a[0] == 100 && (a[1] & 0xc0) == 64)
    return "a shared address (carrier-grade NAT, 100.64.0.0/10)";
  if ((a[0] & 0xf0) == 224)
    return "a multicast address";
  if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255)
    return "the broadcast address";
  if ((a[0] & 0xf0) == 240)
    return "a reserved address (240.0.0.0/4)";
  return NULL;
}

/* IPv6 prefixes (96 bits) that carry an IPv4 address in the last 32 bits:
 * IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96, deprecated but still
 * routed to the IPv4 host by some stacks) and the NAT64 well-known prefix
 * (64:ff9b::/96). A connection to them reaches the embedded IPv4 host. */
static gboolean
ipv6_embeds_ipv4 (const guint8 b[16])
{
  static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
    0xff
  };
  static const guint8 compat[12] = { 0 };
  static const guint8 nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0,
    0, 0
  };

  return memcmp (b, mapped, 12) == 0 || memcmp (b, compat, 12) == 0
      || memcmp (b, nat64, 12) == 0;
}

static const gchar *
ipv6_refusal (const guint8 b[16], gchar ** embedded)
{
  static const guint8 loopback[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 1
  };
  static const guint8 any[16] = { 0 };

  /* :: and ::1 lie inside the IPv4-compatible prefix: judge them first */
  if (memcmp (b, any, 16) == 0)
    return "the unspecified address";
  if (memcmp (b, loopback, 16) == 0)
    return "a loopback address";

  if (ipv6_embeds_ipv4 (b)) {
    const gchar *why = ipv4_refusal (b + 12);

    if (why != NULL)
      *embedded = g_strdup_printf ("%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
    return why;
  }

  if (b[0] == 0xff)
    return "a multicast address";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
    return "a link-local address";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
    return "a site-local address";
  if ((b[0] & 0xfe) == 0xfc)
    return "a unique-local address";
  return NULL;
}

/* Compared by address: the one refusal that is not about a range. */
static const gchar host_invalid[] = "not a valid IP address (a host whose "
    "last label is a number must be one)";

/* @host as GUri gives it: percent-decoded, IDN mapped to ASCII (so fullwidth
 * digits are plain digits), IPv6 without brackets. *@address is the address
 * the host spells when that differs from its text. */
static const gchar *
host_refusal (const gchar * host, gchar ** address)
{
  g_autofree gchar *lower = g_ascii_strdown (host, -1);
  gsize len = strlen (lower);
  guint8 v4[4];

  *address = NULL;

  /* a trailing dot names the same host (and WHATWG ignores it in IPv4) */
  if (len > 0 && lower[len - 1] == '.')
    lower[--len] = '\0';
  if (len == 0)
    return host_invalid;

  if (strchr (lower, ':') != NULL) {
    g_autoptr (GInetAddress) addr = NULL;
    gchar *zone = strchr (lower, '%');

    /* fe80::1%eth0: the zone only picks the interface */
    if (zone != NULL)
      *zone = '\0';
    addr = g_inet_address_new_from_string (lower);
    if (addr == NULL || g_inet_address_get_family (addr) !=
        G_SOCKET_FAMILY_IPV6)
      return host_invalid;
    return ipv6_refusal (g_inet_address_to_bytes (addr), address);
  }

  /* RFC 6761: these names always resolve to the local machine */
  if (strcmp (lower, "localhost") == 0
      || g_str_has_suffix (lower, ".localhost"))
    return "a name of the local machine";

  if (!ends_in_number (lower))
    return NULL;

  if (!parse_ipv4_literal (lower, v4))
    return host_invalid;

  *address = g_strdup_printf ("%u.%u.%u.%u", v4[0], v4[1], v4[2], v4[3]);
  if (strcmp (*address, lower) == 0)
    g_clear_pointer (address, g_free);
  return ipv4_refusal (v4);
}

static gboolean
validate_callback (const GstKlingo1Request * req, GError ** error)
{
  const gchar *url = effective_callback (req);
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) parse_error = NULL;
  g_autofree gchar *address = NULL;
  const gchar *host, *why, *c;
  gsize len;

  if (url == NULL)
    return TRUE;

  len = strlen (url);
  if (len > GST_KLINGO1_CALLBACK_URL_MAX_LEN) {
    set_invalid (error, "callback-url", "callback-url: %" G_GSIZE_FORMAT
        " characters, the limit is %d", len, GST_KLINGO1_CALLBACK_URL_MAX_LEN);
    return FALSE;
  }

  /* URL parsers disagree about these: for "https://127.0.0.1\\@example.com/"
   * WHATWG parsers (and so, likely, the API's server) connect to 127.0.0.1,
   * GUri sees the host example.com. Refuse what only some parsers accept. */
  for (c = url; *c != '\0'; c++) {
    if (*c == '\\' || g_ascii_isspace (*c) || g_ascii_iscntrl (*c)) {
      set_invalid (error, "callback-url", "callback-url: backslashes, spaces "
          "and control characters must be percent-encoded in a URL");
      return FALSE;
    }
  }

  uri = g_uri_parse (url, G_URI_FLAGS_NONE, &parse_error);
  if (uri == NULL) {
    set_invalid (error, "callback-url", "callback-url: must be https, and "
        "a valid URL: %s", parse_error->message);
    return FALSE;
  }

  if (g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") != 0) {
    set_invalid (error, "callback-url", "callback-url: must be https, got "
        "%s://", g_uri_get_scheme (uri));
    return FALSE;
  }

  host = g_uri_get_host (uri);
  if (host == NULL || host[0] == '\0') {
    set_invalid (error, "callback-url", "callback-url: must be https with "
        "a host");
    return FALSE;
  }

  why = host_refusal (host, &address);
  if (why == host_invalid) {
    set_invalid (error, "callback-url", "callback-url: host %s is %s",
        host, why);
    return FALSE;
  }
  if (why != NULL) {
    set_invalid (error, "callback-url", "callback-url: host %s%s%s%s is %s: "
        "the API cannot call back a loopback or private address (localhost, "
        "127.x, 10.x, 172.16-31.x, 192.168.x, 169.254.x, 100.64-127.x, ::1, "
        "fc00::/7, fe80::/10, multicast); use a public host", host,
        address ? " (" : "", address ? address : "", address ? ")" : "", why);
    return FALSE;
  }

  return TRUE;
}

static gchar *
format_mb (goffset bytes)
{
  return g_strdup_printf ("%.1f MB", bytes / (1024.0 * 1024.0));
}

/* @label is what the message starts with ("images[1]", "video"), @field the
 * property set on the error. */
static gboolean
validate_input (const gchar * input, gboolean is_video, const gchar * label,
    const gchar * field, GError ** error)
{
  g_autofree gchar *scheme = NULL;
  g_autofree gchar *path = NULL;
  g_autoptr (GFile) file = NULL;
  g_autoptr (GFileInfo) info = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *size_str = NULL;
  g_autofree gchar *limit_str = NULL;
  g_autofree gchar *shown = NULL;
  g_autofree gchar *shown_path = NULL;
  GstKlingo1InputFormat format;
  goffset size, limit;

  if (input == NULL || input[0] == '\0') {
    set_invalid (error, field, "%s: empty; expected an http(s) URL, a "
        "file:// URI or a local path", label);
    return FALSE;
  }

  /* A local path is bytes, an error message UTF-8: quote what can be shown.
   * (Paths are shown with g_filename_display_name() below.) */
  shown = g_utf8_make_valid (input, -1);

  if (gst_klingo1_input_is_remote (input)) {
    g_autoptr (GUri) uri = g_uri_parse (input, G_URI_FLAGS_NONE, &err);
    const gchar *host;
    const gchar *c;

    /* The URL goes into a JSON body, which is UTF-8. */
    if (!g_utf8_validate (input, -1, NULL)) {
      set_invalid (error, field, "%s (%s): not valid UTF-8; percent-encode "
          "the URL", label, shown);
      return FALSE;
    }
    if (uri == NULL) {
      set_invalid (error, field, "%s (%s): not a valid http(s) URL: %s",
          label, shown, err->message);
      return FALSE;
    }
    /* GUri lets some of these through, but the server would not fetch the
     * URL as meant */
    for (c = input; *c != '\0'; c++) {
      if (g_ascii_isspace (*c) || g_ascii_iscntrl (*c)) {
        set_invalid (error, field, "%s (%s): spaces and control characters "
            "must be percent-encoded in a URL", label, shown);
        return FALSE;
      }
    }
    host = g_uri_get_host (uri);
    if (host == NULL || host[0] == '\0') {
      set_invalid (error, field, "%s (%s): an http(s) URL needs a host",
          label, shown);
      return FALSE;
    }
    /* Nothing more can be checked without fetching it; the server does. */
    return TRUE;
  }

  /* Only http(s), file:// and plain paths are inputs; ftp://, data: and
   * the like would be sent to a server that only fetches http(s). A
   * one-letter "scheme" is a drive letter, not a scheme. */
  scheme = g_uri_parse_scheme (input);
  if (scheme != NULL && strlen (scheme) > 1
      && g_ascii_strcasecmp (scheme, "file") != 0) {
    set_invalid (error, field, "%s (%s): unsupported scheme %s:; expected an "
        "http(s) URL, a file:// URI or a local path", label, shown, scheme);
    return FALSE;
  }

  if (scheme != NULL && g_ascii_strcasecmp (scheme, "file") == 0) {
    g_autofree gchar *host = NULL;
    g_autofree gchar *uri_path = g_filename_from_uri (input, &host, NULL);

    if (uri_path != NULL && host != NULL && host[0] != '\0'
        && g_ascii_strcasecmp (host, "localhost") != 0) {
      g_autofree gchar *shown_host = g_utf8_make_valid (host, -1);

      set_invalid (error, field, "%s (%s): a file on another host (%s) cannot "
          "be read from this one; give a local path, a file:/// URI or an "
          "http(s) URL", label, shown, shown_host);
      return FALSE;
    }
  }

  path = gst_klingo1_input_get_local_path (input);
  if (path == NULL) {
    set_invalid (error, field, "%s (%s): not a valid file:// URI", label,
        shown);
    return FALSE;
  }

  shown_path = g_filename_display_name (path);
  file = g_file_new_for_path (path);
  info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_TYPE ","
      G_FILE_ATTRIBUTE_STANDARD_SIZE, G_FILE_QUERY_INFO_NONE, NULL, &err);
  if (info == NULL) {
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
      set_invalid (error, field, "%s (%s): no such file", label, shown_path);
    else
      set_invalid (error, field, "%s (%s): cannot be read: %s", label,
          shown_path, err->message);
    return FALSE;
  }

  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR) {
    set_invalid (error, field, "%s (%s): not a regular file", label,
        shown_path);
    return FALSE;
  }

  size = g_file_info_get_size (info);
  limit = is_video ? GST_KLINGO1_VIDEO_MAX_BYTES : GST_KLINGO1_IMAGE_MAX_BYTES;
  if (size > limit) {
    size_str = format_mb (size);
    limit_str = format_mb (limit);
    /* the byte counts tell 10.0 MB apart from 10.0 MB + 1 byte */
    set_invalid (error, field, "%s (%s): %s (%" G_GOFFSET_FORMAT " bytes), "
        "the limit is %d MB (%" G_GOFFSET_FORMAT " bytes)", label, shown_path,
        size_str, size, (gint) (limit / (1024 * 1024)), limit);
    return FALSE;
  }

  format = gst_klingo1_input_sniff_file (path, &err);
  if (err != NULL) {
    set_invalid (error, field, "%s (%s): cannot be read: %s", label,
        shown_path, err->message);
    return FALSE;
  }

  if (is_video) {
    if (format != GST_KLINGO1_INPUT_FORMAT_MP4) {
      set_invalid (error, field, "%s (%s): not an MP4 or MOV video (judged by "
          "content)", label, shown_path);
      return FALSE;
    }
  } else if (format != GST_KLINGO1_INPUT_FORMAT_JPEG
      && format != GST_KLINGO1_INPUT_FORMAT_PNG
      && format != GST_KLINGO1_INPUT_FORMAT_WEBP) {
    set_invalid (error, field, "%s (%s): not a JPEG, PNG or WebP image "
        "(judged by content)", label, shown_path);
    return FALSE;
  }

  return TRUE;
}

gboolean
gst_klingo1_request_validate (const GstKlingo1Request * req, GError ** error)
{
  guint i;

  g_return_val_if_fail (req != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!validate_prompt (req, error))
    return FALSE;
  if (!validate_shape (req, error))
    return FALSE;
  if (!validate_callback (req, error))
    return FALSE;

  for (i = 0; i < n_images (req); i++) {
    g_autofree gchar *label = g_strdup_printf ("images[%u]", i);

    if (!validate_input (g_ptr_array_index (req->images, i), FALSE, label,
            "images", error))
      return FALSE;
  }

  if (req->video != NULL
      && !validate_input (req->video, TRUE, "video", "video", error))
    return FALSE;

  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Serialization */

gchar *
gst_klingo1_request_to_json (const GstKlingo1Request * req)
{
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonGenerator) gen = NULL;
  g_autoptr (JsonNode) root = NULL;
  gboolean edit;
  const gchar *callback;
  guint i;

  g_return_val_if_fail (req != NULL, NULL);
  g_return_val_if_fail (gst_klingo1_model_to_api_id (req->model) != NULL,
      NULL);
  for (i = 0; i < n_images (req); i++)
    g_return_val_if_fail (gst_klingo1_input_is_remote (g_ptr_array_index
            (req->images, i)), NULL);
  g_return_val_if_fail (req->video == NULL
      || gst_klingo1_input_is_remote (req->video), NULL);

  edit = is_edit_model (req->model);
  callback = effective_callback (req);

  builder = json_builder_new ();
  json_builder_begin_object (builder);

  json_builder_set_member_name (builder, "model");
  json_builder_add_string_value (builder,
      gst_klingo1_model_to_api_id (req->model));

  json_builder_set_member_name (builder, "prompt");
  json_builder_add_string_value (builder, req->prompt ? req->prompt : "");

  /* The edit schema has minItems 1 for image_urls: omit it rather than send
   * an empty array. image-to-video always has 1 or 2. */
  if (!edit || n_images (req) > 0) {
    json_builder_set_member_name (builder, "image_urls");
    json_builder_begin_array (builder);
    for (i = 0; i < n_images (req); i++)
      json_builder_add_string_value (builder,
          g_ptr_array_index (req->images, i));
    json_builder_end_array (builder);
  }

  if (edit) {
    json_builder_set_member_name (builder, "video_urls");
    json_builder_begin_array (builder);
    if (req->video != NULL)
      json_builder_add_string_value (builder, req->video);
    json_builder_end_array (builder);

    json_builder_set_member_name (builder, "keep_original_sound");
    json_builder_add_boolean_value (builder, req->keep_original_sound);
  } else {
    const gchar *aspect = gst_klingo1_aspect_ratio_to_string (req->aspect_ratio);

    if (aspect != NULL) {
      json_builder_set_member_name (builder, "aspect_ratio");
      json_builder_add_string_value (builder, aspect);
    }

    /* Always explicit: the duration is what gets billed, so don't leave it
     * to a server default that could change. */
    json_builder_set_member_name (builder, "duration");
    json_builder_add_int_value (builder, effective_duration (req));
  }

  if (callback != NULL) {
    json_builder_set_member_name (builder, "callback_url");
    json_builder_add_string_value (builder, callback);
  }

  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  gen = json_generator_new ();
  json_generator_set_root (gen, root);

  return json_generator_to_data (gen, NULL);
}

/* ------------------------------------------------------------------------ */
/* Hashing */

/* Length-prefixed, so that no choice of prompt or URL can make two different
 * requests produce the same canonical text. */
static void
append_field (GString * s, const gchar * name, const gchar * value)
{
  if (value == NULL) {
    g_string_append_printf (s, "%s:-\n", name);
    return;
  }
  g_string_append_printf (s, "%s:%" G_GSIZE_FORMAT ":%s\n", name,
      strlen (value), value);
}

static gboolean
append_input (GString * s, const gchar * name, const gchar * input,
    GstKlingo1Store * store, GCancellable * cancellable, GError ** error)
{
  g_autofree gchar *path = NULL;
  g_autofree gchar *digest = NULL;

  if (input == NULL) {
    g_string_append_printf (s, "%s:-\n", name);
    return TRUE;
  }

  if (gst_klingo1_input_is_remote (input)) {
    g_string_append_printf (s, "%s:url:%" G_GSIZE_FORMAT ":%s\n", name,
        strlen (input), input);
    return TRUE;
  }

  /* Local inputs by content: renaming or moving a file, or giving it as a
   * file:// URI instead of a path, must still find the cached clip; changing
   * its bytes must not. */
  path = gst_klingo1_input_get_local_path (input);
  if (path == NULL) {
    g_autofree gchar *shown = g_utf8_make_valid (input, -1);

    set_invalid (error, g_str_has_prefix (name, "video") ? "video" : "images",
        "%s (%s): unsupported input; expected an http(s) URL, a local "
        "file:// URI or a local path", name, shown);
    return FALSE;
  }

  if (store != NULL)
    digest = gst_klingo1_store_hash_file (store, path, cancellable, error);
  else
    digest = gst_klingo1_input_hash_file (path, cancellable, error);
  if (digest == NULL)
    return FALSE;

  g_string_append_printf (s, "%s:sha256:%s\n", name, digest);
  return TRUE;
}

static gchar *
compute_hash (const GstKlingo1Request * req, GstKlingo1Store * store,
    GCancellable * cancellable, GError ** error)
{
  g_autoptr (GString) text = NULL;
  g_autofree gchar *duration = NULL;
  guint i;

  text = g_string_new (HASH_VERSION);
  append_field (text, "model", gst_klingo1_model_to_api_id (req->model));
  append_field (text, "prompt", req->prompt);
  append_field (text, "aspect",
      gst_klingo1_aspect_ratio_to_string (req->aspect_ratio));
  /* effective: duration 0 and 5 generate the same clip */
  duration = g_strdup_printf ("%u", effective_duration (req));
  append_field (text, "duration", duration);
  if (is_edit_model (req->model))
    append_field (text, "keep_original_sound",
        req->keep_original_sound ? "true" : "false");
  append_field (text, "callback_url", effective_callback (req));

  g_string_append_printf (text, "images:%u\n", n_images (req));
  for (i = 0; i < n_images (req); i++) {
    g_autofree gchar *name = g_strdup_printf ("images[%u]", i);

    if (!append_input (text, name, g_ptr_array_index (req->images, i),
            store, cancellable, error))
      return NULL;
  }
  if (!append_input (text, "video", req->video, store, cancellable, error))
    return NULL;

  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, text->str,
      text->len);
}

gchar *
gst_klingo1_request_hash (const GstKlingo1Request * req,
    GCancellable * cancellable, GError ** error)
{
  g_return_val_if_fail (req != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return compute_hash (req, NULL, cancellable, error);
}

gchar *
gst_klingo1_request_hash_with_store (const GstKlingo1Request * req,
    GstKlingo1Store * store, GCancellable * cancellable, GError ** error)
{
  g_return_val_if_fail (req != NULL, NULL);
  g_return_val_if_fail (store == NULL || GST_IS_KLINGO1_STORE (store), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return compute_hash (req, store, cancellable, error);
}

/* ---- accessors ---------------------------------------------------------- */

GstKlingo1Model
gst_klingo1_request_get_model (const GstKlingo1Request * req)
{
  return req->model;
}

void
gst_klingo1_request_set_model (GstKlingo1Request * req, GstKlingo1Model model)
{
  req->model = model;
}

const gchar *
gst_klingo1_request_get_prompt (const GstKlingo1Request * req)
{
  return req->prompt;
}

void
gst_klingo1_request_set_prompt (GstKlingo1Request * req, const gchar * prompt)
{
  g_free (req->prompt);
  req->prompt = g_strdup (prompt);
}

guint
gst_klingo1_request_get_n_images (const GstKlingo1Request * req)
{
  return req->images->len;
}

const gchar *
gst_klingo1_request_get_image (const GstKlingo1Request * req, guint index)
{
  g_return_val_if_fail (index < req->images->len, NULL);
  return g_ptr_array_index (req->images, index);
}

void
gst_klingo1_request_add_image (GstKlingo1Request * req, const gchar * image)
{
  g_return_if_fail (image != NULL);
  g_ptr_array_add (req->images, g_strdup (image));
}

void
gst_klingo1_request_clear_images (GstKlingo1Request * req)
{
  g_ptr_array_set_size (req->images, 0);
}

const gchar *
gst_klingo1_request_get_video (const GstKlingo1Request * req)
{
  return req->video;
}

void
gst_klingo1_request_set_video (GstKlingo1Request * req, const gchar * video)
{
  g_free (req->video);
  req->video = g_strdup (video);
}

GstKlingo1AspectRatio
gst_klingo1_request_get_aspect_ratio (const GstKlingo1Request * req)
{
  return req->aspect_ratio;
}

void
gst_klingo1_request_set_aspect_ratio (GstKlingo1Request * req,
    GstKlingo1AspectRatio ar)
{
  req->aspect_ratio = ar;
}

guint
gst_klingo1_request_get_duration (const GstKlingo1Request * req)
{
  return req->duration;
}

void
gst_klingo1_request_set_duration (GstKlingo1Request * req, guint seconds)
{
  req->duration = seconds;
}

gboolean
gst_klingo1_request_get_keep_original_sound (const GstKlingo1Request * req)
{
  return req->keep_original_sound;
}

void
gst_klingo1_request_set_keep_original_sound (GstKlingo1Request * req,
    gboolean keep)
{
  req->keep_original_sound = keep;
}

const gchar *
gst_klingo1_request_get_callback_url (const GstKlingo1Request * req)
{
  return req->callback_url;
}

void
gst_klingo1_request_set_callback_url (GstKlingo1Request * req,
    const gchar * url)
{
  g_free (req->callback_url);
  req->callback_url = g_strdup (url);
}
