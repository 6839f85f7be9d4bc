"""archive items anchor the audit head: the seq and chain hash of each item's 'archived' record,
also written in the item's folder as ``audit-anchor.json`` (issue 26). Items filed before have none.

Revision ID: 0032_archive_anchor
Revises: 0030_admin
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0032_archive_anchor"
down_revision = "0030_admin"  # features branch from 0030_admin; migrate() upgrades all heads
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("archiveitem", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anchor_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("anchor_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("archiveitem", schema=None) as batch_op:
        batch_op.drop_column("anchor_hash")
        batch_op.drop_column("anchor_seq")
