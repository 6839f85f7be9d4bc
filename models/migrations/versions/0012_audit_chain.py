"""audit chain: every audit record carries its position (seq) and a SHA-256 link (chain_hash)

Existing records are chained in id order, with the same hash the commit hook computes
(models/audit.py), so `gongwen audit verify` passes on an upgraded database.

Revision ID: 0012_audit_chain
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from gongwen_engine.models.audit import GENESIS, link_hash

revision = "0012_audit_chain"
down_revision = "0002"  # features branch from 0002; migrate() upgrades all heads
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("chain_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_index(batch_op.f("ix_auditevent_seq"), ["seq"], unique=True)
    _chain_existing_records(op.get_bind())


def _chain_existing_records(conn: sa.Connection) -> None:
    audit = sa.table(
        "auditevent",
        sa.column("id", sa.Integer()),
        sa.column("at", sqlmodel.sql.sqltypes.UTCDateTime()),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("org", sa.String()),
        sa.column("circulation_id", sa.Integer()),
        sa.column("document_id", sa.Integer()),
        sa.column("step", sa.String()),
        sa.column("detail", sa.JSON()),
        sa.column("seq", sa.Integer()),
        sa.column("chain_hash", sa.String()),
    )
    update = audit.update().where(audit.c.id == sa.bindparam("row_id")).values(seq=sa.bindparam("new_seq"), chain_hash=sa.bindparam("new_hash"))
    seq, previous, after = 0, GENESIS, 0
    while True:
        rows = conn.execute(sa.select(audit).where(audit.c.id > after).order_by(audit.c.id).limit(BATCH)).all()
        if not rows:
            return
        links = []
        for row in rows:
            seq, previous = seq + 1, link_hash(previous, row)
            links.append({"row_id": row.id, "new_seq": seq, "new_hash": previous})
        conn.execute(update, links)
        after = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auditevent_seq"))
        batch_op.drop_column("chain_hash")
        batch_op.drop_column("seq")
