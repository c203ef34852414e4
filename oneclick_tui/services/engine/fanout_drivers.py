"""Drivers that carry out a paper fan-out's steps (`paper_fanout`) in one transaction.

- `SqliteThreadDriver`: a SQLite file. The whole fan-out — its statements, the Python that
  decides between them, the wait for signatures — runs on a raw connection in a thread of
  its own, so it costs one hop off the event loop instead of several per statement, and the
  console's loop is not blocked while 10,000 followers are decided.
- `AsyncpgDriver`: PostgreSQL. The steps go straight to the asyncpg connection under a
  pooled SQLAlchemy connection (no per-statement SQLAlchemy work), one round trip each.
- `SessionDriver`: anything else (an in-memory SQLite database, which another connection
  could not see): the same steps through an async session's connection.

A driver begins before the first step and commits when the generator returns; if the
generator (or a statement) raises, it rolls back and re-raises, so a fan-out is all or
nothing either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from oneclick_tui.services.engine.copy_records import FanOut
from oneclick_tui.services.engine.paper_fanout import Query, Sign, Signed, Step, Steps
from oneclick_tui.services.engine.signer import CopySigner, SigningJob
from oneclick_tui.services.wallet.signing import SignedTx
from oneclick_tui.stores.db import connect_sqlite


class SqliteThreadDriver:
    """Runs fan-outs on one SQLite connection, on one thread (a fan-out at a time)."""

    dialect = "sqlite"

    def __init__(self, path: Path, signer: CopySigner | None) -> None:
        self.path = path
        self.signer = signer
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="fanout-sqlite")
        self._connection: sqlite3.Connection | None = None

    async def run(self, steps: Steps) -> tuple[int, FanOut]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._run, steps)

    def _run(self, steps: Steps) -> tuple[int, FanOut]:
        if self._connection is None:
            self._connection = connect_sqlite(self.path)
        connection = self._connection
        # IMMEDIATE: take the write lock now (waiting up to the busy timeout), so the ids
        # drawn after the lead row cannot collide with another writer's
        connection.execute("BEGIN IMMEDIATE")
        job: SigningJob | None = None
        reply: Any = None
        try:
            while True:
                step = steps.send(reply)
                if isinstance(step, Query):
                    cursor = connection.execute(step.sql, step.params)
                    reply = cursor.fetchall() if step.rows else cursor.rowcount
                elif isinstance(step, Sign):
                    job = self._signer().submit(step.spec, step.copies)
                    reply = None
                else:
                    assert isinstance(step, Signed) and job is not None
                    reply, job = job.result(), None
        except StopIteration as done:
            connection.execute("COMMIT")
            value: tuple[int, FanOut] = done.value
            return value
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if job is not None:  # let the pool finish before the next fan-out draws on it
                with contextlib.suppress(Exception):
                    job.result()
            raise

    def _signer(self) -> CopySigner:
        assert self.signer is not None, "a Sign step without a signer"
        return self.signer

    def close(self) -> None:
        """Wait for the fan-out in flight (it commits or rolls back), then close."""
        self._thread.submit(self._close).result()
        self._thread.shutdown(wait=True)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class AsyncpgDriver:
    """Runs fan-outs on the asyncpg connection of a pooled connection, one transaction each.

    The pool's checkout still pings the server and replaces a dead connection, and the
    connection keeps what the engine set up on connect (TLS, role, codecs).
    """

    dialect = "postgresql"

    def __init__(self, bind: AsyncEngine, signer: CopySigner | None) -> None:
        self.bind = bind
        self.signer = signer

    async def run(self, steps: Steps) -> tuple[int, FanOut]:
        async with self.bind.connect() as pooled:
            raw = (await pooled.get_raw_connection()).driver_connection
            assert raw is not None

            async def query(step: Query) -> Any:
                if step.rows:
                    return await raw.fetch(step.sql, *step.params)
                return _row_count(await raw.execute(step.sql, *step.params))

            async with raw.transaction():
                return await _drive(steps, query, self.signer)

    def close(self) -> None:
        """Nothing of its own to close (connections go back to the engine's pool)."""


async def _drive(
    steps: Steps, query: Callable[[Query], Awaitable[Any]], signer: CopySigner | None
) -> tuple[int, FanOut]:
    """Carry out the steps on the event loop, inside the caller's transaction."""
    signing: asyncio.Future[list[SignedTx | None]] | None = None
    try:
        reply: Any = None
        while True:
            step = await _advance(steps, reply)
            if isinstance(step, _Done):
                return step.value
            if isinstance(step, Query):
                reply = await query(step)
            elif isinstance(step, Sign):
                assert signer is not None, "a Sign step without a signer"
                signing = asyncio.ensure_future(signer.sign(step.spec, step.copies))
                reply = None
            else:
                assert isinstance(step, Signed) and signing is not None
                reply, signing = await signing, None
    finally:
        if signing is not None:  # the fan-out failed while signing ran
            with contextlib.suppress(Exception):
                await signing


OFF_LOOP_ROWS = 256
"""Rows read above which the next step (deciding, filling and building that many rows)
runs in a worker thread, so the event loop (the console's keys, the market feed) is not
held for it; below, a hop to a thread would cost more than the work."""


async def _advance(steps: Steps, reply: Any) -> Step | _Done:
    """The generator's next step, or `_Done` with its result; after a large read, computed
    off the event loop. (StopIteration can cross neither a coroutine nor a future.)"""
    if isinstance(reply, list) and len(reply) > OFF_LOOP_ROWS:
        return await asyncio.to_thread(_send, steps, reply)
    return _send(steps, reply)


class _Done:
    """The fan-out returned `value`."""

    def __init__(self, value: tuple[int, FanOut]) -> None:
        self.value = value


def _send(steps: Steps, reply: Any) -> Step | _Done:
    try:
        return steps.send(reply)
    except StopIteration as done:
        return _Done(done.value)


def _row_count(status: str) -> int:
    """Rows a statement changed, from asyncpg's command tag ("INSERT 0 12", "UPDATE 3")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class SessionDriver:
    """Runs fan-outs through an async session's connection, one transaction each."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], dialect: str, signer: CopySigner | None
    ) -> None:
        self.sessions = sessions
        self.dialect = dialect
        self.signer = signer

    async def run(self, steps: Steps) -> tuple[int, FanOut]:
        async with self.sessions.begin() as session:
            connection = await session.connection()

            async def query(step: Query) -> Any:
                result = await connection.exec_driver_sql(step.sql, step.params)
                return result.all() if step.rows else result.rowcount

            return await _drive(steps, query, self.signer)

    def close(self) -> None:
        """Nothing of its own to close (the sessions belong to the caller)."""
