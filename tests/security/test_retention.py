"""Retention: configured periods, dry run, CSV.gz archives verified before rows are deleted."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from oneclick_tui.stores import migrate, retention
from oneclick_tui.stores.db import make_engine
from tests.security.conftest import T0, seed


async def _count(url: str, sql: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text(sql))).scalar_one())
    finally:
        await engine.dispose()


def _archives(directory: Path, pattern: str) -> list[Path]:
    return sorted(directory.glob(pattern)) if directory.exists() else []


async def _run(
    url: str, archive: Path, days: int, dry_run: bool = False, batch: int = 10_000
) -> dict[str, int]:
    engine = make_engine(url)
    policy = retention.RetentionSettings(batch_size=batch)
    try:
        outcomes = await retention.run(engine, policy, archive, dry_run, T0 + timedelta(days=days))
    finally:
        await engine.dispose()
    return {o.rule: o.rows for o in outcomes}


async def test_policy_archives_then_deletes(fresh_db_url: str, tmp_path: Path) -> None:
    tmp_path = tmp_path / "archive"
    await migrate.upgrade(fresh_db_url)
    await seed(fresh_db_url)
    audit_before = await _count(fresh_db_url, "SELECT count(*) FROM audit_log")

    # 40 days on: the 1m candle is past 30 days; the 1h candle (2 years) and sessions stay.
    plan = await _run(fresh_db_url, tmp_path, 40, dry_run=True)
    assert plan == {"candles_1m": 1, "candles_5m": 0, "candles_1h": 0, "sessions": 0}
    assert _archives(tmp_path, "*") == []
    assert await _count(fresh_db_url, "SELECT count(*) FROM market_data") == 2

    assert (await _run(fresh_db_url, tmp_path, 40))["candles_1m"] == 1
    assert await _count(fresh_db_url, "SELECT count(*) FROM market_data") == 1
    archives = _archives(tmp_path, "candles_1m-*.csv.gz")
    assert len(archives) == 1
    manifest = archives[0].with_name(archives[0].name.replace(".csv.gz", ".manifest.json"))
    assert retention.verify_archive(manifest) == 1
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(archives[0].read_bytes()).decode())))
    assert rows[0]["timeframe"] == "1m" and rows[0]["close"].startswith("5")

    # 92 days after the sessions expired (T0 + 1 day) they go too; the audit log never does.
    assert (await _run(fresh_db_url, tmp_path, 92, batch=1))["sessions"] == 2
    assert len(_archives(tmp_path, "sessions-*.csv.gz")) == 2  # one verified file per batch
    assert await _count(fresh_db_url, "SELECT count(*) FROM user_sessions") == 0
    assert await _count(fresh_db_url, "SELECT count(*) FROM audit_log") == audit_before
    assert (await _run(fresh_db_url, tmp_path, 92))["sessions"] == 0


async def test_nothing_is_deleted_when_the_archive_does_not_verify(
    fresh_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrate.upgrade(fresh_sqlite_url)
    await seed(fresh_sqlite_url)

    def broken(_: Path) -> int:
        raise retention.ArchiveError("simulated bad archive")

    monkeypatch.setattr(retention, "verify_archive", broken)
    with pytest.raises(retention.ArchiveError):
        await _run(fresh_sqlite_url, tmp_path, 40)
    assert await _count(fresh_sqlite_url, "SELECT count(*) FROM market_data") == 2


def test_a_tampered_archive_is_detected(tmp_path: Path) -> None:
    rule = retention.Rule("candles_1m", "market_data", "bucket_at", "1 = 1", {}, T0)
    path = retention.write_archive(tmp_path, rule, ["id", "v"], [(1, "a"), (2, "b")])
    manifest = path.with_name(path.name.replace(".csv.gz", ".manifest.json"))
    path.write_bytes(gzip.compress(b"id,v\n1,a\n"))
    with pytest.raises(retention.ArchiveError, match="checksum"):
        retention.verify_archive(manifest)


def test_policy_is_configurable() -> None:
    custom = retention.RetentionSettings(candles_days={"1m": 7}, sessions_after_expiry_days=None)
    names = [r.name for r in retention.rules(custom, T0)]
    assert names == ["candles_1m"]
    assert retention.rules(custom, T0)[0].cutoff == T0 - timedelta(days=7)
