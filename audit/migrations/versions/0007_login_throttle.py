"""login throttle: password login attempts per client and in all, shared by every server process

Revision ID: 0007_login_throttle
Revises: 0006_message_identity
Create Date: 2026-12-08 10:00:00

The web UI's throttle was a dict in memory: raced by concurrent requests, forgotten at a restart, separate
in each server process, and cleared for everyone once 10,000 addresses had tried. It is now this table,
counted atomically (audit/web/throttle.py). A new, empty table: nothing to carry over.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import audit.models

revision = "0007_login_throttle"
down_revision = "0006_message_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", AutoString(length=64), nullable=False),
        sa.Column("window_start", audit.models.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
