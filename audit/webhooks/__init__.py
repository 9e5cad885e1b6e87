"""Inbound-email webhooks (Mailgun, SendGrid, Postmark, a generic signed raw-MIME endpoint).

`create_webhook_app(engine, data_dir=..., secrets=WebhookSecrets(...))` returns the FastAPI app that tests
and benchmarks run on its own; `audit serve` includes its router (`routes`) in the one server app
(audit/web/app.py). `app` builds it, `receiver` stores each delivery in the spool (group commit), `auth`
checks each provider's credentials, `bodies` reads a request body at a bounded cost (slots, a size and a
time limit, spooled off the heap), `providers` turns a payload into one `Delivery`, `mime` prepends the
envelope recipient or rebuilds a message from parsed parts; audit/collect/spool.py ingests what was
accepted (in the app's background, or now with `process_spool`).
"""

from __future__ import annotations

from audit.collect.spool import process_spool
from audit.webhooks.app import create_webhook_app
from audit.webhooks.auth import WebhookSecrets

__all__ = ["WebhookSecrets", "create_webhook_app", "process_spool"]
