"""The archive (issue 9): the demo chain filed per DA/T 22-2015, stamped copies read back, the
catalogue, fixity (verify), the four-properties check, the transfer round trip, retrieval
(two-character words, simplified/traditional) and the fonds access rule. Real LibreOffice,
real SQLite (and PostgreSQL where marked)."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import tempfile
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest
from driving import drive
from ruamel.yaml import YAML
from sqlalchemy import event
from sqlmodel import Session, select
from typer.testing import CliRunner

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR
from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates.archive_files import read_stamp
from gongwen_engine.flows.actions.archiving import archivist, item_in_fonds, items_of, verify
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.archive_check import four_properties
from gongwen_engine.flows.services.archive_exports import export_package, import_package, write_catalogue
from gongwen_engine.flows.services.circulations import status_counts
from gongwen_engine.flows.services.demo import load_notice
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.models import db
from gongwen_engine.models.archive_search import Hit, SearchQuery, date_range_tokens, highlight, index_item, search
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.archive import ARCHIVE_CODE_RE, RETENTION_LABELS, parse_archive_code, retention_for, role_rank
from gongwen_engine.models.tables import ArchiveItem, Circulation, FiledFile, RetrievalLog

SEED_004 = Path(__file__).resolve().parent / "seeds" / "004_601752e9ae930646.txt"  # a copy of shared/seeds
SEED_004_TITLE = "關於做好2015年度婦女兒童發展規劃監測評估工作的通知"


def _seed_004_text() -> list[str]:
    return [line for line in SEED_004.read_text(encoding="utf-8").splitlines()[1:8] if line.strip()]


CHAIN = {"acwf", "shandong", "hunan", "jinan", "qingdao", "jinan_lixia", "jinan_shizhong"}
FILED_ITEMS = len(CHAIN) + 1  # one per circulation: the notice at every organisation, and 历下's own


def trimmed_config(target: Path) -> Path:
    shutil.copytree(PACKAGED_CONFIG_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    yaml = YAML()
    for name, key in (("organisations.yaml", "organisations"), ("users.yaml", "users")):
        data = yaml.load(target / name)
        data[key] = [e for e in data[key] if (e.get("code") or e.get("org")) in CHAIN]
        yaml.dump(data, target / name)
    return target


def new_engine(home: Path, database_url: str | None = None, config_dir: Path | None = None) -> Engine:
    return open_engine(Settings(home=home / ".gongwen", storage=home / "storage", database_url=database_url, config_dir=config_dir))


@pytest.fixture(scope="module")
def filed(tmp_path_factory) -> Engine:
    """The demo chain (全国妇联 → 山东 → 济南 → counties, 青岛, 湖南) plus 历下区妇联 issuing a
    notice in traditional script (seed 004), all run to the end and filed."""
    home = tmp_path_factory.mktemp("archive")
    engine = new_engine(home, config_dir=trimmed_config(home / "config"))
    org, content = load_notice()
    engine.launch(org, "issuing", content, policy="demo", actor="acwf_secretary")
    lixia = DocumentContent(
        issuer_mark="济南市历下区妇女联合会文件",
        title=SEED_004_TITLE,
        main_recipients=["各成员单位"],
        body=_seed_004_text(),
        signature="济南市历下区妇女联合会",
        issued_on=date(2012, 3, 1),
    )
    engine.launch("jinan_lixia", "issuing", lixia, policy="demo", actor="jinan_lixia_secretary")
    drive(engine)
    assert status_counts(engine) == {"done": len(engine.config.organisations) + 1}
    return engine


def all_items(engine: Engine) -> list[ArchiveItem]:
    with Session(engine.db) as session:
        return list(session.exec(select(ArchiveItem).order_by(ArchiveItem.id)))


def item_of(engine: Engine, org: str, kind: str = "any") -> ArchiveItem:
    items = [i for i in all_items(engine) if i.org == org]
    if kind == "issued":
        items = [i for i in items if i.files[0]["role"] == "issued_copy"]
    return items[0]


# ---- filing -----------------------------------------------------------------------------------------


def test_every_circulation_is_one_item_with_a_valid_code_and_continuous_numbers(filed):
    items = all_items(filed)
    with Session(filed.db) as session:
        circulations = session.exec(select(Circulation)).all()
    assert len(items) == FILED_ITEMS
    assert sorted(i.circulation_id for i in items) == sorted(c.id for c in circulations)
    classes = defaultdict(list)
    for item in items:
        assert ARCHIVE_CODE_RE.match(item.archive_code), item.archive_code
        code = parse_archive_code(item.archive_code)
        assert (code.fonds, code.year, code.retention, code.dept_code, code.item_no) == (item.fonds, item.year, item.retention, item.dept_code, item.item_no)
        assert item.fonds == filed.config.org(item.org).fonds
        classes[(item.fonds, item.year, item.retention, item.dept_code)].append(item.item_no)
    assert all(sorted(n) == list(range(1, len(n) + 1)) for n in classes.values())
    assert item_of(filed, "acwf").archive_code == "Z109-WS·2012-Y-BGS-0001"  # our own document: 永久
    assert item_of(filed, "shandong").archive_code == "S037-WS·2012-D30-BGS-0001"  # forwarding a superior's: 定期30年
    assert item_of(filed, "hunan").retention == "D30"  # a superior's document to implement


def test_files_inside_an_item_follow_da_t_22_order(filed):
    items = all_items(filed)
    assert len(items) == FILED_ITEMS
    for item in items:
        roles = [f["role"] for f in item.files]
        assert roles and roles == sorted(roles, key=role_rank), (item.archive_code, roles)
        assert [f["seq"] for f in item.files] == list(range(1, len(roles) + 1))
        assert all(Path(f["file"]).parent.name == item.archive_code for f in item.files)
    # outgoing: the issued copy, its sealed PDF and OFD (issued_formats: both), the draft sheet (发文稿纸)
    assert [f["role"] for f in item_of(filed, "acwf").files] == ["issued_copy", "signed_pdf", "signed_ofd", "draft_sheet"]
    shandong = item_of(filed, "shandong")
    assert shandong.files[0]["role"] == "issued_copy"  # the forwarding document (with what it forwards) first
    # incoming: the processing slip (收文处理单) first, the received document last
    assert [f["role"] for f in item_of(filed, "hunan").files] == ["processing_slip", "received_document"]


def test_the_stamp_read_back_from_the_filed_docx_has_the_six_cells(filed):
    items = all_items(filed)
    assert len(items) == FILED_ITEMS
    for item in items:
        first_docx = next(f for f in item.files if f["format"] == "docx")
        assert first_docx["stamped"] and sum(f["stamped"] for f in item.files) == 1
        stamp = read_stamp((filed.storage / first_docx["file"]).read_bytes())
        assert stamp == ((item.fonds, str(item.year), f"{item.item_no:04d}"), ("办公室", RETENTION_LABELS[item.retention], str(item.pages))), item.archive_code
        assert item.pages == sum(f["pages"] for f in item.files) > 0


def test_pages_are_measured_and_the_one_page_bound_agrees_with_libreoffice(filed):
    """页数: the pages with text of the issued copies as LibreOffice lays them out — national: 5
    pages of text and the 版记 moved to page 6 (even); a forwarding notice: the cover letter, the 5
    pages of the original with its own 版记, an unnumbered blank page 7 (not counted) and the 版记
    of the whole on page 8 — and every file counted as one page without converting it really is one."""
    national = item_of(filed, "acwf").files[0]
    assert (national["pages"], national["pages_method"]) == (6, "libreoffice")
    shandong = item_of(filed, "shandong").files[0]
    assert (shandong["pages"], shandong["pages_method"]) == (7, "libreoffice")
    bound = {f["file"] for i in all_items(filed) for f in i.files if f["pages_method"] == "bound"}
    assert bound, "no file was counted as one page without converting it: nothing to check"
    records = [f for i in all_items(filed) for f in i.files if f["role"] in ("draft_sheet", "processing_slip")]
    assert records and all(f["pages_method"] == "bound" for f in records), "every process record is settled without LibreOffice"
    with tempfile.TemporaryDirectory() as tmp:
        sources = []
        for n, name in enumerate(sorted(bound)[:12]):
            sources.append(Path(tmp) / f"b{n}.docx")
            shutil.copyfile(filed.storage / name, sources[-1])
        subprocess.run(
            ["soffice", f"-env:UserInstallation=file://{tmp}/profile", "--headless", "--convert-to", "pdf", "--outdir", tmp, *map(str, sources)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        for source in sources:
            info = subprocess.run(["pdfinfo", str(source.with_suffix(".pdf"))], check=True, capture_output=True, text=True).stdout
            assert "Pages:           1" in info, source


def test_reference_copies_are_not_filed_and_subordinates_reports_are_kept_30_years(filed):
    schedule = filed.config.retention
    assert retention_for(schedule, "reference", "superior")[0] is None
    assert retention_for(schedule, "received", "subordinate", "报告")[0].value == "D30"
    assert retention_for(schedule, "received", "peer", "函")[0].value == "D10"
    assert retention_for(schedule, "issued", "own", "请示")[0].value == "Y"


# ---- catalogue, four properties ---------------------------------------------------------------------


def test_catalogue_as_docx_and_spreadsheet(filed, tmp_path):
    with Session(filed.db) as session:
        items = items_of(session, "S037", 2012)
    docx_path, xlsx_path = write_catalogue(items, "S037", 2012, None, tmp_path)
    header = ["序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注"]
    table = docx.Document(docx_path).tables[0]
    rows = [[c.text for c in r.cells] for r in table.rows]
    assert rows[0] == header
    assert rows[1][:6] == ["1", "S037-WS·2012-D30-BGS-0001", "鲁妇发〔2012〕10号", "山东省妇女联合会", items[0].title, "20120131"]
    assert rows[1][7] == str(items[0].pages)
    sheet = openpyxl.load_workbook(xlsx_path).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[1] == header and values[2][1] == "S037-WS·2012-D30-BGS-0001" and len(values) == 2 + len(items)


def test_four_properties_report_passes_and_names_what_it_looked_at(filed):
    with Session(filed.db) as session:
        report = four_properties(session, filed.storage, filed.config, "S037", 2012)
    assert {c.prop for c in report.checks} == {"authenticity", "integrity", "usability", "security"}
    assert report.passed, [(c.name, c.failures) for c in report.checks if c.failures]
    assert all(c.looked_at for c in report.checks)
    assert not [c.name for c in report.checks if re.search(r"(?<![.\w])[a-z]{3,}", c.name)]  # the check names in Chinese (issue 22)


# ---- transfer, fixity --------------------------------------------------------------------------------


def test_transfer_round_trip_then_verify_finds_a_flipped_byte_a_deleted_and_an_added_file(filed, tmp_path):
    with Session(filed.db) as session:
        items = items_of(session, "S03701", 2012)
        package = export_package(items, filed.storage, "S03701", 2012, tmp_path / "out")
    other = new_engine(tmp_path / "receiver", config_dir=filed.settings.config_dir)
    with db.transaction(other.db) as session:
        imported = import_package(session, other.storage, other.config, package, "S03701")
    assert [i.archive_code for i in imported] == [i.archive_code for i in items]
    with Session(other.db) as session:
        again = items_of(session, "S03701", 2012)
        assert verify(session, other.storage, "S03701") == (sum(len(i.files) for i in items), [])
        report = four_properties(session, other.storage, other.config, "S03701", 2012)
    assert report.passed, [(c.name, c.failures) for c in report.checks if c.failures]
    from gongwen_engine.flows.actions.archiving import catalogue_rows

    assert catalogue_rows(again) == catalogue_rows(items)
    with db.transaction(other.db) as session, pytest.raises(Refusal, match="档号已存在"):  # importing twice is refused, nothing changes
        import_package(session, other.storage, other.config, package, "S03701")
    with db.transaction(other.db) as session, pytest.raises(Refusal, match="只能接收本全宗"):
        import_package(session, other.storage, other.config, package, "S037")

    first, second = again[0], again[-1]
    flipped = other.storage / first.files[0]["file"]
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    (other.storage / second.files[-1]["file"]).unlink()
    extra = other.storage / Path(first.files[0]["file"]).parent / "99-extra.txt"
    extra.write_text("not filed", encoding="utf-8")
    with Session(other.db) as session:
        _, problems = verify(session, other.storage, "S03701")
        report = four_properties(session, other.storage, other.config, "S03701", 2012)
    found = {(p.kind, p.archive_code) for p in problems}
    assert found == {("changed", first.archive_code), ("missing", second.archive_code), ("extra", first.archive_code)}
    failed = {c.name for c in report.checks if not c.passed}
    assert any("摘要" in n for n in failed) and any("总数" in n for n in failed)


# ---- retrieval ----------------------------------------------------------------------------------------


def index_office_item(session: Session, n: int, title: str, body: str, dated: date = date(2012, 1, 1)) -> ArchiveItem:
    """山东省妇联's office item ``n`` (S037, D30), stored and indexed in ``session``'s transaction."""
    item = ArchiveItem(
        org="shandong",
        fonds="S037",
        year=2012,
        retention="D30",
        dept_code="BGS",
        item_no=n,
        archive_code=f"S037-WS·2012-D30-BGS-{n:04d}",
        title=title,
        responsible="山东省妇女联合会",
        dated=dated,
        files=[],
    )
    session.add(item)
    session.flush()
    index_item(session, item, body)
    return item


def run_search(engine: Engine, fonds: str, **kw: Any) -> list[Hit]:
    with Session(engine.db) as session:
        return search(session, SearchQuery(fonds=fonds, **kw))


def test_two_character_one_character_and_longer_words(filed):
    assert [h.archive_code for h in run_search(filed, "S037", words="妇联")] == ["S037-WS·2012-D30-BGS-0001"]
    hits = run_search(filed, "S037", words="下基层")
    assert hits and "【下基层】" in hits[0].excerpt
    assert run_search(filed, "S037", words="妇")
    assert run_search(filed, "S037", words="下基层 妇情")
    assert run_search(filed, "S037", words="基层下") == []  # the characters of a word must be contiguous
    assert run_search(filed, "S037", words="妇联", year=2011) == []


def test_a_simplified_query_finds_the_traditional_seed_and_the_other_way_round(filed):
    hits = run_search(filed, "S0370101", words="妇女儿童发展规划")
    assert [h.title for h in hits] == [SEED_004_TITLE]
    assert "【婦女兒童發展規劃】" in hits[0].excerpt and len(hits[0].spans) >= 2  # the title and the text
    body_line = _seed_004_text()[0]  # the seed's pinyin readings (發(fā)展) do not break a match
    assert "【婦女兒童發(fā)展規(guī)劃】" in highlight(body_line, "妇女儿童发展规划")[0]
    assert run_search(filed, "S0370101", words="监测评估")
    assert [h.archive_code for h in run_search(filed, "S037", words="婦聯")] == ["S037-WS·2012-D30-BGS-0001"]


def test_search_by_code_document_number_issuer_date_and_retention(filed):
    assert [h.archive_code for h in run_search(filed, "Z109", archive_code="Z109-WS·2012-Y-BGS-0001")] == ["Z109-WS·2012-Y-BGS-0001"]
    assert [h.doc_number for h in run_search(filed, "S037", doc_number="鲁妇发〔2012〕10号")] == ["鲁妇发〔2012〕10号"]
    assert run_search(filed, "S037", issuer="山东省") and not run_search(filed, "S037", issuer="湖南省")
    assert run_search(filed, "S037", date_from=date(2012, 1, 1), date_to=date(2012, 1, 31))
    assert not run_search(filed, "S037", date_from=date(2012, 2, 1))
    assert run_search(filed, "S037", retention="D30") and not run_search(filed, "S037", retention="Y")
    assert run_search(filed, "S037", words="妇联", retention="D30", issuer="山东")


def test_filters_with_words_are_index_facets(filed):
    dated = run_search(filed, "S037", words="妇联")[0].dated
    assert run_search(filed, "S037", words="妇联", date_from=dated, date_to=dated)
    assert run_search(filed, "S037", words="妇联", date_from=dated)
    assert not run_search(filed, "S037", words="妇联", date_from=dated + timedelta(days=1))
    assert not run_search(filed, "S037", words="妇联", date_to=dated - timedelta(days=1))
    assert not run_search(filed, "S037", words="妇联", issuer="湖南省")
    assert not run_search(filed, "S037", words="妇联", issuer="省山东")  # the issuer's characters must be contiguous too


def test_a_date_range_is_covered_by_the_fewest_year_month_and_day_facets():
    assert date_range_tokens(date(2012, 1, 30), date(2013, 3, 2)) == (
        ["t20120130", "t20120131"] + [f"m2012{m:02d}" for m in range(2, 13)] + ["m201301", "m201302", "t20130301", "t20130302"]
    )
    assert date_range_tokens(date(2012, 1, 1), date(2014, 12, 31)) == ["d2012", "d2013", "d2014"]
    assert date_range_tokens(date(2012, 2, 1), date(2012, 2, 29)) == ["m201202"]
    assert date_range_tokens(date(2012, 3, 1), date(2012, 2, 1)) == ["t00000000"]  # empty: nothing matches
    assert date_range_tokens(None, date(1999, 12, 31))[:2] == ["d1900", "d1901"]


def test_archivists_see_only_their_own_fonds_and_every_retrieval_is_logged(filed, monkeypatch):
    hunan = archivist(filed.config, "hunan_archivist")
    with db.transaction(filed.db) as session, pytest.raises(Refusal, match="无权查阅"):
        item_in_fonds(session, hunan, "S037-WS·2012-D30-BGS-0001")
    with pytest.raises(Refusal, match="不是档案员"):
        archivist(filed.config, "hunan_leader")
    hits = run_search(filed, hunan.fonds, words="妇联")
    assert hits and all(h.archive_code.startswith("S043-") for h in hits)
    monkeypatch.setenv("GONGWEN_HOME", str(filed.settings.home))
    monkeypatch.setenv("GONGWEN_STORAGE", str(filed.storage))
    monkeypatch.setenv("GONGWEN_CONFIG_DIR", str(filed.settings.config_dir))
    from gongwen_engine.flows.cli.main import app

    result = CliRunner().invoke(app, ["archive", "search", "妇联", "--user", "shandong_archivist", "--json"])
    assert result.exit_code == 0, result.output
    assert [h["archive_code"] for h in json.loads(result.output)] == ["S037-WS·2012-D30-BGS-0001"]
    refused = CliRunner().invoke(app, ["archive", "show", "Z109-WS·2012-Y-BGS-0001", "--user", "shandong_archivist"])
    assert refused.exit_code == 2 and "无权查阅" in refused.output
    assert CliRunner().invoke(app, ["archive", "verify", "--user", "shandong_archivist"]).exit_code == 0
    with Session(filed.db) as session:
        log = session.exec(select(RetrievalLog).order_by(RetrievalLog.id)).all()
    assert [(r.user_id, r.action, r.results) for r in log][-3:] == [
        ("shandong_archivist", "search", 1),
        ("shandong_archivist", "show", -1),
        ("shandong_archivist", "verify", 0),
    ]
    assert log[-3].detail["words"] == "妇联" and log[-3].results == 1 and "refused" in log[-2].detail


@pytest.mark.postgres
def test_search_on_postgresql(make_engine, pg_url):
    engine = make_engine(database_url=pg_url)
    texts = {
        1: ("关于转发全国妇联文件的通知", "现将全国妇联《意见》转发给你们"),
        2: (SEED_004_TITLE, "\n".join(_seed_004_text())),
        3: ("会议纪要", "讨论下基层访妇情活动"),
    }
    with db.transaction(engine.db) as session:
        for n, (title, body) in texts.items():
            index_office_item(session, n, title, body, date(2012, 1, n))

    def codes(**kw: Any) -> list[str]:
        return [h.archive_code[-4:] for h in run_search(engine, "S037", **kw)]

    assert codes(words="妇联") == ["0001"]
    assert codes(words="妇女儿童发展规划") == ["0002"]
    assert codes(words="下基层") == ["0003"]
    assert set(codes(words="妇")) == {"0001", "0002", "0003"}
    assert codes(words="妇联", retention="Y") == [] and run_search(engine, "S043", words="妇联") == []
    assert codes(words="妇", date_from=date(2012, 1, 2), date_to=date(2012, 1, 2)) == ["0002"]
    assert set(codes(words="妇", date_from=date(2012, 1, 2))) == {"0002", "0003"}
    assert codes(words="妇联", issuer="山东省妇") == ["0001"] and codes(words="妇联", issuer="湖南") == []


def test_the_facet_migration_makes_filters_of_items_filed_before_it(tmp_path):
    """Migration 0019 rewrites existing search rows' facets (month, day, issuer) and rebuilds FTS5."""
    from alembic import command
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = db.get_engine(url)
    with engine.begin() as conn:
        cfg = db.alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.execute(
            text(
                "INSERT INTO archiveitem (id, org, fonds, year, retention, dept_code, item_no, archive_code, title, responsible, dated, "
                "files, filed_at, doc_type, pages, history) "
                "VALUES (1, 'shandong', 'S037', 2012, 'D30', 'BGS', 1, 'S037-WS·2012-D30-BGS-0001', '关于转发全国妇联文件的通知', "
                "'山东省妇女联合会', '2012-01-05', '[]', CURRENT_TIMESTAMP, '通知', 1, '[]')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO archivesearch (item_id, fonds, year, retention, issuer, dated, facets, title_terms, body_terms, text) "
                "VALUES (1, 'S037', 2012, 'D30', '山东省妇女联合会', '2012-01-05', 'fs037 y2012 rd30', "
                "'关于 于转 转发 发全 全国 国妇 妇联 联文 文件 件的 的通 通知 知', '', 'x')"
            )
        )
        conn.execute(text("INSERT INTO archive_fts(archive_fts) VALUES('rebuild')"))
    db.migrate(url)
    with Session(engine) as session:

        def found(**kw: Any) -> list[int]:
            return [h.item_id for h in search(session, SearchQuery(fonds="S037", words="妇联", **kw))]

        assert found(issuer="山东省") == [1] and found(issuer="湖南省") == []
        assert found(date_from=date(2012, 1, 5), date_to=date(2012, 1, 5)) == [1] and found(date_from=date(2012, 1, 6)) == []
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_finds_the_newest_matches_by_scan_by_recency_buckets_and_by_gin(make_engine, pg_url, monkeypatch):
    """The three ways ``_pg_newest`` takes (scaled down): each returns exactly the newest matches."""
    from gongwen_engine.models import archive_search

    monkeypatch.setattr(archive_search, "RECENCY_BUCKET", 4)
    monkeypatch.setattr(archive_search, "PG_SCAN_ROWS", 6)
    monkeypatch.setattr(archive_search, "RANK_WINDOW", 3)
    engine = make_engine(database_url=pg_url)
    bodies = {
        n: "会议纪要" + ("，讨论妇联工作" if n % 2 == 0 else "") + ("，部署监测评估" if n % 4 == 0 else "") + ("，鹤山" if n == 5 else "") for n in range(1, 61)
    }
    with db.transaction(engine.db) as session:
        for n, body in bodies.items():
            index_office_item(session, n, "会议纪要", body)
    queries: list[str] = []
    event.listen(engine.db, "before_cursor_execute", lambda conn, cursor, statement, params, *_: queries.append(str(params)))
    with Session(engine.db) as session:

        def newest(word: str) -> list[int]:
            return sorted(archive_search._pg_newest(session, SearchQuery(fonds="S037", words=word), 3))

        assert newest("妇联") == [56, 58, 60]  # common: among the newest six rows
        assert not any("'k" in q for q in queries)
        assert newest("监测评估") == [52, 56, 60]  # every fourth: two in the newest six, the rest from the recency buckets
        assert any("'k14'" in q and "'k12'" in q for q in queries)
        assert newest("鹤山") == [5]  # rare: GIN over everything
        # ranked within the window: the shorter records (no 妇联 sentence) first, ties newest first
        assert [h.item_id for h in search(session, SearchQuery(fonds="S037", words="部署", limit=3))] == [60, 56, 52]
        assert [h.item_id for h in search(session, SearchQuery(fonds="S037", words="会议", limit=2))] == [59, 58]  # 57 is outside the newest three


def test_sqlite_indexes_what_the_transaction_kept_once_at_its_end(make_engine):
    """On SQLite the FTS5 index gets a transaction's items at its end, in one statement
    (``index_item``, ``db.before_commit``): not while its savepoints are open (FTS5 would write a
    segment at each), and not an item whose savepoint rolled back — its row is gone, and so is it."""
    from sqlalchemy import text

    from gongwen_engine.models.archive_search import FTS_TABLE

    engine = make_engine()
    fts_writes: list[str] = []
    indexed = text(f"SELECT count(*) FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH '会议'")  # the index itself (count(*) alone reads the content table)

    def heard(_conn, _cursor, statement: str, *_args) -> None:
        if f"INTO {FTS_TABLE}" in statement:
            fts_writes.append(statement)

    event.listen(engine.db, "before_cursor_execute", heard)
    with db.transaction(engine.db) as session:
        for n, body in ((1, "讨论下基层访妇情活动"), (2, "部署监测评估工作"), (3, "会议纪要")):
            with contextlib.suppress(RuntimeError), session.begin_nested():
                index_office_item(session, n, "会议纪要", body)
                if n == 2:
                    raise RuntimeError("this circulation's step failed: its savepoint rolls back")
        assert fts_writes == [] and session.execute(indexed).scalar() == 0
    assert len(fts_writes) == 1  # the two kept, together
    codes = {h.archive_code[-4:] for h in run_search(engine, "S037", words="会议")}
    assert codes == {"0001", "0003"}
    assert [h.archive_code[-4:] for h in run_search(engine, "S037", words="下基层")] == ["0001"]
    assert run_search(engine, "S037", words="监测评估") == []
    with Session(engine.db) as session:
        assert session.execute(indexed).scalar() == 2


def test_the_index_normalises_as_the_excerpts_do():
    """``normalise`` (the index's and the queries' form, without the excerpt's character map:
    issue 25) is ``_normalise_with_map``'s text: traditional to simplified, lower case, pinyin
    readings in parentheses dropped."""
    from gongwen_engine.models.archive_search import _normalise_with_map, normalise

    for text in ("婦聯 ABC 質(zhì)量 發(fā)展規(guī)劃", "（fā）開頭", "", "妇联2026年(Ａ)"):
        assert normalise(text) == _normalise_with_map(text)[0]
    assert normalise("婦聯質(zhì)量ABC") == "妇联质量abc"


def test_the_stamped_copy_and_its_paragraphs_come_from_one_reading(filed):
    """归档 opens the first .docx once for its stamp and its searchable paragraphs (issue 25): the
    same paragraphs as read from the original, the stamp read back from the copy."""
    from gongwen_engine.doc_templates.archive_files import docx_paragraphs, stamp_docx, stamp_docx_with_paragraphs
    from gongwen_engine.models.rules.archive import stamp_for

    original = next(p for p in sorted(filed.storage.rglob("*.docx")) if "archive" not in p.parts).read_bytes()
    stamp = stamp_for("X001", 2026, 7, "BGS", "D30", 3)
    stamped, paragraphs = stamp_docx_with_paragraphs(original, stamp)
    assert paragraphs == docx_paragraphs(original) == docx_paragraphs(stamped) and paragraphs
    assert stamped == stamp_docx(original, stamp)
    assert read_stamp(stamped) is not None and read_stamp(original) is None


def test_a_body_filed_again_is_read_and_indexed_once(filed, tmp_path, monkeypatch):
    """One notice is filed by every receiver (issue 25): its paragraphs are read once for the
    recent filings (``_recent_texts``, by digest), its index terms computed once (``body_terms``);
    each copy is still stamped with its own item's stamp."""
    from gongwen_engine.doc_templates import archive_files
    from gongwen_engine.flows.actions import archiving
    from gongwen_engine.models.archive_search import bigrams, body_terms, normalise, search_row
    from gongwen_engine.models.tables import ArchiveItem

    original = next(p for p in sorted(filed.storage.rglob("*.docx")) if "archive" not in p.parts)
    data = original.read_bytes()
    parsed: list[int] = []
    real = archive_files.docx_paragraphs
    monkeypatch.setattr(archiving, "docx_paragraphs", lambda d: parsed.append(1) or real(d))
    monkeypatch.setattr(archiving, "_recent_texts", archiving._Recent(2))
    source = archiving.Source("received_document", original.name, None)
    bodies, stamps = [], []
    for n in (1, 2):
        code = f"X001-2026-D30-BGS-{n:04d}"
        item = ArchiveItem(org="x", fonds="X001", year=2026, retention="D30", dept_code="BGS", item_no=n, archive_code=code, title="t", responsible="r")
        item.dated = date(2026, 1, 1)
        plain = archiving.Source("attachment1", "b.docx", None)
        filed_files, body = archiving.write_filed_copies(tmp_path, item, [(source, data, 1, "estimate"), (plain, data, 1, "estimate")])
        bodies.append(body)
        stamps.append(read_stamp((tmp_path / filed_files[0].file).read_bytes()))
        assert [f.stamped for f in filed_files] == [True, False]
    assert bodies[0] == bodies[1] and bodies[0]
    assert stamps[0] != stamps[1] and stamps[1][0][2] == "0002"  # each item its own stamp
    assert parsed == [1]  # the first filing: the stamped copy read with its stamp, the attachment once; the second: none
    for n in range(3):  # bounded: the oldest is forgotten
        archiving._recent_texts.put((str(n), "docx", False, ".docx"), ())
    assert len(archiving._recent_texts.items) == 2 and archiving._recent_texts.get(("0", "docx", False, ".docx")) is None
    body_terms.cache_clear()
    item.id = 7
    row = search_row(item, bodies[0])  # by parts: the recurring part's terms computed once
    whole = "\n".join(bodies[0])
    joined = search_row(item, whole)
    assert (row.body_terms, row.text) == (bigrams(normalise(whole)), f"{item.title}\n{whole}") == (joined.body_terms, joined.text)
    # computed: the title's, the issuer's, the notice's (filed twice as two files: once) and the joined text's terms;
    # found: the notice's second file, the second row's title and issuer
    assert (body_terms.cache_info().misses, body_terms.cache_info().hits) == (4, 3)


def test_sm3_is_the_national_standard_digest():
    from gmssl import func, sm3

    from gongwen_engine.doc_templates.archive_files import sm3_hex

    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"  # GB/T 32905 example
    data = bytes(range(256)) * 40
    assert sm3_hex(data) == sm3.sm3_hash(func.bytes_to_list(data))


@pytest.mark.postgres
def test_verify_beside_a_filing_in_flight_waits_for_it_and_reports_only_real_strays(make_engine, pg_url):
    """A filing writes its copy as a temporary file, renames it and commits its item while holding
    the shared archive-files lock; a verify that scanned the temporary file meanwhile waits for
    that lock and then looks again at the items and at the disk (CI once saw the temporary file
    reported as an extra). A stray left with no filing in flight is still reported."""
    import threading
    import time

    from sqlalchemy import text as sql

    from gongwen_engine.doc_templates.archive_files import digests
    from gongwen_engine.flows.actions.archiving import hold_archive_files, item_folder

    engine = make_engine(database_url=pg_url)
    code = "S037-WS·2012-D30-BGS-0001"
    final = engine.storage / item_folder("S037", 2012, code) / "01-issued_copy.docx"
    final.parent.mkdir(parents=True)
    temporary = final.with_name(".01-issued_copy.docx.x1y2z3.tmp")
    data = b"filed copy"
    written, go = threading.Event(), threading.Event()

    def filing() -> None:
        with db.transaction(engine.db) as session:
            hold_archive_files(session, exclusive=False)
            temporary.write_bytes(data)
            written.set()
            assert go.wait(30)
            temporary.rename(final)
            d = digests(data)
            session.add(
                ArchiveItem(
                    org="shandong",
                    fonds="S037",
                    year=2012,
                    retention="D30",
                    dept_code="BGS",
                    item_no=1,
                    archive_code=code,
                    title="关于转发全国妇联文件的通知",
                    responsible="山东省妇女联合会",
                    dated=date(2012, 1, 1),
                    files=[
                        FiledFile(
                            seq=1,
                            role="issued_copy",
                            file=final.relative_to(engine.storage).as_posix(),
                            source="issued.docx",
                            format="docx",
                            size=d.size,
                            sha256=d.sha256,
                            sm3=d.sm3,
                            pages=1,
                            pages_method="estimate",
                        ).model_dump()
                    ],
                )
            )

    results: list = []

    def verifying() -> None:
        with Session(engine.db) as session:
            results.append(verify(session, engine.storage, "S037"))

    filer = threading.Thread(target=filing)
    filer.start()
    assert written.wait(30)
    checker = threading.Thread(target=verifying)
    checker.start()
    with Session(engine.db) as session:  # the verify has scanned the temporary file and waits for the filing's lock
        deadline = time.monotonic() + 30
        while not session.exec(sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).one()[0]:
            assert time.monotonic() < deadline, "verify never waited for the filing in flight"
            time.sleep(0.02)
            session.rollback()
    go.set()
    filer.join(30)
    checker.join(30)
    assert results == [(1, [])]

    stray = final.with_name(".02-signed_pdf.pdf.abcdef.tmp")
    stray.write_bytes(b"left by a killed process")
    with Session(engine.db) as session:
        checked, problems = verify(session, engine.storage, "S037")
    assert checked == 1 and [(p.kind, p.archive_code, p.file) for p in problems] == [("extra", code, stray.relative_to(engine.storage).as_posix())]


def test_a_connection_cut_during_an_archive_read_runs_it_again(filed, monkeypatch):
    """search, show and verify are each one unit of work (the read and its 利用登记 row): a transient
    database fault runs the unit again instead of failing the archivist's command."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from gongwen_engine.flows.cli.main import app
    from gongwen_engine.flows.services import archive as archive_service

    monkeypatch.setenv("GONGWEN_HOME", str(filed.settings.home))
    monkeypatch.setenv("GONGWEN_STORAGE", str(filed.storage))
    monkeypatch.setenv("GONGWEN_CONFIG_DIR", str(filed.settings.config_dir))
    code = item_of(filed, "shandong").archive_code
    for name, args in (("search", ["archive", "search", "妇联", "--json"]), ("item_in_fonds", ["archive", "show", code]), ("verify", ["archive", "verify"])):
        real, calls = getattr(archive_service, name), []

        def cut_once(*a, real=real, calls=calls, **kw):
            calls.append(1)
            if len(calls) == 1:
                raise OperationalError("SELECT", {}, psycopg.OperationalError("server closed the connection unexpectedly"), connection_invalidated=True)
            return real(*a, **kw)

        monkeypatch.setattr(archive_service, name, cut_once)
        with Session(filed.db) as session:
            logged = len(session.exec(select(RetrievalLog)).all())
        result = CliRunner().invoke(app, [*args, "--user", "shandong_archivist"])
        assert result.exit_code == 0 and len(calls) == 2, (name, result.output)
        with Session(filed.db) as session:
            assert len(session.exec(select(RetrievalLog)).all()) == logged + 1  # the cut attempt rolled back: one log row


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice is not installed")
def test_every_stamp_value_stays_on_one_line_of_its_cell(tmp_path: Path) -> None:
    """归档章: an eight-character 全宗号 and a five-character 机构（问题） keep to one line of their
    15 mm cells as LibreOffice lays the stamp out (at 10 pt both wrapped: "S03701 / 02")."""
    from record_corpus import varied_records

    from gongwen_engine.doc_templates import pdf as pdf_conversion
    from gongwen_engine.doc_templates.archive_files import stamp_docx
    from gongwen_engine.doc_templates.records import record_bytes
    from gongwen_engine.models.rules.archive import ArchiveStamp

    stamp = ArchiveStamp(fonds="S0370102", year=2012, item_no=1, department="组织联络部", retention="D30", pages=12)
    target = tmp_path / "stamped.docx"
    target.write_bytes(stamp_docx(record_bytes(varied_records(1)[0]), stamp))
    [pdf] = pdf_conversion.docx_files_to_pdf_bytes([target])
    lines = [line.strip() for line in pdf_conversion.page_texts(pdf)[0].splitlines()]
    for value in ("S0370102", "2012", "0001", "组织联络部", "12"):
        assert any(value in line for line in lines), (value, lines[:8])
