"""delivery copies and number voids: a delivery as a copy for information (抄送), who voided a number and when (issue 20)

Revision ID: 0022_delivery_copies
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0022_delivery_copies"
down_revision = "0002"  # features branch from 0002; migrate() upgrades all heads
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("as_copy", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("issuednumber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("voided_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("voided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issuednumber", schema=None) as batch_op:
        batch_op.drop_column("voided_at")
        batch_op.drop_column("voided_by")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("as_copy")
