"""The ``gongwen`` command line."""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # keep the terminal readable; the UI has the runs
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry calls from a closed network
# The embedded server logs cancelled event flushes when the process exits; the runs are already
# recorded in our database, so that is noise for the user. A real server logs as configured.
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
# The embedded server migrates a fresh Prefect database on first start; on a busy 2-core
# machine that exceeds Prefect's default 20 s.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

import functools
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session, select

from gongwen_engine.config.loader import load_config
from gongwen_engine.config.settings import Settings
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors
from gongwen_engine.models import db
from gongwen_engine.models.numbering import void_doc_number
from gongwen_engine.models.tables import AuditEvent, Circulation, Document

from . import demo as demo_mod
from .engine import Engine, FlowError

app = typer.Typer(help="gongwen: 公文流转 workflow engine. Declarative flows (flows/*.yaml), run by Prefect, stored with SQLModel.", no_args_is_help=True, add_completion=False)
number_app = typer.Typer(help="Document numbers (发文字号).", no_args_is_help=True)
app.add_typer(number_app, name="number")
console = Console()
err = Console(stderr=True)


def friendly(fn):  # noqa: ANN001, ANN201
    """Turn expected errors into a clear message and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            return fn(*args, **kwargs)
        except (SourceError, SourceErrors) as exc:
            err.print(f"[bold red]配置错误（configuration error）[/]\n{exc}")
        except FlowError as exc:
            err.print(f"[bold red]错误：[/]{exc}")
        except (KeyError, LookupError, ValueError) as exc:
            err.print(f"[bold red]错误：[/]{exc.args[0] if exc.args else exc}")
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
    from . import actions
    from .definition import PACKAGED_FLOWS_DIR, load_flows

    flows = load_flows(Path(settings.flows_dir or PACKAGED_FLOWS_DIR), set(actions.ACTIONS))
    console.print(f"config OK: {len(config.organisations)} organisations, {len(config.users)} users, {len(config.policies)} policies ({config.directory})")
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
    notice: Annotated[Path, typer.Argument(help="YAML file with org: and content: (see config/demo/national_notice.yaml)")],
    user: Annotated[str, typer.Option(help="the secretary who launches it (config/users.yaml)")],
    flow: Annotated[str, typer.Option(help="flow to run (flows/*.yaml)")] = "issuing",
    policy: Annotated[str, typer.Option(help="execution policy (config/policies.yaml); 'manual' waits for people")] = "manual",
    run: Annotated[bool, typer.Option(help="run the automatic steps right away")] = True,
) -> None:
    """Launch a circulation: a secretary starts a flow over a new document."""
    engine = _engine()
    org, content = demo_mod.load_notice(notice)
    account = engine.config.users.get(user)
    if account is None or account.org != org or "secretary" not in account.roles:
        raise FlowError(f"用户 {user} 不是 {org} 的秘书，不能发起流转（only a secretary of {org} may launch）")
    circ_id = engine.launch(org, flow, content, policy=policy, actor=user)
    console.print(f"launched circulation #{circ_id} ({flow}, policy {policy})")
    if run:
        _run(engine)


def _run(engine: Engine, concurrency: int = 4) -> dict[str, int]:
    from .runner import run_until_idle

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
    interval: Annotated[float, typer.Option(help="seconds between polls when idle")] = 2.0,
    concurrency: Annotated[int, typer.Option(help="circulations run at once")] = 4,
    once: Annotated[bool, typer.Option(help="stop when idle instead of polling")] = False,
) -> None:
    """A long-running worker: start several (on several machines) against one PostgreSQL."""
    from .runner import run_until_idle

    engine = _engine()
    console.print(f"worker {engine.worker_name} polling every {interval}s (Ctrl-C to stop)")
    while True:
        run_until_idle(engine, concurrency=concurrency)
        if once:
            return
        time.sleep(interval)


@app.command()
@friendly
def tasks(user: Annotated[Optional[str], typer.Option(help="only the items this user may act on")] = None) -> None:
    """List human work items (待办) waiting for a person."""
    engine = _engine()
    table = Table("item", "org", "step", "role", "document", "since")
    for item, circ, doc in engine.open_items(user):
        step = engine.flow(circ.flow).step(item.step)
        table.add_row(str(item.id), engine.config.org(circ.org).short_name, f"{step.title} ({item.step})", item.role or "", doc.title if doc else "", item.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@app.command()
@friendly
def act(
    item: Annotated[int, typer.Argument(help="work item id (see `gongwen tasks`)")],
    user: Annotated[str, typer.Option(help="who acts (config/users.yaml)")],
    outcome: Annotated[str, typer.Option(help="e.g. approve or return (the step's outcomes)")] = "approve",
    comment: Annotated[Optional[str], typer.Option(help="opinion (意见)")] = None,
    run: Annotated[bool, typer.Option(help="continue the automatic steps right away")] = True,
) -> None:
    """Act on a human work item: approve (签发), return with a comment, ..."""
    engine = _engine()
    result = engine.complete(item, user, outcome, comment)
    console.print(f"done: circulation #{result.circulation_id} now at {result.step or 'end'} ({result.status})")
    if run:
        _run(engine)


@app.command()
@friendly
def retry(circulation: Annotated[int, typer.Argument(help="circulation id")], user: Annotated[str, typer.Option()] = "operator") -> None:
    """Resume a circulation whose automatic step failed after its retries."""
    engine = _engine()
    engine.retry(circulation, user)
    _run(engine)


@app.command()
@friendly
def status() -> None:
    """Circulations per organisation: current step and state."""
    engine = _engine()
    table = Table("id", "org", "flow", "step", "status", "document")
    with Session(engine.db) as session:
        for circ in session.exec(select(Circulation).order_by(Circulation.id)):
            doc = session.get(Document, circ.document_id or circ.received_id) if (circ.document_id or circ.received_id) else None
            table.add_row(str(circ.id), engine.config.org(circ.org).short_name, circ.flow, circ.step or "-", circ.status + (f": {circ.error}" if circ.error else ""), (doc.doc_number or doc.title) if doc else "")
    console.print(table)


@app.command()
@friendly
def audit(
    doc_number: Annotated[Optional[str], typer.Option("--doc-number", help="only events of this document")] = None,
    org: Annotated[Optional[str], typer.Option(help="only events at this organisation")] = None,
) -> None:
    """The audit trail: who did what, when, to which document."""
    engine = _engine()
    table = Table("time (UTC)", "actor", "org", "action", "document", "detail")
    with Session(engine.db) as session:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        if org:
            stmt = stmt.where(AuditEvent.org == org)
        if doc_number:
            doc = session.exec(select(Document).where(Document.doc_number == doc_number)).first()
            if doc is None:
                raise FlowError(f"文号 {doc_number} 不存在（no such document number）")
            stmt = stmt.where(AuditEvent.document_id == doc.id)
        for ev in session.exec(stmt):
            table.add_row(ev.at.strftime("%Y-%m-%d %H:%M:%S"), ev.actor, ev.org or "", ev.action, str(ev.document_id or ""), ", ".join(f"{k}={v}" for k, v in ev.detail.items()))
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
) -> None:
    """Run the seed chain: 全国妇联 issues 妇字〔2012〕2号, 山东省妇联 forwards it to 16 cities, cities to counties."""
    out = out.resolve()
    if (out / "manifest.json").exists():
        raise FlowError(f"{out} 已有一次演示结果（manifest.json）。请换一个空目录，或先删除该目录（choose an empty folder）")
    out.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=out / ".gongwen", storage=out, database_url=os.environ.get("GONGWEN_DATABASE_URL") or None)
    started = demo_mod.timer()
    engine = Engine(settings)
    org, content = demo_mod.load_notice()
    total = demo_mod.expected_circulations(engine, org)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
        bar = progress.add_task("circulations 流转", total=total)
        engine.launch(org, "issuing", content, policy="demo", actor=f"{org}_secretary")
        from .runner import run_until_idle

        run_until_idle(engine, concurrency=concurrency, on_progress=lambda: progress.update(bar, completed=demo_mod.count_circulations(engine)))
        progress.update(bar, completed=demo_mod.count_circulations(engine))
    manifest = demo_mod.write_manifest(engine, out)
    s = demo_mod.summarise(engine, manifest, demo_mod.timer() - started)
    console.print(
        f"documents {s.documents} · deliveries {s.deliveries} · registrations {s.registrations} · archive items {s.archive_items} · "
        f"audit events {s.audit_events}\ncirculations {s.circulations} · {s.seconds:.1f} s · peak memory {s.peak_rss_mb:.0f} MB\nmanifest: {s.manifest}"
    )
    if set(s.circulations) != {"done"}:
        raise FlowError(f"演示未全部完成：{s.circulations}（see `gongwen status`）")
