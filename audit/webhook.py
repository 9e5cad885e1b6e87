"""The webhook app's public name: `from audit.webhook import WebhookSecrets, create_webhook_app`.

The code lives in the `audit.webhooks` package (app, auth, providers, mime).
"""

from __future__ import annotations

from audit.webhooks import WebhookSecrets, create_webhook_app

__all__ = ["WebhookSecrets", "create_webhook_app"]
