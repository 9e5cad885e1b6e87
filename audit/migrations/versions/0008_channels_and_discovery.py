"""channels and discovery: email inquiries beside forms, a company's website and its found contact page

Revision ID: 0008_channels_and_discovery
Revises: 0007_login_throttle
Create Date: 2026-12-09 10:00:00

A company may now be given by its website (the contact page is found and kept in `discovered_url` until it
stops having a form) or by a published email address (inquiries sent by SMTP). Each probe names its
channel; every existing probe was a form. `company.contact_url` keeps what the probes use: the configured
contact page, else the website, else `mailto:` the address.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import audit.models

revision = "0008_channels_and_discovery"
down_revision = "0007_login_throttle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.add_column(sa.Column("website", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("email", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("region", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("discovered_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("discovered_at", audit.models.UTCDateTime(), nullable=True))
    with op.batch_alter_table("probe", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=10), nullable=False, server_default="form"))
    with op.batch_alter_table("probegrade", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=10), nullable=False, server_default="form"))


def downgrade() -> None:
    with op.batch_alter_table("probegrade", schema=None) as batch_op:
        batch_op.drop_column("channel")
    with op.batch_alter_table("probe", schema=None) as batch_op:
        batch_op.drop_column("channel")
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.drop_column("discovered_at")
        batch_op.drop_column("discovered_url")
        batch_op.drop_column("region")
        batch_op.drop_column("email")
        batch_op.drop_column("website")
