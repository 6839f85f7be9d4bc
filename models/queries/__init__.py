"""Read queries (查询): the one home of the SELECTs that services run for interfaces (CLI, web).

Each module holds the reads of one area; a function takes a ``Session`` and returns rows or small
typed records, never renders or decides. :func:`read` runs one in its own session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.engine import Engine as SqlEngine
from sqlmodel import Session

from gongwen_engine.models.db import retry_transient

P = ParamSpec("P")
T = TypeVar("T")


@retry_transient(in_doubt="retry")  # a read: running it again is harmless
def read(bind: SqlEngine, query: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``query(session, *args, **kwargs)`` in a session of its own (run again on a transient fault)."""
    with Session(bind) as session:
        return query(session, *args, **kwargs)
