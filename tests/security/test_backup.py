"""Restore drill: back up, mutate, restore, and every table's rows and checksum match again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from oneclick_tui.stores import backup as bk
from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import make_engine
from oneclick_tui.stores.security.audit_chain import verify
from tests.security.conftest import HardenedDb, seed


async def _mutate(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM community_interactions"))
            await conn.execute(text("UPDATE positions SET quantity = '42'"))
            await conn.execute(text("DELETE FROM market_data WHERE timeframe = '1m'"))
    finally:
        await engine.dispose()


async def _drill(url: str, tmp_path: Path) -> dict[str, dict[str, object]]:
    before = await bk.current_stats(url)
    result = await bk.backup(url, tmp_path / "backups")
    manifest = json.loads(result.manifest.read_text())
    assert manifest["tables"] == before
    assert manifest["file_sha256"] == bk.file_sha256(result.dump)
    assert manifest["tables"]["positions"]["rows"] == 2

    await _mutate(url)
    changed = await bk.current_stats(url)
    differs = {line.split(":")[0] for line in bk.compare(before, changed)}
    assert differs == {"community_interactions", "positions", "market_data"}

    restored = await bk.restore(url, result.manifest)
    assert restored == before
    assert bk.compare(before, await bk.current_stats(url)) == []
    return before


@pytest.mark.postgres
async def test_postgres_restore_drill(hardened: HardenedDb, tmp_path: Path) -> None:
    await seed(hardened.admin_url)
    before = await _drill(hardened.url_as("owner"), tmp_path)  # no superuser needed
    assert before["audit_log"]["rows"] > 0  # type: ignore[operator]
    report = await verify(hardened.admin_url)
    assert report.ok, report.problems  # the restored chain is the original chain
    # Security survives the round trip: RLS still on, app still scoped.
    engine = hardened.engine_as("app")
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM positions")) == 0
    finally:
        await engine.dispose()


async def test_sqlite_restore_drill(fresh_sqlite_url: str, tmp_path: Path) -> None:
    await migrate.upgrade(fresh_sqlite_url)
    await seed(fresh_sqlite_url)
    await _drill(fresh_sqlite_url, tmp_path)


async def test_a_damaged_dump_is_refused(fresh_sqlite_url: str, tmp_path: Path) -> None:
    await migrate.upgrade(fresh_sqlite_url)
    await seed(fresh_sqlite_url)
    result = await bk.backup(fresh_sqlite_url, tmp_path)
    with result.dump.open("r+b") as fh:
        fh.seek(200)
        fh.write(b"\xff\xff")
    with pytest.raises(bk.BackupError, match="does not match its manifest checksum"):
        await bk.restore(fresh_sqlite_url, result.manifest)


async def test_restore_reports_a_table_that_differs(fresh_sqlite_url: str, tmp_path: Path) -> None:
    await migrate.upgrade(fresh_sqlite_url)
    await seed(fresh_sqlite_url)
    result = await bk.backup(fresh_sqlite_url, tmp_path)
    manifest = json.loads(result.manifest.read_text())
    manifest["tables"]["positions"]["rows"] = 3  # a manifest that claims other data
    result.manifest.write_text(json.dumps(manifest))
    with pytest.raises(bk.BackupError, match="positions: rows 3 -> 2"):
        await bk.restore(fresh_sqlite_url, result.manifest)
