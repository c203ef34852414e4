"""Portfolio-level analytics: concentration, diversification, risk score, returns (pure).

Conventions (also in docs/METRICS.md):

- Weights are by market value; values are Decimal money and must not be negative.
- Figures derived only from money (weights, HHI, diversification, returns) stay Decimal;
  the risk score mixes float statistics and is a float.
- Daily values are assumed free of deposits and withdrawals; the caller adjusts for flows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from oneclick_tui.domain.metrics import returns_from_equity

VOLATILITY_CAP = 1.5
"""Annualized volatility (150 %) at which the volatility component of the risk score is full."""
DRAWDOWN_CAP = 0.5
"""Max drawdown (50 %) at which the drawdown component of the risk score is full."""
RISK_WEIGHTS: Mapping[str, float] = {"volatility": 0.4, "drawdown": 0.4, "concentration": 0.2}
"""Weights of the risk score components; they sum to 1."""


def position_weights(values: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Each position's share of the total value; empty when the total is zero."""
    for key, value in values.items():
        if value < 0:
            raise ValueError(f"position value must not be negative: {key}={value}")
    total = sum(values.values(), Decimal(0))
    if total == 0:
        return {}
    return {key: value / total for key, value in values.items()}


def herfindahl_index(values: Iterable[Decimal]) -> Decimal | None:
    """Sum of squared value weights, in (0, 1]: 1 is a single position; None when empty/zero."""
    weights = position_weights(_keyed(values))
    if not weights:
        return None
    return sum((w * w for w in weights.values()), Decimal(0))


def _keyed(values: Iterable[Decimal]) -> dict[str, Decimal]:
    """Give anonymous values keys so they can reuse :func:`position_weights`."""
    return {str(i): value for i, value in enumerate(values)}


def diversification_index(values: Iterable[Decimal]) -> Decimal | None:
    """``1 - HHI``: 0 for one position, ``1 - 1/N`` for N equal ones; None when empty/zero."""
    hhi = herfindahl_index(values)
    return None if hhi is None else 1 - hhi


def risk_score(
    volatility: float | None, max_drawdown: float | None, hhi: Decimal | float | None
) -> float | None:
    """A 0..100 portfolio risk score; higher is riskier.

    ``score = 100 * sum(weight_i * component_i) / sum(weight_i)`` over the components that
    are known, where
    ``volatility = min(annualized vol / 1.5, 1)`` (weight 0.4),
    ``drawdown = min(max drawdown / 0.5, 1)`` (weight 0.4) and
    ``concentration = HHI`` of position weights, already in 0..1 (weight 0.2).
    A missing component (None: too little history, no positions) is left out and the
    remaining weights are rescaled; None when all three are missing.
    """
    components: list[tuple[float, float]] = []
    if volatility is not None:
        components.append((RISK_WEIGHTS["volatility"], min(volatility / VOLATILITY_CAP, 1.0)))
    if max_drawdown is not None:
        components.append((RISK_WEIGHTS["drawdown"], min(max_drawdown / DRAWDOWN_CAP, 1.0)))
    if hhi is not None:
        components.append((RISK_WEIGHTS["concentration"], min(float(hhi), 1.0)))
    if not components:
        return None
    weighted = sum(weight * max(part, 0.0) for weight, part in components)
    return 100.0 * weighted / sum(weight for weight, _ in components)


def daily_return(previous: Decimal, current: Decimal) -> Decimal | None:
    """``current / previous - 1``; None when the previous value is not positive."""
    if previous <= 0:
        return None
    return current / previous - 1


def daily_returns(values: Sequence[Decimal]) -> list[Decimal]:
    """Returns between consecutive daily total values (ValueError on a non-positive base)."""
    return returns_from_equity(values)


def cumulative_return(values: Sequence[Decimal]) -> Decimal | None:
    """Return since the first value, ``last / first - 1``; None when empty or first <= 0."""
    if not values:
        return None
    return daily_return(values[0], values[-1])
