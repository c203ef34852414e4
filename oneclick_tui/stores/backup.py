"""Backups that prove themselves: a dump plus a manifest of checksums and per-table row counts.

Why a manifest: a backup nobody has restored is a hope. The manifest records, for every
table, its row count and a SHA-256 of its rows, taken from the very snapshot the dump was
taken from (PostgreSQL: `pg_export_snapshot()` handed to `pg_dump --snapshot`), plus the
dump file's own SHA-256. `restore()` refuses a file whose checksum differs and, after
restoring, recomputes every table and reports any difference.

PostgreSQL: `pg_dump -Fc` / `pg_restore` / `psql` (must be on PATH, same major version or
newer than the server). SQLite: the online backup API, safe while the console is running.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from oneclick_tui.stores.db import is_sqlite, sqlite_path
from oneclick_tui.stores.security.roles import libpq_url

MANIFEST_VERSION = 1
TableStats = dict[str, dict[str, Any]]


class BackupError(Exception):
    """The backup or restore cannot be trusted; the message says which check failed."""


@dataclass(frozen=True)
class BackupResult:
    dump: Path
    manifest: Path
    tables: TableStats


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- PostgreSQL ---------------------------------------------------------------------------
_PG_TABLES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname
"""


async def _pg_stats(conn: asyncpg.Connection) -> TableStats:
    """Rows and a content hash per table (rows as text, sorted: independent of storage order)."""
    await conn.execute("SET LOCAL TimeZone = 'UTC'")
    stats: TableStats = {}
    for record in await conn.fetch(_PG_TABLES):
        name = record["relname"]
        row = await conn.fetchrow(
            f"SELECT count(*) AS n, encode(sha256(convert_to(coalesce("
            f"string_agg(t::text, E'\\n' ORDER BY t::text), ''), 'UTF8')), 'hex') AS h "
            f'FROM "{name}" t'
        )
        stats[name] = {"rows": row["n"], "sha256": row["h"]}
    return stats


async def _run(*argv: str) -> str:
    if shutil.which(argv[0]) is None:
        raise BackupError(f"{argv[0]} is not on PATH (install the PostgreSQL client tools)")
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise BackupError(f"{argv[0]} failed: {err.decode(errors='replace').strip()[:500]}")
    return out.decode()


async def _pg_backup(url: str, dump: Path) -> tuple[TableStats, dict[str, Any]]:
    conn = await asyncpg.connect(libpq_url(url))
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            stats = await _pg_stats(conn)
            info = {
                "database": await conn.fetchval("SELECT current_database()"),
                "server_version": await conn.fetchval("SHOW server_version"),
                "role_prefix": await conn.fetchval(
                    "SELECT coalesce(nullif(current_setting('oneclick.role_prefix', true), ''),"
                    " current_database())"
                ),
                "tool": (await _run("pg_dump", "--version")).strip(),
            }
            await _run(
                "pg_dump",
                "--format=custom",
                f"--snapshot={snapshot}",
                "--file",
                str(dump),
                "--dbname",
                libpq_url(url),
            )
    finally:
        await conn.close()
    return stats, info


async def _pg_current_stats(url: str) -> TableStats:
    conn = await asyncpg.connect(libpq_url(url))
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return await _pg_stats(conn)
    finally:
        await conn.close()


# pg_restore --clean drops each partition's copy of a parent key or index on its own, which
# PostgreSQL refuses ("cannot drop inherited constraint"); dropping the tables drops them.
_INHERITED_DROP = re.compile(
    r"^(ALTER TABLE IF EXISTS ONLY oneclick_partitions\.\S+ DROP CONSTRAINT IF EXISTS "
    r"|DROP INDEX IF EXISTS oneclick_partitions\.)"
)


def _without_inherited_drops(script: Path) -> None:
    """Remove those drops from the clean-up prelude (before the first CREATE) of a script."""
    out = script.with_suffix(".filtered.sql")
    with script.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        prelude = True
        for line in src:
            if prelude and line.startswith("CREATE "):
                prelude = False
            if prelude and _INHERITED_DROP.match(line):
                continue
            dst.write(line)
    out.replace(script)


async def _pg_restore(url: str, dump: Path, no_owner: bool) -> None:
    """pg_restore into a script, then psql runs it in one transaction (all or nothing).

    Why not pg_restore straight into the database: with monthly partitions (migration 0005)
    its --clean step fails on inherited constraints; the script is cleaned of those first.
    """
    argv = ["pg_restore", "--clean", "--if-exists"]
    if no_owner:
        argv.append("--no-owner")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "restore.sql"
        await _run(*argv, "--file", str(script), str(dump))
        await asyncio.to_thread(_without_inherited_drops, script)
        await _run(
            "psql",
            "--no-psqlrc",
            "--quiet",
            "--set",
            "ON_ERROR_STOP=1",
            "--single-transaction",
            "--dbname",
            libpq_url(url),
            "--file",
            str(script),
        )


# --- SQLite -------------------------------------------------------------------------------
def _sqlite_stats(path: Path) -> TableStats:
    conn = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        stats: TableStats = {}
        for name in names:
            rows = sorted(repr(tuple(r)) for r in conn.execute(f'SELECT * FROM "{name}"'))
            digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
            stats[name] = {"rows": len(rows), "sha256": digest}
        return stats
    finally:
        conn.close()


def _sqlite_copy(source: Path, target: Path) -> None:
    """Page-by-page online copy: consistent even while another process writes."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


# --- both ---------------------------------------------------------------------------------
async def backup(url: str, directory: Path) -> BackupResult:
    """Write `<name>.dump` (or `.sqlite`) and `<name>.manifest.json` into `directory`."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    info: dict[str, Any]
    if is_sqlite(url):
        source = sqlite_path(url)
        if source is None or not source.exists():
            raise BackupError(f"no SQLite database file at {source}")
        dump = directory / f"oneclick-{stamp}.sqlite"
        await asyncio.to_thread(_sqlite_copy, source, dump)
        stats = await asyncio.to_thread(_sqlite_stats, dump)
        info = {"backend": "sqlite", "database": str(source), "tool": "sqlite3 backup API"}
    else:
        dump = directory / f"oneclick-{stamp}.dump"
        stats, info = await _pg_backup(url, dump)
        info = {"backend": "postgresql", **info}
    manifest = {
        "version": MANIFEST_VERSION,
        **info,
        "created_at": datetime.now(UTC).isoformat(),
        "file": dump.name,
        "file_sha256": file_sha256(dump),
        "file_bytes": dump.stat().st_size,
        "tables": stats,
    }
    manifest_path = directory / f"oneclick-{stamp}.manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return BackupResult(dump=dump, manifest=manifest_path, tables=stats)


def compare(expected: TableStats, actual: TableStats) -> list[str]:
    """Every table whose rows or content differ, one line each (empty = identical)."""
    problems = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name), actual.get(name)
        if want is None or got is None:
            problems.append(f"{name}: {'missing after restore' if got is None else 'unexpected'}")
        elif want != got:
            problems.append(f"{name}: rows {want['rows']} -> {got['rows']}, content differs")
    return problems


async def current_stats(url: str) -> TableStats:
    """The same per-table figures a manifest holds, for the live database."""
    if is_sqlite(url):
        path = sqlite_path(url)
        assert path is not None
        return await asyncio.to_thread(_sqlite_stats, path)
    return await _pg_current_stats(url)


async def restore(url: str, manifest_path: Path, no_owner: bool = False) -> TableStats:
    """Check the dump against its manifest, restore it over `url`, verify every table."""
    manifest = json.loads(await asyncio.to_thread(manifest_path.read_text))
    dump = manifest_path.parent / manifest["file"]
    if not dump.exists():
        raise BackupError(f"dump file {dump} is missing")
    if file_sha256(dump) != manifest["file_sha256"]:
        raise BackupError(f"{dump.name} does not match its manifest checksum: refusing to restore")
    if is_sqlite(url):
        if manifest["backend"] != "sqlite":
            raise BackupError("this is a PostgreSQL backup; restore it into PostgreSQL")
        target = sqlite_path(url)
        if target is None:
            raise BackupError("restore needs a SQLite database file URL")
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(_sqlite_copy, dump, target)
    else:
        if manifest["backend"] != "postgresql":
            raise BackupError("this is a SQLite backup; restore it into SQLite")
        await _pg_restore(url, dump, no_owner)
    stats = await current_stats(url)
    problems = compare(manifest["tables"], stats)
    if problems:
        raise BackupError("restored data differs from the backup: " + "; ".join(problems))
    return stats
