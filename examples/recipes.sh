#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# gst-launch-1.0 (and ges-launch-1.0) recipes with klingo1src. Each recipe is
# one command line, written out in a function below; copy it and change the
# prompt, images and file names.
#
#   examples/recipes.sh [--out-dir DIR] RECIPE...
#
#   webm          edit a clip that has sound, then transcode to WebM (VP8 + Opus)
#   side-by-side  two generated clips next to each other (compositor)
#   after         a generated clip played after an existing one (concat)
#   title         a title drawn over a generated clip (textoverlay)
#   playbin       playbin on a klingo1:// URI, its video encoded to MP4
#   ges           a GES timeline: an existing clip, then a generated one
#   all           every recipe above
#
# Outputs go to DIR (default: the current directory) as <recipe>.mp4 or
# webm.webm. The key comes from KLINGO1_API_KEY, the API from KLINGO1_API_URL
# and KLINGO1_FILES_URL when set (tests/check/examples.sh points them at
# klingo1-emulator). GST_PLUGIN_PATH must name the plugin's directory unless
# it is installed. EXISTING=clip.mp4 names the "existing" clip of webm, after
# and ges (3-10 s, with sound for webm); without it, a 4 s test clip with a
# tone is made in DIR. FIRST and LAST name the images (default: the two in
# examples/data).
#
# Every generation goes through the cache: running a recipe again costs
# nothing, and side-by-side's two sources generate at the same time.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
first="${FIRST:-$here/data/first-frame.png}"
last="${LAST:-$here/data/last-frame.png}"
out="."

usage () {
  sed -n '4,25p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

# Percent-encodes a path for a klingo1:// or file:// URI (RFC 3986 unreserved
# characters and '/' stay as they are).
uri_path () {
  local s="$1" i c out=""
  for ((i = 0; i < ${#s}; i++)); do
    c="${s:i:1}"
    case "$c" in
      [A-Za-z0-9._~/-]) out+="$c" ;;
      *) out+="$(printf '%%%02X' "'$c")" ;;
    esac
  done
  printf '%s' "$out"
}

# A 4 s, 320x240, 24 fps H.264 clip with an AAC tone: the "existing" clip.
existing_clip () {
  if [ -n "${EXISTING:-}" ]; then
    printf '%s' "$EXISTING"
    return
  fi
  if [ ! -f "$out/existing.mp4" ]; then
    gst-launch-1.0 -q videotestsrc num-buffers=96 pattern=smpte \
        ! video/x-raw,format=I420,width=320,height=240,framerate=24/1 \
        ! x264enc speed-preset=ultrafast ! h264parse ! mp4mux name=mux \
        ! filesink location="$out/existing.mp4" \
      audiotestsrc num-buffers=172 wave=ticks ! audio/x-raw,rate=44100 \
        ! avenc_aac ! aacparse ! mux. >&2
  fi
  printf '%s' "$out/existing.mp4"
}

# Edits a clip with sound (video-edit keeps it by default), then decodes the
# result and encodes it again as VP8 + Opus in WebM. Each branch starts with
# a converter, so that decodebin's video pad links to the video branch and
# its audio pad to the audio one.
recipe_webm () {
  local clip
  clip="$(existing_clip)"
  gst-launch-1.0 klingo1src model=video-edit video="$clip" prompt="Make it snow" \
      ! decodebin name=dec \
    webmmux name=mux ! filesink location="$out/webm.webm" \
    dec. ! videoconvert ! queue ! vp8enc deadline=1 ! mux. \
    dec. ! audioconvert ! audioresample ! queue ! opusenc ! mux.
}

# Two sources in one pipeline generate at the same time; compositor puts the
# second 320 px to the right of the first.
recipe_side_by_side () {
  gst-launch-1.0 compositor name=mix sink_1::xpos=320 \
      ! videoconvert ! x264enc ! mp4mux ! filesink location="$out/side-by-side.mp4" \
    klingo1src prompt="The pinwheel turns slowly" images="<$first>" aspect-ratio=16:9 \
      ! decodebin ! videoconvert ! videoscale ! video/x-raw,width=320,height=180 ! mix.sink_0 \
    klingo1src prompt="The colour bars scroll" images="<$last>" aspect-ratio=16:9 \
      ! decodebin ! videoconvert ! videoscale ! video/x-raw,width=320,height=180 ! mix.sink_1
}

# concat plays its inputs one after the other; both must have the same raw
# format, so each is scaled and its rate fixed first. klingo1src starts
# generating at once, while the existing clip plays. Its branch decodes with
# qtdemux ! h264parse ! avdec_h264 rather than decodebin: a decodebin that
# prerolls late in a concat branch sometimes keeps gst-launch-1.0 (1.22) from
# ever seeing the EOS, whatever its source (see NEWS).
recipe_after () {
  local clip raw=video/x-raw,format=I420,width=320,height=180,framerate=24/1,pixel-aspect-ratio=1/1
  clip="$(existing_clip)"
  gst-launch-1.0 concat name=cat \
      ! videoconvert ! x264enc ! mp4mux ! filesink location="$out/after.mp4" \
    filesrc location="$clip" ! decodebin \
      ! videoconvert ! videoscale ! videorate ! $raw ! cat. \
    klingo1src prompt="What happens next" images="<$first>" aspect-ratio=16:9 \
      ! qtdemux ! h264parse ! avdec_h264 \
      ! videoconvert ! videoscale ! videorate ! $raw ! cat.
}

# A caption at the bottom of a generated clip, encoded again to MP4. The
# prompt and origin tags of the clip reach the new file.
recipe_title () {
  gst-launch-1.0 klingo1src prompt="The pinwheel turns into colour bars" \
      images="<$first,$last>" aspect-ratio=16:9 \
    ! decodebin ! videoconvert \
    ! textoverlay text="Made with Kling O1" valignment=bottom halignment=center \
        font-desc="Sans 12" \
    ! videoconvert ! x264enc ! mp4mux ! filesink location="$out/title.mp4"
}

# playbin takes any URI. Its video-sink here is a whole encoding branch (a
# bin description), so the played clip ends up in a file; to watch it, drop
# the two sink properties: gst-play-1.0 "klingo1://generate?..." does the
# same. In a klingo1:// URI a space is %20 and paths are absolute.
recipe_playbin () {
  local uri
  uri="klingo1://generate?prompt=A%20pinwheel%20turns&image=$(uri_path "$first")"
  uri+="&image=$(uri_path "$last")&duration=5&aspect-ratio=16:9"
  # (run in $out: a path with spaces does not survive the nested description)
  (cd "$out" && gst-launch-1.0 playbin uri="$uri" audio-sink=fakesink \
    video-sink="videoconvert ! x264enc ! mp4mux ! filesink location=playbin.mp4")
}

# ges-launch-1.0 (package ges1.0-tools) builds a timeline of clips one after
# the other and renders it with an encoding profile. Options come before the
# first +clip. ges-launch 1.22 reads only the path of a URI, so the '?' of a
# klingo1:// URI is written %3F and each '%' of it %25 (docs/uris.md).
recipe_ges () {
  local clip gen img
  clip="$(existing_clip)"
  case "$clip" in /*) ;; *) clip="$PWD/$clip" ;; esac
  img="$(uri_path "$first")"
  gen="klingo1://generate%3Fprompt=A%2520pinwheel%2520turns&image=${img//%/%25}"
  gen+="&aspect-ratio=16:9"
  ges-launch-1.0 --no-interactive -o "file://$(uri_path "$out")/ges.mp4" \
    -f "video/quicktime,variant=iso:video/x-raw,format=I420,width=320,height=180->video/x-h264:audio/mpeg,mpegversion=4" \
    +clip "file://$(uri_path "$clip")" +clip "$gen"
}

recipes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out-dir) out="${2:?--out-dir needs a directory}"; shift 2 ;;
    --out-dir=*) out="${1#--out-dir=}"; shift ;;
    -h|--help) usage ;;
    all) recipes+=(webm side-by-side after title playbin ges); shift ;;
    webm|side-by-side|after|title|playbin|ges) recipes+=("$1"); shift ;;
    *) echo "unknown recipe or option: $1" >&2; usage ;;
  esac
done
[ ${#recipes[@]} -gt 0 ] || usage
[ -d "$out" ] || { echo "--out-dir $out is not a directory" >&2; exit 2; }
out="$(cd "$out" && pwd)"

for r in "${recipes[@]}"; do
  echo "== $r"
  "recipe_${r//-/_}"
done
