"""Retention: how long each kind of data is kept, and archiving what ages out.

Why archive before deleting: a retention run is irreversible, so rows leave the database only
after they are written to `<table>-<stamp>.csv.gz` with a manifest (row count, id list hash,
file SHA-256) and that file has been read back and checked. Deletion then happens in the
same transaction that selected (and on PostgreSQL locked) the rows, one batch at a time, so
locks stay short and a crash loses at most an archive file whose rows are still in place.
The audit log is never deleted (it is a hash chain; removing rows would break it).

Policy comes from configuration (`[retention]` in config.toml, see `RetentionSettings`).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from oneclick_tui.stores.types import UTCDateTime


class ArchiveError(Exception):
    """An archive does not match its manifest: nothing may be deleted on its account."""


class RetentionSettings(BaseModel):
    """Days to keep each data type; None = keep forever."""

    candles_days: dict[str, int | None] = Field(
        default_factory=lambda: {"1m": 30, "5m": 90, "1h": 730, "1d": None}
    )
    """market_data by timeframe: 1m 30 days, 1h two years, daily forever."""
    sessions_after_expiry_days: int | None = 90
    """user_sessions are removed this long after they expired."""
    audit_days: None = None
    """The audit log is kept forever: it is a hash chain and a compliance record."""
    archive_dir: Path | None = None
    """Where archives go (default: `<data dir>/archive`)."""
    batch_size: int = Field(default=10_000, gt=0)


@dataclass(frozen=True)
class Rule:
    """One slice of one table that ages out: rows matching `where` older than `cutoff`."""

    name: str
    table: str
    time_column: str
    where: str
    params: dict[str, Any]
    cutoff: datetime


@dataclass
class RuleOutcome:
    rule: str
    table: str
    cutoff: datetime
    rows: int
    archives: list[Path] = field(default_factory=list)


def rules(settings: RetentionSettings, now: datetime) -> list[Rule]:
    """The configured policy as concrete rules for this run."""
    out = []
    for timeframe, days in sorted(settings.candles_days.items()):
        if days is not None:
            out.append(
                Rule(
                    f"candles_{timeframe}",
                    "market_data",
                    "bucket_at",
                    "timeframe = :tf",
                    {"tf": timeframe},
                    now - timedelta(days=days),
                )
            )
    if settings.sessions_after_expiry_days is not None:
        cutoff = now - timedelta(days=settings.sessions_after_expiry_days)
        out.append(Rule("sessions", "user_sessions", "expires_at", "1 = 1", {}, cutoff))
    return out


def _ts_param(cutoff: datetime) -> Any:
    # Timestamps are UTC text on SQLite and timestamptz on PostgreSQL: bind via the column type.
    return bindparam("cutoff", cutoff, type_=UTCDateTime())


async def run(
    engine: AsyncEngine,
    settings: RetentionSettings,
    archive_dir: Path,
    dry_run: bool = False,
    now: datetime | None = None,
) -> list[RuleOutcome]:
    """Apply every rule; with `dry_run` only count what would go."""
    moment = now or datetime.now(UTC)
    outcomes = []
    for rule in rules(settings, moment):
        condition = f"{rule.where} AND {rule.time_column} < :cutoff"
        if dry_run:
            async with engine.connect() as conn:
                count = (
                    await conn.execute(
                        text(f"SELECT count(*) FROM {rule.table} WHERE {condition}").bindparams(
                            _ts_param(rule.cutoff)
                        ),
                        rule.params,
                    )
                ).scalar_one()
            outcomes.append(RuleOutcome(rule.name, rule.table, rule.cutoff, count))
            continue
        outcomes.append(await _archive_and_delete(engine, rule, condition, archive_dir, settings))
    return outcomes


async def _archive_and_delete(
    engine: AsyncEngine, rule: Rule, condition: str, archive_dir: Path, settings: RetentionSettings
) -> RuleOutcome:
    """One committed transaction per batch: select, archive, verify, delete those rows."""
    lock = " FOR UPDATE" if engine.dialect.name == "postgresql" else ""
    select = text(
        f"SELECT * FROM {rule.table} WHERE {condition} ORDER BY id LIMIT :limit{lock}"
    ).bindparams(_ts_param(rule.cutoff))
    delete = text(f"DELETE FROM {rule.table} WHERE id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    outcome = RuleOutcome(rule.name, rule.table, rule.cutoff, 0)
    while True:
        async with engine.begin() as conn:
            result = await conn.execute(select, {**rule.params, "limit": settings.batch_size})
            columns = list(result.keys())
            rows = [tuple(r) for r in result.all()]
            if not rows:
                return outcome
            archive = write_archive(archive_dir, rule, columns, rows)
            ids = [r[columns.index("id")] for r in rows]
            deleted = (await conn.execute(delete, {"ids": ids})).rowcount
            if deleted != len(ids):
                raise ArchiveError(f"{rule.table}: archived {len(ids)} rows, deleted {deleted}")
        outcome.rows += len(rows)
        outcome.archives.append(archive)
        if len(rows) < settings.batch_size:
            return outcome


def _ids_digest(ids: list[Any]) -> str:
    return hashlib.sha256("\n".join(str(i) for i in ids).encode()).hexdigest()


def write_archive(
    directory: Path, rule: Rule, columns: list[str], rows: list[tuple[Any, ...]]
) -> Path:
    """Write CSV.gz + manifest, then read the file back and check it before returning.

    Also how `oneclick db partitions detach --archive-dir` archives a detached month.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"{rule.name}-{stamp}.csv.gz"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else str(v) for v in row])
    path.write_bytes(gzip.compress(buffer.getvalue().encode()))
    ids = [row[columns.index("id")] for row in rows]
    manifest = {
        "rule": rule.name,
        "table": rule.table,
        "cutoff": rule.cutoff.isoformat(),
        "columns": columns,
        "rows": len(rows),
        "ids_sha256": _ids_digest(ids),
        "file": path.name,
        "file_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    manifest_path = path.with_name(path.name.replace(".csv.gz", ".manifest.json"))
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    verify_archive(manifest_path)
    return path


def verify_archive(manifest_path: Path) -> int:
    """Re-read the archive: checksum, row count, and the exact id list; returns rows."""
    manifest = json.loads(manifest_path.read_text())
    path = manifest_path.parent / manifest["file"]
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest["file_sha256"]:
        raise ArchiveError(f"{path.name}: checksum differs from its manifest")
    reader = csv.reader(io.StringIO(gzip.decompress(data).decode()))
    header = next(reader)
    if header != manifest["columns"]:
        raise ArchiveError(f"{path.name}: columns differ from its manifest")
    id_at = header.index("id")
    ids = [row[id_at] for row in reader]
    if len(ids) != manifest["rows"] or _ids_digest(ids) != manifest["ids_sha256"]:
        raise ArchiveError(f"{path.name}: rows differ from its manifest")
    return len(ids)
