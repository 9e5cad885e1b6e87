"""server mode: scheduled waves, their plans, the scheduler lease, report deliveries, APScheduler's jobs

Revision ID: 0005_server
Revises: 0004_grades
Create Date: 2026-11-26 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import audit.models

revision = "0005_server"
down_revision = "0004_grades"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduledwave",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("audit_name", sa.Text(), nullable=False),
        sa.Column("fire_at", audit.models.UTCDateTime(), nullable=False),
        sa.Column("started_at", audit.models.UTCDateTime(), nullable=False),
        sa.Column("window_end", audit.models.UTCDateTime(), nullable=False),
        sa.Column("closed_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("graded_as_of", audit.models.UTCDateTime(), nullable=True),
        sa.Column("report_path", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["wave_id"], ["wave.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("audit_name", "fire_at", name="uq_scheduledwave_fire"),
        sa.UniqueConstraint("wave_id"),
    )
    op.create_table(
        "plannedsubmission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("company_id", AutoString(length=63), nullable=False),
        sa.Column("probe_id", sa.Integer(), nullable=False),
        sa.Column("due_at", audit.models.UTCDateTime(), nullable=False),
        sa.Column("time_class", AutoString(length=20), nullable=False),
        sa.Column("status", AutoString(length=20), nullable=False),
        sa.Column("planned_at", audit.models.UTCDateTime(), nullable=False),
        sa.Column("done_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.ForeignKeyConstraint(["probe_id"], ["probe.id"]),
        sa.ForeignKeyConstraint(["wave_id"], ["wave.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("probe_id"),
    )
    with op.batch_alter_table("plannedsubmission", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plannedsubmission_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_plannedsubmission_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_plannedsubmission_wave_id"), ["wave_id"], unique=False)
    op.create_table(
        "schedulerlease",
        sa.Column("name", AutoString(length=40), nullable=False),
        sa.Column("owner", AutoString(length=200), nullable=True),
        sa.Column("acquired_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("expires_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("created_at", audit.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "reportdelivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("state", AutoString(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", audit.models.UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("next_attempt_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("sent_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["wave_id"], ["wave.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("wave_id"),
    )
    with op.batch_alter_table("reportdelivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reportdelivery_state"), ["state"], unique=False)
    op.create_table(
        "schedulerjob",
        sa.Column("name", AutoString(length=40), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_started_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("last_ok_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("last_error_at", audit.models.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "wavepruning",
        sa.Column("wave_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_pruned_at", audit.models.UTCDateTime(), nullable=False),
        sa.Column("last_pruned_at", audit.models.UTCDateTime(), nullable=False),
        sa.Column("raw_files", sa.Integer(), nullable=False),
        sa.Column("evidence_dirs", sa.Integer(), nullable=False),
        sa.Column("bytes_freed", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["wave_id"], ["wave.id"]),
        sa.PrimaryKeyConstraint("wave_id"),
    )
    # APScheduler's own table, created here (not by the job store) so upgrades and backups include it.
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_apscheduler_jobs_next_run_time"), ["next_run_time"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apscheduler_jobs_next_run_time"))
    op.drop_table("apscheduler_jobs")
    op.drop_table("wavepruning")
    op.drop_table("schedulerjob")
    with op.batch_alter_table("reportdelivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reportdelivery_state"))
    op.drop_table("reportdelivery")
    op.drop_table("schedulerlease")
    with op.batch_alter_table("plannedsubmission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plannedsubmission_wave_id"))
        batch_op.drop_index(batch_op.f("ix_plannedsubmission_status"))
        batch_op.drop_index(batch_op.f("ix_plannedsubmission_due_at"))
    op.drop_table("plannedsubmission")
    op.drop_table("scheduledwave")
