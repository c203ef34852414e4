"""Shared fixtures: a fresh real PostgreSQL database per run, a SQLite file per test, Redis.

The servers are the real ones on this machine (see README). Override where they live with
ONECLICK_TEST_PG_ADMIN_URL and ONECLICK_TEST_REDIS_URL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from oneclick_tui.stores.security.roles import drop_database_and_roles

PG_ADMIN_URL = os.environ.get(
    "ONECLICK_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_URL = os.environ.get("ONECLICK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the developer's real config, data or keyring settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    for name in list(os.environ):
        if name.startswith("ONECLICK_") and not name.startswith("ONECLICK_TEST_"):
            monkeypatch.delenv(name)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_url_for(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{database}"


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """Create an empty PostgreSQL database of its own (async URL); drop it afterwards."""
    name = f"oneclick_test_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url_for(name)
    finally:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await drop_database_and_roles(conn, name)
        finally:
            await conn.close()


@pytest.fixture
async def fresh_pg_url() -> AsyncIterator[str]:
    """An empty real PostgreSQL database for this test."""
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite database file of its own (async URL)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'oneclick.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Every test using this runs twice: on SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'oneclick.db'}"
        return
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The real Redis, on a database index the tests own (flushed before and after)."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    yield REDIS_TEST_URL
    client.flushdb()
    client.close()
