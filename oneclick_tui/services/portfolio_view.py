"""The user's portfolio valued at live prices: rows, totals, allocation and risk.

Reading the holdings is I/O (`PortfolioView.holdings`); valuing them is pure
(`value_portfolio`), so the console can revalue on every book update without a query.

Valuation: cash assets (USDC, USDT) count at 1. Any other asset is valued at the live mid of
the pair stored with its position; without a live mid, at the engine's last mark; without
that it is unpriced and left out of equity (and named, so the user knows).

Concentration and diversification are measured over the risk assets only: a wallet that is
99 % stablecoins is not "concentrated" in the sense of risk. The concentration fed to the
risk score is the HHI of the risk assets scaled by the share of equity they make up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from oneclick_tui.domain.metrics import annualized_volatility, max_drawdown, returns_from_equity
from oneclick_tui.domain.portfolio_math import diversification_index, herfindahl_index, risk_score
from oneclick_tui.services.runtime import Services
from oneclick_tui.stores.models import PortfolioAnalytics, Position, TradingPair

CASH_ASSETS = frozenset({"USDC", "USDT"})
ZERO = Decimal(0)


@dataclass(frozen=True)
class Holding:
    """One stored position, with the pair that prices it."""

    asset: str
    pair: str | None
    quantity: Decimal
    average_cost: Decimal
    realized_pnl: Decimal
    marked_value: Decimal | None
    """The engine's last mark (current_value), used when no live mid is known."""
    updated_at: datetime


@dataclass(frozen=True)
class ValuedHolding:
    asset: str
    pair: str | None
    quantity: Decimal
    average_cost: Decimal
    price: Decimal | None
    value: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal
    weight: Decimal | None
    """Share of equity, 0..1; None when unpriced or equity is zero."""
    is_cash: bool
    live: bool
    """Priced at a live mid (not a stored mark)."""


@dataclass(frozen=True)
class PortfolioSnapshot:
    """Everything the portfolio screen draws, computed at one instant."""

    rows: tuple[ValuedHolding, ...]
    equity: Decimal
    cash: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    diversification: Decimal | None
    risk_score: float | None
    unpriced: tuple[str, ...]


class PortfolioView:
    """Reads the local user's holdings and equity history."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.user_id = services.user.id

    async def holdings(self) -> list[Holding]:
        query = (
            select(Position, TradingPair.base_asset, TradingPair.quote_asset)
            .outerjoin(TradingPair, TradingPair.id == Position.pair_id)
            .where(Position.user_id == self.user_id)
            .order_by(Position.asset)
        )
        async with self.s.sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            Holding(
                p.asset,
                f"{base}/{quote}" if base else None,
                p.quantity,
                p.average_cost,
                p.realized_pnl,
                p.current_value,
                p.last_updated_at,
            )
            for p, base, quote in rows
        ]

    async def equity_history(self, days: int = 365) -> list[Decimal]:
        """Daily total values, oldest first (from the portfolio analytics snapshots)."""
        query = (
            select(PortfolioAnalytics.total_value)
            .where(PortfolioAnalytics.user_id == self.user_id)
            .order_by(PortfolioAnalytics.snapshot_date.desc())
            .limit(days)
        )
        async with self.s.sessions() as session:
            values = list((await session.scalars(query)).all())
        return values[::-1]


def value_holding(h: Holding, mids: Mapping[str, Decimal]) -> ValuedHolding:
    """One holding priced at 1 (cash), the live mid, or the stored mark."""
    cash = h.asset in CASH_ASSETS
    mid = mids.get(h.pair) if h.pair else None
    price: Decimal | None = Decimal(1) if cash else mid
    if price is None and h.marked_value is not None and h.quantity > 0:
        price = h.marked_value / h.quantity
    value = h.quantity * price if price is not None else (ZERO if h.quantity == 0 else None)
    unrealized = None if value is None else value - h.quantity * h.average_cost
    return ValuedHolding(
        h.asset,
        h.pair,
        h.quantity,
        h.average_cost,
        price,
        value,
        ZERO if cash else unrealized,
        h.realized_pnl,
        None,
        cash,
        cash or mid is not None,
    )


def value_portfolio(
    holdings: Iterable[Holding], mids: Mapping[str, Decimal], history: Sequence[Decimal] = ()
) -> PortfolioSnapshot:
    """Value every holding, total them, and score concentration and risk."""
    valued = [value_holding(h, mids) for h in holdings]
    equity = sum((v.value for v in valued if v.value is not None), ZERO)
    rows = tuple(_with_weight(v, equity) for v in valued)
    risky = [v.value for v in rows if not v.is_cash and v.value is not None and v.value > 0]
    return PortfolioSnapshot(
        rows=rows,
        equity=equity,
        cash=sum((v.value for v in rows if v.is_cash and v.value is not None), ZERO),
        unrealized_pnl=sum((v.unrealized_pnl for v in rows if v.unrealized_pnl is not None), ZERO),
        realized_pnl=sum((v.realized_pnl for v in rows), ZERO),
        diversification=diversification_index(risky),
        risk_score=_risk(risky, equity, [*history, equity] if equity > 0 else list(history)),
        unpriced=tuple(v.asset for v in rows if v.value is None),
    )


def _with_weight(v: ValuedHolding, equity: Decimal) -> ValuedHolding:
    if v.value is None or equity <= 0:
        return v
    return ValuedHolding(
        v.asset,
        v.pair,
        v.quantity,
        v.average_cost,
        v.price,
        v.value,
        v.unrealized_pnl,
        v.realized_pnl,
        v.value / equity,
        v.is_cash,
        v.live,
    )


def _risk(risky: list[Decimal], equity: Decimal, curve: Sequence[Decimal]) -> float | None:
    """Risk score from the equity curve's volatility and drawdown and the invested HHI."""
    hhi = herfindahl_index(risky)
    concentration = ZERO if hhi is None or equity <= 0 else hhi * sum(risky, ZERO) / equity
    returns: list[Decimal] = []
    if len(curve) >= 2 and all(value > 0 for value in curve[:-1]):
        returns = returns_from_equity(curve)
    return risk_score(
        annualized_volatility(returns),
        max_drawdown(returns) if returns else None,
        concentration if equity > 0 else None,
    )
