"""Engines and sessions for the relational store, and the first-start schema bootstrap.

SQLite needs per-connection settings (foreign keys are off by default, WAL lets the console
read while the engine writes, a busy timeout waits instead of failing on a lock), so they are
applied on every new connection. PostgreSQL gets a bounded, health-checked pool.
"""

from __future__ import annotations

import sqlite3
import weakref
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from oneclick_tui.stores.security.tls import asyncpg_url_and_args
from oneclick_tui.stores.sqlite_checkpoint import WalCheckpointer
from oneclick_tui.stores.types import _EXACT, Amount

SQLITE_BUSY_TIMEOUT_MS = 5000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory / non-SQLite URLs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine configured for its backend."""
    if is_sqlite(url):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        path = sqlite_path(url)
        if path is not None:
            _checkpoint_in_background(engine, path)
        return engine
    url, tls = asyncpg_url_and_args(url)
    options: dict[str, Any] = {
        "connect_args": tls,
        "pool_size": 5,
        "max_overflow": 5,
        "pool_pre_ping": True,
        "pool_recycle": 1800,
    }
    options.update(kwargs)
    return create_async_engine(url, **options)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function("oneclick_dec_add", 2, _decimal_add, deterministic=True)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def connect_sqlite(path: Path) -> sqlite3.Connection:
    """A raw connection to the database file, set up like every engine connection (foreign
    keys, WAL, busy timeout, `oneclick_dec_add`; auto-checkpoint off, the engine's
    background checkpointer does it) and in autocommit mode: the caller BEGINs.

    For the copy engine's paper fan-out, which runs a whole transaction on a thread of its
    own (`services.engine.fanout_drivers`)."""
    connection = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000
    )
    _sqlite_on_connect(connection, None)
    connection.execute("PRAGMA wal_autocheckpoint=0")
    return connection


_CHECKPOINTERS: weakref.WeakKeyDictionary[Any, WalCheckpointer] = weakref.WeakKeyDictionary()


def wal_checkpointer(engine: AsyncEngine) -> WalCheckpointer | None:
    """The background WAL checkpointer of a SQLite file engine (None otherwise)."""
    return _CHECKPOINTERS.get(engine.sync_engine)


def _checkpoint_in_background(engine: AsyncEngine, path: Path) -> None:
    """Auto-checkpoint off on every connection; a thread checkpoints instead (see
    `sqlite_checkpoint`), started with the first connection, stopped on dispose."""
    checkpointer = WalCheckpointer(path)
    _CHECKPOINTERS[engine.sync_engine] = checkpointer

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        finally:
            cursor.close()
        checkpointer.start()

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "engine_disposed", lambda _engine: checkpointer.stop())


_AMOUNT = Amount()


def _decimal_add(a: str | None, b: str | None) -> str | None:
    """SQL `oneclick_dec_add(a, b)`: exact sum of two decimal TEXT values, stored the way an
    Amount column stores it. Why: SQLite's `+` on TEXT is floating point; running totals
    (`copy_holdings`) are added in an upsert. Overflow raises, failing the statement."""
    if a is None or b is None:
        return None
    return format(_AMOUNT.normalise(_EXACT.add(Decimal(a), Decimal(b))), "f")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (entities are built from them)."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def ensure_schema(url: str) -> str:
    """Create the SQLite file's directory and migrate to head; returns the revision."""
    from oneclick_tui.stores import migrate

    path = sqlite_path(url)
    if path is not None:
        path.expanduser().parent.mkdir(parents=True, exist_ok=True)
    target = migrate.head()
    if await migrate.current(url) != target:
        await migrate.upgrade(url, "head")
    return target
