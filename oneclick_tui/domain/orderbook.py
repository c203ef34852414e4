"""An exact L2 order book built from a snapshot plus sequenced deltas.

Layout: per side two parallel ascending lists (prices, sizes) searched with ``bisect``; best
bid is the last bid, best ask the first ask. No dict on purpose: hashing a Decimal costs
600-900 ns the first time an object is hashed, and every delta off the wire brings a fresh
Decimal, so a price->size dict caps near 1M deltas/s while bisect (a few C-level Decimal
compares over ~50 levels) stays above 3M/s. The book never silently
applies a delta after a sequence gap or a cross: it enters ``needs_resync`` and rejects
deltas with a reason until a fresh snapshot arrives.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from operator import attrgetter

from oneclick_tui.domain.market_events import BookDelta, BookSide, BookSnapshot, Level, Side

_ZERO = Decimal(0)
_TWO = Decimal(2)
_HUNDRED = Decimal(100)
_INF = Decimal("Infinity")
_Dec = Decimal

RawDelta = tuple[int, BookSide, Decimal, Decimal]
"""(seq, side, price, size): a delta without its envelope, for batch application."""


class OrderBookError(ValueError):
    """Bad input to the book (never a market condition such as a gap)."""


class InvalidLevelError(OrderBookError):
    """A price or size that cannot be a book level."""


class PairMismatchError(OrderBookError):
    """A snapshot or delta addressed to another pair's book."""


class DeltaStatus(StrEnum):
    """Outcome of applying a delta or snapshot; anything but APPLIED means it was not used."""

    APPLIED = "applied"
    STALE = "stale"  # seq already applied (duplicate/replay): harmless, ignored
    GAP = "gap"  # seq skipped ahead: book now needs a resync
    CROSSED = "crossed"  # would cross bid/ask: book now needs a resync
    NEEDS_RESYNC = "needs_resync"  # rejected because the book awaits a snapshot


_APPLIED = DeltaStatus.APPLIED
_RAW = attrgetter("seq", "side", "price", "size")
_BID = BookSide.BID


@dataclass(frozen=True, slots=True)
class FillEstimate:
    """What a market order of ``requested`` base size would get by walking the book now.

    Slippages are fractions (0.001 = 10 bps), positive when the fill is worse than the
    reference; ``None`` when nothing filled or the reference is missing.
    """

    side: Side
    requested: Decimal
    filled: Decimal
    notional: Decimal
    avg_price: Decimal | None
    worst_price: Decimal | None
    levels_used: int
    exhausted: bool
    slippage_vs_mid: Decimal | None
    slippage_vs_best: Decimal | None


@dataclass(frozen=True, slots=True)
class DepthBand:
    """Resting size (base) and notional (quote) within a percentage band around mid."""

    pct: Decimal
    bid_size: Decimal
    ask_size: Decimal
    bid_notional: Decimal
    ask_notional: Decimal


def _check_level(price: object, size: object, tick: Decimal | None) -> None:
    """Validate one level; raises with the reason so feed bugs are obvious."""
    if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
        raise InvalidLevelError(f"price must be a positive finite Decimal, got {price!r}")
    if not isinstance(size, Decimal) or not size.is_finite() or size < 0:
        raise InvalidLevelError(f"size must be a non-negative finite Decimal, got {size!r}")
    if tick is not None and price % tick != 0:
        raise InvalidLevelError(f"price {price} is not on tick {tick}")


class OrderBook:
    """L2 book for one pair. Not thread-safe; one owner applies, anyone may query."""

    __slots__ = (
        "_ask_px",
        "_ask_sz",
        "_bid_px",
        "_bid_sz",
        "_needs_resync",
        "_seq",
        "applied",
        "crosses",
        "gaps",
        "pair",
        "rejected",
        "resyncs",
        "stale",
        "tick_size",
    )

    def __init__(self, pair: str, tick_size: Decimal | None = None) -> None:
        """``tick_size`` enables on-tick validation of new price levels (nearly free)."""
        self.pair = pair
        self.tick_size = tick_size
        self._bid_px: list[Decimal] = []
        self._bid_sz: list[Decimal] = []
        self._ask_px: list[Decimal] = []
        self._ask_sz: list[Decimal] = []
        self._seq = -1
        self._needs_resync = True  # nothing is known until the first snapshot
        self.applied = 0
        self.stale = 0
        self.gaps = 0
        self.crosses = 0
        self.resyncs = 0
        self.rejected = 0

    # ------------------------------------------------------------------ state
    @property
    def seq(self) -> int:
        """Sequence number of the last applied snapshot or delta (-1 before any)."""
        return self._seq

    @property
    def needs_resync(self) -> bool:
        """True until a snapshot is applied, and again after a gap or cross."""
        return self._needs_resync

    # ---------------------------------------------------------------- updates
    def load(self, seq: int, bids: Iterable[Level], asks: Iterable[Level]) -> DeltaStatus:
        """Replace the whole book; a crossed snapshot leaves it awaiting another one."""
        tick = self.tick_size
        sides: list[dict[Decimal, Decimal]] = [{}, {}]
        for levels, target in zip((bids, asks), sides, strict=True):
            for price, size in levels:
                _check_level(price, size, tick)
                if size > 0:
                    target[price] = size
        new_bids, new_asks = sides
        if new_bids and new_asks and max(new_bids) >= min(new_asks):
            self.crosses += 1
            self._needs_resync = True
            return DeltaStatus.CROSSED
        if self._needs_resync and self._seq >= 0:
            self.resyncs += 1
        self._bid_px = sorted(new_bids)
        self._bid_sz = [new_bids[p] for p in self._bid_px]
        self._ask_px = sorted(new_asks)
        self._ask_sz = [new_asks[p] for p in self._ask_px]
        self._seq = seq
        self._needs_resync = False
        return _APPLIED

    def apply_snapshot(self, snapshot: BookSnapshot) -> DeltaStatus:
        """Load a :class:`BookSnapshot` for this pair."""
        if snapshot.pair != self.pair:
            raise PairMismatchError(f"snapshot for {snapshot.pair} applied to {self.pair} book")
        return self.load(snapshot.seq, snapshot.bids, snapshot.asks)

    def apply_delta(self, delta: BookDelta) -> DeltaStatus:
        """Apply a :class:`BookDelta` for this pair."""
        if delta.pair != self.pair:
            raise PairMismatchError(f"delta for {delta.pair} applied to {self.pair} book")
        return self.apply(delta.seq, delta.side, delta.price, delta.size)

    def apply_deltas(self, deltas: Sequence[BookDelta]) -> tuple[int, DeltaStatus]:
        """Batch form of :meth:`apply_delta`; a foreign pair anywhere raises before applying."""
        pair = self.pair
        for delta in deltas:
            if delta.pair != pair:
                raise PairMismatchError(f"delta for {delta.pair} applied to {pair} book")
        return self.apply_many(map(_RAW, deltas))

    def apply(self, seq: int, side: BookSide, price: Decimal, size: Decimal) -> DeltaStatus:
        """Apply one level change (size 0 removes it); same rules as :meth:`apply_many`."""
        if self._needs_resync:
            self.rejected += 1
            return DeltaStatus.NEEDS_RESYNC
        if seq != self._seq + 1:
            return self._out_of_sequence(seq, self._seq)
        if price.__class__ is not _Dec or size.__class__ is not _Dec:
            _check_level(price, size, None)  # raises unless a valid Decimal subclass
        if side is _BID:
            prices, sizes = self._bid_px, self._bid_sz
        else:
            prices, sizes = self._ask_px, self._ask_sz
        try:
            if not _ZERO <= size < _INF:
                _check_level(price, size, None)  # always raises here, with the reason
            i = bisect_left(prices, price)
            if i != len(prices) and prices[i] == price:  # a known level: price already vetted
                if size:
                    sizes[i] = size
                else:
                    del prices[i]
                    del sizes[i]
            elif not self._new_price(side is _BID, prices, sizes, i, price, size):
                return DeltaStatus.CROSSED
        except InvalidOperation as exc:  # NaN compared: report it as the typed error
            raise InvalidLevelError(f"price/size must be finite Decimals: {exc!r}") from exc
        self._seq = seq
        self.applied += 1
        return _APPLIED

    def apply_many(self, deltas: Iterable[RawDelta]) -> tuple[int, DeltaStatus]:
        """Apply (seq, side, price, size) rows in order until one is not applied.

        Returns how many were applied and the status of the last row looked at (APPLIED when
        all were). The hot path: locals only, one bisect per delta, list edits only when a
        level appears or disappears. Validation is exact-type checks and a size range; a
        price is range- and tick-checked only when it is not already a level of the book.
        """
        if self._needs_resync:
            for _ in deltas:
                self.rejected += 1
                return 0, DeltaStatus.NEEDS_RESYNC
            return 0, _APPLIED
        bid_px, bid_sz, ask_px, ask_sz = self._bid_px, self._bid_sz, self._ask_px, self._ask_sz
        first = last = self._seq
        status = _APPLIED
        try:
            for seq, side, price, size in deltas:
                if seq != last + 1:
                    status = self._out_of_sequence(seq, last)
                    break
                if price.__class__ is not _Dec or size.__class__ is not _Dec:
                    _check_level(price, size, None)  # raises unless a valid Decimal subclass
                if not _ZERO <= size < _INF:
                    _check_level(price, size, None)  # always raises here, with the reason
                if side is _BID:
                    prices, sizes = bid_px, bid_sz
                else:
                    prices, sizes = ask_px, ask_sz
                i = bisect_left(prices, price)
                if i != len(prices) and prices[i] == price:
                    if size:
                        sizes[i] = size
                    else:
                        del prices[i]
                        del sizes[i]
                elif not self._new_price(side is _BID, prices, sizes, i, price, size):
                    status = DeltaStatus.CROSSED
                    break
                last = seq
        except InvalidOperation as exc:  # NaN compared: report it as the typed error
            raise InvalidLevelError(f"price/size must be finite Decimals: {exc!r}") from exc
        finally:
            self._seq = last
            self.applied += last - first
        return last - first, status

    def _new_price(
        self,
        is_bid: bool,
        prices: list[Decimal],
        sizes: list[Decimal],
        i: int,
        price: Decimal,
        size: Decimal,
    ) -> bool:
        """A price not in the book: vet it, then add the level (or no-op a removal).

        Returns False, flagging a resync, when the new level would cross the other side.
        """
        if not _ZERO < price < _INF:
            _check_level(price, size, None)
        tick = self.tick_size
        if tick is not None and price % tick:
            raise InvalidLevelError(f"price {price} is not on tick {tick}")
        if not size:
            return True  # removing an absent level
        if is_bid:
            crossed = bool(self._ask_px) and price >= self._ask_px[0]
        else:
            crossed = bool(self._bid_px) and price <= self._bid_px[-1]
        if crossed:
            self.crosses += 1
            self.rejected += 1
            self._needs_resync = True
            return False
        prices.insert(i, price)
        sizes.insert(i, size)
        return True

    def _out_of_sequence(self, seq: int, last: int) -> DeltaStatus:
        """Slow path: a replayed seq is ignored, a skipped one forces a resync."""
        if seq <= last:
            self.stale += 1
            return DeltaStatus.STALE
        self.gaps += 1
        self.rejected += 1
        self._needs_resync = True
        return DeltaStatus.GAP

    # ---------------------------------------------------------------- queries
    def best_bid(self) -> Level | None:
        """Highest bid (price, size), or None when the side is empty."""
        return (self._bid_px[-1], self._bid_sz[-1]) if self._bid_px else None

    def best_ask(self) -> Level | None:
        """Lowest ask (price, size), or None when the side is empty."""
        return (self._ask_px[0], self._ask_sz[0]) if self._ask_px else None

    def spread(self) -> Decimal | None:
        """Best ask minus best bid; None if a side is empty."""
        if not self._bid_px or not self._ask_px:
            return None
        return self._ask_px[0] - self._bid_px[-1]

    def mid(self) -> Decimal | None:
        """Midpoint of best bid and ask; None if a side is empty."""
        if not self._bid_px or not self._ask_px:
            return None
        return (self._ask_px[0] + self._bid_px[-1]) / _TWO

    def bids(self, n: int | None = None) -> list[Level]:
        """Top ``n`` bids best-first (all when n is None)."""
        start = 0 if n is None else max(len(self._bid_px) - max(n, 0), 0)
        return list(zip(self._bid_px[start:][::-1], self._bid_sz[start:][::-1], strict=True))

    def asks(self, n: int | None = None) -> list[Level]:
        """Top ``n`` asks best-first (all when n is None)."""
        end = len(self._ask_px) if n is None else max(n, 0)
        return list(zip(self._ask_px[:end], self._ask_sz[:end], strict=True))

    def size_at(self, side: BookSide, price: Decimal) -> Decimal:
        """Resting size at a price (0 when there is no level)."""
        if side is BookSide.BID:
            prices, sizes = self._bid_px, self._bid_sz
        else:
            prices, sizes = self._ask_px, self._ask_sz
        i = bisect_left(prices, price)
        return sizes[i] if i != len(prices) and prices[i] == price else _ZERO

    def levels(self) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """(bids, asks) best-first, for building a :class:`BookSnapshot`."""
        return tuple(self.bids()), tuple(self.asks())

    def depth_within(self, pct: Decimal) -> DepthBand | None:
        """Size and notional resting within ``pct`` percent of mid on each side."""
        if pct < 0:
            raise OrderBookError(f"pct must be >= 0, got {pct}")
        mid = self.mid()
        if mid is None:
            return None
        lo = bisect_left(self._bid_px, mid * (1 - pct / _HUNDRED))
        hi = bisect_right(self._ask_px, mid * (1 + pct / _HUNDRED))
        bids = list(zip(self._bid_px[lo:], self._bid_sz[lo:], strict=True))
        asks = list(zip(self._ask_px[:hi], self._ask_sz[:hi], strict=True))
        return DepthBand(
            pct=pct,
            bid_size=sum((q for _, q in bids), _ZERO),
            ask_size=sum((q for _, q in asks), _ZERO),
            bid_notional=sum((p * q for p, q in bids), _ZERO),
            ask_notional=sum((p * q for p, q in asks), _ZERO),
        )

    def sweep(self, side: Side, size: Decimal) -> list[Level]:
        """Fills (price, size) a market order would take, best level first (no mutation)."""
        if not isinstance(size, Decimal) or not size.is_finite() or size <= 0:
            raise OrderBookError(f"order size must be a positive finite Decimal, got {size!r}")
        if side is Side.BUY:
            levels = zip(self._ask_px, self._ask_sz, strict=True)
        else:
            levels = zip(reversed(self._bid_px), reversed(self._bid_sz), strict=True)
        fills: list[Level] = []
        left = size
        for price, resting in levels:
            take = min(left, resting)
            fills.append((price, take))
            left -= take
            if not left:
                break
        return fills

    def estimate_fill(self, side: Side, size: Decimal) -> FillEstimate:
        """VWAP, filled size, depth exhaustion and slippage of a market order of ``size``."""
        fills = self.sweep(side, size)
        filled = sum((q for _, q in fills), _ZERO)
        notional = sum((p * q for p, q in fills), _ZERO)
        avg = notional / filled if filled else None
        mid = self.mid()
        best = fills[0][0] if fills else None
        sign = 1 if side is Side.BUY else -1
        return FillEstimate(
            side=side,
            requested=size,
            filled=filled,
            notional=notional,
            avg_price=avg,
            worst_price=fills[-1][0] if fills else None,
            levels_used=len(fills),
            exhausted=filled < size,
            slippage_vs_mid=None if avg is None or mid is None else sign * (avg - mid) / mid,
            slippage_vs_best=None if avg is None or best is None else sign * (avg - best) / best,
        )
