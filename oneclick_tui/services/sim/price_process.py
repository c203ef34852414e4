"""Mid-price process: geometric random walk with Markov volatility regimes, jumps, trends.

Floats drive the randomness (speed); :meth:`PriceProcess.mid` hands out a tick-exact Decimal.
A very weak pull toward the starting price keeps hours-long runs in a plausible range.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal
from enum import Enum

from oneclick_tui.domain.market_events import PairSpec


class Regime(Enum):
    """Volatility regime; value = per-second log-return standard deviation."""

    CALM = 0.00008
    NORMAL = 0.00025
    STORMY = 0.0009


# Mean regime durations in seconds (exponential holding times) and where each one goes next.
_HOLD_SECONDS = {Regime.CALM: 600.0, Regime.NORMAL: 900.0, Regime.STORMY: 180.0}
_NEXT = {
    Regime.CALM: ((Regime.NORMAL, 0.85), (Regime.STORMY, 0.15)),
    Regime.NORMAL: ((Regime.CALM, 0.6), (Regime.STORMY, 0.4)),
    Regime.STORMY: ((Regime.NORMAL, 0.8), (Regime.CALM, 0.2)),
}
_JUMPS_PER_HOUR = {Regime.CALM: 0.2, Regime.NORMAL: 1.0, Regime.STORMY: 6.0}
_JUMP_SIGMA = 0.012  # log size of a jump (~1.2%)
_REVERSION_PER_SECOND = 1.0 / 86_400.0  # half-life of days: invisible minute to minute
# Trends: the drift itself wanders (Ornstein-Uhlenbeck, ~30 min memory, ~1%/30 min typical),
# so trend and momentum styles have something to find and mean reversion can get run over.
_TREND_MEMORY_SECONDS = 1800.0
_TREND_STD_PER_SECOND = 0.01 / 1800.0


class PriceProcess:
    """One pair's mid price, advanced by the caller in simulated seconds."""

    def __init__(self, spec: PairSpec, rng: random.Random) -> None:
        self.spec = spec
        self._rng = rng
        self._anchor = math.log(float(spec.start_price))
        self._log_mid = self._anchor
        self.trend = 0.0  # current log drift per second
        self.regime = Regime.NORMAL
        self.jumps = 0
        self.regime_changes = 0

    def step(self, dt: float) -> float:
        """Advance ``dt`` seconds; returns the new float mid."""
        rng = self._rng
        if rng.random() < 1.0 - math.exp(-dt / _HOLD_SECONDS[self.regime]):
            self._switch_regime()
        sigma = self.regime.value
        self.trend += -self.trend * dt / _TREND_MEMORY_SECONDS + _TREND_STD_PER_SECOND * math.sqrt(
            2.0 * dt / _TREND_MEMORY_SECONDS
        ) * rng.gauss(0.0, 1.0)
        drift = (self.trend - _REVERSION_PER_SECOND * (self._log_mid - self._anchor)) * dt
        shock = sigma * math.sqrt(dt) * rng.gauss(0.0, 1.0)
        self._log_mid += drift - 0.5 * sigma * sigma * dt + shock
        if rng.random() < _JUMPS_PER_HOUR[self.regime] * dt / 3600.0:
            self.jumps += 1
            self._log_mid += rng.gauss(0.0, _JUMP_SIGMA)
        return math.exp(self._log_mid)

    def _switch_regime(self) -> None:
        options = _NEXT[self.regime]
        [self.regime] = self._rng.choices([r for r, _ in options], [w for _, w in options])
        self.regime_changes += 1

    @property
    def mid_float(self) -> float:
        """Current mid as a float (internal use: quoting grids, trader signals)."""
        return math.exp(self._log_mid)

    def mid(self) -> Decimal:
        """Current mid on the pair's tick, never below one tick."""
        tick = self.spec.tick_size
        ticks = max(1, round(math.exp(self._log_mid) / float(tick)))
        return ticks * tick
