"""Preferences as a form: per-field checks, all-or-nothing save, audit row (real SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from oneclick_tui.config import Settings
from oneclick_tui.services.runtime import Services, open_services
from oneclick_tui.services.settings_service import FormErrors, SettingsService, form_values
from oneclick_tui.stores.models import AuditLog


@pytest.fixture
async def services(fresh_sqlite_url: str) -> AsyncIterator[Services]:
    opened = await open_services(Settings(database_url=fresh_sqlite_url))
    yield opened
    await opened.close()


async def audits(services: Services) -> list[AuditLog]:
    async with services.sessions() as session:
        query = select(AuditLog).where(AuditLog.action == "preferences.updated")
        return list((await session.scalars(query)).all())


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        ("stop_loss_pct", "150", "must be between 0 and 100"),
        ("stop_loss_pct", "-1", "must be between 0 and 100"),
        ("max_trade_amount", "0", "must be greater than 0"),
        ("max_trade_amount", "abc", "must be a number"),
        ("daily_trading_limit", "NaN", "finite"),
        ("max_slippage_pct", "", "is required"),
        ("risk_tolerance", "reckless", "must be one of low, medium, high"),
        ("allowed_assets", "APT, DOGE", "unknown asset DOGE"),
    ],
)
def test_bad_values_say_why_at_the_field(
    services: Services, name: str, text: str, why: str
) -> None:
    message = SettingsService(services).check(name, text)
    assert message is not None and why in message
    assert not message.lower().startswith(name.replace("_", " ")[:8])


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("stop_loss_pct", ""),
        ("stop_loss_pct", "0"),
        ("stop_loss_pct", "100"),
        ("max_trade_amount", ""),
        ("max_trade_amount", "12.5"),
        ("allowed_assets", " apt ,usdc "),
        ("allowed_assets", ""),
        ("max_slippage_pct", "0.5"),
    ],
)
def test_good_values_pass(services: Services, name: str, text: str) -> None:
    assert SettingsService(services).check(name, text) is None


async def test_a_bad_field_saves_nothing(services: Services) -> None:
    service = SettingsService(services)
    before = await service.load()
    form = form_values(before) | {"stop_loss_pct": "150", "max_trade_amount": "5"}
    with pytest.raises(FormErrors) as refused:
        await service.save(form)
    assert set(refused.value.errors) == {"stop_loss_pct"}
    assert await service.load() == before
    assert await audits(services) == []


async def test_save_writes_changed_fields_and_one_audit_row(services: Services) -> None:
    service = SettingsService(services)
    form = form_values(await service.load())
    result = await service.save(
        form | {"stop_loss_pct": "20", "allowed_assets": "usdc,apt", "max_trade_amount": "1000.00"}
    )
    assert result.changed == {"stop_loss_pct": ("15", "20"), "allowed_assets": ("", "APT, USDC")}
    prefs = await service.load()
    assert prefs.stop_loss_pct == D(20) and prefs.allowed_assets == ("APT", "USDC")
    [row] = await audits(services)
    assert row.actor == f"user:{services.user.id}" and row.entity_type == "user_preferences"
    assert row.before == {"stop_loss_pct": "15", "allowed_assets": ""}
    assert row.after == {"stop_loss_pct": "20", "allowed_assets": "APT, USDC"}
    again = await service.save(form_values(prefs))
    assert again.changed == {} and len(await audits(services)) == 1
    cleared = await service.save(form_values(prefs) | {"max_trade_amount": "", "stop_loss_pct": ""})
    assert cleared.preferences.max_trade_amount is None
    assert cleared.preferences.stop_loss_pct is None
