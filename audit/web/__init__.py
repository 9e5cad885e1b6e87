"""The web side of `audit serve`: one FastAPI app (`audit.web.app`) with the UI, the webhooks, /healthz and
/metrics."""

from __future__ import annotations

from audit.web.app import create_server_app, webhook_secrets
from audit.web.headers import HSTS

__all__ = ["HSTS", "create_server_app", "webhook_secrets"]
