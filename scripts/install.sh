#!/usr/bin/env bash
# Installs what the tool and its tests need on a Debian machine: Chromium from Debian (Playwright's own
# browser download is not needed) and the Python package with its development extras.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fc-list 2>/dev/null | grep -qi dejavu || need_apt+=(fonts-dejavu-core)
fc-list 2>/dev/null | grep -qi "culmus\|hebrew\|noto sans hebrew" || need_apt+=(culmus)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "Installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python3 -m pip install --quiet --disable-pip-version-check -e ".[dev]"
