"""Follow management and the user's views of traders, follows, trades and positions.

The CLI and the console call the same methods, so `oneclick follow` and the follow key do
exactly the same thing, audit row included.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from oneclick_tui.domain import entities as e
from oneclick_tui.services import audit
from oneclick_tui.services.runtime import Services
from oneclick_tui.services.wallet.keys import WalletKeyError, normalize_address
from oneclick_tui.stores.errors import NotFoundError, ValidationError
from oneclick_tui.stores.models import FollowRelationship, Position, Trade, Trader, TradingPair


@dataclass(frozen=True)
class TraderRow:
    id: int
    name: str
    address: str
    risk_category: str
    style: str | None
    trades: int
    followers: int
    following: str | None
    """The local user's follow status for this trader, if any."""


@dataclass(frozen=True)
class FollowRow:
    trader_id: int
    trader: str
    status: str
    copy_pct: Decimal
    sizing_mode: str
    fixed_quote_amount: Decimal | None
    copy_side: str
    auto_copy: bool
    started_at: datetime
    copies: int
    skips: int
    realized_pnl: Decimal


@dataclass(frozen=True)
class TradeRow:
    id: int
    created_at: datetime
    kind: str
    pair: str
    side: str
    amount: Decimal
    price: Decimal | None
    total_value: Decimal | None
    fees: Decimal
    realized_pnl: Decimal | None
    status: str
    reason: str | None
    trader: str | None
    copy_of: int | None
    tx_hash: str | None


@dataclass(frozen=True)
class PositionRow:
    asset: str
    quantity: Decimal
    average_cost: Decimal
    current_value: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal
    updated_at: datetime


def _long_address(text: str) -> str | None:
    """The canonical long form (0x + 64 hex) of an account address, None if it is not one."""
    try:
        return normalize_address(text)
    except WalletKeyError:
        return None


def as_dict(row: Any) -> dict[str, Any]:
    """A view row as JSON-ready data (Decimals and datetimes become strings later)."""
    return dataclasses.asdict(row)


class FollowService:
    """What the local user can do about traders, and what he can see of his copies."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.user_id = services.user.id

    async def resolve(self, ident: str, *, register: bool = False) -> e.Trader:
        """A trader by address (0x..., short or long form) or display name, case-insensitive.

        With `register` on a live network, an Aptos account no one has followed yet becomes a
        trader row, so any lead trader can be followed by his address: his name is the short
        address and his risk category "medium" until analytics know better.
        """
        key = ident.strip()
        is_address = key.startswith("0x")
        address = _long_address(key) if is_address else None
        async with self.s.sessions() as session:
            if is_address:
                forms = {key.lower()} | ({address} if address else set())
                row = await session.scalar(
                    select(Trader).where(Trader.wallet_address.in_(sorted(forms)))
                )
            else:
                row = await session.scalar(
                    select(Trader).where(func.lower(Trader.display_name) == key.lower())
                )
        if row is not None:
            return await self.s.repos.traders.get(row.id)
        if register and is_address and self.s.settings.network != "sim":
            if address is None:
                raise ValidationError(f"not an Aptos account address: {key[:80]!r}")
            return await self.s.repos.traders.register(
                address, f"{address[:6]}…{address[-4:]}", risk_category="medium"
            )
        raise NotFoundError(f"no trader named or at {ident!r}; see `oneclick traders`")

    async def traders(self) -> list[TraderRow]:
        trades = (
            select(Trade.trader_id, func.count().label("n"))
            .where(Trade.kind == "lead")
            .group_by(Trade.trader_id)
            .subquery()
        )
        followers = (
            select(FollowRelationship.trader_id, func.count().label("n"))
            .where(FollowRelationship.status != "ended")
            .group_by(FollowRelationship.trader_id)
            .subquery()
        )
        mine = (
            select(FollowRelationship.trader_id, FollowRelationship.status)
            .where(
                FollowRelationship.follower_id == self.user_id, FollowRelationship.status != "ended"
            )
            .subquery()
        )
        query = (
            select(Trader, trades.c.n, followers.c.n, mine.c.status)
            .outerjoin(trades, trades.c.trader_id == Trader.id)
            .outerjoin(followers, followers.c.trader_id == Trader.id)
            .outerjoin(mine, mine.c.trader_id == Trader.id)
            .order_by(Trader.display_name)
        )
        async with self.s.sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            TraderRow(
                t.id,
                t.display_name,
                t.wallet_address,
                t.risk_category,
                t.style,
                n or 0,
                f or 0,
                status,
            )
            for t, n, f, status in rows
        ]

    async def follow(self, ident: str, copy_pct: Decimal, **terms: Any) -> e.Follow:
        trader = await self.resolve(ident, register=True)
        follow = await self.s.repos.follows.follow(
            self.user_id, trader.id, copy_percentage=copy_pct, **terms
        )
        await self._audit("follow.started", trader, None, _follow_json(follow))
        return follow

    async def unfollow(self, ident: str) -> e.Follow:
        trader = await self.resolve(ident)
        follow = await self.s.repos.follows.unfollow(self.user_id, trader.id)
        await self._audit("follow.ended", trader, {"status": "live"}, _follow_json(follow))
        return follow

    async def pause(self, ident: str) -> e.Follow:
        trader = await self.resolve(ident)
        follow = await self.s.repos.follows.pause(self.user_id, trader.id)
        await self._audit("follow.paused", trader, {"status": "active"}, _follow_json(follow))
        return follow

    async def resume(self, ident: str) -> e.Follow:
        trader = await self.resolve(ident)
        follow = await self.s.repos.follows.resume(self.user_id, trader.id)
        await self._audit("follow.resumed", trader, {"status": "paused"}, _follow_json(follow))
        return follow

    async def follows(self, include_ended: bool = False) -> list[FollowRow]:
        follows = await self.s.repos.follows.of_user(self.user_id, include_ended=include_ended)
        stats = await self._copy_stats()
        names = {t.id: t.display_name for t in self.s.catalog.traders.values()}
        out = []
        for f in follows:
            copies, skips, pnl = stats.get(f.trader_id, (0, 0, Decimal(0)))
            name = (
                names.get(f.trader_id) or (await self.s.repos.traders.get(f.trader_id)).display_name
            )
            out.append(
                FollowRow(
                    f.trader_id,
                    name,
                    f.status,
                    f.copy_percentage,
                    f.sizing_mode,
                    f.fixed_quote_amount,
                    f.copy_side,
                    f.auto_copy_enabled,
                    f.started_at,
                    copies,
                    skips,
                    pnl,
                )
            )
        return out

    async def _copy_stats(self) -> dict[int, tuple[int, int, Decimal]]:
        """Per trader: completed copies, skips, and realized PnL made from copying him."""
        query = select(Trade.trader_id, Trade.status, Trade.realized_pnl).where(
            Trade.user_id == self.user_id, Trade.kind == "copy"
        )
        stats: dict[int, tuple[int, int, Decimal]] = {}
        async with self.s.sessions() as session:
            for trader_id, status, pnl in (await session.execute(query)).all():
                if trader_id is None:  # copies always name their trader; be safe anyway
                    continue
                copies, skips, total = stats.get(trader_id, (0, 0, Decimal(0)))
                stats[trader_id] = (
                    copies + (status == "completed"),
                    skips + (status == "skipped"),
                    total + (pnl or Decimal(0)),
                )
        return stats

    async def trades(self, limit: int = 200, status: str | None = None) -> list[TradeRow]:
        query = (
            select(Trade, TradingPair.base_asset, TradingPair.quote_asset, Trader.display_name)
            .join(TradingPair, TradingPair.id == Trade.pair_id)
            .outerjoin(Trader, Trader.id == Trade.trader_id)
            .where(Trade.user_id == self.user_id)
            .order_by(Trade.created_at.desc(), Trade.id.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(Trade.status == status)
        async with self.s.sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            TradeRow(
                t.id,
                t.created_at,
                t.kind,
                f"{b}/{q}",
                t.trade_type,
                t.amount,
                t.price,
                t.total_value,
                t.fees_paid,
                t.realized_pnl,
                t.status,
                t.skip_reason or t.failure_reason,
                name,
                t.copy_of_trade_id,
                t.tx_hash,
            )
            for t, b, q, name in rows
        ]

    async def positions(self) -> list[PositionRow]:
        query = select(Position).where(Position.user_id == self.user_id).order_by(Position.asset)
        async with self.s.sessions() as session:
            rows = (await session.scalars(query)).all()
        return [
            PositionRow(
                p.asset,
                p.quantity,
                p.average_cost,
                p.current_value,
                p.unrealized_pnl,
                p.realized_pnl,
                p.last_updated_at,
            )
            for p in rows
        ]

    async def _audit(
        self, action: str, trader: e.Trader, before: dict[str, Any] | None, after: dict[str, Any]
    ) -> None:
        await audit.record(
            self.s.sessions,
            f"user:{self.user_id}",
            action,
            "follow",
            f"{self.user_id}:{trader.id}",
            before,
            after,
        )


def _follow_json(f: e.Follow) -> dict[str, Any]:
    return {
        "trader_id": f.trader_id,
        "status": f.status,
        "copy_pct": str(f.copy_percentage),
        "sizing_mode": f.sizing_mode,
        "copy_side": f.copy_side,
        "auto_copy": f.auto_copy_enabled,
    }
