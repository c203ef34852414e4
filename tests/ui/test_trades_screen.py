"""Trades screen (mode 5) on the real console: live rows, filters, CSV export."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input

from oneclick_tui.app import OneClickApp
from oneclick_tui.config import Settings, SimSettings
from oneclick_tui.screens.trades import ExportPrompt, TradesScreen
from oneclick_tui.services.trades_view import CSV_COLUMNS, EXPORT_LIMIT
from tests.ui.conftest import Console, wait_until

FOLLOWED = ("CrimsonRaven", "GoldenFox", "HungryLynx", "NeonBadger", "FrostyLynx")


@pytest.fixture
def ui_settings(tmp_path: Path) -> Settings:
    """Fast enough that copies arrive within seconds, slow enough that the engine keeps up."""
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
        sim=SimSettings(seed=7, speed=100),
    )


async def follow_some(app: OneClickApp) -> None:
    assert app.ctx is not None
    for name in FOLLOWED:
        await app.ctx.follows.follow(name, Decimal(20))


async def open_trades(app: OneClickApp, pilot: Any, at_least: int = 1) -> TradesScreen:
    await pilot.press("5")
    await wait_until(pilot, lambda: isinstance(app.screen, TradesScreen), 10, "Trades")
    screen = app.screen
    assert isinstance(screen, TradesScreen)
    await wait_until(pilot, lambda: table(screen).row_count >= at_least, 60, "trade rows")
    return screen


def table(screen: TradesScreen) -> DataTable[Any]:
    return screen.query_one("#trades", DataTable)


def keys(screen: TradesScreen) -> list[str]:
    """Row keys in display order."""
    t = table(screen)
    return [t.coordinate_to_cell_key((i, 0)).row_key.value or "" for i in range(t.row_count)]


async def stop_engine(app: OneClickApp) -> None:
    """Freeze the data so the test compares against a fixed history."""
    assert app.ctx is not None
    app.ctx.stop.set()
    for worker in [w for w in app.workers if w.group == "engine"]:
        await worker.wait()


async def test_rows_come_from_the_service_and_new_ones_arrive_without_clearing(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with console() as (app, pilot):
        await follow_some(app)
        screen = await open_trades(app, pilot, at_least=3)
        monkeypatch.setattr(table(screen), "clear", lambda *a, **k: pytest.fail("cleared"))
        first = set(keys(screen))
        await wait_until(pilot, lambda: len(set(keys(screen)) - first) > 0, 60, "a new trade")
        assert first <= set(keys(screen))
        shown = keys(screen)
        assert shown == sorted(shown, key=int, reverse=True)
        ids = {str(r.id) for r in await app.ctx.follows.trades(limit=EXPORT_LIMIT)}
        assert set(shown) <= ids


async def test_status_kind_and_text_filters_narrow_the_rows(console: Console) -> None:
    async with console() as (app, pilot):
        await follow_some(app)
        screen = await open_trades(app, pilot, at_least=5)
        await stop_engine(app)
        every = await app.ctx.follows.trades(limit=EXPORT_LIMIT)
        screen.refresh_data()
        await wait_until(pilot, lambda: table(screen).row_count == len(every), 20, "all rows")
        await pilot.press("s", "s", "s")  # any -> pending -> submitted -> completed
        assert screen.filter.status == "completed"
        done = [r for r in every if r.status == "completed"]
        await wait_until(pilot, lambda: table(screen).row_count == len(done), 20, "completed")
        assert all(r.status == "completed" for r in screen.rows)
        await pilot.press("k")
        assert screen.filter.kind == "copy"
        pair = done[0].pair
        await pilot.press("slash", *pair.split("/")[0].lower())
        want = {str(r.id) for r in done if r.kind == "copy" and pair.split("/")[0] in r.pair}
        await wait_until(pilot, lambda: set(keys(screen)) == want, 20, "text filter")
        assert 0 < len(want) < len(every)


async def test_export_writes_exactly_the_service_rows(console: Console, tmp_path: Path) -> None:
    async with console() as (app, pilot):
        await follow_some(app)
        screen = await open_trades(app, pilot, at_least=5)
        await stop_engine(app)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportPrompt), 10, "prompt")
        target = tmp_path / "out" / "trades.csv"
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        await wait_until(pilot, target.exists, 20, "the CSV file")
        await wait_until(
            pilot, lambda: any(str(target) in n.message for n in app._notifications), 10, "notice"
        )
        assert app.screen is screen
        with target.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        expected = await app.ctx.follows.trades(limit=EXPORT_LIMIT)
        assert len(rows) == len(expected) > 0
        assert list(rows[0]) == list(CSV_COLUMNS)
        for got, row in zip(rows, expected, strict=True):
            assert int(got["id"]) == row.id and got["status"] == row.status
            assert Decimal(got["amount"]) == row.amount
            assert Decimal(got["fees"]) == row.fees
            for name, value in (
                ("price", row.price),
                ("total_value", row.total_value),
                ("realized_pnl", row.realized_pnl),
            ):
                assert (Decimal(got[name]) if got[name] else None) == value
            assert "E" not in got["amount"]
            assert (got["trader"] or None) == row.trader
            assert (int(got["copy_of"]) if got["copy_of"] else None) == row.copy_of
