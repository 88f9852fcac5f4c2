"""Clocks of cases: legal and internal time limits, and the scheduler's work queue.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "case_clocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("name", _TEXT(length=64), nullable=False),
        sa.Column("kind", _TEXT(length=24), nullable=False),
        sa.Column("status", _TEXT(length=16), nullable=False),
        sa.Column("started_on", _TEXT(length=10), nullable=False),
        sa.Column("period", _TEXT(length=16), nullable=False),
        sa.Column("due_on", _TEXT(length=10), nullable=False),
        sa.Column("due_at", _TEXT(length=32), nullable=False),
        sa.Column("earliest_after", _TEXT(length=10), nullable=False),
        sa.Column("interruptions", sa.Integer(), nullable=False),
        sa.Column("interrupted_on", _TEXT(length=10), nullable=True),
        sa.Column("remaining_days", sa.Integer(), nullable=True),
        sa.Column("warnings_done", sa.Integer(), nullable=False),
        sa.Column("next_fire_at", _TEXT(length=32), nullable=True),
        sa.Column("ended_at", _TEXT(length=32), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("updated_at", _TEXT(length=32), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "name", name="uq_case_clock_name"),
    )
    with op.batch_alter_table("case_clocks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_clocks_next_fire_at"), ["next_fire_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("case_clocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_clocks_next_fire_at"))
    op.drop_table("case_clocks")
