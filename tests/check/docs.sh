#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# docs/element.md stays in sync with the element: its generated part is
# written again from gst-inspect-1.0 of the built plugin into a temporary
# file, which must equal docs/element.md.
#   tests/check/docs.sh [PLUGIN_DIR]   (default: the first entry of
#   $GST_PLUGIN_PATH, as meson test sets it, else build/gst/klingo1)
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
plugin_dir="${1:-${GST_PLUGIN_PATH%%:*}}"
plugin_dir="${plugin_dir:-$top/build/gst/klingo1}"

if ! command -v python3 > /dev/null; then
  echo "skip: python3 is not installed"
  exit 77
fi

tmp="$(mktemp)"
trap 'rm -f "$tmp" "$tmp.tmp"' EXIT
python3 "$top/docs/gen-element-doc.py" --plugin-path "$plugin_dir" -o "$tmp"
if ! diff -u "$top/docs/element.md" "$tmp"; then
  echo "FAIL: docs/element.md differs from what the built element says (diff above)." >&2
  echo "Regenerate it: docs/gen-element-doc.py --build BUILD_DIR" >&2
  exit 1
fi
echo "ok: docs/element.md matches gst-inspect-1.0 klingo1src ($plugin_dir)"
