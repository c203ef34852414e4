"""The copy engine's reads and batch writes.

One lead trade is one transaction: its row, every follower's copy-or-skip row and their audit
rows are written together (executemany), so a crash leaves either all of them or none. The
(user_id, copy_of_trade_id) unique key makes a replayed lead trade harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from oneclick_tui.domain.market_events import LeadTrade
from oneclick_tui.stores.models import (
    AuditLog,
    FollowRelationship,
    Position,
    Trade,
    UserPreferences,
)

LIVE_COPY_STATUSES = ("pending", "submitted", "completed")


@dataclass(frozen=True)
class FollowRow:
    """A live follow joined with the follower's preferences."""

    follow_id: int
    follower_id: int
    status: str
    auto_copy: bool
    copy_pct: Decimal
    sizing_mode: str
    fixed_quote_amount: Decimal | None
    copy_side: str
    max_trade_amount: Decimal | None
    daily_limit: Decimal | None
    risk_tolerance: str
    allowed_assets: tuple[str, ...] | None
    max_slippage_pct: Decimal


async def record_lead_trade(
    session: AsyncSession, lead: LeadTrade, trader_id: int, pair_id: int
) -> int:
    """Insert the lead trade once (keyed by its transaction hash) and return its id."""
    found = await session.scalar(select(Trade.id).where(Trade.tx_hash == lead.tx_hash))
    if found is not None:
        return int(found)
    row = Trade(
        kind="lead",
        user_id=None,
        trader_id=trader_id,
        pair_id=pair_id,
        trade_type=lead.side.value,
        amount=lead.amount,
        price=lead.price,
        total_value=lead.amount * lead.price,
        fees_paid=lead.fee,
        status="completed",
        tx_hash=lead.tx_hash,
        chain_version=lead.version,
        executed_at=lead.at,
    )
    session.add(row)
    await session.flush()
    return int(row.id)


async def follows_to_decide(
    session: AsyncSession, trader_id: int, lead_trade_id: int
) -> list[FollowRow]:
    """Live (active or paused) follows of the trader that have no record for this lead yet."""
    already = exists().where(
        and_(
            Trade.user_id == FollowRelationship.follower_id, Trade.copy_of_trade_id == lead_trade_id
        )
    )
    query = (
        select(FollowRelationship, UserPreferences)
        .join(UserPreferences, UserPreferences.user_id == FollowRelationship.follower_id)
        .where(FollowRelationship.trader_id == trader_id)
        .where(FollowRelationship.status != "ended")
        .where(~already)
        .order_by(FollowRelationship.follower_id)
    )
    rows = (await session.execute(query)).all()
    return [_follow_row(f, p) for f, p in rows]


def _follow_row(f: FollowRelationship, p: UserPreferences) -> FollowRow:
    return FollowRow(
        follow_id=f.id,
        follower_id=f.follower_id,
        status=f.status,
        auto_copy=f.auto_copy_enabled,
        copy_pct=f.copy_percentage,
        sizing_mode=f.sizing_mode,
        fixed_quote_amount=f.fixed_quote_amount,
        copy_side=f.copy_side,
        max_trade_amount=p.max_trade_amount,
        daily_limit=p.daily_trading_limit,
        risk_tolerance=p.risk_tolerance,
        allowed_assets=tuple(p.allowed_assets) if p.allowed_assets is not None else None,
        max_slippage_pct=p.max_slippage_pct,
    )


async def holdings(
    session: AsyncSession, user_ids: Sequence[int], assets: Iterable[str]
) -> dict[tuple[int, str], Decimal]:
    """Quantity held per (user, asset) for the given users and assets."""
    if not user_ids:
        return {}
    query = select(Position.user_id, Position.asset, Position.quantity).where(
        Position.user_id.in_(user_ids), Position.asset.in_(list(assets))
    )
    return {(u, a): q for u, a, q in (await session.execute(query)).all()}


async def traded_since(
    session: AsyncSession, user_ids: Sequence[int], since: datetime
) -> dict[int, Decimal]:
    """Quote notional of each user's live buys since `since` (pending ones count)."""
    if not user_ids:
        return {}
    query = select(Trade.user_id, Trade.total_value).where(
        Trade.user_id.in_(user_ids),
        Trade.created_at >= since,
        Trade.status.in_(LIVE_COPY_STATUSES),
        Trade.kind != "lead",
        Trade.trade_type == "buy",
    )
    totals: dict[int, Decimal] = {}
    for user_id, value in (await session.execute(query)).all():
        totals[user_id] = totals.get(user_id, Decimal(0)) + (value or Decimal(0))
    return totals


async def built_from_trader(
    session: AsyncSession, user_ids: Sequence[int], trader_id: int, pair_id: int
) -> dict[int, Decimal]:
    """Base quantity each user holds from copying this trader on this pair (buys - sells).

    Summed in Python: decimals are exact TEXT on SQLite, where SQL SUM would use floats.
    """
    if not user_ids:
        return {}
    signed = case((Trade.trade_type == "buy", 1), else_=-1)
    query = select(Trade.user_id, signed, Trade.amount).where(
        Trade.user_id.in_(user_ids),
        Trade.trader_id == trader_id,
        Trade.pair_id == pair_id,
        Trade.status == "completed",
        Trade.kind == "copy",
    )
    out: dict[int, Decimal] = {}
    for user_id, sign, amount in (await session.execute(query)).all():
        out[user_id] = out.get(user_id, Decimal(0)) + sign * amount
    return out


async def insert_decisions(
    session: AsyncSession, trades: list[dict[str, Any]], audits: list[dict[str, Any]]
) -> None:
    """Batch-insert copy/skip rows (ignoring any that already exist) and their audit rows."""
    if trades:
        dialect = session.bind.dialect.name if session.bind else "sqlite"
        module = postgresql if dialect == "postgresql" else sqlite
        stmt = module.insert(Trade).on_conflict_do_nothing(
            index_elements=["user_id", "copy_of_trade_id"]
        )
        await session.execute(stmt, trades)
    if audits:
        await session.execute(AuditLog.__table__.insert(), audits)


async def pending_copies(session: AsyncSession, lead_trade_id: int | None = None) -> list[Trade]:
    """Copies written but not yet executed, oldest first (optionally of one lead trade)."""
    query = select(Trade).where(Trade.status == "pending", Trade.kind.in_(("copy", "stop_loss")))
    if lead_trade_id is not None:
        query = query.where(Trade.copy_of_trade_id == lead_trade_id)
    return list((await session.scalars(query.order_by(Trade.id))).all())


async def positions_for(
    session: AsyncSession, user_id: int, assets: Iterable[str]
) -> dict[str, Position]:
    query = select(Position).where(Position.user_id == user_id, Position.asset.in_(list(assets)))
    return {p.asset: p for p in (await session.scalars(query)).all()}


async def mark_failed(session: AsyncSession, trade_id: int, reason: str) -> None:
    await session.execute(
        update(Trade).where(Trade.id == trade_id).values(status="failed", failure_reason=reason)
    )


async def count_records(session: AsyncSession, lead_trade_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Trade).where(Trade.copy_of_trade_id == lead_trade_id)
        )
        or 0
    )
