"""Portfolio screen (mode 4) on the real console: holdings at the live mid, totals, rate."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from oneclick_tui.app import OneClickApp
from oneclick_tui.config import Settings, SimSettings
from oneclick_tui.messages import BookUpdated
from oneclick_tui.screens.portfolio import PortfolioScreen
from oneclick_tui.services.portfolio_view import PortfolioSnapshot
from oneclick_tui.widgets.cells import fmt_decimal
from tests.ui.conftest import Console, wait_until

FOLLOWED = ("CrimsonRaven", "GoldenFox", "HungryLynx", "NeonBadger", "FrostyLynx")


@pytest.fixture
def ui_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
        sim=SimSettings(seed=7, speed=100),
    )


def holding_risk_asset(snap: PortfolioSnapshot | None) -> bool:
    return snap is not None and any(not r.is_cash and r.quantity > 0 for r in snap.rows)


async def open_portfolio(app: OneClickApp, pilot: Any) -> PortfolioScreen:
    assert app.ctx is not None
    for name in FOLLOWED:
        await app.ctx.follows.follow(name, Decimal(20))
    await pilot.press("4")
    await wait_until(pilot, lambda: isinstance(app.screen, PortfolioScreen), 10, "Portfolio")
    screen = app.screen
    assert isinstance(screen, PortfolioScreen)
    await wait_until(pilot, lambda: holding_risk_asset(screen.snapshot), 60, "a copied holding")
    return screen


async def freeze(app: OneClickApp, pilot: Any, screen: PortfolioScreen) -> dict[str, Any]:
    """Stop the engine, reload, and return the stored positions the screen now shows."""
    assert app.ctx is not None
    app.ctx.stop.set()
    for worker in [w for w in app.workers if w.group == "engine"]:
        await worker.wait()
    stored = {p.asset: p for p in await app.ctx.follows.positions()}
    screen.refresh_data()

    def shows_stored() -> bool:
        snap = screen.snapshot
        return snap is not None and {r.asset: r.quantity for r in snap.rows} == {
            a: p.quantity for a, p in stored.items()
        }

    await wait_until(pilot, shows_stored, 20, "the stored positions")
    return stored


def cell(table: DataTable[Any], key: str, column: str) -> str:
    return str(table.get_cell(key, column)).replace(",", "").strip()


async def test_rows_match_the_store_and_totals_are_their_sums(console: Console) -> None:
    async with console() as (app, pilot):
        screen = await open_portfolio(app, pilot)
        stored = await freeze(app, pilot, screen)
        snap = screen.snapshot
        assert snap is not None
        table = screen.query_one("#positions", DataTable)
        assert {k.value for k in table.rows} == {r.asset for r in snap.rows} == set(stored)
        for row in snap.rows:
            assert row.quantity == stored[row.asset].quantity
            assert row.realized_pnl == stored[row.asset].realized_pnl
            if row.is_cash:
                assert row.value == row.quantity
        values = [r.value for r in snap.rows if r.value is not None]
        assert snap.equity == sum(values, Decimal(0))
        assert snap.cash == sum((r.value or 0 for r in snap.rows if r.is_cash), Decimal(0))
        assert snap.unrealized_pnl == sum((r.unrealized_pnl or 0 for r in snap.rows), Decimal(0))
        assert snap.realized_pnl == sum((r.realized_pnl for r in snap.rows), Decimal(0))
        shown = sum(
            Decimal(cell(table, r.asset, "value")) for r in snap.rows if r.value is not None
        )
        assert abs(shown - snap.equity) <= Decimal("0.005") * len(snap.rows)
        totals = str(screen.query_one("#portfolio-totals", Static).render())
        assert fmt_decimal(snap.equity, 2) in totals
        assert "risk" in totals and "diversification" in totals
        weights = [r.weight for r in snap.rows if r.weight is not None]
        assert abs(sum(weights, Decimal(0)) - 1) < Decimal("1e-20")


async def test_risk_assets_are_valued_at_the_live_mid(console: Console) -> None:
    async with console() as (app, pilot):
        screen = await open_portfolio(app, pilot)
        snap = screen.snapshot
        assert snap is not None
        mids = screen.live_mids()
        priced = [r for r in snap.rows if not r.is_cash and r.pair in mids and r.quantity > 0]
        assert priced, "no held pair has a live book"
        for row in priced:
            assert row.price is not None and row.value == row.quantity * row.price
            assert row.unrealized_pnl == row.value - row.quantity * row.average_cost


async def test_book_updates_revalue_at_most_twice_a_second(console: Console) -> None:
    async with console() as (app, pilot):
        screen = await open_portfolio(app, pilot)
        await freeze(app, pilot, screen)  # no more copy events: only the books posted below
        await pilot.pause(0.6)
        pair = next(
            r.pair
            for r in screen.snapshot.rows
            if not r.is_cash and r.pair and r.pair in app.last_books
        )
        draws: list[float] = []
        real_draw = screen._draw
        screen._draw = lambda: (draws.append(time.monotonic()), real_draw())[1]  # type: ignore[method-assign]
        book = app.last_books[pair]
        started = time.monotonic()
        while time.monotonic() - started < 2.0:
            for _ in range(20):
                screen.post_message(BookUpdated(book.raw))
            await pilot.pause(0.02)
        await pilot.pause(0.6)
        assert 1 <= len(draws) <= 6, draws
