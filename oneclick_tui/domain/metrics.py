"""Performance statistics over a series of period returns (pure, no I/O).

Conventions (also in docs/METRICS.md):

- A return is a fraction per period: 0.01 is +1 %. Returns below -1 (losing more than
  everything) are refused with ``ValueError``.
- Periods are daily by default and a year has 365 of them: crypto trades every day.
- Results are ``float``: they are statistics (square roots, powers), not money. Returns
  computed from money values (:func:`returns_from_equity`) stay ``Decimal``.
- Risk-free rate is 0. Standard deviation is the sample one (ddof=1).
- A metric that is undefined for its input returns ``None``, shown as "-" by
  :func:`fmt_metric`; nothing here raises on short or flat series.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

ReturnLike = Decimal | float | int
"""A period return as a fraction; Decimal and float are both accepted."""

PERIODS_PER_YEAR = 365
"""Daily periods in a crypto year (markets never close)."""


def _as_floats(returns: Iterable[ReturnLike]) -> list[float]:
    """Convert to float, refusing non-finite values and returns below -100 %."""
    values = [float(r) for r in returns]
    for value in values:
        if not math.isfinite(value) or value < -1.0:
            raise ValueError(f"invalid period return {value!r}: must be finite and >= -1")
    return values


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _sample_std(values: Sequence[float]) -> float:
    """Sample standard deviation (ddof=1); exactly 0.0 for a constant series."""
    if max(values) == min(values):
        return 0.0
    mean = _mean(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def returns_from_equity(equity: Sequence[Decimal]) -> list[Decimal]:
    """Period returns ``e[i] / e[i-1] - 1`` of an equity curve (money stays Decimal).

    Every value used as a base (all but the last) must be positive, else ``ValueError``:
    a return from zero or negative equity is meaningless.
    """
    for base in equity[:-1]:
        if not base > 0:
            raise ValueError(f"equity must be positive to compute a return, got {base}")
    return [cur / prev - 1 for prev, cur in pairwise(equity)]


def equity_curve(returns: Iterable[ReturnLike], start: float = 1.0) -> list[float]:
    """Compounded equity after each period, starting from ``start`` (not included)."""
    curve: list[float] = []
    level = start
    for r in _as_floats(returns):
        level *= 1.0 + r
        curve.append(level)
    return curve


def cumulative_return(returns: Iterable[ReturnLike]) -> float | None:
    """Compounded total return ``prod(1 + r) - 1``; None for an empty series."""
    values = _as_floats(returns)
    if not values:
        return None
    return math.prod(1.0 + r for r in values) - 1.0


def annualized_volatility(
    returns: Iterable[ReturnLike], periods_per_year: int = PERIODS_PER_YEAR
) -> float | None:
    """Sample std (ddof=1) times ``sqrt(periods_per_year)``; None below two returns."""
    values = _as_floats(returns)
    if len(values) < 2:
        return None
    return _sample_std(values) * math.sqrt(periods_per_year)


def sharpe_ratio(
    returns: Iterable[ReturnLike], periods_per_year: int = PERIODS_PER_YEAR
) -> float | None:
    """``mean / sample std * sqrt(periods)``, risk-free 0; None below two returns or flat."""
    values = _as_floats(returns)
    if len(values) < 2:
        return None
    std = _sample_std(values)
    if std == 0.0:
        return None
    return _mean(values) / std * math.sqrt(periods_per_year)


def downside_deviation(returns: Iterable[ReturnLike]) -> float | None:
    """``sqrt(sum(min(r, 0)^2) / N)`` over ALL N periods, target 0; None when empty."""
    values = _as_floats(returns)
    if not values:
        return None
    return math.sqrt(math.fsum(min(r, 0.0) ** 2 for r in values) / len(values))


def sortino_ratio(
    returns: Iterable[ReturnLike], periods_per_year: int = PERIODS_PER_YEAR
) -> float | None:
    """``mean / downside deviation * sqrt(periods)``; None below two returns or no loss."""
    values = _as_floats(returns)
    if len(values) < 2:
        return None
    downside = downside_deviation(values)
    if not downside:
        return None
    return _mean(values) / downside * math.sqrt(periods_per_year)


def max_drawdown(returns: Iterable[ReturnLike]) -> float | None:
    """Largest peak-to-trough fall of the equity curve, as a positive fraction.

    The curve starts at 1.0 before the first period, so a first-period loss counts.
    0.0 means no drawdown; None for an empty series.
    """
    values = _as_floats(returns)
    if not values:
        return None
    peak, worst = 1.0, 0.0
    for level in equity_curve(values):
        peak = max(peak, level)
        worst = max(worst, (peak - level) / peak)
    return worst


def cagr(returns: Iterable[ReturnLike], periods_per_year: int = PERIODS_PER_YEAR) -> float | None:
    """Compound annual growth ``(prod(1 + r)) ** (periods / N) - 1``.

    None below two returns (annualizing a single day is noise) or when the annualized
    figure overflows a float. A wiped-out series (equity 0) gives -1.0.
    """
    values = _as_floats(returns)
    if len(values) < 2:
        return None
    growth = math.prod(1.0 + r for r in values)
    if growth == 0.0:
        return -1.0
    try:
        return math.exp(math.log(growth) * periods_per_year / len(values)) - 1.0
    except OverflowError:
        return None


def calmar_ratio(
    returns: Iterable[ReturnLike], periods_per_year: int = PERIODS_PER_YEAR
) -> float | None:
    """CAGR / max drawdown; None when either is undefined or there is no drawdown."""
    values = _as_floats(returns)
    growth = cagr(values, periods_per_year)
    drawdown = max_drawdown(values)
    if growth is None or not drawdown:
        return None
    return growth / drawdown


def win_rate(realized_pnls: Iterable[Decimal]) -> float | None:
    """Share of closed trades with realized PnL > 0 (a zero PnL is not a win); None if none."""
    pnls = list(realized_pnls)
    if not pnls:
        return None
    return sum(1 for pnl in pnls if pnl > 0) / len(pnls)


def fmt_metric(value: float | Decimal | None, *, digits: int = 2, percent: bool = False) -> str:
    """Display a metric: "-" for None or non-finite, else fixed digits (x100 and "%")."""
    if value is None:
        return "-"
    number = float(value)
    if not math.isfinite(number):
        return "-"
    if percent:
        return f"{number * 100:.{digits}f}%"
    return f"{number:.{digits}f}"


@dataclass(frozen=True, slots=True)
class PerformanceSummary:
    """Every metric of one return series and its closed trades; None where undefined."""

    periods: int
    cumulative_return: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None
    cagr: float | None
    calmar: float | None
    win_rate: float | None
    closed_trades: int


def summarize(
    returns: Iterable[ReturnLike],
    realized_pnls: Iterable[Decimal] = (),
    periods_per_year: int = PERIODS_PER_YEAR,
) -> PerformanceSummary:
    """Compute all metrics at once, with the conventions of the functions above."""
    values = _as_floats(returns)
    pnls = list(realized_pnls)
    return PerformanceSummary(
        periods=len(values),
        cumulative_return=cumulative_return(values),
        volatility=annualized_volatility(values, periods_per_year),
        sharpe=sharpe_ratio(values, periods_per_year),
        sortino=sortino_ratio(values, periods_per_year),
        max_drawdown=max_drawdown(values),
        cagr=cagr(values, periods_per_year),
        calmar=calmar_ratio(values, periods_per_year),
        win_rate=win_rate(pnls),
        closed_trades=len(pnls),
    )
