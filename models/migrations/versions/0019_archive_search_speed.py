"""archive search at 1,000,000 records: filter facets in the index (month, issuer), newest-first indexes (issue 9)

Revision ID: 0019
Revises: 0003

The facets of every search row gain the document's date as year, month and day (``d2012``,
``m201201``, ``t20120105``), the issuer's bigrams (``i山东 i东省 ...``) and the item's recency
bucket (``k0``), so date-range and issuer filters are index lookups (and PostgreSQL's GIN can
look among the newest items only); SQLite's
FTS5 index is rebuilt from the rewritten rows (PostgreSQL's generated ``tsv`` follows the
update). Two indexes give the newest rows of a fonds by item (search candidates on PostgreSQL)
and by date (filters without words). The facet format is ``models.archive_search.facets``.
"""

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0003"
branch_labels = None
depends_on = None

BATCH = 5_000


def _rewrite_facets(with_new_tokens: bool) -> None:
    from gongwen_engine.models.archive_search import facets

    bind = op.get_bind()
    last = -1
    while True:
        rows = bind.execute(
            sa.text("SELECT item_id, fonds, year, retention, dated, issuer FROM archivesearch WHERE item_id > :last ORDER BY item_id LIMIT :n"),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            break
        last = rows[-1][0]
        bind.execute(
            sa.text("UPDATE archivesearch SET facets = :facets WHERE item_id = :id"),
            [
                {
                    "id": item_id,
                    "facets": facets(fonds, year, retention, _as_date(dated), issuer, item_id) if with_new_tokens else facets(fonds, year, retention),
                }
                for item_id, fonds, year, retention, dated, issuer in rows
            ],
        )
    if bind.dialect.name == "sqlite":
        bind.execute(sa.text("INSERT INTO archive_fts(archive_fts) VALUES('rebuild')"))


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value  # SQLite hands a raw query text


def upgrade() -> None:
    with op.batch_alter_table("archivesearch", schema=None) as batch_op:
        batch_op.create_index("ix_archivesearch_fonds_item", ["fonds", "item_id"], unique=False)
        batch_op.create_index("ix_archivesearch_fonds_dated", ["fonds", "dated", "item_id"], unique=False)
    _rewrite_facets(with_new_tokens=True)


def downgrade() -> None:
    _rewrite_facets(with_new_tokens=False)
    with op.batch_alter_table("archivesearch", schema=None) as batch_op:
        batch_op.drop_index("ix_archivesearch_fonds_dated")
        batch_op.drop_index("ix_archivesearch_fonds_item")
