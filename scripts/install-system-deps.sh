#!/usr/bin/env bash
# System packages the browser tests need (Debian's Chromium, driven by Playwright).
# Everything else ships in Python wheels (ffmpeg comes with imageio-ffmpeg).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "note: chromium is missing and this is not root; run: sudo apt-get install -y chromium" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
