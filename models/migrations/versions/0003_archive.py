"""archive: filing per DA/T 22-2015 and retrieval (issue 9)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The search index proper (derived from archivesearch, rebuilt by `gongwen archive reindex`);
# kept out of the SQLModel metadata: see models/db.py DERIVED_TABLE_PREFIXES.
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE archive_fts USING fts5(facets, title_terms, body_terms, "
    "content='archivesearch', content_rowid='item_id', tokenize='unicode61 remove_diacritics 0', prefix='1')"
)
PG_TSV = (
    "ALTER TABLE archivesearch ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple'::regconfig, facets || ' ' || title_terms || ' ' || body_terms)) STORED"
)
PG_GIN = "CREATE INDEX ix_archivesearch_tsv ON archivesearch USING gin (tsv)"


def upgrade() -> None:
    with op.batch_alter_table("archiveitem", schema=None) as batch_op:
        batch_op.add_column(sa.Column("doc_type", sqlmodel.sql.sqltypes.AutoString(), server_default="通知", nullable=False))
        batch_op.add_column(sa.Column("security", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("pages", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("history", sa.JSON(), server_default="[]", nullable=False))
        batch_op.alter_column("circulation_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f("ix_archiveitem_doc_number"), ["doc_number"], unique=False)

    op.create_table(
        "archivesearch",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("fonds", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("retention", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("issuer", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("dated", sa.Date(), nullable=False),
        sa.Column("facets", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("title_terms", sa.Text(), nullable=False),
        sa.Column("body_terms", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["archiveitem.id"],
        ),
        sa.PrimaryKeyConstraint("item_id"),
    )
    with op.batch_alter_table("archivesearch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_archivesearch_fonds"), ["fonds"], unique=False)

    op.create_table(
        "retrievallog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("fonds", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("results", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("retrievallog", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retrievallog_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_retrievallog_user_id"), ["user_id"], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_FTS)
    else:
        op.execute(PG_TSV)
        op.execute(PG_GIN)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE archive_fts")
    with op.batch_alter_table("retrievallog", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retrievallog_user_id"))
        batch_op.drop_index(batch_op.f("ix_retrievallog_at"))
    op.drop_table("retrievallog")
    with op.batch_alter_table("archivesearch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_archivesearch_fonds"))
    op.drop_table("archivesearch")  # PostgreSQL drops ix_archivesearch_tsv with it
    with op.batch_alter_table("archiveitem", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_archiveitem_doc_number"))
        batch_op.alter_column("circulation_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("history")
        batch_op.drop_column("note")
        batch_op.drop_column("pages")
        batch_op.drop_column("security")
        batch_op.drop_column("doc_type")
