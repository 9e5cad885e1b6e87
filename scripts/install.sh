#!/usr/bin/env bash
# Installs what the tool and its tests need on a Debian machine: Chromium from Debian (Playwright's own
# browser download is not needed), fonts that cover Hebrew for the screenshots, Dovecot for the IMAP tests,
# and the Python package with its development extras.
set -euo pipefail
cd "$(dirname "$0")/.."

wanted=(chromium fonts-dejavu-core culmus dovecot-imapd)
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "Installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  # The tests start their own Dovecot; the package's system service is not needed.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -m pip install --quiet --disable-pip-version-check -e ".[dev]"
