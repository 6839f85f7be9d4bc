"""What the ``gongwen`` command says when it is used wrongly or fails unexpectedly: never a
traceback. Usage errors (an unknown option, a value of the wrong type) are said in Chinese first;
an unexpected failure is reported in one Chinese line, its traceback written to
``$GONGWEN_HOME/errors.log`` for the operator."""

from __future__ import annotations

import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
import typer
from typer.core import TyperGroup

try:  # typer >= 0.2x carries its own copy of click: its exceptions are the ones raised
    from typer._click import exceptions as usage
except ImportError:  # pragma: no cover - older typer on plain click
    from click import exceptions as usage

ERROR_LOG = "errors.log"
# Raised on purpose (an exit code, a usage error, Ctrl-C): passed on, never reported as an internal error.
PASS_THROUGH: tuple[type[BaseException], ...] = (typer.Exit, typer.Abort, usage.ClickException, click.exceptions.Exit, click.ClickException, click.Abort)


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
    text = f"--- {datetime.now(timezone.utc).isoformat()}\n" + "".join(traceback.format_exception(exc))
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
