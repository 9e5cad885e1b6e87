#!/usr/bin/env bash
# First-time set-up and the demo: install, then run a whole wave against the bundled local sites.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec python3 -m audit demo "$@"
