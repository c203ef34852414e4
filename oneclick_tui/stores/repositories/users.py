"""Users and their preferences."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oneclick_tui.domain import entities as e
from oneclick_tui.stores import models as m
from oneclick_tui.stores.errors import DuplicateError, NotFoundError
from oneclick_tui.stores.repositories import validate as v
from oneclick_tui.stores.repositories.base import Repository, to_entity

DEFAULT_MAX_SLIPPAGE_PCT = Decimal("1")


def preferences_entity(row: m.UserPreferences) -> e.Preferences:
    assets = None if row.allowed_assets is None else tuple(row.allowed_assets)
    return to_entity(e.Preferences, row, allowed_assets=assets)


def check_preferences(values: dict[str, Any]) -> dict[str, Any]:
    """Validated preference values (only the keys given), ready for the row."""
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if key in ("max_trade_amount", "daily_trading_limit"):
            label = key.replace("_", " ")
            checked[key] = None if value is None else v.positive(label, value)
        elif key == "stop_loss_pct":
            checked[key] = None if value is None else v.in_range("stop loss %", value, 0, 100)
        elif key == "max_slippage_pct":
            checked[key] = v.in_range("max slippage %", value, 0, 100)
        elif key == "risk_tolerance":
            checked[key] = v.choice("risk tolerance", value, e.RISK_TOLERANCES)
        elif key == "allowed_assets":
            checked[key] = None if value is None else sorted({str(a).upper() for a in value})
        elif key == "auto_follow":
            checked[key] = value
        else:
            raise v.ValidationError(f"unknown preference {key!r}")
    return checked


class UserRepository(Repository):
    constraint_messages = {
        "uq_users_wallet_address": (DuplicateError, "a user with this wallet address exists"),
    }

    async def create(
        self,
        display_name: str | None = None,
        wallet_address: str | None = None,
        **preferences: Any,
    ) -> tuple[e.User, e.Preferences]:
        """A new active user with default preferences (overridden by `preferences`)."""
        name = v.text("display name", display_name, max_length=64, required=False)
        wallet = v.text("wallet address", wallet_address, max_length=80, required=False)
        prefs = {"risk_tolerance": "medium", "max_slippage_pct": DEFAULT_MAX_SLIPPAGE_PCT}
        prefs.update(check_preferences(preferences))
        now = self._clock()
        async with self.transaction() as session:
            user = m.User(
                display_name=name,
                wallet_address=wallet,
                created_at=now,
                last_active_at=now,
                status="active",
                verification_level=0,
            )
            session.add(user)
            await session.flush()
            row = m.UserPreferences(user_id=user.id, updated_at=now, **prefs)
            session.add(row)
            await session.flush()
            return to_entity(e.User, user), preferences_entity(row)

    async def get(self, user_id: int) -> e.User:
        async with self.transaction() as session:
            return to_entity(e.User, await self.require(session, m.User, user_id, "user"))

    async def preferences(self, user_id: int) -> e.Preferences:
        async with self.transaction() as session:
            row = await session.get(m.UserPreferences, user_id)
            if row is None:
                raise NotFoundError(f"preferences of user {user_id} not found")
            return preferences_entity(row)

    async def update_preferences(self, user_id: int, **changes: Any) -> e.Preferences:
        checked = check_preferences(changes)
        async with self.transaction() as session:
            row = await session.get(m.UserPreferences, user_id)
            if row is None:
                raise NotFoundError(f"preferences of user {user_id} not found")
            for key, value in checked.items():
                setattr(row, key, value)
            row.updated_at = self._clock()
            await session.flush()
            return preferences_entity(row)
