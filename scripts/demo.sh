#!/usr/bin/env bash
# First-time set-up and the demo: install, then run the whole pipeline against the bundled local sites
# (submit, simulated replies, collect, grade, report) and print the report's path. Arguments go to
# `audit demo`, e.g. `bash scripts/demo.sh --lang he`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec python3 -m audit demo "$@"
