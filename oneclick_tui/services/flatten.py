"""The panic button: close every copied position at market, as recorded manual sells.

Each position gets a pending `manual` sell of its whole quantity (unless one is already open),
written in one transaction with an audit row; the engine executes pending trades every
second like any copy, so a crash in between is recovered the same way.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.stores.copy_store import closing_sell_row
from oneclick_tui.stores.models import AuditLog, Position, Trade


async def flatten_all(
    sessions: async_sessionmaker[AsyncSession], user_id: int, now: datetime
) -> int:
    """Write a pending sell for every open non-cash position of the user; returns how many."""
    async with sessions.begin() as session:
        positions = (
            await session.scalars(
                select(Position).where(
                    Position.user_id == user_id,
                    Position.pair_id.is_not(None),
                )
            )
        ).all()
        open_sells = set(
            (
                await session.scalars(
                    select(Trade.pair_id).where(
                        Trade.user_id == user_id,
                        Trade.trade_type == "sell",
                        Trade.kind.in_(("manual", "stop_loss")),
                        Trade.status.in_(("pending", "submitted")),
                    )
                )
            ).all()
        )
        orders = [
            _sell(p, now) for p in positions if p.quantity > 0 and p.pair_id not in open_sells
        ]
        if orders:
            await session.execute(Trade.__table__.insert(), orders)
        session.add(
            AuditLog(
                occurred_at=now,
                actor=f"user:{user_id}",
                action="flatten.requested",
                entity_type="user",
                entity_id=str(user_id),
                before=None,
                after={"positions": [o["pair_id"] for o in orders]},
            )
        )
    return len(orders)


def _sell(position: Position, now: datetime) -> dict[str, Any]:
    assert position.pair_id is not None
    mark = position.current_value / position.quantity if position.current_value else None
    price = mark or position.average_cost or Decimal(1)
    return closing_sell_row(
        "manual", position.user_id, position.pair_id, position.quantity, price, now
    )
