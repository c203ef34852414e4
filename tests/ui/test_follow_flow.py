"""The follow flow end to end: form validation, the palette, and copies arriving afterwards."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from textual.widgets import Input, Label

from oneclick_tui.app import OneClickApp
from oneclick_tui.commands import parse
from oneclick_tui.screens.traders import TradersScreen, cursor_key
from oneclick_tui.widgets.modals import INVALID, ConfirmModal, FollowModal, parse_terms
from tests.ui.conftest import Console, run_from_palette, wait_until


async def open_form(app: OneClickApp, pilot: Any) -> FollowModal:
    await pilot.press("2")
    await wait_until(pilot, lambda: isinstance(app.screen, TradersScreen), 10, "Traders")
    await wait_until(pilot, lambda: app.screen.rows, 20, "trader rows")
    await pilot.press("f")
    await wait_until(pilot, lambda: isinstance(app.screen, FollowModal), 10, "the form")
    assert isinstance(app.screen, FollowModal)
    return app.screen


def field_error(form: FollowModal, field: str) -> str:
    return str(form.query_one(f"#{field}-error", Label).render())


@pytest.mark.parametrize(
    ("typed", "why"),
    [("150", "at most 100"), ("abc", "not a number"), ("0", "above 0"), ("", "required")],
)
async def test_invalid_copy_pct_is_marked_at_the_field_and_nothing_is_written(
    console: Console, typed: str, why: str
) -> None:
    async with console() as (app, pilot):
        form = await open_form(app, pilot)
        form.query_one("#copy-pct", Input).value = typed
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is form, "the form stays open"
        assert form.query_one("#copy-pct", Input).has_class(INVALID)
        assert why in field_error(form, "copy-pct")
        form.query_one("#copy-pct", Input).value = "30"  # fixing it clears the mark as you type
        await pilot.pause()
        assert not form.query_one("#copy-pct", Input).has_class(INVALID)
        assert field_error(form, "copy-pct") == ""
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, TradersScreen), 10, "Traders")
        assert await app.ctx.follows.follows() == []


async def test_fixed_quote_sizing_needs_an_amount(console: Console) -> None:
    async with console() as (app, pilot):
        form = await open_form(app, pilot)
        form.query_one("#sizing").value = "fixed_quote"
        await pilot.pause()
        assert not form.query_one("#fixed-quote", Input).disabled
        await pilot.press("enter")
        await pilot.pause()
        assert "required" in field_error(form, "fixed-quote")
        assert app.screen is form
        await pilot.press("escape")


def test_parse_terms_and_palette_intents() -> None:
    terms, errors = parse_terms("12.5", "fixed_quote", "40", "entries_only", False)
    assert errors == {} and terms is not None
    assert (terms.copy_pct, terms.fixed_quote_amount) == (Decimal("12.5"), Decimal(40))
    assert parse_terms("abc", "copy_pct", "", "all", True)[1].keys() == {"copy-pct"}
    intent = parse("follow BraveLynx at 25%")
    assert (intent.verb, intent.target, intent.pct_text) == ("follow", "BraveLynx", "25")
    assert parse("follow brave 30").pct_text == "30"
    assert parse("follow brave").pct_text is None
    assert parse("pause BraveLynx").verb == "pause"
    assert parse("BraveLynx").verb is None


async def test_palette_follow_parses_trader_and_percent_and_still_confirms(
    console: Console,
) -> None:
    async with console() as (app, pilot):
        await pilot.press("2")
        await run_from_palette(app, pilot, "follow BraveLynx at 30%", "Follow BraveLynx at 30%")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10, "confirm")
        await pilot.press("y")
        follows = app.ctx.follows
        await wait_until(
            pilot,
            lambda: any("following BraveLynx" in n.message for n in app._notifications),
            10,
            "the notice",
        )
        rows = await follows.follows()
        assert [(f.trader, f.copy_pct) for f in rows] == [("BraveLynx", Decimal(30))]

        await run_from_palette(app, pilot, "pause brave", "Pause BraveLynx")
        await wait_until(
            pilot,
            lambda: any("paused copying" in n.message for n in app._notifications),
            10,
            "paused",
        )
        assert (await follows.follows())[0].status == "paused"


async def test_palette_follow_with_a_bad_percent_opens_the_form_marked(console: Console) -> None:
    async with console() as (app, pilot):
        await pilot.press("2")
        await run_from_palette(app, pilot, "follow BraveLynx at 150%", "Follow BraveLynx at 150%")
        await wait_until(pilot, lambda: isinstance(app.screen, FollowModal), 10, "the form")
        form = app.screen
        await wait_until(pilot, lambda: "at most 100" in field_error(form, "copy-pct"), 5, "why")
        assert form.query_one("#copy-pct", Input).has_class(INVALID)
        await pilot.press("escape")
        await pilot.pause()
        assert await app.ctx.follows.follows() == []


async def test_find_in_palette_follow_at_25_and_copies_arrive(console: Console) -> None:
    """The whole flow: find a trader, follow him at 25%, see a copy or skip recorded."""
    async with console() as (app, pilot):
        await pilot.press("2")
        await run_from_palette(app, pilot, "bravelynx", "Trader BraveLynx")
        screen = app.screen
        assert isinstance(screen, TradersScreen)
        await wait_until(
            pilot,
            lambda: (
                screen.rows
                and screen.rows.get(cursor_key(screen.query_one("#traders-table")) or "")
                is not None
                and screen.rows[cursor_key(screen.query_one("#traders-table")) or ""].name
                == "BraveLynx"
            ),
            20,
            "BraveLynx highlighted",
        )
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, FollowModal), 10, "the form")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), 10, "confirm")
        await pilot.press("y")
        follows = app.ctx.follows
        await wait_until(
            pilot,
            lambda: any("following BraveLynx" in n.message for n in app._notifications),
            10,
            "the notice",
        )
        assert [(f.trader, f.copy_pct) for f in await follows.follows()] == [
            ("BraveLynx", Decimal(25))
        ]
        copies: list[Any] = []

        async def poll() -> None:
            copies[:] = [t for t in await follows.trades() if t.trader == "BraveLynx"]

        for _ in range(300):  # bounded: at 50x BraveLynx (a scalper) trades every ~0.1 s
            await poll()
            if copies:
                break
            await pilot.pause(0.1)
        assert copies, "no copy or skip of BraveLynx's trades within 30 s"
        assert {c.kind for c in copies} == {"copy"}
        assert {c.status for c in copies} <= {
            "pending",
            "submitted",
            "completed",
            "failed",
            "skipped",
        }
