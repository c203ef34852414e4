"""Traders screen (mode 2) on the real console: rows, filter, sort, keys, follow by key."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from textual.widgets import DataTable, Static

from oneclick_tui.app import OneClickApp
from oneclick_tui.screens.follow_actions import pause_flow
from oneclick_tui.screens.traders import TradersScreen, cursor_key
from oneclick_tui.widgets.modals import ConfirmModal, FollowModal
from tests.ui.conftest import Console, wait_until


async def open_traders(app: OneClickApp, pilot: Any) -> TradersScreen:
    """Switch to Traders and wait until its rows are loaded."""
    await pilot.press("2")
    await wait_until(pilot, lambda: isinstance(app.screen, TradersScreen), 10, "Traders")
    screen = app.screen
    assert isinstance(screen, TradersScreen)
    await wait_until(pilot, lambda: table(screen).row_count > 0, 20, "trader rows")
    return screen


def table(screen: TradersScreen) -> DataTable[Any]:
    return screen.query_one("#traders-table", DataTable)


def highlighted_name(screen: TradersScreen) -> str:
    return screen.rows[cursor_key(table(screen)) or ""].name


async def test_shows_every_trader_with_a_detail_pane(console: Console) -> None:
    async with console() as (app, pilot):
        screen = await open_traders(app, pilot)
        expected = await app.ctx.follows.traders()
        assert table(screen).row_count == len(expected) == 24
        name = highlighted_name(screen)
        card = str(screen.query_one("#trader-card", Static).render())
        assert name in card and "Risk" in card
        lead = screen.query_one("#lead-trades", DataTable)
        await wait_until(pilot, lambda: lead.row_count > 0, 20, "the trader's lead trades")


async def test_filter_narrows_as_you_type_and_escape_clears(console: Console) -> None:
    async with console() as (app, pilot):
        screen = await open_traders(app, pilot)
        await pilot.press("slash", *"neon")
        await pilot.pause()
        names = {screen.rows[k.value or ""].name for k in table(screen).rows}
        assert names and all("neon" in n.lower() for n in names)
        assert len(names) < 24
        await pilot.press("escape")
        await pilot.pause()
        assert table(screen).row_count == 24
        assert app.focused is table(screen)


async def test_sort_key_cycles_and_j_k_move(console: Console) -> None:
    async with console() as (app, pilot):
        screen = await open_traders(app, pilot)
        first = highlighted_name(screen)
        assert first == min(r.name for r in screen.rows.values())
        await pilot.press("j")
        assert table(screen).cursor_row == 1
        await pilot.press("k", "down", "up")
        assert table(screen).cursor_row == 0
        await pilot.press("s")  # by risk: low first, and the cursor stays on its trader
        assert screen.sort_column == "risk"
        assert highlighted_name(screen) == first
        top = table(screen).get_row_at(0)
        assert str(top[1]) == "low"


async def test_follow_by_key_after_form_and_confirmation(console: Console) -> None:
    async with console() as (app, pilot):
        screen = await open_traders(app, pilot)
        await pilot.press("slash", *"bravelynx", "enter")
        assert highlighted_name(screen) == "BraveLynx"
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, FollowModal), 10, "the form")
        assert app.screen.query_one("#copy-pct").value == "25"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10, "confirm")
        await pilot.press("y")
        follows = app.ctx.follows
        await wait_until(
            pilot,
            lambda: screen.rows[key(screen, "BraveLynx")].following,
            10,
            "the row to update by key",
        )
        rows = await follows.follows()
        assert [(f.trader, f.copy_pct, f.status) for f in rows] == [
            ("BraveLynx", Decimal(25), "active")
        ]
        assert str(table(screen).get_cell(key(screen, "BraveLynx"), "following")) == "active"
        assert any("following BraveLynx" in n.message for n in app._notifications)

        await pilot.press("p")  # pause, then resume, by the same key
        await wait_until(
            pilot, lambda: screen.rows[key(screen, "BraveLynx")].following == "paused", 10, "paused"
        )
        await pilot.press("p")
        await wait_until(
            pilot,
            lambda: screen.rows[key(screen, "BraveLynx")].following == "active",
            10,
            "resumed",
        )

        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10, "confirm")
        await pilot.press("y")
        await wait_until(
            pilot, lambda: screen.rows[key(screen, "BraveLynx")].following is None, 10, "unfollowed"
        )
        assert await follows.follows() == []


async def test_cancelled_confirmation_creates_nothing(console: Console) -> None:
    async with console() as (app, pilot):
        screen = await open_traders(app, pilot)
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, FollowModal), 10, "the form")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10, "confirm")
        await pilot.press("enter")  # Cancel has the focus: a stray Enter moves no money
        await wait_until(pilot, lambda: app.screen is screen, 10, "back on Traders")
        assert await app.ctx.follows.follows() == []
        assert not screen.acting


async def test_service_refusal_is_a_notification_not_a_crash(console: Console) -> None:
    async with console() as (app, pilot):
        await open_traders(app, pilot)
        assert await pause_flow(app, "BraveLynx", "active") is False  # he is not followed
        await pilot.pause()
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "does not follow" in errors[-1].message
        assert app.is_running


def key(screen: TradersScreen, name: str) -> str:
    return next(k for k, r in screen.rows.items() if r.name == name)
