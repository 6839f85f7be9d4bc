"""Bad command-line arguments for ``gongwen`` (in-process, typer's CliRunner, over a fresh SQLite
database with one circulation waiting for its sign-off).

A case is one command with every argument valid but one, which is bad: an unknown user or
organisation, a missing or unreadable file, an id no row has, a date that is no date, a negative
or huge number, or — for free text — odd unicode. The property: no traceback ever (no exception
escapes the command), and a case with a bad argument ends with a non-zero exit code and a
message in Chinese. Free-text oddities may be accepted (exit 0) but must not crash.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bad_input_common import Tally
from typer.testing import CliRunner

from gongwen_engine.flows.services.circulations import open_items

CHINESE = re.compile(r"[\u4e00-\u9fff]")

# Each template: the command, with {SLOT} where an argument of that kind goes.
TEMPLATES: list[list[str]] = [
    ["inbox", "--user", "{USER}"],
    ["approve", "{ITEM}", "--user", "{USER}", "--no-run"],
    ["return", "{ITEM}", "--user", "{USER}", "--comment", "{TEXT}", "--no-run"],
    ["act", "{ITEM}", "--user", "{USER}", "--outcome", "{OUTCOME}", "--title", "{TEXT}", "--no-run"],
    ["act", "{ITEM}", "--user", "{USER}", "--outcome", "{OUTCOME}", "--body-file", "{FILE}", "--no-run"],
    ["reassign", "{ITEM}", "--user", "{USER}", "--to", "{USER}"],
    ["delegate", "--user", "{USER}", "--to", "{USER}", "--until", "{DATE}"],
    ["diff", "{REF}", "--from", "{COUNT}"],
    ["retry", "{MISSING_ID}", "--user", "{USER}"],
    ["status", "{REF}", "--user", "{USER}"],
    ["launch", "{FLOW}", "{FILE}", "--user", "{USER}", "--no-run"],
    ["receive", "{FILE}", "--org", "{ORG}", "--user", "{USER}", "--dry-run"],
    ["receive", "{FILE}", "--org", "{ORG}", "--set", "{TEXT}", "--dry-run"],
    ["board", "--org", "{ORG}", "--as-of", "{DATE}"],
    ["submit-report", "{MISSING_ID}", "--org", "{ORG}", "--user", "{USER}", "--no-run"],
    ["summary", "{MISSING_ID}", "--as-of", "{DATE}"],
    ["number", "void", "{REF}", "--reason", "{TEXT}", "--user", "{USER}"],
    ["number", "list", "--org", "{ORG}", "--year", "{YEAR}"],
    ["seal", "verify", "{FILE}"],
    ["archive", "search", "{TEXT}", "--user", "{ARCHIVIST}", "--from", "{DATE}"],
    ["archive", "search", "{TEXT}", "--user", "{ARCHIVIST}", "--year", "{YEAR}", "--limit", "{COUNT}"],
    ["archive", "show", "{REF}", "--user", "{ARCHIVIST}"],
    ["archive", "catalogue", "{YEAR}", "--user", "{ARCHIVIST}", "--out", "{OUT}"],
    ["archive", "export", "{YEAR}", "--user", "{ARCHIVIST}", "--out", "{OUT}"],
    ["archive", "import", "{FILE}", "--user", "{ARCHIVIST}"],
    ["archive", "check", "{YEAR}", "--user", "{ARCHIVIST}"],
    ["archive", "verify", "--user", "{ARCHIVIST}"],
    ["deadlines", "add", "{ITEM}", "--what", "{TEXT}", "--due", "{DUE}", "--user", "{USER}"],
    ["deadlines", "propose", "{ITEM}"],
    ["deadlines", "workdays", "{DATE}", "{COUNT}"],
    ["deadlines", "list", "--org", "{ORG}"],
    ["audit", "list", "--org", "{ORG}", "--doc-number", "{REF}"],
]


@dataclass(frozen=True)
class Pools:
    """Valid and bad values per slot kind (files are made under the case folder)."""

    valid: dict[str, list[str]]
    bad: dict[str, list[str]]


def pools(folder: Path) -> Pools:
    folder.mkdir(parents=True, exist_ok=True)
    notice = folder / "notice.yaml"
    shutil.copy(Path(__file__).parent.parent / "config" / "demo" / "national_notice.yaml", notice)
    received = folder / "通知.txt"
    received.write_text("山东省妇女联合会文件\n鲁妇发〔2012〕10号\n关于转发的通知\n各市妇联：\n现转发给你们。\n山东省妇联\n2012年2月6日\n", encoding="utf-8")
    empty = folder / "empty.docx"
    empty.write_bytes(b"")
    junk = folder / "junk.pdf"
    junk.write_bytes(bytes(range(256)) * 8)
    not_utf8 = folder / "gbk.yaml"
    not_utf8.write_bytes("org: 全国妇联\ncontent: {title: 标题}\n".encode("gbk"))
    wrong_shape = folder / "list.yaml"
    wrong_shape.write_text("- 1\n- 2\n", encoding="utf-8")
    broken = folder / "broken.yaml"
    broken.write_text("org: [unclosed\n  content: :\n", encoding="utf-8")
    huge_line = folder / "huge.txt"
    huge_line.write_text("名" * 200_000, encoding="utf-8")
    (folder / "a-folder").mkdir(exist_ok=True)
    odd_text = [
        "[/bold]",
        "[red]未闭合",
        "\u202e反转文字",
        "𠀀𠀁𪚥",
        "名" * 5000,
        "e\u0301\u0301\u0301",
        "\t \n",
        "🙂🇨🇳",
        "\ufeff同意",
        "'; DROP TABLE circulation; --",
        "%s%n{0}",
        "ＦＵＬＬＷＩＤＴＨ",
    ]
    return Pools(
        valid={
            "USER": ["shandong_leader", "shandong_secretary", "jinan_secretary"],
            "ARCHIVIST": ["shandong_archivist"],
            "ITEM": ["1", "2"],
            "MISSING_ID": ["424242"],
            "REF": ["1"],
            "DATE": ["2012-02-20"],
            "DUE": ["2012-02-29"],
            "ORG": ["shandong", "jinan"],
            "YEAR": ["2012"],
            "COUNT": ["3"],
            "FLOW": ["issuing"],
            "OUTCOME": ["approve"],
            "TEXT": ["同意"],
            "OUT": [str(folder / "out")],
            "FILE": [str(notice), str(received)],
        },
        bad={
            "USER": ["nobody", "", "SHANDONG_LEADER", "shandong_leader\u200b", "𠀀", "x" * 300, "../etc/passwd", "-"],
            "ARCHIVIST": ["shandong_leader", "nobody", "", "shandong_archivist\u202e"],
            "ITEM": ["999999", "0", "-1", "99999999999999999999999", "abc", "1.5", "", "1e3", "0x10"],
            "MISSING_ID": ["999999", "-7", "99999999999999999999999", "NaN", ""],
            "REF": ["999999", "鲁妇发〔2099〕1号", "", "[/]", "-1", "99999999999999999999999", "Z109-WS·2012-Y-BGS-9999", "../../x"],
            "DATE": ["2012-13-45", "yesterday", "", "2012/02/30", "0000-00-00", "99999-01-01", "2012-02-30", "-2012-01-01"],
            "DUE": ["", "下下个世纪", "2012-13-45", "-5个工作日内", "99999999999999999999个工作日内"],
            "ORG": ["nowhere", "", "Shandong", "山东", "shandong ", "../shandong"],
            "YEAR": ["-5", "0", "99999999999999999999", "2012.5", "二〇一二", ""],
            "COUNT": ["-5", "-1", "99999999999999999999", "x", ""],
            "FLOW": ["nosuch", "", "../issuing", "ISSUING", "issuing.yaml"],
            "OUTCOME": ["nosuch", "", "APPROVE"],
            "TEXT": odd_text,
            "OUT": [str(notice / "sub"), str(junk)],
            "FILE": [
                str(folder / "missing.docx"),
                str(folder / "a-folder"),
                str(empty),
                str(junk),
                str(not_utf8),
                str(wrong_shape),
                str(broken),
                str(huge_line),
                "",
                "-",
            ],
        },
    )


MAY_PASS = {"TEXT"}  # free text: an odd value may be accepted; it must still not crash
INTERNAL_ERROR = "内部错误"  # the CLI's last resort (flows/cli_errors.py): a failure the fuzz must report


@dataclass(frozen=True)
class CliCase:
    args: list[str]
    bad_kind: str | None
    bad_value: str | None = None  # "" for an optional filter means "not given": it may be accepted

    def __str__(self) -> str:
        shown = [a if len(a) < 60 else a[:20] + f"…({len(a)} chars)" for a in self.args]
        return f"gongwen {' '.join(repr(a) if (not a or ' ' in a) else a for a in shown)}"


def make_case(rng: random.Random, p: Pools) -> CliCase:
    """A template with one bad slot (or, 1 time in 10, a usage error: unknown command or option)."""
    template = rng.choice(TEMPLATES)
    if rng.random() < 0.1:
        args = [a.format(**{k: rng.choice(v) for k, v in p.valid.items()}) for a in template]
        broken = rng.choice([["nosuch-command"], [*args, "--nosuch-option"], [*args, "extra-arg"]])
        return CliCase(broken, "USAGE")
    slots = [i for i, a in enumerate(template) if a.startswith("{")]
    bad_at = rng.choice(slots) if slots else None
    args = []
    for i, a in enumerate(template):
        if not a.startswith("{"):
            args.append(a)
            continue
        kind = a[1:-1]
        args.append(rng.choice(p.bad[kind] if i == bad_at else p.valid[kind]))
    return CliCase(args, template[bad_at][1:-1] if bad_at is not None else None, args[bad_at] if bad_at is not None else None)


@contextmanager
def gongwen_home(folder: Path) -> Iterator[None]:
    """GONGWEN_HOME (and nothing else) pointing at ``folder`` while the cases run."""
    saved = {k: os.environ.get(k) for k in ("GONGWEN_HOME", "GONGWEN_STORAGE", "GONGWEN_DATABASE_URL", "GONGWEN_CONFIG_DIR", "GONGWEN_FLOWS_DIR")}
    for key in saved:
        os.environ.pop(key, None)
    os.environ["GONGWEN_HOME"] = str(folder / ".gongwen")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def seed_database() -> None:
    """Two issuing circulations, without Prefect: one waiting at its sign-off (a leader's item
    exists), one signed and run until its issued copy (.docx) is written."""
    from sqlmodel import Session

    from gongwen_engine.config.settings import Settings
    from gongwen_engine.flows.services import demo as demo_mod
    from gongwen_engine.flows.services.engine import open_engine
    from gongwen_engine.models.tables import Circulation

    engine = open_engine(Settings())
    org, content = demo_mod.load_notice()

    def run_ready(circ_id: int, until_docx: bool = False) -> None:
        while not (until_docx and any(engine.storage.rglob("*.docx"))):
            with Session(engine.db) as session:
                if session.get(Circulation, circ_id).status != "ready":
                    return
            engine.run_step(circ_id)

    signed = engine.launch(org, "issuing", content, policy="manual", actor=f"{org}_secretary")
    run_ready(signed)
    item = next(i for i, circ, _ in open_items(engine, f"{org}_leader") if circ.id == signed)
    engine.complete(item.id, f"{org}_leader", "approve", "同意")
    run_ready(signed, until_docx=True)  # 编号, 印制: the issued copy; 用印 (LibreOffice) is not needed here
    waiting = engine.launch(org, "issuing", content.model_copy(update={"title": content.title + "（二）"}), policy="manual", actor=f"{org}_secretary")
    run_ready(waiting)


def run_case(runner: CliRunner, case: CliCase, tally: Tally) -> int:
    from gongwen_engine.flows.cli.main import app

    tally.tried += 1
    result = runner.invoke(app, case.args, catch_exceptions=True)
    output = result.output  # stdout and stderr as the terminal shows them
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        tally.fail(f"{case}: {type(result.exception).__name__}: {str(result.exception)[:200]}")
    elif "Traceback" in output:
        tally.fail(f"{case}: traceback in the output")
    elif INTERNAL_ERROR in output:
        tally.fail(f"{case}: {output.strip()[:300]}")
    elif result.exit_code == 0 and case.bad_kind and case.bad_kind not in MAY_PASS and case.bad_value != "":
        tally.fail(f"{case}: bad {case.bad_kind} accepted (exit 0): {output.strip()[:200]}")
    elif result.exit_code != 0 and not CHINESE.search(output):
        tally.fail(f"{case}: exit {result.exit_code} without a Chinese message: {output.strip()[:200]}")
    return result.exit_code


def fuzz_cli(folder: Path, cases: int, seed: int = 0) -> Tally:
    tally = Tally("CLI arguments")
    with gongwen_home(folder):
        seed_database()
        p = pools(folder / "inputs")
        runner = CliRunner()
        rng = random.Random(seed)
        for _ in range(cases):
            run_case(runner, make_case(rng, p), tally)
    return tally
