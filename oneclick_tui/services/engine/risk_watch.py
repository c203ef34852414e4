"""Positions marked to the live mid, and the stop-loss that closes a falling one.

A stop-loss is its own recorded trade (kind `stop_loss`) that sells the whole position when
the mid falls the user's stop-loss percentage below the average cost; it then executes like
any pending copy, so a crash in between is recovered the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.services.engine.catalog import Catalog
from oneclick_tui.stores import copy_store as cs
from oneclick_tui.stores.models import Position, Trade, UserPreferences


async def mark_and_stop(
    sessions: async_sessionmaker[AsyncSession],
    catalog: Catalog,
    mids: Mapping[str, Decimal],
    now: datetime,
) -> int:
    """Revalue every open position; write a pending stop-loss sell where one triggers.

    Returns how many stop-losses were written (the caller then executes pending trades).
    """
    symbol_of = {p.id: s for s, p in catalog.pairs.items()}
    async with sessions.begin() as session:
        rows = (
            await session.execute(
                select(Position, UserPreferences.stop_loss_pct)
                .join(UserPreferences, UserPreferences.user_id == Position.user_id)
                .where(Position.pair_id.is_not(None))
            )
        ).all()
        open_stops = await _open_stop_losses(session)
        stops: list[dict[str, Any]] = []
        audits: list[dict[str, Any]] = []
        for position, stop_pct in rows:
            mid = mids.get(symbol_of.get(position.pair_id or -1, ""))
            if mid is None or position.quantity <= 0:
                continue
            position.current_value = position.quantity * mid
            position.unrealized_pnl = position.quantity * (mid - position.average_cost)
            if (
                _triggered(position, mid, stop_pct)
                and (position.user_id, position.pair_id) not in open_stops
            ):
                stops.append(_stop_row(position, mid, now))
                audits.append(_stop_audit(position, mid, stop_pct, now))
        await cs.insert_decisions(session, [], audits)
        if stops:
            await session.execute(Trade.__table__.insert(), stops)
    return len(stops)


def _triggered(position: Position, mid: Decimal, stop_pct: Decimal | None) -> bool:
    if stop_pct is None or stop_pct <= 0 or position.average_cost <= 0:
        return False
    return mid <= position.average_cost * (1 - stop_pct / 100)


async def _open_stop_losses(session: AsyncSession) -> set[tuple[int | None, int]]:
    query = select(Trade.user_id, Trade.pair_id).where(
        Trade.kind == "stop_loss", Trade.status.in_(("pending", "submitted"))
    )
    return {(u, p) for u, p in (await session.execute(query)).all()}


def _stop_row(position: Position, mid: Decimal, now: datetime) -> dict[str, Any]:
    assert position.pair_id is not None
    return cs.closing_sell_row(
        "stop_loss", position.user_id, position.pair_id, position.quantity, mid, now
    )


def _stop_audit(
    position: Position, mid: Decimal, stop_pct: Decimal | None, now: datetime
) -> dict[str, Any]:
    return {
        "occurred_at": now,
        "actor": "engine",
        "action": "stop_loss.triggered",
        "entity_type": "position",
        "entity_id": f"{position.user_id}:{position.asset}",
        "before": {"quantity": str(position.quantity), "average_cost": str(position.average_cost)},
        "after": {"mid": str(mid), "stop_loss_pct": str(stop_pct)},
        "prev_hash": None,
        "row_hash": None,
    }
