"""``gongwen number …``: document numbers (发文字号)."""

from __future__ import annotations

from typing import Annotated

import typer

from gongwen_engine.flows.cli._common import console, engine_from_env, friendly
from gongwen_engine.flows.services.numbering import void_number

group = typer.Typer(help="Document numbers (发文字号).", no_args_is_help=True)


@group.command("void")
@friendly
def number_void(
    doc_number: str, reason: Annotated[str, typer.Option(help="why the number is withdrawn (required)")], user: Annotated[str, typer.Option()] = "operator"
) -> None:
    """Void an allocated number: it is kept with the reason and never reused."""
    void_number(engine_from_env(), doc_number, reason, user)
    console.print(f"已作废 {doc_number}：{reason}")
