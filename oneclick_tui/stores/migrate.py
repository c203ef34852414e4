"""Alembic, driven from code: upgrade, downgrade, current revision, head.

The scripts ship inside the package (`oneclick_tui.migrations`), so the Alembic config is
built here with an absolute script location instead of reading alembic.ini from the CWD. The
async engine's connection is handed to env.py through `config.attributes`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from oneclick_tui.stores.db import make_engine


def script_location() -> Path:
    """Where the migration scripts are, in a checkout or an installed package."""
    import oneclick_tui.migrations as package

    return Path(package.__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head() -> str:
    """The newest revision the scripts define."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head, found {heads}")
    return heads[0]


async def upgrade(url: str, revision: str = "head") -> None:
    await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, revision: str = "-1") -> None:
    await _run(url, lambda config: command.downgrade(config, revision))


async def current(url: str) -> str | None:
    """The revision the database is at, or None for an empty (unmigrated) database."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


async def _run(url: str, action: Callable[[Config], None]) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:

            def in_sync(sync_connection: Connection) -> None:
                config = alembic_config(url)
                config.attributes["connection"] = sync_connection
                action(config)

            await connection.run_sync(in_sync)
    finally:
        await engine.dispose()
