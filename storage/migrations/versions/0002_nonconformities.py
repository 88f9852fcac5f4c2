"""Non-conformity index: where each non-conformity (a case of its own workflow) comes from.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 17:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "nonconformities",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("source_case_id", sa.Integer(), nullable=False),
        sa.Column("source_seq", sa.Integer(), nullable=False),
        sa.Column("workflow_id", _TEXT(length=64), nullable=False),
        sa.Column("workflow_version", sa.Integer(), nullable=False),
        sa.Column("trigger", _TEXT(length=64), nullable=True),
        sa.Column("control", _TEXT(length=64), nullable=True),
        sa.Column("clause", _TEXT(length=16), nullable=True),
        sa.Column("severity", _TEXT(length=16), nullable=False),
        sa.Column("origin", _TEXT(length=32), nullable=False),
        sa.Column("nature", _TEXT(length=16), nullable=False),
        sa.Column("raised_at", _TEXT(length=32), nullable=False),
        sa.Column("raised_by", _TEXT(length=200), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["source_case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("nonconformities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_nonconformities_clause"), ["clause"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_nonconformities_control"), ["control"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_nonconformities_source_case_id"), ["source_case_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("nonconformities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nonconformities_source_case_id"))
        batch_op.drop_index(batch_op.f("ix_nonconformities_control"))
        batch_op.drop_index(batch_op.f("ix_nonconformities_clause"))
    op.drop_table("nonconformities")
