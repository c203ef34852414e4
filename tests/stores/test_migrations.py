"""Migrations go up, down to base and up again on both backends, and agree with the models."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import ensure_schema, make_engine
from oneclick_tui.stores.models import Base


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return set(names) - {"alembic_version"}


async def _diff(url: str) -> list[Any]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            def compare(sync: Any) -> list[Any]:
                context = MigrationContext.configure(sync, opts={"compare_type": True})
                return list(compare_metadata(context, Base.metadata))

            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(fresh_db_url: str) -> None:
    assert await migrate.current(fresh_db_url) is None
    await migrate.upgrade(fresh_db_url)
    assert await migrate.current(fresh_db_url) == migrate.head()
    assert await _tables(fresh_db_url) == set(Base.metadata.tables)
    await migrate.downgrade(fresh_db_url, "base")
    assert await migrate.current(fresh_db_url) is None
    assert await _tables(fresh_db_url) == set()
    await migrate.upgrade(fresh_db_url, "head")
    assert await migrate.current(fresh_db_url) == migrate.head()


async def test_models_and_migrations_agree(fresh_db_url: str) -> None:
    await migrate.upgrade(fresh_db_url)
    assert await _diff(fresh_db_url) == []


async def test_ensure_schema_creates_directory_and_is_idempotent(tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'dir' / 'oneclick.db'}"
    assert await ensure_schema(url) == migrate.head()
    assert (tmp_path / "nested" / "dir" / "oneclick.db").is_file()
    assert await ensure_schema(url) == migrate.head()
    assert await migrate.current(url) == migrate.head()


def test_script_location_is_inside_the_package() -> None:
    location = migrate.script_location()
    assert (location / "env.py").is_file()
    assert (location / "script.py.mako").is_file()


def test_db_cli_upgrade_current_downgrade(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from oneclick_tui.cli import app

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli' / 'oneclick.db'}"
    monkeypatch.setenv("ONECLICK_DATABASE_URL", url)
    runner = CliRunner()
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0 and "base (empty)" in result.output
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0 and f"revision {migrate.head()}" in result.output
    assert "(head)" in runner.invoke(app, ["db", "current"]).output
    result = runner.invoke(app, ["db", "downgrade"])  # one step back by default
    assert result.exit_code == 0 and "(head)" not in result.output
    result = runner.invoke(app, ["db", "downgrade", "base"])
    assert result.exit_code == 0 and "base (empty)" in result.output
    result = runner.invoke(app, ["db", "downgrade"])
    assert result.exit_code == 2


def test_db_cli_unreachable_database_is_one_masked_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from oneclick_tui.cli import app

    monkeypatch.setenv(
        "ONECLICK_DATABASE_URL", "postgresql+asyncpg://bob:hunter2@127.0.0.1:1/oneclick"
    )
    result = CliRunner().invoke(app, ["db", "current"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert (
        "cannot reach the database at postgresql+asyncpg://bob:***@127.0.0.1:1/oneclick" in lines[0]
    )
    assert "hunter2" not in result.output


async def test_0006_merges_duplicate_metric_points_like_influxdb(fresh_db_url: str) -> None:
    """Points written twice before 0006 become one, newest field values winning."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, select

    from oneclick_tui.stores.db import make_engine
    from oneclick_tui.stores.models import MetricPoint

    await migrate.upgrade(fresh_db_url, "0005")
    at = datetime(2026, 11, 1, tzinfo=UTC)
    row = {"measurement": "equity", "series_key": "user=1", "tags": {"user": "1"}}
    engine = make_engine(fresh_db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(MetricPoint),
                [
                    row | {"fields": {"cash": "100", "upnl": "5"}, "recorded_at": at},
                    row | {"fields": {"cash": "90"}, "recorded_at": at},
                    row | {"fields": {"cash": "1"}, "recorded_at": at.replace(day=2)},
                ],
            )
        await migrate.upgrade(fresh_db_url, "0006")
        async with engine.connect() as conn:
            got = (
                await conn.execute(
                    select(MetricPoint.recorded_at, MetricPoint.fields).order_by(
                        MetricPoint.recorded_at
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert [(t.day, f) for t, f in got] == [(1, {"cash": "90", "upnl": "5"}), (2, {"cash": "1"})]
