"""Retrieval (检索) over the archive: SQLite FTS5 and PostgreSQL full-text search over overlapping
character bigrams, so that words of any length match (two-character words such as 妇联 too).

Text is normalised before it is indexed and before it is searched: traditional characters become
simplified (OpenCC ``t2s``), Latin letters lower case, so 婦聯 and 妇联 find each other. A run of
letters and digits ``abcd`` is indexed as ``ab bc cd d``: a query of two or more characters is
the phrase of its bigrams (contiguous), a single character is the prefix query ``a*`` (the lone
last character lets a run's final character match too).

Filters are index tokens too (``facets``): the fonds, the year, the month of the date, the
retention period and the issuer's bigrams, so a filtered search stays one index lookup.

Ranking: matching is cheap at any length, ranking every match of a very common word is not —
and SQLite's ``bm25`` counts every match of every phrase for its IDF even when only a few rows
are ranked (engineering notes; measured at 1,000,000 records: 0.2 ms for the newest 500 matches
of 妇联 unranked, 130 ms with ``bm25`` at load ~11). So the index is asked only for the newest
``RANK_WINDOW`` matches (highest item ids: SQLite ``ORDER BY rowid DESC LIMIT``, PostgreSQL a
bounded newest-first scan or the GIN index, whichever the term's frequency calls for), and those
are ranked here by a BM25-style score over their stored terms (title ×10; every phrase weighs
the same, as an IDF would need the full count). The best ``limit`` are returned with
highlighted excerpts; no total is counted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import select as sa_select
from sqlalchemy import text
from sqlmodel import Session, col, select

from gongwen_engine.models import db
from gongwen_engine.models.rules import dates
from gongwen_engine.models.tables import ArchiveItem, ArchiveSearch

if TYPE_CHECKING:
    import opencc

RANK_WINDOW = 200  # newest matches ranked per search
FTS_TABLE = "archive_fts"  # SQLite FTS5, external content = archivesearch (created by migration 0003)
# PostgreSQL: archivesearch.tsv, a stored generated column to_tsvector('simple', facets || title_terms || body_terms), GIN-indexed
_RUN = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
EXCERPT_CHARS = 36
HIT_OPEN, HIT_CLOSE = "【", "】"


@cache
def _t2s() -> opencc.OpenCC:
    import opencc

    return opencc.OpenCC("t2s")


# A pinyin reading in parentheses after a character, as scraped web pages carry them (seed 004:
# 質(zhì)量, 發(fā)展): dropped, so that 发展规划 still matches 發(fā)展規(guī)劃 contiguously.
_PINYIN_READING = re.compile(r"[(（][a-zA-Zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{1,6}[)）]")


def normalise(value: str) -> str:
    """Simplified script, lower case, pinyin readings dropped: the form of index and queries
    (``_normalise_with_map``'s text, without the map: the index normalises every filed body)."""
    return _convert(_PINYIN_READING.sub("", value))


def _normalise_with_map(value: str) -> tuple[str, list[int]]:
    """The normalised text and, per normalised character, its index in ``value``."""
    kept: list[str] = []
    index: list[int] = []
    pos = 0
    for match in _PINYIN_READING.finditer(value):
        kept.append(value[pos : match.start()])
        index.extend(range(pos, match.start()))
        pos = match.end()
    kept.append(value[pos:])
    index.extend(range(pos, len(value)))
    return _convert("".join(kept)), index


def _convert(stripped: str) -> str:
    """Traditional to simplified, lower case, the length kept."""
    converted = _t2s().convert(stripped)
    if len(converted) != len(stripped):  # a phrase conversion changed the length: go character by character
        converted = "".join(_t2s().convert(ch) if len(_t2s().convert(ch)) == 1 else ch for ch in stripped)
    return converted.lower()


def bigrams(value: str) -> str:
    """'妇女联合会' -> '妇女 女联 联合 合会 会' (per run of letters/digits, already normalised)."""
    terms: list[str] = []
    for run in _RUN.findall(value):
        terms.extend(run[i : i + 2] for i in range(len(run) - 1))
        terms.append(run[-1])
    return " ".join(terms)


RECENCY_BUCKET = 5_000  # item ids per ``k`` facet


def facets(fonds: str, year: int, retention: str, dated: date | None = None, issuer: str = "", item_id: int | None = None) -> str:
    """Filter tokens in the index itself, so a filtered search stays an index lookup: ``f`` fonds,
    ``y`` year (of filing), ``r`` retention, the document's date as ``d`` year, ``m`` month
    (YYYYMM) and ``t`` day (YYYYMMDD), ``i`` the issuer's bigrams, and ``k`` the item's recency
    bucket (its id // ``RECENCY_BUCKET``: PostgreSQL's GIN index looks among the newest items with it)."""
    tokens = [f"f{fonds.lower()}", f"y{year}", f"r{retention.lower()}"]
    if item_id is not None:
        tokens.append(f"k{item_id // RECENCY_BUCKET}")
    if dated is not None:
        tokens.extend((f"d{dated:%Y}", f"m{dated:%Y%m}", f"t{dated:%Y%m%d}"))
    tokens.extend(f"i{term}" for term in body_terms(issuer).split())
    return " ".join(tokens)


@lru_cache(maxsize=256)
def body_terms(body: str) -> str:
    """``bigrams(normalise(body))``, the recent ones kept: one notice is filed by every
    organisation that received it (a province's cascade files each body ten times or more), and
    these terms are most of the index's work. A title's terms are the same function of it. The
    batch runner's preparation of 归档 asks for an item's terms ahead (``archiving.prepare_filed_copies``),
    so the step under the lock finds them here."""
    return bigrams(normalise(body))


def search_row(item: ArchiveItem, body: str | Sequence[str]) -> ArchiveSearch:
    """The searchable row of an item: title and body as bigrams, the original text for excerpts.
    ``body``: the text, or its parts (one per filed file; the text is them joined by newlines,
    and their terms are the text's, as no run of letters crosses a newline): a part that recurs
    (the notice every receiver files) is bigrammed once (``body_terms``)."""
    parts = [body] if isinstance(body, str) else [part for part in body if part]
    if item.id is None:
        raise ValueError("an archive item is indexed once it is stored (it has no id yet)")
    return ArchiveSearch(
        item_id=item.id,
        fonds=item.fonds,
        year=item.year,
        retention=item.retention,
        issuer=item.responsible,
        dated=item.dated,
        facets=facets(item.fonds, item.year, item.retention, item.dated, item.responsible, item.id),
        title_terms=body_terms(item.title),
        body_terms=" ".join(terms for terms in map(body_terms, parts) if terms),
        text=item.title + "\n" + "\n".join(parts),
    )


FTS_DUE_KEY = "gongwen_fts_due"  # session.info: items whose rows SQLite's FTS5 index gets at the transaction's end


def index_item(session: Session, item: ArchiveItem, body: str | Sequence[str], new: bool = False) -> None:
    """Add (or replace) the item in the search index, inside the caller's transaction. ``new``:
    the item was inserted in this transaction, so it has no row yet (not looked for: 归档 files
    thousands an hour).

    On SQLite the FTS5 index is written at the end of the unit of work (``db.before_commit``), all
    its items in one statement: FTS5 writes what it holds to disk at every savepoint and release
    (``Engine.run_steps`` gives each circulation one), a segment per item to be merged later,
    where one per transaction will do. Rows a savepoint rolled back are not there to index."""
    old = None if new else session.get(ArchiveSearch, item.id)
    sqlite = session.get_bind().dialect.name == "sqlite"
    due: set[int] = session.info.setdefault(FTS_DUE_KEY, set()) if sqlite else set()
    if old is not None:
        if sqlite and old.item_id not in due:
            session.execute(
                text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, facets, title_terms, body_terms) VALUES('delete', :id, :f, :t, :b)"),
                {"id": old.item_id, "f": old.facets, "t": old.title_terms, "b": old.body_terms},
            )
        session.delete(old)
        session.flush()
    row = search_row(item, body)
    session.add(row)
    session.flush()
    if not sqlite:
        return  # PostgreSQL's index follows the table
    if db.before_commit(session, FTS_DUE_KEY, _index_due):
        due.add(row.item_id)
        return
    session.execute(
        text(f"INSERT INTO {FTS_TABLE}(rowid, facets, title_terms, body_terms) VALUES(:id, :f, :t, :b)"),
        {"id": row.item_id, "f": row.facets, "t": row.title_terms, "b": row.body_terms},
    )


def _index_due(session: Session) -> None:
    """The FTS5 rows of the items this transaction indexed and kept (``index_item``)."""
    due = sorted(session.info.pop(FTS_DUE_KEY, ()))
    if due:
        session.execute(
            text(
                f"INSERT INTO {FTS_TABLE}(rowid, facets, title_terms, body_terms) "
                f"SELECT item_id, facets, title_terms, body_terms FROM {ArchiveSearch.__tablename__} WHERE item_id IN ({', '.join(map(str, due))})"
            )
        )


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


# A filter on the index is a list of alternatives (OR), each a phrase of facet terms; filters AND.
Filter = list[list[str]]


def facet_filters(query: SearchQuery, classes: bool = True) -> list[Filter]:
    """The query's filters as facet phrases (see ``facets``): fonds always, then year, retention,
    issuer (its bigrams, contiguous) and the date range (``date_range_tokens``). ``classes=False``
    leaves out the fonds and the retention period, which most rows share (the caller checks them
    as columns)."""
    filters: list[Filter] = [[[f"f{query.fonds.lower()}"]]] if classes else []
    if query.year:
        filters.append([[f"y{query.year}"]])
    if query.retention and classes:
        filters.append([[f"r{query.retention.lower()}"]])
    filters.extend([["i" + t for t in terms]] for terms in word_terms(query.issuer or ""))
    if query.date_from or query.date_to:
        filters.append([[token] for token in date_range_tokens(query.date_from, query.date_to)])
    return filters


EARLIEST_DATE = date(1900, 1, 1)  # an open date range reaches back to here ...


def date_range_tokens(date_from: date | None, date_to: date | None) -> list[str]:
    """The fewest date facets that cover a range exactly: whole years as ``d``, whole months as
    ``m``, single days as ``t`` (... and forward to the end of next year when open)."""
    day, last = date_from or EARLIEST_DATE, date_to or date(dates.today().year + 1, 12, 31)
    tokens: list[str] = []
    while day <= last:
        month_end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        if (day.month, day.day) == (1, 1) and date(day.year, 12, 31) <= last:
            tokens.append(f"d{day:%Y}")
            day = date(day.year + 1, 1, 1)
        elif day.day == 1 and month_end <= last:
            tokens.append(f"m{day:%Y%m}")
            day = month_end + timedelta(days=1)
        else:
            tokens.append(f"t{day:%Y%m%d}")
            day += timedelta(days=1)
    return tokens or ["t00000000"]  # an empty range: a token no record has


def _fts5_phrase(terms: list[str]) -> str:
    if terms[-1].endswith("*"):
        return '"' + " ".join(terms)[:-1] + '" *'
    return '"' + " ".join(terms) + '"'


def fts5_expression(query: SearchQuery) -> str:
    parts = ["facets : (" + " OR ".join(_fts5_phrase(p) for p in alternatives) + ")" for alternatives in facet_filters(query)]
    parts.extend("{title_terms body_terms} : " + _fts5_phrase(terms) for terms in word_terms(query.words or ""))
    return " AND ".join(parts)


def _ts_phrase(terms: list[str]) -> str:
    quoted = [f"'{t[:-1]}':*" if t.endswith("*") else f"'{t}'" for t in terms]
    return "(" + " <-> ".join(quoted) + ")"


def tsquery_expression(query: SearchQuery, classes: bool = True) -> str:
    parts = ["(" + " | ".join(_ts_phrase(p) for p in alternatives) + ")" for alternatives in facet_filters(query, classes)]
    parts.extend(_ts_phrase(terms) for terms in word_terms(query.words or ""))
    return " & ".join(parts)


def search(session: Session, query: SearchQuery) -> list[Hit]:
    """Ranked hits with highlighted excerpts, only from ``query.fonds``."""
    if query.archive_code or query.doc_number:
        return _exact(session, query)
    phrases = word_terms(query.words or "")
    if not phrases:
        return _filtered(session, query)
    return _hits(session, _ranked(session, query, phrases), query.words or "")


def _ranked(session: Session, query: SearchQuery, phrases: list[list[str]]) -> list[tuple[int, float]]:
    """The newest ``RANK_WINDOW`` matches (every filter is in the index expression), ranked; best ``limit``."""
    if session.get_bind().dialect.name == "sqlite":
        # FTS5 unranked and newest first walks its doclists backwards and stops at the window
        rows = session.execute(
            text(
                f"SELECT s.item_id, s.title_terms, s.body_terms FROM (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :q ORDER BY rowid DESC LIMIT :n) f "
                "JOIN archivesearch s ON s.item_id = f.rowid"
            ),
            {"q": fts5_expression(query), "n": RANK_WINDOW},
        ).all()
    else:
        ids = _pg_newest(session, query, RANK_WINDOW)
        rows = session.execute(text("SELECT item_id, title_terms, body_terms FROM archivesearch WHERE item_id = ANY(:ids)"), {"ids": ids}).all() if ids else []
    scorer = Scorer(phrases)
    scored = sorted(((scorer(title, body), item_id) for item_id, title, body in rows), reverse=True)
    return [(item_id, value) for value, item_id in scored[: query.limit]]


PG_SCAN_ROWS = 1_000  # newest rows of the fonds read first: enough for a common word
PG_MAX_BUCKETS = 16  # beyond this many recency buckets the words are rare (or a facet is selective): every match from GIN


def _pg_newest(session: Session, query: SearchQuery, n: int) -> list[int]:
    """The newest ``n`` matches on PostgreSQL, which cannot walk a GIN index newest first.

    1. The newest ``PG_SCAN_ROWS`` rows of the fonds (the (fonds, item_id) index), the query as a
       filter: a common word is done here.
    2. Otherwise the density found there says how far back ``n`` matches reach; the GIN index is
       asked for the query AND the recency buckets (``k`` facets) of that stretch, so it reads
       only the newest matches from the table (PostgreSQL's estimate for a phrase is far too low
       for it to choose such a plan itself).
    3. If that stretch held fewer than ``n`` (or the word is rare), GIN without buckets: every
       match, which are then few.
    In 2 and 3 the fonds and the retention period are column checks on those few rows, not GIN
    terms: most rows share them, and intersecting their long posting lists costs more than it saves."""
    expression = tsquery_expression(query)
    params = {"q": expression, "fonds": query.fonds, "retention": query.retention or None, "n": n, "scan": PG_SCAN_ROWS}
    ids = [
        row[0]
        for row in session.execute(
            text(
                "SELECT item_id FROM (SELECT item_id, tsv FROM archivesearch WHERE fonds = :fonds ORDER BY fonds DESC, item_id DESC LIMIT :scan) newest "
                "WHERE tsv @@ to_tsquery('simple', :q) ORDER BY item_id DESC LIMIT :n"
            ),
            params,
        )
    ]
    if len(ids) == n:
        return ids
    bounds = session.execute(
        text(
            "SELECT max(item_id), min(item_id), count(*) FROM "
            "(SELECT item_id FROM archivesearch WHERE fonds = :fonds ORDER BY fonds DESC, item_id DESC LIMIT :scan) newest"
        ),
        params,
    ).one()
    if bounds[2] < PG_SCAN_ROWS:  # the fonds has no more rows than that: complete
        return ids
    session.execute(text("SET LOCAL enable_indexscan = off"))  # GIN bitmaps, not a backwards walk over every row
    session.execute(text("SET LOCAL enable_seqscan = off"))
    try:
        gin = (
            "SELECT item_id FROM archivesearch WHERE tsv @@ to_tsquery('simple', :q) AND fonds = :fonds "
            "AND (CAST(:retention AS VARCHAR) IS NULL OR retention = :retention) ORDER BY item_id DESC LIMIT :n"
        )
        params["q"] = loose = tsquery_expression(query, classes=False)
        if ids:
            ids_per_row = (bounds[0] - bounds[1] + 1) / PG_SCAN_ROWS
            reach = int(PG_SCAN_ROWS * n / len(ids) * 1.5 * ids_per_row)  # item ids back to where n matches should be
            top, bottom = bounds[0] // RECENCY_BUCKET, max(0, bounds[0] - reach) // RECENCY_BUCKET
            if top - bottom < PG_MAX_BUCKETS:
                buckets = " | ".join(f"'k{k}'" for k in range(top, bottom - 1, -1))
                found = [row[0] for row in session.execute(text(gin), {**params, "q": f"({loose}) & ({buckets})"})]
                if len(found) == n or bottom == 0:
                    return found
        return [row[0] for row in session.execute(text(gin), params)]
    finally:
        session.execute(text("SET LOCAL enable_indexscan = DEFAULT"))
        session.execute(text("SET LOCAL enable_seqscan = DEFAULT"))


TITLE_WEIGHT, K1, B, AVERAGE_TERMS = 10.0, 1.2, 0.75, 100.0


class Scorer:
    """BM25-style: per phrase, its weighted occurrences (title ×10) saturated by k1 and normalised
    by the record's length in terms; phrases add up (equal weight). Higher is better."""

    def __init__(self, phrases: list[list[str]]) -> None:
        # ' 妇女 女儿 儿童 ' finds the phrase between term boundaries; ' 妇' finds any term starting with 妇
        self.needles = [" " + " ".join(t)[:-1] if t[-1].endswith("*") else " " + " ".join(t) + " " for t in phrases]

    def __call__(self, title_terms: str, body_terms: str) -> float:
        title, body = f" {title_terms} ", f" {body_terms} "
        norm = K1 * (1 - B + B * (len(title) + len(body)) / (3 * AVERAGE_TERMS))  # a term is two characters and a space
        total = 0.0
        for needle in self.needles:
            tf = TITLE_WEIGHT * title.count(needle) + body.count(needle)
            total += tf * (K1 + 1) / (tf + norm)
        return total


def _exact(session: Session, query: SearchQuery) -> list[Hit]:
    stmt = select(ArchiveItem.id).where(ArchiveItem.fonds == query.fonds)
    if query.archive_code:
        stmt = stmt.where(ArchiveItem.archive_code == query.archive_code.strip())
    if query.doc_number:
        stmt = stmt.where(ArchiveItem.doc_number == query.doc_number.strip())
    return _hits(session, [(i, 0.0) for i in session.exec(stmt.limit(query.limit)) if i is not None], query.words or "")  # stored ids


def _filtered(session: Session, query: SearchQuery) -> list[Hit]:
    """Filters without words: newest first by date (the (fonds, dated, item_id) index)."""
    stmt = select(ArchiveSearch.item_id).where(ArchiveSearch.fonds == query.fonds)
    if query.year:
        stmt = stmt.where(ArchiveSearch.year == query.year)
    if query.retention:
        stmt = stmt.where(ArchiveSearch.retention == query.retention)
    if query.issuer:
        stmt = stmt.where(col(ArchiveSearch.issuer).contains(query.issuer.strip(), autoescape=True))
    if query.date_from:
        stmt = stmt.where(ArchiveSearch.dated >= query.date_from)
    if query.date_to:
        stmt = stmt.where(ArchiveSearch.dated <= query.date_to)
    stmt = stmt.order_by(col(ArchiveSearch.fonds).desc(), col(ArchiveSearch.dated).desc(), col(ArchiveSearch.item_id).desc()).limit(query.limit)
    return _hits(session, [(i, 0.0) for i in session.exec(stmt)], "")


def _hits(session: Session, ranked: list[tuple[int, float]], words: str) -> list[Hit]:
    if not ranked:
        return []
    ids = [i for i, _ in ranked]
    rows = {
        row.id: row
        for row in session.connection().execute(  # Core: eight columns, more than sqlmodel's select types
            sa_select(
                *map(
                    col,
                    (
                        ArchiveItem.id,
                        ArchiveItem.archive_code,
                        ArchiveItem.doc_number,
                        ArchiveItem.title,
                        ArchiveItem.responsible,
                        ArchiveItem.dated,
                        ArchiveItem.retention,
                        ArchiveSearch.text,
                    ),
                )
            )
            .outerjoin(ArchiveSearch, col(ArchiveSearch.item_id) == col(ArchiveItem.id))
            .where(col(ArchiveItem.id).in_(ids))
        )
    }
    hits = []
    for item_id, score in ranked:
        row = rows[item_id]
        excerpt, spans = highlight(row.text or row.title, words)
        hits.append(Hit(item_id, row.archive_code, row.doc_number, row.title, row.responsible, row.dated, row.retention, score, excerpt, spans))
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
