"""What the console's trader and follow screens read and change beyond `FollowService`.

Kept apart from `follows.py` so the CLI's service stays small: the recent lead trades of one
trader (the detail pane), and changing a follow's terms in one transaction so the engine never
sees a moment without the follow and the old terms stay in history as an ended follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from oneclick_tui.domain import entities as e
from oneclick_tui.services import audit
from oneclick_tui.services.follows import FollowService, _follow_json
from oneclick_tui.services.runtime import Services
from oneclick_tui.stores.errors import NotFoundError, ValidationError
from oneclick_tui.stores.models import FollowRelationship, Trade, TradingPair
from oneclick_tui.stores.repositories import validate as v
from oneclick_tui.stores.repositories.base import to_entity

F = FollowRelationship


@dataclass(frozen=True)
class LeadTradeRow:
    """One trade a lead trader made, as the detail pane lists it."""

    id: int
    executed_at: datetime | None
    pair: str
    side: str
    amount: Decimal
    price: Decimal | None
    total_value: Decimal | None


class TraderViewService:
    """Reads for the trader detail pane and the follow edit, on top of `FollowService`."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.follows = FollowService(services)
        self.user_id = services.user.id

    async def lead_trades(self, trader_id: int, limit: int = 12) -> list[LeadTradeRow]:
        """The trader's newest lead trades, newest first."""
        query = (
            select(Trade, TradingPair.base_asset, TradingPair.quote_asset)
            .join(TradingPair, TradingPair.id == Trade.pair_id)
            .where(Trade.kind == "lead", Trade.trader_id == trader_id)
            .order_by(Trade.executed_at.desc(), Trade.id.desc())
            .limit(limit)
        )
        async with self.s.sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            LeadTradeRow(
                t.id,
                t.executed_at or t.created_at,
                f"{b}/{q}",
                t.trade_type,
                t.amount,
                t.price,
                t.total_value,
            )
            for t, b, q in rows
        ]

    async def change_terms(self, ident: str, copy_pct: Decimal, **terms: Any) -> e.Follow:
        """End the live follow and start one with new terms, atomically, keeping its status.

        An edit is recorded as history (the old follow ends, a new one starts) rather than
        overwritten, so what was copied under which terms stays answerable.
        """
        trader = await self.follows.resolve(ident)
        values = _checked_terms(copy_pct, **terms)
        repo = self.s.repos.follows
        async with repo.transaction() as session:
            old = await self._live_row(session, trader.id)
            before = _follow_json(to_entity(e.Follow, old))
            status, now = old.status, datetime.now(UTC)
            old.status, old.ended_at = "ended", now
            await session.flush()
            new = F(
                follower_id=self.user_id,
                trader_id=trader.id,
                started_at=now,
                status=status,
                paused_at=now if status == "paused" else None,
                **values,
            )
            session.add(new)
            await session.flush()
            await session.refresh(new)
            follow = to_entity(e.Follow, new)
        await audit.record(
            self.s.sessions,
            f"user:{self.user_id}",
            "follow.changed",
            "follow",
            f"{self.user_id}:{trader.id}",
            before,
            _follow_json(follow),
        )
        return follow

    async def _live_row(self, session: Any, trader_id: int) -> FollowRelationship:
        query = select(F).where(
            F.follower_id == self.user_id, F.trader_id == trader_id, F.status != "ended"
        )
        row = (await session.scalars(query.with_for_update())).first()
        if row is None:
            raise NotFoundError("you do not follow this trader; follow him first")
        return row


def _checked_terms(
    copy_pct: Decimal,
    *,
    sizing_mode: str = "copy_pct",
    fixed_quote_amount: Decimal | None = None,
    copy_side: str = "all",
    auto_copy_enabled: bool = True,
) -> dict[str, Any]:
    """The repository's own checks, so an edit is refused before anything changes."""
    pct = v.in_range("copy percentage", copy_pct, 0, 100, low_open=True)
    v.choice("sizing mode", sizing_mode, e.SIZING_MODES)
    v.choice("copy side", copy_side, e.COPY_SIDES)
    fixed = (
        None if fixed_quote_amount is None else v.positive("fixed quote amount", fixed_quote_amount)
    )
    if sizing_mode == "fixed_quote" and fixed is None:
        raise ValidationError("sizing mode fixed_quote needs a fixed quote amount")
    return {
        "copy_percentage": pct,
        "sizing_mode": sizing_mode,
        "fixed_quote_amount": fixed,
        "copy_side": copy_side,
        "auto_copy_enabled": auto_copy_enabled,
    }
