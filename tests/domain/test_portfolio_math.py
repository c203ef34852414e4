"""Portfolio math against hand-worked values and an exact-fraction formulation."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oneclick_tui.domain import portfolio_math as pm

D = Decimal


def test_weights_hhi_and_diversification_by_hand() -> None:
    values = {"APT": D(50), "USDC": D(30), "BTC": D(20)}
    assert pm.position_weights(values) == {"APT": D("0.5"), "USDC": D("0.3"), "BTC": D("0.2")}
    # 0.5^2 + 0.3^2 + 0.2^2 = 0.25 + 0.09 + 0.04 = 0.38
    assert pm.herfindahl_index(values.values()) == D("0.38")
    assert pm.diversification_index(values.values()) == D("0.62")


def test_single_and_equal_positions() -> None:
    assert pm.diversification_index([D(7)]) == 0
    # four equal weights 0.25: HHI = 4 * 0.0625 = 0.25
    assert pm.diversification_index([D(5)] * 4) == D("0.75")


def test_empty_zero_and_negative_values() -> None:
    assert pm.herfindahl_index([]) is None
    assert pm.diversification_index([D(0), D(0)]) is None
    assert pm.position_weights({}) == {}
    with pytest.raises(ValueError):
        pm.herfindahl_index([D(10), D(-1)])


def test_risk_score_by_hand() -> None:
    # vol 0.75 / 1.5 = 0.5; drawdown 0.1 / 0.5 = 0.2; HHI 0.38
    # 100 * (0.4 * 0.5 + 0.4 * 0.2 + 0.2 * 0.38) = 100 * (0.2 + 0.08 + 0.076) = 35.6
    assert pm.risk_score(0.75, 0.1, D("0.38")) == pytest.approx(35.6)


def test_risk_score_caps_and_missing_parts() -> None:
    assert pm.risk_score(3.0, 0.9, D(1)) == pytest.approx(100.0)  # every part capped at 1
    assert pm.risk_score(0.0, 0.0, None) == 0.0
    # only concentration known: its weight is rescaled to 1 -> 100 * 0.5
    assert pm.risk_score(None, None, D("0.5")) == pytest.approx(50.0)
    # vol and drawdown known: (0.4 * 1 + 0.4 * 0) / 0.8 -> 50
    assert pm.risk_score(1.5, 0.0, None) == pytest.approx(50.0)
    assert pm.risk_score(None, None, None) is None


def test_daily_and_cumulative_return() -> None:
    assert pm.daily_return(D(100), D(105)) == D("0.05")
    assert pm.daily_return(D(0), D(5)) is None
    assert pm.daily_returns([D(100), D(110), D(99)]) == [D("0.1"), D("-0.1")]
    assert pm.cumulative_return([D(100), D(110), D(99)]) == D("-0.01")
    assert pm.cumulative_return([]) is None


values_st = st.lists(
    st.decimals(min_value=0, max_value=10**9, places=2), min_size=1, max_size=20
).filter(lambda vs: sum(vs) > 0)


@given(values_st)
def test_hhi_matches_exact_fractions_and_bounds(values: list[Decimal]) -> None:
    total = sum(Fraction(v) for v in values)
    exact = sum((Fraction(v) / total) ** 2 for v in values)
    hhi = pm.herfindahl_index(values)
    assert hhi is not None
    assert abs(Fraction(hhi) - exact) < Fraction(1, 10**20)
    nonzero = sum(1 for v in values if v > 0)
    assert Fraction(1, nonzero) - Fraction(1, 10**20) <= Fraction(hhi) <= 1 + Fraction(1, 10**20)


@given(
    st.none() | st.floats(min_value=0, max_value=10),
    st.none() | st.floats(min_value=0, max_value=1),
    st.none() | st.decimals(min_value=0, max_value=1, places=6),
)
def test_risk_score_stays_in_range(
    vol: float | None, drawdown: float | None, hhi: Decimal | None
) -> None:
    score = pm.risk_score(vol, drawdown, hhi)
    if vol is None and drawdown is None and hhi is None:
        assert score is None
    else:
        assert score is not None
        assert 0.0 <= score <= 100.0 + 1e-9
