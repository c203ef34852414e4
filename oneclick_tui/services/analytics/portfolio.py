"""Daily portfolio analytics per user: one `portfolio_analytics` row per user and UTC day.

A user's holdings at a past day close are rebuilt backwards from his current positions by
undoing every completed trade of his executed after that close (a buy added `amount` base and
cost `total_value + fee` quote; a sell the reverse, see the copy engine). So no starting
balance or deposit record is needed; deposits and withdrawals are not recorded, and values are
taken as free of external flows (docs/METRICS.md).

Valuation in USD: USDC and USDT count at 1; another asset at the day close of a pair that
quotes it in a stablecoin, or in an asset that is itself priced that way (THL/APT via
APT/USDC). Unpriced assets are left out of the value. Concentration and diversification are
over the risk (non-stablecoin) assets, as on the portfolio screen; the concentration fed to
the risk score is their HHI scaled by their share of the total value.

Stored units: daily and cumulative return in percent, risk score 0..100, diversification 0..1.
Per-user data is small, so this runs in Python on both backends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, localcontext
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from oneclick_tui.domain import metrics, portfolio_math
from oneclick_tui.services.analytics.daily import EXACT, ONE_DAY, ZERO, day_end, day_of
from oneclick_tui.stores.models import (
    FollowRelationship,
    PortfolioAnalytics,
    Position,
    Trade,
    TradingPair,
)

CASH_ASSETS = frozenset({"USDC", "USDT"})
HUNDRED = Decimal(100)
_Q8 = Decimal("1e-8")
_Q4 = Decimal("1e-4")


@dataclass(frozen=True, slots=True)
class PairRef:
    id: int
    base: str
    quote: str


@dataclass(frozen=True, slots=True)
class UserFill:
    base: str
    quote: str
    side: str
    amount: Decimal
    total_value: Decimal
    fee: Decimal
    executed_at: datetime


@dataclass(frozen=True, slots=True)
class UserBook:
    """Everything needed to rebuild one user's daily snapshots."""

    user_id: int
    created: date
    holdings: Mapping[str, Decimal]
    fills: Sequence[UserFill]
    follows: Sequence[tuple[datetime, datetime | None]]


@dataclass(frozen=True, slots=True)
class Snapshot:
    user_id: int
    day: date
    total_value: Decimal
    daily_return: Decimal | None
    cumulative_return: Decimal | None
    risk_score: Decimal | None
    diversification_index: Decimal | None
    following_count: int
    active_positions: int

    def row(self) -> dict[str, object]:
        return {
            "user_id": self.user_id,
            "snapshot_date": self.day,
            "total_value": self.total_value,
            "daily_return": self.daily_return,
            "cumulative_return": self.cumulative_return,
            "risk_score": self.risk_score,
            "diversification_index": self.diversification_index,
            "following_count": self.following_count,
            "active_positions": self.active_positions,
        }


def price_of(
    asset: str, day: date, pairs: Sequence[PairRef], closes: Mapping[int, Mapping[date, Decimal]]
) -> Decimal | None:
    """USD price of ``asset`` at ``day``'s close (see module docstring); None if unpriced."""
    if asset in CASH_ASSETS:
        return Decimal(1)
    for pair in sorted(pairs, key=lambda p: (p.quote not in CASH_ASSETS, p.quote != "USDC", p.id)):
        if pair.base != asset:
            continue
        close = closes.get(pair.id, {}).get(day)
        if close is None:
            continue
        if pair.quote in CASH_ASSETS:
            return close
        quote_price = price_of(pair.quote, day, [p for p in pairs if p.base != asset], closes)
        if quote_price is not None:
            with localcontext(EXACT):
                return close * quote_price
    return None


def holdings_at(book: UserBook, day: date) -> dict[str, Decimal]:
    """Holdings at ``day``'s close: the current ones with later trades undone."""
    end = day_end(day)
    held = dict(book.holdings)
    with localcontext(EXACT):
        for f in book.fills:
            if f.executed_at < end:
                continue
            sign = 1 if f.side == "buy" else -1
            held[f.base] = held.get(f.base, ZERO) - sign * f.amount
            cash = f.total_value + f.fee if f.side == "buy" else f.total_value - f.fee
            held[f.quote] = held.get(f.quote, ZERO) + sign * cash
    return held


def snapshots(
    book: UserBook,
    pairs: Sequence[PairRef],
    closes: Mapping[int, Mapping[date, Decimal]],
    first: date,
    last: date,
) -> list[Snapshot]:
    """Snapshots for every day in [first, last]; returns and risk use every day since the
    user's first day, so a partial rebuild gives the same figures as a full one."""
    out: list[Snapshot] = []
    values: list[Decimal] = []
    day = book.created
    while day <= last:
        held = holdings_at(book, day)
        valued: dict[str, Decimal] = {}
        with localcontext(EXACT):
            for asset, qty in held.items():
                price = price_of(asset, day, pairs, closes)
                if price is not None and qty > 0:
                    valued[asset] = qty * price
            total = sum(valued.values(), ZERO)
        values.append(total)
        if day >= first:
            out.append(_snapshot(book, day, values, valued, total))
        day += ONE_DAY
    return out


def _snapshot(
    book: UserBook, day: date, values: list[Decimal], valued: dict[str, Decimal], total: Decimal
) -> Snapshot:
    risky = [v for asset, v in valued.items() if asset not in CASH_ASSETS and v > 0]
    daily = portfolio_math.daily_return(values[-2], values[-1]) if len(values) >= 2 else None
    cumulative = portfolio_math.cumulative_return(values)
    curve = [v for v in values if v > 0]
    returns = metrics.returns_from_equity(curve) if len(curve) >= 2 else []
    hhi = portfolio_math.herfindahl_index(risky)
    with localcontext(EXACT):
        concentration = None
        if total > 0:
            concentration = ZERO if hhi is None else hhi * sum(risky, ZERO) / total
    score = portfolio_math.risk_score(
        metrics.annualized_volatility(returns),
        metrics.max_drawdown(returns) if returns else None,
        concentration,
    )
    diversification = portfolio_math.diversification_index(risky)
    end = day_end(day)
    following = sum(
        1 for start, ended in book.follows if start < end and (ended is None or ended >= end)
    )
    return Snapshot(
        user_id=book.user_id,
        day=day,
        total_value=total,
        daily_return=None if daily is None else (daily * HUNDRED).quantize(_Q8),
        cumulative_return=None if cumulative is None else (cumulative * HUNDRED).quantize(_Q8),
        risk_score=None if score is None else Decimal(repr(score)).quantize(_Q4),
        diversification_index=None if diversification is None else diversification.quantize(_Q8),
        following_count=following,
        active_positions=len(risky),
    )


async def load_pairs(conn: AsyncConnection) -> list[PairRef]:
    rows = (await conn.execute(select(TradingPair.id, TradingPair.base_asset,
                                      TradingPair.quote_asset))).all()  # fmt: skip
    return [PairRef(r[0], r[1], r[2]) for r in rows]


async def load_book(conn: AsyncConnection, user_id: int, created: datetime) -> UserBook:
    held = dict(
        (await conn.execute(
            select(Position.asset, Position.quantity).where(Position.user_id == user_id)
        )).all()
    )  # fmt: skip
    fills: Sequence[Any] = (
        await conn.execute(
            select(TradingPair.base_asset, TradingPair.quote_asset, Trade.trade_type,
                   Trade.amount, Trade.total_value, Trade.price, Trade.fees_paid,
                   Trade.executed_at)
            .join(TradingPair, TradingPair.id == Trade.pair_id)
            .where(Trade.user_id == user_id, Trade.status == "completed",
                   Trade.executed_at.is_not(None))
        )
    ).all()  # fmt: skip
    follows = (
        await conn.execute(
            select(FollowRelationship.started_at, FollowRelationship.ended_at).where(
                FollowRelationship.follower_id == user_id
            )
        )
    ).all()
    with localcontext(EXACT):
        book_fills = [
            UserFill(r[0], r[1], r[2], r[3], r[4] if r[4] is not None else r[3] * r[5], r[6], r[7])
            for r in fills
        ]
    first_trade = min((f.executed_at for f in book_fills), default=created)
    return UserBook(
        user_id=user_id,
        created=min(day_of(created), day_of(first_trade)),
        holdings=held,
        fills=book_fills,
        follows=[(r[0], r[1]) for r in follows],
    )


async def store(conn: AsyncConnection, user_id: int, rows: Sequence[Snapshot], first: date) -> None:
    """Replace the user's snapshots from ``first`` on with ``rows``."""
    await conn.execute(
        delete(PortfolioAnalytics).where(
            PortfolioAnalytics.user_id == user_id, PortfolioAnalytics.snapshot_date >= first
        )
    )
    if rows:
        await conn.execute(PortfolioAnalytics.__table__.insert(), [s.row() for s in rows])
