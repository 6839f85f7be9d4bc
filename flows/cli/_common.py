"""What every ``gongwen`` command group shares: the consoles, the engine, the one error handler
(:func:`friendly`) and the helpers several groups use. Group modules import this module and
services, never ``main`` (which only assembles the groups).

Errors are never a traceback. A refusal (:class:`Refusal`: Chinese text for the person) and a
wrong definition (:class:`DefinitionError`, a config or flow file at file:line) are shown as they
are, exit code 2; so is a database that cannot be reached. Anything else is a bug: one Chinese line,
exit code 3 (1 means "checked and found problems" for the verify commands), its traceback written
to ``$GONGWEN_HOME/errors.log`` for the operator. Usage errors (an unknown option, a value of the
wrong type) are said in Chinese first."""

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
import json
import logging
import signal as signal_module
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from gongwen_engine.config.errors import DefinitionError, Refusal
from gongwen_engine.config.loader import Config
from gongwen_engine.config.schema import Organisation, Policy
from gongwen_engine.config.settings import Settings
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.runtime.signals import stopping, termination_signal
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.models import db
from gongwen_engine.models.rules.dates import given_time
from gongwen_engine.models.tables import CIRCULATION_STATUS_WORDS

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # checked against the installed typer, which carries its own click
    from typer._click import exceptions as usage
else:
    try:  # typer >= 0.2x carries its own copy of click: its exceptions are the ones raised
        from typer._click import exceptions as usage
    except ImportError:  # pragma: no cover - older typer on plain click
        from click import exceptions as usage

ERROR_LOG = "errors.log"
INTERNAL_ERROR_EXIT = 3  # 1 is "checked, problems found" (archive verify, audit verify, seal verify, check-invariants)
REFUSED_EXIT = 2
# Raised on purpose (an exit code, a usage error, Ctrl-C): passed on, never reported as an internal error.
PASS_THROUGH: tuple[type[BaseException], ...] = (typer.Exit, typer.Abort, usage.ClickException, click.exceptions.Exit, click.ClickException, click.Abort)
P = ParamSpec("P")
T = TypeVar("T")

console = Console()
err = Console(stderr=True)

# Options several groups take
Comment = Annotated[str | None, typer.Option(help="opinion (意见) / instruction (批示)")]
RunOpt = Annotated[bool, typer.Option(help="continue the automatic steps right away")]
UserOpt = Annotated[str, typer.Option(help="who acts (config/users.yaml)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def time_from(text: str) -> datetime:
    """A start a person gives: a date (from its start) or a time; Beijing time unless the zone is written."""
    return given_time(text, day_end=False)


def time_until(text: str) -> datetime:
    """An end a person gives: a date (to its end, 23:59:59) or a time; Beijing time unless the zone is written."""
    return given_time(text, day_end=True)


@contextmanager
def _usage_in_chinese() -> Iterator[None]:
    try:
        yield
    except usage.NoArgsIsHelpError:
        raise  # a bare group prints its help
    except usage.UsageError as exc:
        if getattr(exc, "gongwen_said", False):
            raise
        said = usage.UsageError(f"参数错误：{exc.format_message()}（用 --help 查看用法）", ctx=exc.ctx)
        said.gongwen_said = True  # type: ignore[attr-defined]
        raise said from None


class ChineseUsageGroup(TyperGroup):
    """The root command: usage errors of every subcommand are prefixed with a Chinese sentence."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with _usage_in_chinese():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _usage_in_chinese():
            return super().invoke(ctx)


def record_internal_error(exc: BaseException, home: Path) -> Path:
    """Append the traceback to ``home/errors.log`` (or a temporary file if that fails); its path."""
    text = f"--- {datetime.now(UTC).isoformat()}\n" + "".join(traceback.format_exception(exc))
    for folder in (home, Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / ERROR_LOG
            with path.open("a", encoding="utf-8") as log:
                log.write(text)
            return path
        except OSError:
            continue
    return Path(ERROR_LOG)


def internal_error_message(exc: BaseException, home: Path) -> str:
    """One Chinese line for an unexpected failure (the traceback goes to the error log)."""
    path = record_internal_error(exc, home)
    return f"内部错误（{type(exc).__name__}），操作可能没有完成。详情已记入 {path}，请交给系统管理员。"


def refusal_text(exc: Exception) -> str | None:
    """What the person is told for an error raised on purpose (rich markup); ``None`` for a bug."""
    if isinstance(exc, (SourceError, SourceErrors, DefinitionError)):
        return f"[bold red]配置错误[/]\n{escape(str(exc))}"
    if isinstance(exc, Refusal):
        hint = getattr(exc, "hint", "")  # a refusal may say what to do
        return f"[bold red]错误：[/]{escape(str(exc))}" + (f"\n{escape(hint)}" if hint else "")
    if isinstance(exc, OverflowError):  # an id or year past any stored integer
        return "[bold red]错误：[/]数字过大，超出了可以存储的范围；编号、年度请填写正常大小的正整数。"
    database = db.database_failure(exc)
    return None if database is None else f"[bold red]数据库错误：[/]{escape(str(database))}"


STOPPED = "已停止：收到终止信号（SIGTERM）。进行中的步骤未提交的部分已回滚，再次启动后从原步骤继续。"


def friendly(fn: Callable[P, T]) -> Callable[P, T]:
    """The CLI's one error handler (see the module's docstring): never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except PASS_THROUGH:
            raise  # typer.Exit from the command, usage errors, Ctrl-C: typer reports them
        except Exception as exc:
            if stopping.is_set():  # SIGTERM came while this ran: what it cut off (e.g. wrapped by a library) is the stop, not a bug
                err.print(STOPPED)
                raise typer.Exit(128 + signal_module.SIGTERM) from None
            said = refusal_text(exc)
            if said is None:  # a bug: said as one, its traceback in the error log
                err.print(f"[bold red]{escape(internal_error_message(exc, Path(os.environ.get('GONGWEN_HOME') or '.gongwen')))}[/]")
                raise typer.Exit(INTERNAL_ERROR_EXIT) from None
            err.print(said)
            raise typer.Exit(REFUSED_EXIT) from None
        except BaseException as exc:
            signal = termination_signal(exc)
            if signal is None and isinstance(exc, SystemExit) and stopping.is_set():
                signal = signal_module.SIGTERM  # our handler's exit (signals.py): the same one line
            if signal is None:
                raise
            err.print(STOPPED)
            raise typer.Exit(128 + signal) from None

    return wrapper


@contextmanager
def polling(update: Callable[[], None], every_s: float = 0.5) -> Iterator[None]:
    """Call ``update`` every ``every_s`` seconds on a thread of its own while the block runs (a
    progress bar following work done in other processes too); its errors are logged, not raised."""
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(every_s):
            try:
                update()
            except Exception as exc:  # a busy or unreachable database: the bar waits for the next poll
                log.debug("progress not updated (%s)", exc)

    thread = threading.Thread(target=poll, name="gongwen-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def engine_from_env(clean: bool = True) -> Engine:
    """The engine of this installation (GONGWEN_HOME, GONGWEN_DATABASE_URL, ...); ``clean``: remove
    what killed processes left behind first (services/leftovers.py)."""
    return open_engine(Settings(), clean=clean)


def print_json(data: object) -> None:
    console.print_json(json.dumps(data, ensure_ascii=False, default=str))


def run_automatic(engine: Engine, concurrency: int = 4) -> dict[str, int]:
    """Run the automatic steps (in Prefect) until none is left; print the circulations' counts."""
    from gongwen_engine.flows.runtime.runner import run_until_idle

    counts = run_until_idle(engine, concurrency=concurrency)
    console.print("流转：" + "，".join(f"{CIRCULATION_STATUS_WORDS.get(k, k)} {v}" for k, v in sorted(counts.items())))
    return counts


def known_org(config: Config, code: str) -> Organisation:
    """The organisation a person named by its code; an unknown code is refused."""
    if code not in config.organisations:
        raise Refusal(f"未知机关代码“{code}”（机关代码见 {config.directory / 'organisations.yaml'}）")
    return config.organisations[code]


def known_policy(config: Config, name: str) -> Policy:
    """The execution policy a person named; an unknown name is refused."""
    if name not in config.policies:
        raise Refusal(f"未知执行策略“{name}”，可选：{'、'.join(sorted(config.policies))}（见 {config.directory / 'policies.yaml'}）")
    return config.policies[name]


def draft_changes(title: str | None, recipients: str | None, body_file: Path | None) -> dict[str, Any]:
    """Draft revisions from the command line (a new version of the document)."""
    changes: dict[str, Any] = {}
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
