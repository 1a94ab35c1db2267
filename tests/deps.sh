#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what building and testing gst-klingo1 needs on Debian 12, when it
# is missing. Sourced by tests/run.sh and examples/quickstart.sh.
klingo1_packages=(
  meson ninja-build pkg-config gcc
  libglib2.0-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libsoup-3.0-dev libjson-glib-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-base-apps gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  curl
  # klingo1:// in GES timelines (tests/check/uri.sh, examples)
  ges1.0-tools
  # the Python example (examples/generate_many.py) with Debian's python3
  python3 python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0
)

klingo1_install_deps () {
  local missing=()
  for p in "${klingo1_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

klingo1_build () {
  local top="$1" build="$2"
  if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$top"
  fi
  ninja -C "$build"
}
