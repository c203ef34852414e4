"""The simulated market's pairs, as data the lead stores as ``trading_pairs`` rows.

Tick, lot and fee figures mirror what Aptos DEXes quote (hyperion/thala/cellana AMM-CLMM fee
tiers, decibel's order-book fees); starting prices are plausible, not live.
"""

from __future__ import annotations

from decimal import Decimal as D

from oneclick_tui.domain.market_events import PairSpec

PAIRS: tuple[PairSpec, ...] = (
    PairSpec("APT/USDC", "APT", "USDC", "hyperion", D("0.0001"), D("0.01"), D("0.1"),
             D("0.0002"), D("0.0005"), 8, 6, D("8.4500")),
    PairSpec("APT/USDT", "APT", "USDT", "thala", D("0.0001"), D("0.01"), D("0.1"),
             D("0.0001"), D("0.0003"), 8, 6, D("8.4520")),
    PairSpec("WETH/USDC", "WETH", "USDC", "hyperion", D("0.01"), D("0.0001"), D("0.001"),
             D("0.0002"), D("0.0005"), 8, 6, D("3180.00")),
    PairSpec("WBTC/USDC", "WBTC", "USDC", "decibel", D("0.1"), D("0.00001"), D("0.0001"),
             D("0.0001"), D("0.00035"), 8, 6, D("96500.0")),
    PairSpec("THL/APT", "THL", "APT", "thala", D("0.000001"), D("0.1"), D("1"),
             D("0.001"), D("0.003"), 8, 8, D("0.034200")),
    PairSpec("CELL/USDC", "CELL", "USDC", "cellana", D("0.000001"), D("1"), D("10"),
             D("0.001"), D("0.003"), 8, 6, D("0.012800")),
)  # fmt: skip

_BY_SYMBOL = {p.symbol: p for p in PAIRS}


def pair_by_symbol(symbol: str) -> PairSpec:
    """Look a pair up by symbol; KeyError names the unknown symbol."""
    try:
        return _BY_SYMBOL[symbol]
    except KeyError:
        raise KeyError(f"unknown pair {symbol!r}; known: {sorted(_BY_SYMBOL)}") from None
