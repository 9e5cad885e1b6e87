#!/usr/bin/env bash
# Installs what the tool and its tests need on a Debian machine: Chromium from Debian (Playwright's own
# browser download is not needed), fonts that cover Hebrew for the screenshots, Dovecot for the IMAP tests,
# Postfix and Request Tracker 5 for the ticket-system test (tests/test_request_tracker.py), and the Python
# package with its development extras.
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

# Postfix and Request Tracker 5: the tests run a private Postfix (`postfix -c DIR`) and a private RT (its own
# site config and SQLite file) in temporary folders, so neither package may configure or start anything of its
# own: Postfix gets "No configuration" (no /etc/postfix/main.cf, so its service cannot start), RT gets
# dbconfig-no-thanks (no database set up) and no cron jobs.
mail_wanted=(postfix request-tracker5 rt5-clients rt5-db-sqlite rt5-standalone dbconfig-no-thanks)
mail_missing=()
for package in "${mail_wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || mail_missing+=("$package")
done
if [ "${#mail_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "Installing Debian packages: ${mail_missing[*]}"
  $SUDO debconf-set-selections <<'ANSWERS'
postfix postfix/main_mailer_type select No configuration
request-tracker5 request-tracker5/install-cronjobs boolean false
request-tracker5 request-tracker5/handle-siteconfig-permissions boolean false
request-tracker5 request-tracker5/rtname string rt.invalid
request-tracker5 request-tracker5/organization string rt.invalid
request-tracker5 request-tracker5/correspondaddress string rt@localhost
request-tracker5 request-tracker5/commentaddress string rt-comment@localhost
request-tracker5 request-tracker5/webbaseurl string http://127.0.0.1
request-tracker5 request-tracker5/webpath string /rt
ANSWERS
  [ "${#missing[@]}" -gt 0 ] || $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${mail_missing[@]}" >/dev/null
  if ss -ltn 2>/dev/null | grep -qE '[:.]25[[:space:]]'; then
    echo "warning: something listens on port 25 after installing Postfix; the tests need only their own" >&2
  fi
fi

python3 -m pip install --quiet --disable-pip-version-check -e ".[dev]"
