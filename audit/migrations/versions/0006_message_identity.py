"""message identity: every delivery stored (transport key), duplicates by content marked, not dropped

Revision ID: 0006_message_identity
Revises: 0005_server
Create Date: 2026-12-07 13:00:00

`uq_message_content` dropped distinct messages that shared a Message-ID (a CRM reusing one for its
acknowledgement and its human reply). Each row is now one delivery (IMAP UID, Maildir file, webhook
delivery, manual entry); `duplicate_of` marks a later copy of the same message (same Message-ID and body).
Manual entries kept their idempotency key in `content_key`; it moves to `delivery_key`, which is unique per
source. Existing rows are kept as they are (their content keys are recomputed by `audit collect --reparse`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_message_identity"
down_revision = "0005_server"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_constraint("uq_message_content", type_="unique")
        batch_op.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("duplicate_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key("fk_message_duplicate_of", "message", ["duplicate_of"], ["id"])
        batch_op.create_index(batch_op.f("ix_message_content_key"), ["content_key"], unique=False)
    op.execute(
        "UPDATE message SET delivery_key = content_key WHERE source = 'manual' AND delivery_key IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_content_key"))
        batch_op.drop_constraint("fk_message_duplicate_of", type_="foreignkey")
        batch_op.drop_column("duplicate_reason")
        batch_op.drop_column("duplicate_of")
        batch_op.create_unique_constraint("uq_message_content", ["content_key"])
