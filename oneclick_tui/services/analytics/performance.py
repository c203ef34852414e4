"""Trader performance per calendar period, from the day table (pure) and its storage.

Periods are UTC calendar periods: the day, the ISO week (from Monday), the month, and
all_time (stored with ``period_start_at`` = 1970-01-01, one row per trader, replaced). The
return series of a period is the trader's equity at each day close inside it, starting from
the close before the period (or his starting balance if he had not traded yet), so a daily
period has one return and no Sharpe/volatility (undefined for one return, shown as "-").

Stored units: ``percentage_return``, ``win_rate``, ``max_drawdown`` and ``volatility`` in
percent; Sharpe, Sortino and Calmar as plain ratios (365 periods a year, risk-free 0);
``total_return`` and ``avg_trade_size`` in the trader's quote asset.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, localcontext
from enum import StrEnum

from oneclick_tui.domain import metrics
from oneclick_tui.services.analytics.daily import EXACT, ONE_DAY, ZERO, TraderDay

HUNDRED = Decimal(100)
ALL_TIME_START = datetime(1970, 1, 1, tzinfo=UTC)
RATIO_LIMIT = 1e11
"""Ratios beyond this (a near-zero deviation) do not fit NUMERIC(20, 8) and mean nothing."""
_Q8 = Decimal("1e-8")
_Q4 = Decimal("1e-4")


class Period(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    ALL_TIME = "all_time"

    def start(self, day: date) -> date:
        """First day of the calendar period holding ``day`` (all_time: 1970-01-01)."""
        if self is Period.DAILY:
            return day
        if self is Period.WEEKLY:
            return day - timedelta(days=day.weekday())
        if self is Period.MONTHLY:
            return day.replace(day=1)
        return ALL_TIME_START.date()

    def next_start(self, start: date) -> date:
        """First day of the following period."""
        if self is Period.DAILY:
            return start + ONE_DAY
        if self is Period.WEEKLY:
            return start + timedelta(days=7)
        if self is Period.MONTHLY:
            return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return date.max

    def starts_between(self, first: date, last: date) -> list[date]:
        """Starts of every period overlapping [first, last], oldest first."""
        if self is Period.ALL_TIME:
            return [self.start(last)]
        out, start = [], self.start(first)
        while start <= last:
            out.append(start)
            start = self.next_start(start)
        return out


def at_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """One trader's figures for one period, ready for a ``trader_performance`` row."""

    trader_id: int
    period: Period
    period_start: date
    total_return: Decimal | None
    percentage_return: Decimal | None
    win_rate: Decimal | None
    max_drawdown: Decimal | None
    sharpe_ratio: Decimal | None
    sortino_ratio: Decimal | None
    calmar_ratio: Decimal | None
    volatility: Decimal | None
    num_trades: int
    avg_trade_size: Decimal | None

    def row(self, computed_at: datetime) -> dict[str, object]:
        return {
            "trader_id": self.trader_id,
            "period": self.period.value,
            "period_start_at": at_midnight(self.period_start),
            "total_return": self.total_return,
            "percentage_return": self.percentage_return,
            "win_rate": self.win_rate,
            "max_drawdown": self.max_drawdown,
            "sharpe_ratio": self.sharpe_ratio,
            "sortino_ratio": self.sortino_ratio,
            "calmar_ratio": self.calmar_ratio,
            "volatility": self.volatility,
            "num_trades": self.num_trades,
            "avg_trade_size": self.avg_trade_size,
            "computed_at": computed_at,
        }


def _ratio(value: float | None, scale: float = 1.0, quantum: Decimal = _Q8) -> Decimal | None:
    """A float statistic as a storable Decimal; None when undefined or absurdly large."""
    if value is None or not math.isfinite(value * scale) or abs(value * scale) >= RATIO_LIMIT:
        return None
    return Decimal(repr(value * scale)).quantize(quantum)


def period_figures(
    trader_id: int,
    starting_balance: Decimal,
    days: Sequence[TraderDay],
    period: Period,
    period_start: date,
    last_day: date,
    day_keys: Sequence[date] | None = None,
) -> PeriodFigures | None:
    """Figures of one period from one trader's day rows (oldest first); None if he had
    not started trading by the end of the period."""
    end = min(period.next_start(period_start) - ONE_DAY, last_day)
    if not days or days[0].day > end:
        return None
    first = max(period_start, days[0].day)
    keys = day_keys if day_keys is not None else [d.day for d in days]
    lo, hi = bisect_left(keys, first), bisect_right(keys, end)
    inside = days[lo:hi]
    with localcontext(EXACT):
        base = starting_balance + (days[lo - 1].net if lo > 0 else ZERO)
        curve = [base, *(starting_balance + d.net for d in inside)]
        n_trades = sum(d.n_trades for d in inside)
        volume = sum((d.volume for d in inside), ZERO)
        closed = sum(d.trips_closed for d in inside)
        won = sum(d.trips_won for d in inside)
        total_return = curve[-1] - curve[0]
        avg_size = (volume / n_trades).quantize(Decimal("1e-18")) if n_trades else None
    returns: list[Decimal] | None = None
    if all(value > 0 for value in curve[:-1]) and curve[-1] >= 0:
        returns = metrics.returns_from_equity(curve)
    pct = None
    if returns is not None:
        with localcontext(EXACT):
            pct = ((curve[-1] / curve[0] - 1) * HUNDRED).quantize(_Q8)
    # One Decimal -> float conversion here instead of one per statistic inside summarize.
    summary = metrics.summarize([float(r) for r in returns] if returns else [])
    return PeriodFigures(
        trader_id=trader_id,
        period=period,
        period_start=period_start,
        total_return=total_return,
        percentage_return=pct,
        win_rate=(Decimal(won) * HUNDRED / Decimal(closed)).quantize(_Q4) if closed else None,
        max_drawdown=_ratio(summary.max_drawdown, 100.0) if returns is not None else None,
        sharpe_ratio=_ratio(summary.sharpe),
        sortino_ratio=_ratio(summary.sortino),
        calmar_ratio=_ratio(summary.calmar),
        volatility=_ratio(summary.volatility, 100.0),
        num_trades=n_trades,
        avg_trade_size=avg_size,
    )


def figures_for(
    days: Sequence[TraderDay],
    balances: Mapping[int, Decimal],
    periods: Mapping[Period, Sequence[date]],
    last_day: date,
) -> list[PeriodFigures]:
    """Every (trader, period, start) asked for, from the day table (sorted by trader, day)."""
    by_trader: dict[int, list[TraderDay]] = {}
    for d in days:
        by_trader.setdefault(d.trader_id, []).append(d)
    out: list[PeriodFigures] = []
    for trader_id, rows in sorted(by_trader.items()):
        balance = balances.get(trader_id) or ZERO
        keys = [d.day for d in rows]
        for period, starts in periods.items():
            for start in starts:
                figures = period_figures(trader_id, balance, rows, period, start, last_day, keys)
                if figures is not None:
                    out.append(figures)
    return out
