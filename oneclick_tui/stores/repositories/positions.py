"""Positions: one row per user and asset, written by upsert."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from oneclick_tui.domain import entities as e
from oneclick_tui.stores import models as m
from oneclick_tui.stores.repositories import validate as v
from oneclick_tui.stores.repositories.base import Repository, to_entity


class PositionRepository(Repository):
    async def upsert(
        self,
        user_id: int,
        asset: str,
        *,
        quantity: Decimal,
        average_cost: Decimal,
        pair_id: int | None = None,
        current_value: Decimal | None = None,
        unrealized_pnl: Decimal | None = None,
        realized_pnl: Decimal = Decimal(0),
    ) -> e.Position:
        """Create or replace the user's position in `asset` atomically."""
        symbol = str(v.text("asset", asset, max_length=32)).upper()
        values: dict[str, Any] = {
            "quantity": v.non_negative("quantity", quantity),
            "average_cost": v.non_negative("average cost", average_cost),
            "pair_id": pair_id,
            "current_value": v.optional_decimal("current value", current_value),
            "unrealized_pnl": v.optional_decimal("unrealized PnL", unrealized_pnl),
            "realized_pnl": v.decimal("realized PnL", realized_pnl),
            "last_updated_at": self._clock(),
        }
        async with self.transaction() as session:
            await self.require(session, m.User, user_id, "user")
            if pair_id is not None:
                await self.require(session, m.TradingPair, pair_id, "trading pair")
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = insert(m.Position).values(user_id=user_id, asset=symbol, **values)
            statement = statement.on_conflict_do_update(
                index_elements=[m.Position.user_id, m.Position.asset], set_=values
            )
            await session.execute(statement)
            row = await session.scalar(
                select(m.Position)
                .where(m.Position.user_id == user_id, m.Position.asset == symbol)
                .execution_options(populate_existing=True)
            )
            return to_entity(e.Position, row)

    async def for_user(self, user_id: int) -> list[e.Position]:
        query = select(m.Position).where(m.Position.user_id == user_id).order_by(m.Position.asset)
        async with self.transaction() as session:
            return [to_entity(e.Position, row) for row in await session.scalars(query)]
