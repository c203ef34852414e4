"""Settings screen (mode 8) on the real console: inline validation, save, audit, Activity."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from textual.widgets import Input, Static

from oneclick_tui.app import OneClickApp
from oneclick_tui.screens.activity import ActivityScreen
from oneclick_tui.screens.settings import SettingsScreen
from oneclick_tui.stores.models import AuditLog
from tests.ui.conftest import Console, wait_until


async def open_settings(app: OneClickApp, pilot: Any) -> SettingsScreen:
    await pilot.press("8")
    await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen), 10, "Settings")
    screen = app.screen
    assert isinstance(screen, SettingsScreen)
    await wait_until(pilot, lambda: screen.saved is not None, 20, "the stored preferences")
    return screen


async def type_into(pilot: Any, screen: SettingsScreen, name: str, text: str) -> None:
    """Replace a field's text the way a user does: focus, clear, type."""
    field = screen.query_one(f"#pref-{name}", Input)
    field.focus()
    field.value = ""
    await pilot.press(*text)
    await pilot.pause()


def error_at(screen: SettingsScreen, name: str) -> str:
    return str(screen.query_one(f"#err-{name}", Static).render())


async def preference_audits(app: OneClickApp) -> int:
    async with app.ctx.services.sessions() as session:
        return (
            await session.scalar(
                select(func.count()).where(AuditLog.action == "preferences.updated")
            )
            or 0
        )


async def test_form_shows_the_stored_preferences(console: Console) -> None:
    async with console() as (app, pilot):
        screen = await open_settings(app, pilot)
        prefs = await app.ctx.services.repos.users.preferences(app.ctx.services.user.id)
        form = screen.form()
        assert Decimal(form["max_trade_amount"]) == prefs.max_trade_amount
        assert Decimal(form["stop_loss_pct"]) == prefs.stop_loss_pct
        assert form["risk_tolerance"] == prefs.risk_tolerance
        assert form["allowed_assets"] == ""


async def test_invalid_value_is_marked_at_the_field_and_nothing_is_saved(
    console: Console,
) -> None:
    async with console() as (app, pilot):
        screen = await open_settings(app, pilot)
        user_id = app.ctx.services.user.id
        before = await app.ctx.services.repos.users.preferences(user_id)
        await type_into(pilot, screen, "stop_loss_pct", "150")
        assert "must be between 0 and 100" in error_at(screen, "stop_loss_pct")
        assert screen.query_one("#pref-stop_loss_pct").has_class("-invalid")
        await type_into(pilot, screen, "max_trade_amount", "250")  # valid, but must not save
        await pilot.press("ctrl+s")
        await wait_until(
            pilot, lambda: any("not saved" in n.message for n in app._notifications), 10, "refusal"
        )
        assert await app.ctx.services.repos.users.preferences(user_id) == before
        assert await preference_audits(app) == 0
        await type_into(pilot, screen, "allowed_assets", "apt, nope")
        assert "unknown asset NOPE" in error_at(screen, "allowed_assets")
        await type_into(pilot, screen, "max_slippage_pct", "")
        assert "required" in error_at(screen, "max_slippage_pct")


async def test_valid_change_is_saved_audited_and_shown_in_activity(console: Console) -> None:
    async with console() as (app, pilot):
        screen = await open_settings(app, pilot)
        user_id = app.ctx.services.user.id
        await type_into(pilot, screen, "stop_loss_pct", "20")
        await type_into(pilot, screen, "allowed_assets", "usdc, apt")
        assert error_at(screen, "stop_loss_pct") == ""
        await pilot.press("ctrl+s")
        repo = app.ctx.services.repos.users

        async def saved() -> bool:
            return (await repo.preferences(user_id)).stop_loss_pct == Decimal(20)

        await wait_until(
            pilot,
            lambda: screen.saved is not None and screen.saved["stop_loss_pct"] == "20",
            10,
            "the save",
        )
        assert await saved()
        prefs = await repo.preferences(user_id)
        assert prefs.allowed_assets == ("APT", "USDC")
        assert await preference_audits(app) == 1
        await pilot.press("escape", "9")
        await wait_until(pilot, lambda: isinstance(app.screen, ActivityScreen), 10, "Activity")
        activity = app.screen
        assert isinstance(activity, ActivityScreen)

        def audit_shown() -> bool:
            rows = [r for r in activity.entries.values() if r.action == "preferences.updated"]
            return bool(rows) and "stop_loss_pct: 15→20" in rows[0].summary

        await wait_until(pilot, audit_shown, 10, "the audit row in Activity")
        row = next(r for r in activity.entries.values() if r.action == "preferences.updated")
        assert row.actor == f"user:{user_id}"
        assert "allowed_assets: →APT, USDC" in row.summary
