"""grades: one row per graded probe per wave, and people's overrides as facts

Revision ID: 0004_grades
Revises: 0003
Create Date: 2026-11-26 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import audit.models

revision = "0004_grades"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gradeoverride",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("company_id", AutoString(length=63), nullable=False),
        sa.Column("probe_seq", sa.Integer(), nullable=True),
        sa.Column("criterion", AutoString(length=10), nullable=False),
        sa.Column("value", AutoString(length=30), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("author", AutoString(length=100), nullable=False),
        sa.Column("created_at", audit.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.ForeignKeyConstraint(["wave_id"], ["wave.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("gradeoverride", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gradeoverride_wave_id"), ["wave_id"], unique=False)

    op.create_table(
        "probegrade",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("probe_id", sa.Integer(), nullable=False),
        sa.Column("company_id", AutoString(length=63), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("outcome", AutoString(length=30), nullable=True),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("not_reached_reason", sa.Text(), nullable=True),
        sa.Column("submitted_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("submit_time_class", AutoString(length=20), nullable=True),
        sa.Column("deadline_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("first_reply_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("first_ack_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("first_human_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("first_complete_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("human_channel", AutoString(length=20), nullable=True),
        sa.Column("human_message_id", sa.Integer(), nullable=True),
        sa.Column("human_folder", AutoString(length=255), nullable=True),
        sa.Column("wall_seconds_to_ack", sa.Float(), nullable=True),
        sa.Column("wall_seconds_to_human", sa.Float(), nullable=True),
        sa.Column("business_seconds_to_human", sa.Float(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("human_replies", sa.Integer(), nullable=False),
        sa.Column("followed_up", sa.Boolean(), nullable=False),
        sa.Column("promise_text", sa.Text(), nullable=True),
        sa.Column("promise_due_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("promise_kept", sa.Boolean(), nullable=True),
        sa.Column("quality", sa.Float(), nullable=True),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=True),
        sa.Column("reply_language", AutoString(length=10), nullable=True),
        sa.Column("tier", AutoString(length=20), nullable=False),
        sa.Column("tier_reason", sa.Text(), nullable=False),
        sa.Column("tier_overridden", sa.Boolean(), nullable=False),
        sa.Column("override_notes", sa.Text(), nullable=False),
        sa.Column("company_tier", AutoString(length=20), nullable=False),
        sa.Column("company_inconsistent", sa.Boolean(), nullable=False),
        sa.Column("company_tier_overridden", sa.Boolean(), nullable=False),
        sa.Column("company_override_notes", sa.Text(), nullable=False),
        sa.Column("clock", AutoString(length=10), nullable=False),
        sa.Column("as_of", audit.models.UTCDateTime(), nullable=False),
        sa.Column("graded_at", audit.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.ForeignKeyConstraint(["probe_id"], ["probe.id"]),
        sa.ForeignKeyConstraint(["wave_id"], ["wave.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("wave_id", "probe_id", name="uq_probegrade_wave_probe"),
    )
    with op.batch_alter_table("probegrade", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_probegrade_wave_id"), ["wave_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("probegrade", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_probegrade_wave_id"))
    op.drop_table("probegrade")
    with op.batch_alter_table("gradeoverride", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gradeoverride_wave_id"))
    op.drop_table("gradeoverride")
