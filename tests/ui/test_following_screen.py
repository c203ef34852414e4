"""Following screen (mode 3): the user's follows, edit keeping history, pause, unfollow, live."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from textual.widgets import DataTable, Input

from oneclick_tui.app import OneClickApp
from oneclick_tui.screens.following import FollowingScreen
from oneclick_tui.services.trader_view import TraderViewService
from oneclick_tui.stores.errors import NotFoundError, ValidationError
from oneclick_tui.widgets.modals import ConfirmModal, FollowModal
from tests.ui.conftest import Console, wait_until


async def open_following(app: OneClickApp, pilot: Any, rows: int) -> FollowingScreen:
    await pilot.press("3")
    await wait_until(pilot, lambda: isinstance(app.screen, FollowingScreen), 10, "Following")
    screen = app.screen
    assert isinstance(screen, FollowingScreen)
    await wait_until(pilot, lambda: table(screen).row_count == rows, 20, f"{rows} follow rows")
    return screen


def table(screen: FollowingScreen) -> DataTable[Any]:
    return screen.query_one("#following-table", DataTable)


async def test_shows_each_follow_with_terms_and_copy_results(console: Console) -> None:
    async with console() as (app, pilot):
        follows = app.ctx.follows
        await follows.follow("BraveLynx", Decimal(25))
        await follows.follow("NeonWolf", Decimal("12.5"), copy_side="exits_only")
        screen = await open_following(app, pilot, 2)
        cells = {str(table(screen).get_row(k)[0]): table(screen).get_row(k) for k in screen.rows}
        assert str(cells["BraveLynx"][2]) == "25%" and str(cells["BraveLynx"][1]) == "active"
        assert str(cells["NeonWolf"][2]) == "12.5%" and "exits only" in cells["NeonWolf"][4]
        # copies and skips tick in as the simulator trades (reloads are throttled to 1/s)
        brave = next(k for k, r in screen.rows.items() if r.trader == "BraveLynx")
        await wait_until(
            pilot,
            lambda: screen.rows[brave].copies + screen.rows[brave].skips > 0,
            30,
            "a copy or skip of BraveLynx to show",
        )
        assert table(screen).get_cell(brave, "copies") == screen.rows[brave].copies


async def test_empty_state_says_how_to_follow(console: Console) -> None:
    async with console() as (app, pilot):
        screen = await open_following(app, pilot, 0)
        await wait_until(
            pilot,
            lambda: "press 2" in str(screen.query_one("#following-empty").render()),
            10,
            "the hint",
        )


async def test_edit_changes_terms_and_keeps_history(console: Console) -> None:
    async with console() as (app, pilot):
        follows = app.ctx.follows
        await follows.follow("BraveLynx", Decimal(25))
        screen = await open_following(app, pilot, 1)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, FollowModal), 10, "the form")
        form = app.screen
        assert form.query_one("#copy-pct", Input).value == "25"
        form.query_one("#copy-pct", Input).value = "40"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10, "confirm")
        await pilot.press("y")
        await wait_until(
            pilot,
            lambda: any(r.copy_pct == 40 for r in screen.rows.values()),
            10,
            "the row to show 40%",
        )
        live = await follows.follows()
        assert [(f.trader, f.copy_pct, f.status) for f in live] == [
            ("BraveLynx", Decimal(40), "active")
        ]
        history = await follows.follows(include_ended=True)
        assert sorted((f.copy_pct, f.status) for f in history) == [
            (Decimal(25), "ended"),
            (Decimal(40), "active"),
        ]
        assert table(screen).row_count == 1


async def test_pause_resume_and_unfollow_by_key(console: Console) -> None:
    async with console() as (app, pilot):
        follows = app.ctx.follows
        await follows.follow("BraveLynx", Decimal(25))
        screen = await open_following(app, pilot, 1)
        key = next(iter(screen.rows))
        await pilot.press("p")
        await wait_until(pilot, lambda: screen.rows[key].status == "paused", 10, "paused")
        assert str(table(screen).get_cell(key, "status")) == "paused"
        await pilot.press("p")
        await wait_until(pilot, lambda: screen.rows[key].status == "active", 10, "resumed")
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10, "confirm")
        await pilot.press("n")
        await pilot.pause()
        assert len(await follows.follows()) == 1, "No keeps the follow"
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10, "confirm")
        await pilot.press("y")
        await wait_until(pilot, lambda: table(screen).row_count == 0, 10, "the row removed")
        assert await follows.follows() == []


async def test_change_terms_is_atomic_keeps_pause_and_refuses_bad_terms(console: Console) -> None:
    async with console() as (app, _pilot):
        follows = app.ctx.follows
        view = TraderViewService(app.ctx.services)
        await follows.follow("BraveLynx", Decimal(25))
        await follows.pause("BraveLynx")
        changed = await view.change_terms("BraveLynx", Decimal(10), copy_side="exits_only")
        assert (changed.copy_percentage, changed.status, changed.copy_side) == (
            Decimal(10),
            "paused",
            "exits_only",
        )
        with pytest.raises(ValidationError):
            await view.change_terms("BraveLynx", Decimal(150))
        with pytest.raises(ValidationError):
            await view.change_terms("BraveLynx", Decimal(10), sizing_mode="fixed_quote")
        live = await follows.follows()
        assert [(f.copy_pct, f.status) for f in live] == [(Decimal(10), "paused")]
        assert len(await follows.follows(include_ended=True)) == 2
        with pytest.raises(NotFoundError):
            await view.change_terms("NeonWolf", Decimal(10))
