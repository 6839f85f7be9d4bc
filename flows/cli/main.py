"""The ``gongwen`` command line."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # keep the terminal readable; the UI has the runs
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry calls from a closed network
# The embedded server logs cancelled event flushes when the process exits; the runs are already
# recorded in our database, so that is noise for the user. A real server logs as configured.
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
# The embedded server migrates a fresh Prefect database on first start; on a busy 2-core
# machine that exceeds Prefect's default 20 s.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

import functools
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import load_config
from gongwen_engine.config.seals import load_seal_config
from gongwen_engine.config.settings import Settings
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors
from gongwen_engine.models import db
from gongwen_engine.models.numbering import void_doc_number
from gongwen_engine.models.tables import Circulation, Document

from gongwen_engine.flows.services import demo as demo_mod
from gongwen_engine.flows.cli._common import PASS_THROUGH, ChineseUsageGroup, internal_error_message
from gongwen_engine.flows.services import reporting
from gongwen_engine.flows.engine.engine import Engine

app = typer.Typer(help="gongwen: 公文流转 workflow engine. Declarative flows (flows/*.yaml), run by Prefect, stored with SQLModel.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_show_locals=False, cls=ChineseUsageGroup)  # no local values in a traceback (a database URL may hold a password); usage errors in Chinese
number_app = typer.Typer(help="Document numbers (发文字号).", no_args_is_help=True)
app.add_typer(number_app, name="number")
console = Console()
err = Console(stderr=True)


def stopped_by_signal(exc: BaseException) -> bool:
    """Prefect's own SIGTERM handler, active while a flow run runs, raises ``TerminationSignal``;
    in an async flow run it comes out of the event loop, past the engine that would have handed the
    signal on (``systemctl stop`` of a busy worker ended in a traceback and exit code 1)."""
    termination = getattr(sys.modules.get("prefect.exceptions"), "TerminationSignal", None)  # never imported: never raised
    return termination is not None and isinstance(exc, termination)


def friendly(fn):  # noqa: ANN001, ANN201
    """Turn expected errors into a clear message and exit code 2; anything unexpected into one
    Chinese line and exit code 3, its traceback in the error log (cli_errors.py). Never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            return fn(*args, **kwargs)
        except (SourceError, SourceErrors) as exc:
            err.print(f"[bold red]配置错误（configuration error）[/]\n{escape(str(exc))}")
        except db.DatabaseUnavailable as exc:
            err.print(f"[bold red]数据库错误：[/]{escape(str(exc))}")
        except Refusal as exc:
            err.print(f"[bold red]错误：[/]{escape(str(exc))}" + (f"\n{escape(exc.hint)}" if getattr(exc, "hint", "") else ""))  # a refusal says what to do
        except (KeyError, LookupError, ValueError) as exc:
            err.print(f"[bold red]错误：[/]{escape(str(exc.args[0] if exc.args else exc))}")
        except OverflowError:  # an id or year past any stored integer
            err.print("[bold red]错误：[/]数字过大，超出了可以存储的范围；编号、年度请填写正常大小的正整数。")
        except DBAPIError as exc:  # a fault not met by the declared retries: said plainly, no traceback
            err.print(f"[bold red]数据库错误：[/]{escape(str(db.refused(exc)))}")
        except PASS_THROUGH:
            raise  # typer.Exit from the command, usage errors, Ctrl-C: typer reports them
        except Exception as exc:  # noqa: BLE001 - the last resort: no traceback reaches the person
            err.print(f"[bold red]{escape(internal_error_message(exc, Path(os.environ.get('GONGWEN_HOME') or '.gongwen')))}[/]")
            raise typer.Exit(3) from None
        except BaseException as exc:
            if not stopped_by_signal(exc):
                raise
            err.print("已停止：收到终止信号（SIGTERM）。进行中的步骤未提交的部分已回滚，再次启动后从原步骤继续。"
                      "（stopped by SIGTERM during a Prefect flow run; unfinished steps rolled back and run again on the next start）")
            raise typer.Exit(128 + exc.signal) from None
        raise typer.Exit(2)

    return wrapper


def _engine() -> Engine:
    return Engine(Settings())


@app.command()
@friendly
def check() -> None:
    """Validate config/ and flows/ (every error names file:line and the fix)."""
    settings = Settings()
    config = load_config(settings.config_dir)
    from gongwen_engine.flows import actions
    from gongwen_engine.flows.engine.definition import PACKAGED_FLOWS_DIR, load_flows

    flows = load_flows(Path(settings.flows_dir or PACKAGED_FLOWS_DIR), set(actions.ACTIONS))
    seals = load_seal_config(config.directory, config.organisations, settings.home)  # 用印 keys and images
    console.print(f"config OK: {len(config.organisations)} organisations, {len(config.users)} users, {len(config.policies)} policies, {len(seals.file.organisations)} seal keys ({config.directory})")
    for f in flows.values():
        console.print(f"flow OK: {f.flow} v{f.version}: " + " → ".join(s.title for s in f.steps.values()))


@app.command()
@friendly
def init() -> None:
    """Create or migrate the database (Alembic) at GONGWEN_DATABASE_URL or ./.gongwen/gongwen.db."""
    url = Settings().resolved_database_url
    db.migrate(url)
    console.print(f"database ready: {db.get_engine(url).url.render_as_string(hide_password=True)}")


@app.command()
@friendly
def launch(
    flow: Annotated[str, typer.Argument(help="flow to run: outgoing (发文, full review chain), issuing (发文, sign-off only), ... (flows/*.yaml)")],
    notice: Annotated[Path, typer.Argument(help="YAML file with org: and content: (see config/demo/national_notice.yaml)")],
    user: Annotated[str, typer.Option(help="the secretary who launches it (config/users.yaml)")],
    policy: Annotated[str, typer.Option(help="execution policy (config/policies.yaml); 'manual' waits for people")] = "manual",
    run: Annotated[bool, typer.Option(help="run the automatic steps right away (else a worker does)")] = True,
    to: Annotated[Optional[list[str]], typer.Option("--to", help="deliver (核发) only to this child organisation's code (repeatable); default: every child organisation. The printed 主送机关 stay as the file writes them")] = None,
) -> None:
    """Launch a circulation: a secretary starts a flow over a new document (the first draft)."""
    engine = _engine()
    org, content = demo_mod.load_notice(notice)
    engine.user(user)  # an unknown name is refused; the engine checks who may launch (permissions)
    circ_id = engine.launch(org, flow, content, policy=policy, actor=user, deliver_to=to)
    reporting.add_requirements(engine, circ_id, reporting.load_requirement_specs(notice), user)  # the file's requirements: (报送要求)
    console.print(f"launched circulation #{circ_id} ({flow}, policy {policy})")
    if run:
        _run(engine)


def _run(engine: Engine, concurrency: int = 4) -> dict[str, int]:
    from gongwen_engine.flows.runtime.runner import run_until_idle

    counts = run_until_idle(engine, concurrency=concurrency)
    console.print("circulations: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return counts


@app.command("run")
@friendly
def run_cmd(concurrency: Annotated[int, typer.Option(help="circulations run at once")] = 4) -> None:
    """Run every circulation that has automatic work (in Prefect) until none is left."""
    _run(_engine(), concurrency)


@app.command()
@friendly
def worker(
    interval: Annotated[float, typer.Option(help="seconds between polls when idle (on PostgreSQL new work also wakes the worker at once)")] = 2.0,
    concurrency: Annotated[int, typer.Option(help="circulations run at once")] = 4,
    once: Annotated[bool, typer.Option(help="stop when idle instead of polling")] = False,
    linger: Annotated[float, typer.Option(help="idle seconds a flow run waits for more work before it ends")] = 60.0,
    reminder_interval: Annotated[float, typer.Option(help="seconds between runs of the gongwen-reminders flow (催办)")] = 300.0,
) -> None:
    """A long-running worker: start several (on several machines) against one PostgreSQL."""
    from gongwen_engine.flows.runtime.reminders import ReminderSchedule
    from gongwen_engine.flows.runtime.runner import serve

    engine = _engine()
    console.print(f"worker {engine.worker_name} polling every {interval}s (Ctrl-C to stop)")
    reminders = ReminderSchedule(every=reminder_interval)
    serve(engine, concurrency=concurrency, interval=interval, linger=linger, duties=lambda: reminders.tick(engine), duty_every=reminder_interval, once=once)


def _print_json(data: object) -> None:
    console.print_json(json.dumps(data, ensure_ascii=False, default=str))


@app.command()
@friendly
def inbox(
    user: Annotated[str, typer.Option(help="whose 待办 (config/users.yaml)")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """A person's work items (待办): their own, their role's, and those delegated to them."""
    from gongwen_engine.flows.services.circulations import inbox as inbox_view

    engine = _engine()
    engine.user(user)  # an unknown (or empty) name is refused, not shown an empty list
    entries = inbox_view(engine, user)
    if as_json:
        _print_json([e.as_json() for e in entries])
        return
    table = Table("item", "org", "step", "for", "document", "due", "since")
    for e in entries:
        due = e.due_at.strftime("%Y-%m-%d %H:%M") if e.due_at else ""
        table.add_row(str(e.item), e.org, f"{e.step_title} ({e.step})", e.for_whom, e.doc_number or e.document, f"[red]{due} 已超期[/]" if e.overdue else due, e.since.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


def _changes(title: str | None, recipients: str | None, body_file: Path | None) -> dict:
    """Draft revisions from the command line (a new version of the document)."""
    changes: dict = {}
    if title:
        changes["title"] = title
    if recipients:
        changes["main_recipients"] = [r.strip() for r in recipients.replace("，", ",").split(",") if r.strip()]
    if body_file:
        try:
            text = body_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise Refusal(f"无法读取正文文件 {body_file}：{exc}（请提供 UTF-8 文本，段落之间空一行）") from None
        changes["body"] = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    return changes


def _act(item: int, user: str, outcome: str, comment: str | None, run: bool, changes: dict | None = None) -> None:
    engine = _engine()
    result = engine.complete(item, user, outcome, comment, changes=changes or None)
    console.print(f"done: circulation #{result.circulation_id} now at {result.step or 'end'} ({result.status})")
    if run:
        _run(engine)


Comment = Annotated[Optional[str], typer.Option(help="opinion (意见) / instruction (批示)")]
RunOpt = Annotated[bool, typer.Option(help="continue the automatic steps right away")]
UserOpt = Annotated[str, typer.Option(help="who acts (config/users.yaml)")]
ItemArg = Annotated[int, typer.Argument(help="work item id (see `gongwen inbox`)")]


@app.command()
@friendly
def approve(item: ItemArg, user: UserOpt, comment: Comment = None, run: RunOpt = True) -> None:
    """Approve a work item (核稿、会签、签发、复核 同意)."""
    _act(item, user, "approve", comment, run)


@app.command("return")
@friendly
def return_cmd(item: ItemArg, user: UserOpt, comment: Annotated[str, typer.Option(help="what must change (required)")], run: RunOpt = True) -> None:
    """Return the draft with a comment (退回); the next round is a new version."""
    _act(item, user, "return", comment, run)


@app.command()
@friendly
def act(
    item: ItemArg,
    user: UserOpt,
    outcome: Annotated[str, typer.Option(help="one of the step's outcomes: submit, read, forward, file, reject, ...")],
    comment: Comment = None,
    title: Annotated[Optional[str], typer.Option(help="revise the draft: new title")] = None,
    recipients: Annotated[Optional[str], typer.Option(help="revise the draft: main recipients, comma-separated")] = None,
    body_file: Annotated[Optional[Path], typer.Option(help="revise the draft: UTF-8 text, paragraphs separated by a blank line")] = None,
    run: RunOpt = True,
) -> None:
    """Act on a work item with any of its outcomes (提交、已阅、转发、存档、…), optionally revising the draft."""
    _act(item, user, outcome, comment, run, _changes(title, recipients, body_file))


@app.command()
@friendly
def reassign(item: ItemArg, user: UserOpt, to: Annotated[str, typer.Option(help="colleague with the same role")], comment: Comment = None) -> None:
    """Hand a work item to a colleague with the same role (转办)."""
    engine = _engine()
    engine.reassign(item, user, to, comment)
    console.print(f"item {item} now for {engine.user(to).name}")


@app.command()
@friendly
def delegate(
    user: Annotated[str, typer.Option(help="the principal, e.g. a leader going on a trip")],
    to: Annotated[str, typer.Option(help="the deputy who may act for them")],
    until: Annotated[datetime, typer.Option(help="end of the delegation (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)")],
    start: Annotated[Optional[datetime], typer.Option("--from", help="start (default: now)")] = None,
    reason: Annotated[Optional[str], typer.Option(help="why (出差、休假、…)")] = None,
    by: Annotated[Optional[str], typer.Option(help="who records it (default: the principal; a secretary may record it for them)")] = None,
) -> None:
    """Name a deputy who may act on your items for a period (委托代办)."""
    engine = _engine()
    utc = timezone.utc
    starts = (start or datetime.now(utc)).replace(tzinfo=(start or datetime.now(utc)).tzinfo or utc)
    row = engine.delegate(user, to, starts, until.replace(tzinfo=until.tzinfo or utc), by or user, reason)
    console.print(f"delegation #{row.id}: {engine.user(to).name} acts for {engine.user(user).name} until {row.ends_at:%Y-%m-%d %H:%M} UTC")


@app.command()
@friendly
def diff(
    ref: Annotated[str, typer.Argument(help="circulation id or document number")],
    old: Annotated[int, typer.Option("--from", help="older version")] = 1,
    new: Annotated[Optional[int], typer.Option("--to", help="newer version (default: the latest)")] = None,
) -> None:
    """What changed between two versions of a draft (痕迹保留): title, recipients, text."""
    from gongwen_engine.flows.services.circulations import resolve_circulation, version_diff, versions

    engine = _engine()
    circ = resolve_circulation(engine, ref)
    latest = max((d.version for d in versions(engine, circ.id)), default=1)
    lines = version_diff(engine, circ.id, old, new or latest)
    console.print("\n".join(lines) if lines else "两稿内容相同（no differences）", markup=False)


@app.command()
@friendly
def remind() -> None:
    """Send reminders (催办) for overdue work items; each item is reminded once."""
    sent = _engine().send_reminders()
    console.print(f"reminders sent: {len(sent)}")


@app.command()
@friendly
def retry(circulation: Annotated[int, typer.Argument(help="circulation id")], user: Annotated[str, typer.Option()] = "operator") -> None:
    """Resume a circulation whose automatic step failed after its retries."""
    engine = _engine()
    engine.retry(circulation, user)
    _run(engine)


@app.command()
@friendly
def status(
    ref: Annotated[Optional[str], typer.Argument(help="a circulation id or document number: show its timeline")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    user: Annotated[Optional[str], typer.Option(help="who looks: only circulations of their organisation and those below it; omitted: the operator sees all")] = None,
) -> None:
    """Circulations and their state; with a document, its readable timeline."""
    from gongwen_engine.models.rules.permissions import Action, Org, allowed, authorize
    from gongwen_engine.flows.services.circulations import resolve_circulation, timeline

    engine = _engine()
    viewer = engine.user(user) if user is not None else None
    if ref:
        circ = resolve_circulation(engine, ref)
        if viewer:
            authorize(engine.config, viewer, Action.view_circulation, Org(circ.org, f"流转 {circ.id}"))
        lines = timeline(engine, circ.id)
        if as_json:
            _print_json({"circulation": circ.id, "org": circ.org, "flow": circ.flow, "step": circ.step, "status": circ.status, "timeline": lines})
            return
        console.print(f"[bold]{engine.config.org(circ.org).short_name} · {engine.flow(circ.flow).title}[/] — 当前：{engine.flow(circ.flow).step(circ.step).title if circ.step else '已结束'}（{circ.status}）")
        for line in lines:
            console.print(f"{line['at'][:19]}  {line['who']}  {line['what']}", markup=False)
        return
    rows = []
    with Session(engine.db) as session:
        for circ in session.exec(select(Circulation).order_by(Circulation.id)):
            if viewer and not allowed(engine.config, viewer, Action.view_circulation, Org(circ.org)):
                continue
            doc = session.get(Document, circ.document_id or circ.received_id) if (circ.document_id or circ.received_id) else None
            rows.append({"id": circ.id, "org": engine.config.org(circ.org).short_name, "flow": circ.flow, "step": circ.step, "status": circ.status, "error": circ.error, "document": (doc.doc_number or doc.title) if doc else None})
    if as_json:
        _print_json(rows)
        return
    table = Table("id", "org", "flow", "step", "status", "document")
    for r in rows:
        table.add_row(str(r["id"]), r["org"], r["flow"], r["step"] or "-", r["status"] + (f": {r['error']}" if r["error"] else ""), r["document"] or "")
    console.print(table)


@number_app.command("void")
@friendly
def number_void(doc_number: str, reason: Annotated[str, typer.Option(help="why the number is withdrawn (required)")], user: Annotated[str, typer.Option()] = "operator") -> None:
    """Void an allocated number: it is kept with the reason and never reused."""
    engine = _engine()
    with db.transaction(engine.db) as session:
        number = void_doc_number(session, doc_number, reason)
        engine.audit(session, user, "number_voided", None, None, None, {"doc_number": number.doc_number, "reason": reason})
    console.print(f"voided {doc_number}: {reason}")


@app.command()
@friendly
def demo(
    out: Annotated[Path, typer.Option(help="folder for the .docx files, manifest.json and the demo database")],
    concurrency: Annotated[int, typer.Option(help="circulations run at once")] = 4,
    interactive: Annotated[bool, typer.Option(help="leave the province's sign-off (签发) waiting for a person")] = False,
) -> None:
    """Run the seed chain: 全国妇联 issues 妇字〔2012〕2号, 山东省妇联 forwards it to 16 cities, cities to counties."""
    out = out.resolve()
    if (out / "manifest.json").exists():
        raise Refusal(f"{out} 已有一次演示结果（manifest.json）。请换一个空目录，或先删除该目录（choose an empty folder）")
    out.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=out / ".gongwen", storage=out, database_url=os.environ.get("GONGWEN_DATABASE_URL") or None)
    started = demo_mod.timer()
    engine = Engine(settings)
    if engine.status_counts():  # a demo killed half-way: launching again would send the notice twice
        raise Refusal(f"{out} 的数据库中已有一次演示（未完成）。继续它：GONGWEN_HOME={settings.home} GONGWEN_STORAGE={out} gongwen run；"
                        "或换一个空目录（choose an empty folder）")
    org, content = demo_mod.load_notice()
    total = demo_mod.expected_circulations(engine, org) + (0 if interactive else 1)  # + 山东省妇联's report (报送)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
        bar = progress.add_task("circulations 流转", total=total)
        root = engine.launch(org, "issuing", content, policy="demo_interactive" if interactive else "demo", actor=f"{org}_secretary")
        reporting.add_requirements(engine, root, reporting.load_requirement_specs(demo_mod.NATIONAL_NOTICE), f"{org}_secretary")
        from gongwen_engine.flows.runtime.runner import run_until_idle

        run_until_idle(engine, concurrency=concurrency, on_progress=lambda: progress.update(bar, completed=demo_mod.count_circulations(engine)))
        if not interactive:  # 山东省妇联 sends its 活动实施方案 up; 湖南省妇联 does not (the board shows it missing)
            reporting.demo_submission(engine)
            run_until_idle(engine, concurrency=concurrency)
        progress.update(bar, completed=demo_mod.count_circulations(engine))
    manifest = demo_mod.write_manifest(engine, out)
    s = demo_mod.summarise(engine, manifest, demo_mod.timer() - started)
    console.print(
        f"documents {s.documents} · deliveries {s.deliveries} · registrations {s.registrations} · archive items {s.archive_items} · "
        f"audit events {s.audit_events}\ncirculations {s.circulations} · {s.seconds:.1f} s · peak memory {s.peak_rss_mb:.0f} MB\nmanifest: {s.manifest}"
    )
    from gongwen_engine.flows.cli.reporting import print_board

    console.print("\n督办台账（supervision board）")
    print_board(reporting.board(engine))
    if interactive:
        env = f"GONGWEN_HOME={settings.home} GONGWEN_STORAGE={out}"
        console.print(
            "\n省级单位的签发正在等待领导办理（the province's sign-off waits for a person）：\n"
            f"  {env} gongwen inbox --user shandong_leader\n"
            f"  {env} gongwen approve <item> --user shandong_leader --comment 同意\n"
            "then the cascade continues to the cities and counties.",
            markup=False,
        )
        return
    if set(s.circulations) != {"done"}:
        raise Refusal(f"演示未全部完成：{s.circulations}（see `gongwen status`）")


from gongwen_engine.flows.cli.seal import seal_app  # noqa: E402 - imports friendly from this module

app.add_typer(seal_app, name="seal")
from gongwen_engine.flows.cli import receive as cli_receive  # noqa: E402,F401 - registers `gongwen receive` (收文)


from gongwen_engine.flows.cli.archive import archive_app  # noqa: E402  (imported last: it uses `friendly` above)

app.add_typer(archive_app, name="archive")
from gongwen_engine.flows.cli import reporting as cli_reporting  # noqa: E402,F401 - registers deadlines, board, submit-report, summary, stats (报送与督办)
from gongwen_engine.flows.cli import web as cli_web  # noqa: E402,F401 - registers `gongwen serve` (web workplace) and `gongwen passwords`
from gongwen_engine.flows.cli import cascade as cli_cascade  # noqa: E402,F401 - registers `gongwen cascade` (全国级联)
from gongwen_engine.flows.cli import invariants as cli_invariants  # noqa: E402,F401 - registers `gongwen check-invariants` (flows/invariants.py)
from gongwen_engine.flows.cli.audit import audit_app  # noqa: E402 - `gongwen audit` (list) and `gongwen audit verify` (the hash chain)

app.add_typer(audit_app, name="audit")
