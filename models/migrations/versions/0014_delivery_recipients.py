"""delivery recipients: the organisations 核发 delivers to, chosen at launch (None: every child)

Revision ID: 0014_delivery_recipients
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_delivery_recipients"
down_revision = "0002"  # features branch from 0002; migrate() upgrades all heads
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("circulation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deliver_to", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("circulation", schema=None) as batch_op:
        batch_op.drop_column("deliver_to")
