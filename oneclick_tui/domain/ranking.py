"""Leaderboard ranking of traders for a period, and rank changes between two rankings.

Conventions (also in docs/METRICS.md):

- Higher is better for return_pct, sharpe, pnl and win_rate; lower is better for
  max_drawdown.
- A trader qualifies with at least ``min_trades`` trades in the period and a known,
  finite score for the metric; others are left out.
- Ties use competition ranking ("1224"): equal scores share a rank and the next rank skips.
  Within a tie, traders are listed by trader id ascending, so the order is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

Score = Decimal | float


class RankMetric(StrEnum):
    """What a leaderboard is ranked by (values match the stored metric name)."""

    RETURN_PCT = "return_pct"
    SHARPE = "sharpe"
    PNL = "pnl"
    WIN_RATE = "win_rate"
    MAX_DRAWDOWN = "max_drawdown"

    @property
    def ascending(self) -> bool:
        """True when a lower score ranks higher (only max drawdown)."""
        return self is RankMetric.MAX_DRAWDOWN


@dataclass(frozen=True, slots=True)
class TraderStats:
    """One trader's figures for a period; None where a metric is undefined."""

    trader_id: str
    trades: int
    return_pct: Score | None = None
    pnl: Decimal | None = None
    sharpe: float | None = None
    win_rate: float | None = None
    max_drawdown: float | None = None

    def score(self, metric: RankMetric) -> Score | None:
        """The value of ``metric``; None when unknown or not finite (NaN, infinity)."""
        value: Score | None = getattr(self, metric.value)
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value if value.is_finite() else None
        return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class RankedTrader:
    """A leaderboard row: rank 1 is best."""

    rank: int
    trader_id: str
    score: Score


def rank_traders(
    stats: Iterable[TraderStats],
    metric: RankMetric = RankMetric.RETURN_PCT,
    *,
    min_trades: int = 1,
) -> list[RankedTrader]:
    """Rank qualifying traders by ``metric`` (see module docstring for ties)."""
    scored = [
        (score, s.trader_id)
        for s in stats
        if s.trades >= min_trades and (score := s.score(metric)) is not None
    ]
    sign = 1 if metric.ascending else -1
    scored.sort(key=lambda item: (sign * item[0], item[1]))
    ranked: list[RankedTrader] = []
    for position, (score, trader_id) in enumerate(scored, start=1):
        tied = bool(ranked) and ranked[-1].score == score
        rank = ranked[-1].rank if tied else position
        ranked.append(RankedTrader(rank=rank, trader_id=trader_id, score=score))
    return ranked


class Movement(StrEnum):
    """How a trader moved since the previous ranking."""

    NEW = "new"
    UP = "up"
    DOWN = "down"
    SAME = "same"


@dataclass(frozen=True, slots=True)
class RankChange:
    """A trader's move: ``places`` is how far up (positive) or down (negative), 0 if new."""

    trader_id: str
    rank: int
    previous_rank: int | None
    movement: Movement
    places: int


def rank_changes(
    current: Sequence[RankedTrader], previous: Sequence[RankedTrader]
) -> list[RankChange]:
    """Compare each trader in ``current`` with ``previous``, in current order."""
    before = {row.trader_id: row.rank for row in previous}
    changes: list[RankChange] = []
    for row in current:
        old = before.get(row.trader_id)
        places = 0 if old is None else old - row.rank
        if old is None:
            movement = Movement.NEW
        else:
            movement = Movement.UP if places > 0 else Movement.DOWN if places < 0 else Movement.SAME
        changes.append(RankChange(row.trader_id, row.rank, old, movement, places))
    return changes


def dropped_out(current: Sequence[RankedTrader], previous: Sequence[RankedTrader]) -> list[str]:
    """Trader ids ranked before but not now, in their previous order."""
    now = {row.trader_id for row in current}
    return [row.trader_id for row in previous if row.trader_id not in now]
