"""Immutable views that services publish and the console draws.

The console never reads a store: it receives these frozen values (through the bus and the
app's workers) and renders them. Keeping them small and frozen makes a stale one harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

Level = tuple[Decimal, Decimal]


@dataclass(frozen=True)
class LadderSnapshot:
    """Top of an order book: asks ascending from the best, bids descending from the best."""

    pair: str
    asks: tuple[Level, ...]
    bids: tuple[Level, ...]
    seq: int
    at: datetime

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0][0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if self.best_bid is None or self.best_ask is None:
            return None
        return (self.best_bid + self.best_ask) / 2

    @property
    def spread(self) -> Decimal | None:
        if self.best_bid is None or self.best_ask is None:
            return None
        return self.best_ask - self.best_bid


@dataclass(frozen=True)
class Bar:
    """One candle as a chart draws it."""

    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
