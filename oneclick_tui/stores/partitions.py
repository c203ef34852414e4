"""Monthly partitions of `trades` and `market_data` on PostgreSQL: create ahead, detach old.

Why: both tables grow without bound. Migration 0005 partitions them by month (see its
docstring for the keys and why exactly-once still holds); this module keeps the partitions
coming and lets an operator take old months out whole:

* `ensure` creates this month and the next N (database function
  `oneclick_ensure_partitions`, SECURITY DEFINER, so the engine and console roles may call
  it at start without owning the tables). A row no month exists for lands in the DEFAULT
  partition, never refused; `ensure` then moves it into its month.
* `detach` (owner) detaches every month that ended before a date. With an archive directory
  each detached month is written to verified CSV.gz files with a manifest (the retention
  archive format) and only then dropped; without one it stays as a plain table in schema
  `oneclick_partitions` for the operator to dump.

A trades month holds its lead trades and all their copies (a copy carries its lead's time),
so detaching it leaves no copy pointing at a missing lead. Detach only months older than the
chain feed can replay: a replayed lead of a detached month is no longer there to conflict.
SQLite keeps plain tables: everything here is a no-op or an error there.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oneclick_tui.stores.retention import Rule, verify_archive, write_archive
from oneclick_tui.stores.security.roles import libpq_url

log = logging.getLogger(__name__)

SCHEMA = "oneclick_partitions"
DEFAULT_MONTHS_AHEAD = 3
ARCHIVE_BATCH = 50_000


class PartitionError(Exception):
    """A partition operation cannot go ahead; the message says why."""


@dataclass(frozen=True)
class Partition:
    """One partition: its parent table, name, month (None = DEFAULT) and row count."""

    table: str
    name: str
    month: date | None
    rows: int


@dataclass
class Detached:
    """One month taken out: archived (and dropped) or left as a plain table."""

    table: str
    name: str
    month: date
    rows: int
    archives: list[Path] = field(default_factory=list)
    dropped: bool = False


def parse_month(value: str) -> date:
    """`YYYY-MM` -> the first day of that month (UTC)."""
    try:
        parsed = datetime.strptime(value, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise PartitionError(f"expected a month as YYYY-MM, got {value!r}") from None
    return date(parsed.year, parsed.month, 1)


def _month_of(name: str) -> date | None:
    """`trades_p2026_11` -> 2026-11-01; the DEFAULT partition -> None."""
    suffix = name.rsplit("_p", 1)[-1] if "_p" in name else ""
    try:
        year, month = suffix.split("_")
        return date(int(year), int(month), 1)
    except ValueError:
        return None


async def _connect(url: str) -> asyncpg.Connection:
    if not url.startswith("postgresql"):
        raise PartitionError("partitions exist on PostgreSQL only (SQLite keeps plain tables)")
    return await asyncpg.connect(libpq_url(url))


async def ensure(url: str, months_ahead: int = DEFAULT_MONTHS_AHEAD) -> list[str]:
    """Create this month's and the next `months_ahead` partitions; returns the new ones."""
    conn = await _connect(url)
    try:
        if not await conn.fetchval("SELECT to_regproc('oneclick_ensure_partitions') IS NOT NULL"):
            raise PartitionError("the database is not partitioned yet: run `oneclick db upgrade`")
        rows = await conn.fetch("SELECT oneclick_ensure_partitions($1) AS name", months_ahead)
        return [r["name"] for r in rows]
    finally:
        await conn.close()


async def ensure_partitions_on_start(engine: AsyncEngine) -> list[str]:
    """Best effort at start of the engine or console: never stops it from starting.

    Without the coming month's partition rows still land in DEFAULT (nothing is lost), so a
    failure here (an old role without the grant, a lock timeout) is only logged.
    """
    if engine.dialect.name != "postgresql":
        return []
    try:
        async with engine.begin() as conn:
            present = await conn.scalar(
                text("SELECT to_regproc('oneclick_ensure_partitions') IS NOT NULL")
            )
            if not present:
                return []
            made = list(
                (
                    await conn.execute(
                        text("SELECT oneclick_ensure_partitions(:n)"), {"n": DEFAULT_MONTHS_AHEAD}
                    )
                ).scalars()
            )
    except Exception as exc:
        log.warning("could not create the coming months' partitions: %s", exc)
        return []
    if made:
        log.info("created partitions %s", ", ".join(made))
    return made


_LIST = f"""
SELECT parent.relname AS table, child.relname AS name
FROM pg_inherits i
JOIN pg_class parent ON parent.oid = i.inhparent
JOIN pg_namespace pn ON pn.oid = parent.relnamespace AND pn.nspname = 'public'
JOIN pg_class child ON child.oid = i.inhrelid
JOIN pg_namespace cn ON cn.oid = child.relnamespace AND cn.nspname = '{SCHEMA}'
WHERE parent.relkind = 'p' AND child.relkind IN ('r', 'p')
ORDER BY parent.relname, child.relname
"""


async def partitions(url: str) -> list[Partition]:
    """Every partition with its exact row count."""
    conn = await _connect(url)
    try:
        out = []
        for r in await conn.fetch(_LIST):
            rows = await conn.fetchval(f'SELECT count(*) FROM {SCHEMA}."{r["name"]}"')
            out.append(Partition(r["table"], r["name"], _month_of(r["name"]), int(rows)))
        return out
    finally:
        await conn.close()


async def detach(url: str, before: date, archive_dir: Path | None = None) -> list[Detached]:
    """Detach every month that ended on or before `before`; archive and drop them if asked.

    Each month is detached in its own transaction. With `archive_dir` its rows are written
    to CSV.gz files (batches of ARCHIVE_BATCH, each with a manifest, each read back and
    checked) and the table is dropped only after every file verified. An audit row records
    each month taken out (the statement-level audit triggers do not see a detach).
    """
    conn = await _connect(url)
    done: list[Detached] = []
    try:
        for r in await conn.fetch(_LIST):
            month = _month_of(r["name"])
            if month is None or _next_month(month) > before:
                continue
            table, name = r["table"], r["name"]
            async with conn.transaction():
                await conn.execute(
                    f'ALTER TABLE public."{table}" DETACH PARTITION {SCHEMA}."{name}"'
                )
                rows = int(await conn.fetchval(f'SELECT count(*) FROM {SCHEMA}."{name}"'))
            outcome = Detached(table, name, month, rows)
            if archive_dir is not None:
                outcome.archives = await _archive(conn, table, name, month, archive_dir)
                archived = sum(verify_archive(_manifest_of(p)) for p in outcome.archives)
                if archived != rows:
                    raise PartitionError(f"{name}: archived {archived} rows of {rows}; kept")
                await conn.execute(f'DROP TABLE {SCHEMA}."{name}"')
                outcome.dropped = True
            await _audit(conn, outcome)
            done.append(outcome)
        return done
    finally:
        await conn.close()


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _manifest_of(archive: Path) -> Path:
    return archive.with_name(archive.name.replace(".csv.gz", ".manifest.json"))


async def _archive(
    conn: asyncpg.Connection, table: str, name: str, month: date, directory: Path
) -> list[Path]:
    """The detached month as verified CSV.gz files (rows by id, ARCHIVE_BATCH per file)."""
    end = _next_month(month)
    rule = Rule(
        name=f"partition-{name}",
        table=table,
        time_column="created_at" if table == "trades" else "bucket_at",
        where="",
        params={"partition": name},
        cutoff=datetime(end.year, end.month, end.day, tzinfo=UTC),
    )
    paths: list[Path] = []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        cursor = conn.cursor(f'SELECT * FROM {SCHEMA}."{name}" ORDER BY id')
        batch: list[Any] = []
        columns: list[str] = []
        async for record in cursor:
            if not columns:
                columns = list(record.keys())
            batch.append(tuple(record.values()))
            if len(batch) >= ARCHIVE_BATCH:
                paths.append(write_archive(directory, rule, columns, batch))
                batch = []
        if batch:
            paths.append(write_archive(directory, rule, columns, batch))
    return paths


async def _audit(conn: asyncpg.Connection, outcome: Detached) -> None:
    after = {
        "month": outcome.month.isoformat()[:7],
        "rows": outcome.rows,
        "dropped": outcome.dropped,
        "archives": [p.name for p in outcome.archives],
    }
    await conn.execute(
        "INSERT INTO audit_log (occurred_at, actor, action, entity_type, entity_id, after) "
        "VALUES (clock_timestamp(), 'system', 'partition.detach', $1, $2, $3::jsonb)",
        outcome.table,
        outcome.name,
        json.dumps(after),
    )
