"""Retrieval (检索) over the archive: SQLite FTS5 and PostgreSQL full-text search over overlapping
character bigrams, so that words of any length match (two-character words such as 妇联 too).

Text is normalised before it is indexed and before it is searched: traditional characters become
simplified (OpenCC ``t2s``), Latin letters lower case, so 婦聯 and 妇联 find each other. A run of
letters and digits ``abcd`` is indexed as ``ab bc cd d``: a query of two or more characters is
the phrase of its bigrams (contiguous), a single character is the prefix query ``a*`` (the lone
last character lets a run's final character match too).

Ranking: matching is cheap at any length, ranking every match of a very common word is not
(engineering notes: bm25 over 473,161 matches of 妇联 took 1.3 s). So the newest
``RANK_WINDOW`` matches (highest item ids) are ranked — SQLite ``bm25`` (title weighted ×10),
PostgreSQL ``ts_rank`` over the stored ``tsv`` column — and the best ``limit`` returned with highlighted excerpts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache

from sqlalchemy import text
from sqlmodel import Session, select

from gongwen_engine.models.tables import ArchiveItem, ArchiveSearch

RANK_WINDOW = 500
FTS_TABLE = "archive_fts"  # SQLite FTS5, external content = archivesearch (created by migration 0003)
PG_TSVECTOR = "s.tsv"  # PostgreSQL: a stored generated column, to_tsvector('simple', facets || title_terms || body_terms)
_RUN = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
EXCERPT_CHARS = 36
HIT_OPEN, HIT_CLOSE = "【", "】"


@cache
def _t2s():  # noqa: ANN202
    import opencc

    return opencc.OpenCC("t2s")


# A pinyin reading in parentheses after a character, as scraped web pages carry them (seed 004:
# 質(zhì)量, 發(fā)展): dropped, so that 发展规划 still matches 發(fā)展規(guī)劃 contiguously.
_PINYIN_READING = re.compile(r"[(（][a-zA-Zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{1,6}[)）]")


def normalise(value: str) -> str:
    """Simplified script, lower case, pinyin readings dropped: the form of index and queries."""
    return _normalise_with_map(value)[0]


def _normalise_with_map(value: str) -> tuple[str, list[int]]:
    """The normalised text and, per normalised character, its index in ``value``."""
    kept, index, pos = [], [], 0
    for match in _PINYIN_READING.finditer(value):
        kept.append(value[pos : match.start()])
        index.extend(range(pos, match.start()))
        pos = match.end()
    kept.append(value[pos:])
    index.extend(range(pos, len(value)))
    stripped = "".join(kept)
    converted = _t2s().convert(stripped)
    if len(converted) != len(stripped):  # a phrase conversion changed the length: go character by character
        converted = "".join(_t2s().convert(ch) if len(_t2s().convert(ch)) == 1 else ch for ch in stripped)
    return converted.lower(), index


def bigrams(value: str) -> str:
    """'妇女联合会' -> '妇女 女联 联合 合会 会' (per run of letters/digits, already normalised)."""
    terms: list[str] = []
    for run in _RUN.findall(value):
        terms.extend(run[i : i + 2] for i in range(len(run) - 1))
        terms.append(run[-1])
    return " ".join(terms)


def facets(fonds: str, year: int, retention: str) -> str:
    """Filter tokens in the index itself, so a filtered search stays an index lookup."""
    return f"f{fonds.lower()} y{year} r{retention.lower()}"


def search_row(item: ArchiveItem, body: str) -> ArchiveSearch:
    """The searchable row of an item: title and body as bigrams, the original text for excerpts."""
    return ArchiveSearch(
        item_id=item.id, fonds=item.fonds, year=item.year, retention=item.retention, issuer=item.responsible, dated=item.dated,
        facets=facets(item.fonds, item.year, item.retention), title_terms=bigrams(normalise(item.title)),
        body_terms=bigrams(normalise(body)), text=f"{item.title}\n{body}",
    )


def index_item(session: Session, item: ArchiveItem, body: str) -> None:
    """Add (or replace) the item in the search index, inside the caller's transaction."""
    old = session.get(ArchiveSearch, item.id)
    sqlite = session.get_bind().dialect.name == "sqlite"
    if old is not None:
        if sqlite:
            session.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, facets, title_terms, body_terms) VALUES('delete', :id, :f, :t, :b)"),
                            {"id": old.item_id, "f": old.facets, "t": old.title_terms, "b": old.body_terms})
        session.delete(old)
        session.flush()
    row = search_row(item, body)
    session.add(row)
    session.flush()
    if sqlite:
        session.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, facets, title_terms, body_terms) VALUES(:id, :f, :t, :b)"),
                        {"id": row.item_id, "f": row.facets, "t": row.title_terms, "b": row.body_terms})


def rebuild_index(session: Session) -> None:
    """Rebuild SQLite's FTS5 index from archivesearch (PostgreSQL's index follows the table)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES('rebuild')"))


# ---- queries ---------------------------------------------------------------------------------------

@dataclass
class SearchQuery:
    """What an archivist asks for. ``fonds`` is set by the access rule, never by the user."""

    fonds: str
    words: str | None = None
    archive_code: str | None = None
    doc_number: str | None = None
    issuer: str | None = None
    year: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    retention: str | None = None
    limit: int = 20


@dataclass
class Hit:
    item_id: int
    archive_code: str
    doc_number: str | None
    title: str
    issuer: str
    dated: date
    retention: str
    score: float
    excerpt: str
    spans: list[tuple[int, int]] = field(default_factory=list)


def word_terms(words: str) -> list[list[str]]:
    """The query as phrases of index terms: one phrase per run of letters/digits."""
    return [_phrase_terms(run) for run in _RUN.findall(normalise(words))]


def _phrase_terms(run: str) -> list[str]:
    if len(run) == 1:
        return [run + "*"]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def fts5_expression(query: SearchQuery) -> str:
    parts = [f"facets : {t}" for t in _facet_filters(query)]
    for terms in word_terms(query.words or ""):
        if terms[0].endswith("*"):
            parts.append("{title_terms body_terms} : " + terms[0])
        else:
            parts.append('{title_terms body_terms} : "' + " ".join(terms) + '"')
    return " AND ".join(parts)


def tsquery_expression(query: SearchQuery) -> str:
    parts = list(_facet_filters(query))
    for terms in word_terms(query.words or ""):
        if terms[0].endswith("*"):
            parts.append(f"{terms[0][:-1]}:*")
        else:
            parts.append("(" + " <-> ".join(terms) + ")")
    return " & ".join(parts)


def _facet_filters(query: SearchQuery) -> list[str]:
    tokens = facets(query.fonds, query.year or 0, query.retention or "").split()
    wanted = [tokens[0]]
    if query.year:
        wanted.append(tokens[1])
    if query.retention:
        wanted.append(tokens[2])
    return wanted


def _post_filters(query: SearchQuery) -> tuple[str, dict]:
    clauses, params = [], {}
    if query.issuer:
        clauses.append("s.issuer LIKE :issuer")
        params["issuer"] = f"%{query.issuer}%"
    if query.date_from:
        clauses.append("s.dated >= :date_from")
        params["date_from"] = query.date_from
    if query.date_to:
        clauses.append("s.dated <= :date_to")
        params["date_to"] = query.date_to
    return "".join(f" AND {c}" for c in clauses), params


def search(session: Session, query: SearchQuery) -> list[Hit]:
    """Ranked hits with highlighted excerpts, only from ``query.fonds``."""
    if query.archive_code or query.doc_number:
        return _exact(session, query)
    extra, params = _post_filters(query)
    if not word_terms(query.words or ""):
        return _filtered(session, query, extra, params)
    if session.get_bind().dialect.name == "sqlite":
        sql = (
            f"SELECT item_id, score FROM (SELECT f.rowid AS item_id, bm25({FTS_TABLE}, 0.0, 10.0, 1.0) AS score FROM {FTS_TABLE} f "
            f"JOIN archivesearch s ON s.item_id = f.rowid WHERE {FTS_TABLE} MATCH :q{extra} ORDER BY f.rowid DESC LIMIT :window) "
            "ORDER BY score, item_id DESC LIMIT :limit"
        )
        params["q"] = fts5_expression(query)
    else:
        sql = (
            f"SELECT item_id, score FROM (SELECT s.item_id, -ts_rank({PG_TSVECTOR}, to_tsquery('simple', :q)) AS score FROM archivesearch s "
            f"WHERE {PG_TSVECTOR} @@ to_tsquery('simple', :q){extra} ORDER BY s.item_id DESC LIMIT :window) c "
            "ORDER BY score, item_id DESC LIMIT :limit"
        )
        params["q"] = tsquery_expression(query)
    params.update(window=RANK_WINDOW, limit=query.limit)
    ranked = [(row[0], float(row[1])) for row in session.execute(text(sql), params)]
    return _hits(session, ranked, query.words or "")


def _exact(session: Session, query: SearchQuery) -> list[Hit]:
    stmt = select(ArchiveItem.id).where(ArchiveItem.fonds == query.fonds)
    if query.archive_code:
        stmt = stmt.where(ArchiveItem.archive_code == query.archive_code.strip())
    if query.doc_number:
        stmt = stmt.where(ArchiveItem.doc_number == query.doc_number.strip())
    return _hits(session, [(i, 0.0) for i in session.exec(stmt.limit(query.limit))], query.words or "")


def _filtered(session: Session, query: SearchQuery, extra: str, params: dict) -> list[Hit]:
    where = "s.fonds = :fonds"
    params = {**params, "fonds": query.fonds, "limit": query.limit}
    if query.year:
        where += " AND s.year = :year"
        params["year"] = query.year
    if query.retention:
        where += " AND s.retention = :retention"
        params["retention"] = query.retention
    sql = f"SELECT s.item_id FROM archivesearch s WHERE {where}{extra} ORDER BY s.dated DESC, s.item_id DESC LIMIT :limit"
    return _hits(session, [(row[0], 0.0) for row in session.execute(text(sql), params)], "")


def _hits(session: Session, ranked: list[tuple[int, float]], words: str) -> list[Hit]:
    if not ranked:
        return []
    ids = [i for i, _ in ranked]
    items = {i.id: i for i in session.exec(select(ArchiveItem).where(ArchiveItem.id.in_(ids)))}
    texts = {r.item_id: r.text for r in session.exec(select(ArchiveSearch).where(ArchiveSearch.item_id.in_(ids)))}
    hits = []
    for item_id, score in ranked:
        item = items[item_id]
        excerpt, spans = highlight(texts.get(item_id, item.title), words)
        hits.append(Hit(item_id, item.archive_code, item.doc_number, item.title, item.responsible, item.dated, item.retention, score, excerpt, spans))
    return hits


def highlight(original: str, words: str) -> tuple[str, list[tuple[int, int]]]:
    """An excerpt of the original text around the first hit, hits wrapped in 【】, plus the hit
    spans in the original. Matching is on the normalised text (same length: t2s maps characters)."""
    norm, index = _normalise_with_map(original)
    spans: list[tuple[int, int]] = []
    for run in _RUN.findall(normalise(words)):
        start = norm.find(run)
        while start >= 0:
            spans.append((index[start], index[start + len(run) - 1] + 1))
            start = norm.find(run, start + len(run))
    spans.sort()
    first = spans[0][0] if spans else 0
    lo = max(0, first - EXCERPT_CHARS // 3)
    hi = min(len(original), lo + EXCERPT_CHARS * 2)
    out, pos = [], lo
    for a, b in spans:
        if a < pos or b > hi:
            continue
        out.extend([original[pos:a], HIT_OPEN, original[a:b], HIT_CLOSE])
        pos = b
    out.append(original[pos:hi])
    excerpt = ("…" if lo else "") + "".join(out).replace("\n", " ") + ("…" if hi < len(original) else "")
    return excerpt, spans
