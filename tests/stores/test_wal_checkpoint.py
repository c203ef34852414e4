"""SQLite connections as `stores.db` makes them: WAL checkpoints on a background thread, not
inside the engine's commits, and exact decimal addition in SQL.

What a user would see go wrong: a database file whose WAL grows without end, or data that
a second process cannot read. Checked on a real file with the real sqlite3 library.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from oneclick_tui.stores.db import make_engine, wal_checkpointer


async def _until(check: Callable[[], bool], within: float = 10.0) -> None:
    """A bounded poll: the checkpointer runs on its own thread, once a second."""
    deadline = time.monotonic() + within
    while not check() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def _rows_in_database_file(path: Path) -> int:
    """Rows of `t` in the main database file alone: `immutable` makes SQLite ignore the WAL,
    so only what a checkpoint copied back is seen (this probe checkpoints nothing)."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])
    finally:
        conn.close()


async def test_commits_leave_the_wal_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)"))
        checkpointer = wal_checkpointer(engine)
        assert checkpointer is not None
        async with engine.begin() as conn:  # ~3 MB: past the 1,000 pages auto-checkpoint used
            await conn.execute(text("INSERT INTO t (body) VALUES (:b)"), [{"b": "x" * 3000}] * 1000)
        seen = checkpointer.checkpoints
        await _until(lambda: checkpointer.checkpoints >= seen + 2)
        assert checkpointer.checkpoints >= seen + 2, "no background checkpoint ran"
        assert _rows_in_database_file(path) == 1000  # copied back by the thread, not a commit
    finally:
        await engine.dispose()
    stopped = wal_checkpointer(engine)
    assert stopped is not None and not stopped.running


async def test_a_disposed_engine_used_again_checkpoints_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'again.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        await engine.dispose()
        checkpointer = wal_checkpointer(engine)
        assert checkpointer is not None
        done = checkpointer.checkpoints
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t DEFAULT VALUES"))
        await _until(lambda: checkpointer.checkpoints > done)
        assert checkpointer.checkpoints > done
    finally:
        await engine.dispose()


async def test_sqlite_adds_decimal_text_exactly(tmp_path: Path) -> None:
    """`oneclick_dec_add`, what running totals are added with on SQLite: exact, no floats."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'dec.db'}")
    try:
        async with engine.connect() as conn:
            total = "0"
            for _ in range(10):
                total = (
                    await conn.execute(text("SELECT oneclick_dec_add(:a, '0.1')"), {"a": total})
                ).scalar_one()
            assert total == "1.000000000000000000"  # 0.1 x 10 in floats is 0.9999999999999999
            tiny = await conn.execute(
                text("SELECT oneclick_dec_add('12345678901234567.000000000000000001', '1')")
            )
            assert tiny.scalar_one() == "12345678901234568.000000000000000001"
            with pytest.raises(DBAPIError):  # beyond NUMERIC(38, 18): refused, not rounded
                await conn.execute(text("SELECT oneclick_dec_add('99999999999999999999', '1')"))
    finally:
        await engine.dispose()
