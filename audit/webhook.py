"""The webhook app's public names: `from audit.webhook import WebhookSecrets, create_webhook_app`.

The code lives in the `audit.webhooks` package (app, auth, providers, mime, spool); `process_spool` ingests
the deliveries the app accepted but has not processed yet.
"""

from __future__ import annotations

from audit.webhooks import WebhookSecrets, create_webhook_app, process_spool

__all__ = ["WebhookSecrets", "create_webhook_app", "process_spool"]
