"""flow versions: the exact flow text each circulation started on, by content hash (issue 21)

Revision ID: 0021_flow_versions
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0021_flow_versions"
down_revision = "0002"  # features branch from 0002; migrate() upgrades all heads
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flowversion",
        sa.Column("flow", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("flow", "version"),
    )


def downgrade() -> None:
    op.drop_table("flowversion")
