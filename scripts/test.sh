#!/usr/bin/env bash
# Install, make sure PostgreSQL is up, then lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh

if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

ruff check audit probes tests bench
ruff format --check audit probes tests bench
mypy
lint-imports  # the layers (pyproject.toml, [tool.importlinter])
python3 -m pytest "$@"
