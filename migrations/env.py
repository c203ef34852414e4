"""Alembic environment: online migrations over a connection the caller provides.

`oneclick_tui.stores.migrate` opens an async engine and passes its sync connection in
`config.attributes["connection"]`. Run from the `alembic` command line (alembic.ini at the
repository root), it builds its own async engine from `sqlalchemy.url` or ONECLICK_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from oneclick_tui.stores.db import make_engine
from oneclick_tui.stores.models import Base

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_configure_and_run)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = os.environ.get("ONECLICK_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set ONECLICK_DATABASE_URL or sqlalchemy.url in alembic.ini")
    asyncio.run(_run_with_own_engine(url))


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run them online")
run_migrations_online()
