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


async def test_0007_backfills_what_each_follower_built_from_his_copies(fresh_db_url: str) -> None:
    """Existing copy history becomes the running totals: completed copies only, buys minus
    sells, exactly (no float sum on SQLite), per follower, trader and pair."""
    from datetime import UTC, datetime
    from decimal import Decimal as D

    from sqlalchemy import insert, select

    from oneclick_tui.services.engine.catalog import TraderProfile, seed_catalog
    from oneclick_tui.services.sim.pairs import pair_by_symbol
    from oneclick_tui.stores.db import session_factory
    from oneclick_tui.stores.models import CopyHolding, Trade, User

    await migrate.upgrade(fresh_db_url, "0006")
    engine = make_engine(fresh_db_url)
    try:
        lead = TraderProfile("0x" + "cd" * 32, "Lead", "low", "trend", D(1000))
        catalog = await seed_catalog(
            session_factory(engine), [pair_by_symbol("APT/USDC")], [lead], simulated=True
        )
        trader_id = catalog.traders[lead.address].id
        pair_id = catalog.pairs["APT/USDC"].id
        at = datetime(2026, 11, 2, tzinfo=UTC)
        async with engine.begin() as conn:
            users = [
                (await conn.execute(insert(User).values(display_name=n, status="active",
                                                        verification_level=0))).inserted_primary_key[0]
                for n in ("ann", "ben")
            ]  # fmt: skip
            base = {"trader_id": trader_id, "pair_id": pair_id, "price": D(10)}
            lead_ids = []
            for n in range(4):
                lead_ids.append(
                    (
                        await conn.execute(
                            insert(Trade).values(
                                kind="lead",
                                trade_type="buy",
                                status="completed",
                                amount=D(1),
                                created_at=at.replace(hour=n),
                                **base,
                            )
                        )
                    ).inserted_primary_key[0]
                )
            copies = [  # (user, lead, side, amount, status)
                (0, 0, "buy", "0.1", "completed"),
                (0, 1, "buy", "0.2", "completed"),
                (0, 2, "sell", "0.05", "completed"),
                (0, 3, "buy", "7", "failed"),
                (1, 0, "buy", "0.3", "pending"),
                (1, 1, "buy", "0.000000000000000001", "completed"),
            ]
            for user, lead_n, side, amount, status in copies:
                await conn.execute(
                    insert(Trade).values(
                        kind="copy",
                        user_id=users[user],
                        copy_of_trade_id=lead_ids[lead_n],
                        trade_type=side,
                        amount=D(amount),
                        status=status,
                        failure_reason="x" if status == "failed" else None,
                        created_at=at.replace(hour=lead_n),
                        **base,
                    )
                )
        await migrate.upgrade(fresh_db_url, "0007")
        async with engine.connect() as conn:
            got = dict(
                (await conn.execute(select(CopyHolding.follower_id, CopyHolding.base_built))).all()
            )
    finally:
        await engine.dispose()
    assert got == {users[0]: D("0.25"), users[1]: D("0.000000000000000001")}
