"""Alembic environment: gongwen's tables are the SQLModel metadata."""

from alembic import context
from sqlalchemy.engine import Connection

from gongwen_engine.models import tables

config = context.config
target_metadata = tables.SQLModel.metadata  # importing tables registers them there


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from gongwen_engine.models.db import get_engine

        with get_engine(config.get_main_option("sqlalchemy.url")).begin() as conn:
            _run(conn)
    else:
        _run(connection)


def _run(connection: Connection) -> None:
    from gongwen_engine.models.db import include_name

    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True, include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
