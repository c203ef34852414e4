"""Pairs and the mid-price process."""

from __future__ import annotations

import random
import statistics
from decimal import Decimal as D

from oneclick_tui.services.sim.pairs import PAIRS, pair_by_symbol
from oneclick_tui.services.sim.price_process import PriceProcess, Regime


def test_pairs_are_complete_and_consistent() -> None:
    assert len(PAIRS) >= 5
    assert len({p.symbol for p in PAIRS}) == len(PAIRS)
    assert {"APT/USDC", "APT/USDT", "WETH/USDC", "WBTC/USDC"} <= {p.symbol for p in PAIRS}
    for p in PAIRS:
        assert p.symbol == f"{p.base}/{p.quote}"
        assert p.start_price % p.tick_size == 0 and p.start_price > 0
        assert p.min_size % p.lot_size == 0 and p.min_size >= p.lot_size
        assert D(0) <= p.maker_fee <= p.taker_fee < D("0.01")
        assert p.dex_protocol in {"hyperion", "thala", "decibel", "cellana"}
    assert pair_by_symbol("APT/USDC").quote == "USDC"


def _path(seed: int, seconds: int) -> tuple[PriceProcess, list[float]]:
    proc = PriceProcess(PAIRS[0], random.Random(seed))
    return proc, [proc.step(1.0) for _ in range(seconds)]


def test_price_process_is_deterministic_and_on_tick() -> None:
    assert _path(3, 500)[1] == _path(3, 500)[1]
    assert _path(3, 500)[1] != _path(4, 500)[1]
    proc, _ = _path(3, 100)
    assert proc.mid() % PAIRS[0].tick_size == 0


def test_regimes_switch_jumps_happen_and_storms_are_wilder() -> None:
    proc = PriceProcess(PAIRS[0], random.Random(11))
    moves: dict[Regime, list[float]] = {r: [] for r in Regime}
    last = proc.mid_float
    for _ in range(6 * 3600):
        regime = proc.regime
        now = proc.step(1.0)
        moves[regime].append(abs(now / last - 1))
        last = now
    assert proc.regime_changes >= 5 and proc.jumps >= 1
    assert all(len(m) > 100 for m in moves.values())
    calm = statistics.median(moves[Regime.CALM])
    stormy = statistics.median(moves[Regime.STORMY])
    assert stormy > 4 * calm
    assert 0.3 < last / float(PAIRS[0].start_price) < 3
