"""launch once: a unique key for a launch that must happen once, e.g. a cascade's national notice (issue 26)

Revision ID: 0026_launch_once
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0026_launch_once"
down_revision = "0002"  # features branch from 0002; migrate() upgrades all heads
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "launchonce",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("circulation_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["circulation_id"], ["circulation.id"]),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("launchonce")
