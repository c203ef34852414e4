"""Metrics against hand-worked values and against independent formulations."""

from __future__ import annotations

import math
import statistics
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from oneclick_tui.domain import metrics as m

SQRT365 = math.sqrt(365)
R3 = [0.10, -0.05, 0.02]


def test_cumulative_return_by_hand() -> None:
    # 1.10 * 0.95 = 1.045; 1.045 * 1.02 = 1.0659
    assert m.cumulative_return(R3) == pytest.approx(0.0659)


def test_volatility_sharpe_sortino_by_hand() -> None:
    mean = 0.07 / 3  # (0.10 - 0.05 + 0.02) / 3
    # sum of squares about the mean = sum(r^2) - n * mean^2 = 0.0129 - 0.0049 / 3
    std = math.sqrt((0.0129 - 0.0049 / 3) / 2)  # ddof = 1
    assert std == pytest.approx(0.0750555)
    assert m.annualized_volatility(R3) == pytest.approx(std * SQRT365)
    assert m.sharpe_ratio(R3) == pytest.approx(mean / std * SQRT365)
    downside = math.sqrt(0.05**2 / 3)  # only -0.05 is below 0; divided by all 3 periods
    assert m.downside_deviation(R3) == pytest.approx(downside)
    assert m.sortino_ratio(R3) == pytest.approx(mean / downside * SQRT365)


def test_drawdown_cagr_calmar_by_hand() -> None:
    # equity 1.10, 1.045, 1.0659: peak 1.10, trough 1.045 -> 0.055 / 1.10 = 0.05
    assert m.max_drawdown(R3) == pytest.approx(0.05)
    growth = 1.0659 ** (365 / 3) - 1
    assert m.cagr(R3) == pytest.approx(growth)
    assert m.calmar_ratio(R3) == pytest.approx(growth / 0.05)


def test_first_period_loss_counts_in_drawdown() -> None:
    # equity starts at 1.0, falls to 0.9, then 0.945: drawdown 0.1 from the start
    assert m.max_drawdown([-0.10, 0.05]) == pytest.approx(0.10)


def test_deepest_drawdown_wins_after_new_peak() -> None:
    # equity 1.5, 0.75, 0.9, 1.8, 1.26 -> 50% from 1.5, then 30% from 1.8
    assert m.max_drawdown([0.5, -0.5, 0.2, 1.0, -0.3]) == pytest.approx(0.5)


def test_returns_accept_decimal() -> None:
    assert m.cumulative_return([Decimal("0.10"), Decimal("-0.05")]) == pytest.approx(0.045)


def test_empty_series_gives_none_everywhere() -> None:
    for fn in (
        m.cumulative_return,
        m.annualized_volatility,
        m.sharpe_ratio,
        m.sortino_ratio,
        m.downside_deviation,
        m.max_drawdown,
        m.cagr,
        m.calmar_ratio,
    ):
        assert fn([]) is None, fn.__name__


def test_single_return() -> None:
    assert m.cumulative_return([0.01]) == pytest.approx(0.01)
    assert m.max_drawdown([0.01]) == 0.0
    for fn in (m.annualized_volatility, m.sharpe_ratio, m.sortino_ratio, m.cagr, m.calmar_ratio):
        assert fn([0.01]) is None, fn.__name__


def test_flat_series_has_zero_volatility_and_no_ratios() -> None:
    flat = [0.1, 0.1, 0.1]  # 0.1 is not exact in binary; must still be exactly flat
    assert m.annualized_volatility(flat) == 0.0
    assert m.sharpe_ratio(flat) is None
    assert m.sortino_ratio(flat) is None  # no losing period
    assert m.max_drawdown(flat) == 0.0
    assert m.calmar_ratio(flat) is None  # no drawdown


def test_total_loss_and_invalid_returns() -> None:
    assert m.max_drawdown([0.0, -1.0]) == 1.0
    assert m.cagr([0.0, -1.0]) == -1.0
    with pytest.raises(ValueError):
        m.cumulative_return([-1.5])
    with pytest.raises(ValueError):
        m.sharpe_ratio([0.1, math.nan])


def test_cagr_overflow_is_none() -> None:
    assert m.cagr([1e6, 1e6]) is None


def test_win_rate() -> None:
    # wins: 1 and 3; zero is not a win -> 2 of 4
    assert m.win_rate([Decimal(1), Decimal(0), Decimal(-2), Decimal(3)]) == 0.5
    assert m.win_rate([]) is None


def test_returns_from_equity_is_exact_decimal() -> None:
    assert m.returns_from_equity([Decimal(100), Decimal(110), Decimal(99)]) == [
        Decimal("0.1"),
        Decimal("-0.1"),
    ]
    assert m.returns_from_equity([Decimal(5)]) == []
    with pytest.raises(ValueError):
        m.returns_from_equity([Decimal(0), Decimal(1)])


def test_fmt_metric() -> None:
    assert m.fmt_metric(None) == "-"
    assert m.fmt_metric(math.inf) == "-"
    assert m.fmt_metric(1.23456) == "1.23"
    assert m.fmt_metric(0.0659, percent=True) == "6.59%"
    assert m.fmt_metric(Decimal("0.5"), digits=1, percent=True) == "50.0%"


def test_summarize_collects_every_metric() -> None:
    summary = m.summarize(R3, [Decimal(5), Decimal(-1)])
    assert summary.periods == 3 and summary.closed_trades == 2
    assert summary.max_drawdown == pytest.approx(0.05)
    assert summary.sharpe == m.sharpe_ratio(R3)
    assert summary.win_rate == 0.5
    empty = m.summarize([])
    assert empty.cumulative_return is None and empty.win_rate is None


returns_st = st.lists(
    st.floats(min_value=-0.5, max_value=0.5, allow_nan=False, allow_infinity=False),
    min_size=2,
    max_size=60,
)


@given(returns_st)
def test_volatility_matches_statistics_stdev(rs: list[float]) -> None:
    vol = m.annualized_volatility(rs)
    assert vol == pytest.approx(statistics.stdev(rs) * SQRT365, rel=1e-9, abs=1e-12)


@given(returns_st)
def test_sharpe_matches_statistics(rs: list[float]) -> None:
    std = statistics.stdev(rs)
    assume(std > 1e-6)
    assert m.sharpe_ratio(rs) == pytest.approx(statistics.fmean(rs) / std * SQRT365, rel=1e-6)


@given(returns_st)
def test_sortino_matches_exact_fractions(rs: list[float]) -> None:
    exact = [Fraction(r) for r in rs]
    downside_sq = sum((r * r for r in exact if r < 0), Fraction(0)) / len(exact)
    assume(downside_sq > Fraction(1, 10**12))
    expected = float(sum(exact) / len(exact)) / math.sqrt(downside_sq) * SQRT365
    assert m.sortino_ratio(rs) == pytest.approx(expected, rel=1e-9)


@given(returns_st)
def test_max_drawdown_matches_brute_force(rs: list[float]) -> None:
    equity = [Fraction(1)]
    for r in rs:
        equity.append(equity[-1] * (1 + Fraction(r)))
    worst = max(
        (equity[i] - equity[j]) / equity[i]
        for i in range(len(equity))
        for j in range(i, len(equity))
    )
    assert m.max_drawdown(rs) == pytest.approx(float(worst), rel=1e-9, abs=1e-12)


@given(returns_st)
def test_cumulative_and_cagr_match_exact_product(rs: list[float]) -> None:
    growth = math.prod((1 + Fraction(r) for r in rs), start=Fraction(1))
    assert m.cumulative_return(rs) == pytest.approx(float(growth - 1), rel=1e-9, abs=1e-12)
    expected = float(growth) ** (365 / len(rs)) - 1
    assert m.cagr(rs) == pytest.approx(expected, rel=1e-6)


@given(st.lists(st.integers(min_value=-5, max_value=5).map(Decimal), max_size=40))
def test_win_rate_counts(pnls: list[Decimal]) -> None:
    expected = None if not pnls else Fraction(sum(p > 0 for p in pnls), len(pnls))
    result = m.win_rate(pnls)
    assert result == (None if expected is None else float(expected))


@given(
    st.lists(
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**6), places=2),
        min_size=1,
        max_size=30,
    )
)
def test_equity_returns_round_trip(equity: list[Decimal]) -> None:
    level = equity[0]
    for r in m.returns_from_equity(equity):
        level *= 1 + r  # recompound in Decimal: only 28-digit rounding separates them
    assert abs(level - equity[-1]) <= equity[-1] * Decimal("1e-20")
