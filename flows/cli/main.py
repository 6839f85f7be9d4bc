"""The ``gongwen`` command line: the root command, assembled from one module per command group
(each imports ``_common`` and services, never this module)."""

from __future__ import annotations

import typer

from gongwen_engine.flows.cli import (
    _common,
    admin,
    archive,
    audit,
    cascade,
    check,
    circulations,
    demo,
    invariants,
    items,
    number,
    people,
    receive,
    reporting,
    run,
    seal,
    web,
)

app = typer.Typer(
    help="gongwen: 公文流转 workflow engine. Declarative flows (flows/*.yaml), run by Prefect, stored with SQLModel.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    cls=_common.ChineseUsageGroup,
)  # no local values in a traceback (a database URL may hold a password); usage errors in Chinese

for group in (
    check.group,
    circulations.group,
    items.group,
    people.group,
    run.group,
    demo.group,
    receive.group,
    reporting.group,
    web.group,
    cascade.group,
    invariants.group,
):
    app.add_typer(group)  # top-level commands (gongwen launch, gongwen inbox, ...)
app.add_typer(number.group, name="number")
app.add_typer(seal.group, name="seal")
app.add_typer(archive.group, name="archive")
app.add_typer(reporting.deadlines, name="deadlines")
app.add_typer(audit.group, name="audit")
app.add_typer(admin.group, name="admin")
app.add_typer(admin.config_group, name="config")
