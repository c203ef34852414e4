"""A market maker that keeps a many-level book around the mid and reports every change.

It owns a domain :class:`OrderBook` and applies its own deltas to it, so the snapshots and
deltas it emits, and the fills it hands to takers, are consistent by construction. Levels
sit on a fixed grid (a few bps apart, anchored to tick multiples) so a small mid move only
shifts the edges instead of re-pricing every level.
"""

from __future__ import annotations

import math
import random
from datetime import datetime
from decimal import Decimal

from oneclick_tui.domain.market_events import (
    BookDelta,
    BookSide,
    BookSnapshot,
    Level,
    PairSpec,
    Side,
)
from oneclick_tui.domain.orderbook import DeltaStatus, OrderBook

_GRID_BPS = 0.00015  # distance between levels, as a fraction of the starting price
_KEEP_PROBABILITY = 0.94  # chance an unchanged grid level keeps its size on a requote
_QUOTE_USD = {"USDC": 1.0, "USDT": 1.0, "APT": 8.45}
_LEVEL_USD = 4_000.0  # median notional of the best level


class BookMaker:
    """Quotes one pair; ``requote`` and ``take`` return the deltas they applied."""

    def __init__(self, spec: PairSpec, rng: random.Random, levels: int = 25) -> None:
        self.spec = spec
        self.levels = levels
        self._rng = rng
        self._tick = float(spec.tick_size)
        self._grid = max(1, round(float(spec.start_price) * _GRID_BPS / self._tick))
        self._level_quote = _LEVEL_USD / _QUOTE_USD.get(spec.quote, 1.0)
        self.book = OrderBook(spec.symbol, tick_size=spec.tick_size)
        self.book.load(0, (), ())

    @property
    def seq(self) -> int:
        """Sequence number of the last change."""
        return self.book.seq

    def snapshot(self, at: datetime) -> BookSnapshot:
        """The whole book now, at the current sequence number."""
        bids, asks = self.book.levels()
        return BookSnapshot(self.spec.symbol, self.book.seq, bids, asks, at)

    def requote(self, mid: float, at: datetime) -> list[BookDelta]:
        """Move the grid to ``mid``, refresh some sizes; removals first so it never crosses."""
        mid_ticks = mid / self._tick
        half = 0.3 * self._grid
        grid = self._grid
        top_bid = math.floor((mid_ticks - half) / grid) * grid
        top_ask = math.ceil((mid_ticks + half) / grid) * grid
        if top_bid < grid:  # keep bids above zero on absurdly low mids
            top_bid = grid
            top_ask = max(top_ask, 2 * grid)
        want_bids = self._side_target(BookSide.BID, top_bid, -grid, mid)
        want_asks = self._side_target(BookSide.ASK, top_ask, grid, mid)
        removals: list[tuple[BookSide, Decimal, Decimal]] = []
        changes: list[tuple[BookSide, Decimal, Decimal]] = []
        for side, want, have in (
            (BookSide.BID, want_bids, self.book.bids()),
            (BookSide.ASK, want_asks, self.book.asks()),
        ):
            have_map = dict(have)
            removals.extend((side, p, Decimal(0)) for p in have_map if p not in want)
            changes.extend((side, p, q) for p, q in want.items() if have_map.get(p) != q)
        return self._emit(removals + changes, at)

    def _side_target(
        self, side: BookSide, top: int, step: int, mid: float
    ) -> dict[Decimal, Decimal]:
        rng = self._rng
        spec = self.spec
        tick = spec.tick_size
        target: dict[Decimal, Decimal] = {}
        for i in range(self.levels):
            price = (top + i * step) * tick
            current = self.book.size_at(side, price)
            if current and rng.random() < _KEEP_PROBABILITY:
                target[price] = current
                continue
            notional = self._level_quote * (1.0 + 0.12 * i) * rng.lognormvariate(0.0, 0.6)
            size = spec.floor_size(Decimal(f"{notional / mid:.10f}"))
            target[price] = max(size, spec.lot_size)
        return target

    def take(self, side: Side, size: Decimal, at: datetime) -> tuple[list[Level], list[BookDelta]]:
        """Fill a market order by walking the book; returns the fills and the deltas."""
        fills = self.book.sweep(side, size)
        book_side = BookSide.ASK if side is Side.BUY else BookSide.BID
        changes = [
            (book_side, price, self.book.size_at(book_side, price) - qty) for price, qty in fills
        ]
        return fills, self._emit(changes, at)

    def _emit(
        self, changes: list[tuple[BookSide, Decimal, Decimal]], at: datetime
    ) -> list[BookDelta]:
        deltas = []
        symbol = self.spec.symbol
        for side, price, size in changes:
            seq = self.book.seq + 1
            status = self.book.apply(seq, side, price, size)
            if status is not DeltaStatus.APPLIED:  # a maker bug, never a market condition
                raise RuntimeError(f"maker produced an inconsistent delta: {status} {price}")
            deltas.append(BookDelta(symbol, seq, side, price, size, at))
        return deltas
