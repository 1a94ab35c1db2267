/* gst-klingo1: the Kling O1 client library
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/klingo1/error.h>
#include <gst/klingo1/input.h>
#include <gst/klingo1/request.h>
#include <gst/klingo1/task.h>
#include <gst/klingo1/client.h>
#include <gst/klingo1/store.h>
