"""An exact L2 order book built from a snapshot plus sequenced deltas.

Layout: per side two parallel ascending lists (prices, sizes) searched with ``bisect``; best
bid is the last bid, best ask the first ask. No dict on purpose: hashing a Decimal costs
600-900 ns the first time an object is hashed, and every delta off the wire brings a fresh
Decimal, so a price->size dict caps near 1M deltas/s while bisect (a few C-level Decimal
compares over ~50 levels) does not. The book never silently applies a delta after a sequence
gap or a cross: it enters ``needs_resync`` and rejects deltas with a reason until a fresh
snapshot arrives.

Speed (see docs/benchmarks/orderbook.md): every entry point (``apply``, ``apply_delta``,
``apply_many``, ``apply_deltas``) carries its own copy of one short fast path, because a
Python call costs about a tenth of a delta. The fast path takes exact ``Decimal`` inputs: a
known level (found by bisect and ``==``, so 1.10 and 1.1 are one level) is updated or removed
after a size check only; a new level also gets the tick check, and the range and cross checks
only when it lands at an end of its side (between two levels its neighbours prove it positive
and uncrossed). Anything else (a subclass, a plain-string side, a bad value, an empty other
side, a cross) goes to ``_apply_checked``, the one careful implementation. Tests run every
entry point against a naive reference.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from itertools import islice, repeat
from operator import lt, mod

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
_CROSSED = DeltaStatus.CROSSED
_BID = BookSide.BID
_ASK = BookSide.ASK


class _SlowPath(Exception):
    """Raised inside a fast path to hand the delta to ``_apply_checked``."""


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
    if tick is not None and _off_tick(price, tick):
        raise InvalidLevelError(f"price {price} is not on tick {tick}")


def _off_tick(price: Decimal, tick: Decimal) -> bool:
    """True unless ``price`` is an exact multiple of ``tick`` (a huge price cannot be)."""
    try:
        return bool(price % tick)
    except InvalidOperation:  # e.g. 1E+30 % 0.01 exceeds the context's precision
        return True


def _as_side(side: object) -> BookSide:
    """The BookSide a delta names (a plain "bid"/"ask" string is accepted), else raise."""
    try:
        return BookSide(side)  # type: ignore[arg-type]  # validated here: any value may come
    except ValueError:
        raise InvalidLevelError(f"side must be a BookSide, got {side!r}") from None


def _ascending_side(
    rows: list[Level], tick: Decimal | None, best_first_descending: bool
) -> tuple[list[Decimal], list[Decimal]] | None:
    """One snapshot side as (prices, sizes) ascending, checked with C-level passes only.

    This is the shape the Decibel parser and the simulator produce (exact Decimals, strictly
    best-first, on tick). Checked with map/all/min/max and no dict, it costs ~40% of the
    per-level path on fresh objects, mostly the first-time Decimal hashing the dict needs.
    None means "not that shape": the caller takes the general path, which also produces the
    precise error.
    """
    if not rows:
        return [], []
    try:
        px, sz = (list(col) for col in zip(*rows, strict=True))
        if best_first_descending:
            px.reverse()
            sz.reverse()
        if {*map(type, px), *map(type, sz)} != {_Dec}:
            return None
        if not (px[0] > _ZERO and px[-1] < _INF and all(map(lt, px, islice(px, 1, None)))):
            return None
        smallest = min(sz)
        if not (smallest >= _ZERO and max(sz) < _INF):
            return None
        if tick is not None and any(map(mod, px, repeat(tick))):
            return None
    except (ValueError, TypeError, ArithmeticError):
        return None
    if not smallest:  # size 0 in a snapshot means "no level"
        kept = [(p, q) for p, q in zip(px, sz, strict=True) if q]
        px, sz = [p for p, _ in kept], [q for _, q in kept]
    return px, sz


class OrderBook:
    """L2 book for one pair. Not thread-safe; one owner applies, anyone may query."""

    __slots__ = (
        "_applied_base",
        "_ask_px",
        "_ask_sz",
        "_bid_px",
        "_bid_sz",
        "_needs_resync",
        "_seq",
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
        self._applied_base = 1  # applied == _applied_base + _seq (see ``applied``)
        self._needs_resync = True  # nothing is known until the first snapshot
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

    @property
    def applied(self) -> int:
        """Deltas applied so far.

        Derived from ``seq`` (every applied delta moves it by exactly one, and ``load``
        rebases) so the hot path writes one attribute per delta instead of two.
        """
        return self._applied_base + self._seq

    # ---------------------------------------------------------------- updates
    def load(self, seq: int, bids: Iterable[Level], asks: Iterable[Level]) -> DeltaStatus:
        """Replace the whole book; a crossed snapshot leaves it awaiting another one."""
        tick = self.tick_size
        bid_rows, ask_rows = list(bids), list(asks)
        fast_bids = _ascending_side(bid_rows, tick, best_first_descending=True)
        fast_asks = _ascending_side(ask_rows, tick, best_first_descending=False)
        if fast_bids is None or fast_asks is None:
            fast_bids, fast_asks = self._general_sides(bid_rows, ask_rows)
        (bid_px, bid_sz), (ask_px, ask_sz) = fast_bids, fast_asks
        if bid_px and ask_px and bid_px[-1] >= ask_px[0]:
            self.crosses += 1
            self._needs_resync = True
            return _CROSSED
        if self._needs_resync and self._seq >= 0:
            self.resyncs += 1
        self._bid_px, self._bid_sz, self._ask_px, self._ask_sz = bid_px, bid_sz, ask_px, ask_sz
        self._applied_base += self._seq - seq  # keeps ``applied`` unchanged
        self._seq = seq
        self._needs_resync = False
        return _APPLIED

    def _general_sides(
        self, bids: list[Level], asks: list[Level]
    ) -> tuple[tuple[list[Decimal], list[Decimal]], tuple[list[Decimal], list[Decimal]]]:
        """Any order, duplicates (the last non-zero wins), exact errors: the per-level path."""
        tick = self.tick_size
        out = []
        for levels in (bids, asks):
            side: dict[Decimal, Decimal] = {}
            for price, size in levels:
                _check_level(price, size, tick)
                if size > 0:
                    side[price] = size
            prices = sorted(side)
            out.append((prices, [side[p] for p in prices]))
        return out[0], out[1]

    def apply_snapshot(self, snapshot: BookSnapshot) -> DeltaStatus:
        """Load a :class:`BookSnapshot` for this pair."""
        if snapshot.pair != self.pair:
            raise PairMismatchError(f"snapshot for {snapshot.pair} applied to {self.pair} book")
        return self.load(snapshot.seq, snapshot.bids, snapshot.asks)

    def apply(self, seq: int, side: BookSide, price: Decimal, size: Decimal) -> DeltaStatus:
        """Apply one level change (size 0 removes it); same rules as :meth:`apply_many`."""
        if self._needs_resync or seq - self._seq != 1:  # 1 is a cached int; seq + 1 allocates
            return self._out_of_sequence(seq, self._seq)
        # FAST PATH: one of four identical copies (apply, apply_delta, apply_many, apply_deltas)
        try:
            if side is _BID:
                prices, sizes = self._bid_px, self._bid_sz
            elif side is _ASK:
                prices, sizes = self._ask_px, self._ask_sz
            else:
                raise _SlowPath
            if price.__class__ is not _Dec or size.__class__ is not _Dec:
                raise _SlowPath
            i = bisect_left(prices, price)
            n = len(prices)
            if size > _ZERO and size.is_finite():
                if i != n and prices[i] == price:
                    sizes[i] = size
                    self._seq = seq
                    return _APPLIED
                tick = self.tick_size
                # a new level; 0 < i < n: its neighbours prove it positive and uncrossed
                if (tick is None or not price % tick) and (
                    0 < i < n
                    or (
                        (i or price > _ZERO) and (i != n or price < self._ask_px[0])
                        if side is _BID
                        else (i or self._bid_px[-1] < price) and (i != n or price < _INF)
                    )
                ):
                    prices.insert(i, price)
                    sizes.insert(i, size)
                    self._seq = seq
                    return _APPLIED
            elif not size and i != n and prices[i] == price:
                del prices[i]
                del sizes[i]
                self._seq = seq
                return _APPLIED
        except (_SlowPath, InvalidOperation, IndexError):
            pass  # IndexError: empty other side; InvalidOperation: NaN, or price % tick
        if not self._apply_checked(side, price, size):
            return _CROSSED
        self._seq = seq
        return _APPLIED

    def apply_delta(self, delta: BookDelta) -> DeltaStatus:
        """Apply a :class:`BookDelta` for this pair (the market pipeline's per-event path)."""
        if delta.pair != self.pair:
            raise PairMismatchError(f"delta for {delta.pair} applied to {self.pair} book")
        seq = delta.seq
        if self._needs_resync or seq - self._seq != 1:  # 1 is a cached int; seq + 1 allocates
            return self._out_of_sequence(seq, self._seq)
        side, price, size = delta.side, delta.price, delta.size
        # FAST PATH: identical to apply's
        try:
            if side is _BID:
                prices, sizes = self._bid_px, self._bid_sz
            elif side is _ASK:
                prices, sizes = self._ask_px, self._ask_sz
            else:
                raise _SlowPath
            if price.__class__ is not _Dec or size.__class__ is not _Dec:
                raise _SlowPath
            i = bisect_left(prices, price)
            n = len(prices)
            if size > _ZERO and size.is_finite():
                if i != n and prices[i] == price:
                    sizes[i] = size
                    self._seq = seq
                    return _APPLIED
                tick = self.tick_size
                # a new level; 0 < i < n: its neighbours prove it positive and uncrossed
                if (tick is None or not price % tick) and (
                    0 < i < n
                    or (
                        (i or price > _ZERO) and (i != n or price < self._ask_px[0])
                        if side is _BID
                        else (i or self._bid_px[-1] < price) and (i != n or price < _INF)
                    )
                ):
                    prices.insert(i, price)
                    sizes.insert(i, size)
                    self._seq = seq
                    return _APPLIED
            elif not size and i != n and prices[i] == price:
                del prices[i]
                del sizes[i]
                self._seq = seq
                return _APPLIED
        except (_SlowPath, InvalidOperation, IndexError):
            pass  # IndexError: empty other side; InvalidOperation: NaN, or price % tick
        if not self._apply_checked(side, price, size):
            return _CROSSED
        self._seq = seq
        return _APPLIED

    def apply_many(self, deltas: Iterable[RawDelta]) -> tuple[int, DeltaStatus]:
        """Apply (seq, side, price, size) rows in order until one is not applied.

        Returns how many were applied and the status of the last row looked at (APPLIED when
        all were); a row that raises leaves the rows before it applied. The fastest entry
        point: locals only, one bisect per row, list edits only when a level appears or
        disappears (checks as in the module docstring).
        """
        if self._needs_resync:
            for _ in deltas:
                self.rejected += 1
                return 0, DeltaStatus.NEEDS_RESYNC
            return 0, _APPLIED
        bid_px, bid_sz, ask_px, ask_sz = self._bid_px, self._bid_sz, self._ask_px, self._ask_sz
        tick = self.tick_size
        first = last = self._seq
        status = _APPLIED
        try:
            for seq, side, price, size in deltas:
                if seq - last != 1:  # not `seq != last + 1`: that allocates an int
                    status = self._out_of_sequence(seq, last)
                    break
                # FAST PATH: identical to apply's, with locals and `continue`
                try:
                    if side is _BID:
                        prices, sizes = bid_px, bid_sz
                    elif side is _ASK:
                        prices, sizes = ask_px, ask_sz
                    else:
                        raise _SlowPath
                    if price.__class__ is not _Dec or size.__class__ is not _Dec:
                        raise _SlowPath
                    i = bisect_left(prices, price)
                    n = len(prices)
                    if size > _ZERO and size.is_finite():
                        if i != n and prices[i] == price:
                            sizes[i] = size
                            last = seq
                            continue
                        # a new level; 0 < i < n: its neighbours prove it positive and uncrossed
                        if (tick is None or not price % tick) and (
                            0 < i < n
                            or (
                                (i or price > _ZERO) and (i != n or price < ask_px[0])
                                if side is _BID
                                else (i or bid_px[-1] < price) and (i != n or price < _INF)
                            )
                        ):
                            prices.insert(i, price)
                            sizes.insert(i, size)
                            last = seq
                            continue
                    elif not size and i != n and prices[i] == price:
                        del prices[i]
                        del sizes[i]
                        last = seq
                        continue
                except (_SlowPath, InvalidOperation, IndexError):
                    pass  # IndexError: empty other side; InvalidOperation: NaN, or price % tick
                if not self._apply_checked(side, price, size):
                    status = _CROSSED
                    break
                last = seq
        finally:
            self._seq = last
        return last - first, status

    def apply_deltas(self, deltas: Sequence[BookDelta]) -> tuple[int, DeltaStatus]:
        """Batch form of :meth:`apply_delta`; a foreign pair anywhere raises before applying."""
        pair = self.pair
        for delta in deltas:
            if delta.pair != pair:
                raise PairMismatchError(f"delta for {delta.pair} applied to {pair} book")
        if self._needs_resync:
            if deltas:
                self.rejected += 1
                return 0, DeltaStatus.NEEDS_RESYNC
            return 0, _APPLIED
        bid_px, bid_sz, ask_px, ask_sz = self._bid_px, self._bid_sz, self._ask_px, self._ask_sz
        tick = self.tick_size
        first = last = self._seq
        status = _APPLIED
        try:
            for delta in deltas:
                seq = delta.seq
                if seq - last != 1:  # not `seq != last + 1`: that allocates an int
                    status = self._out_of_sequence(seq, last)
                    break
                side, price, size = delta.side, delta.price, delta.size
                # FAST PATH: identical to apply's, with locals and `continue`
                try:
                    if side is _BID:
                        prices, sizes = bid_px, bid_sz
                    elif side is _ASK:
                        prices, sizes = ask_px, ask_sz
                    else:
                        raise _SlowPath
                    if price.__class__ is not _Dec or size.__class__ is not _Dec:
                        raise _SlowPath
                    i = bisect_left(prices, price)
                    n = len(prices)
                    if size > _ZERO and size.is_finite():
                        if i != n and prices[i] == price:
                            sizes[i] = size
                            last = seq
                            continue
                        # a new level; 0 < i < n: its neighbours prove it positive and uncrossed
                        if (tick is None or not price % tick) and (
                            0 < i < n
                            or (
                                (i or price > _ZERO) and (i != n or price < ask_px[0])
                                if side is _BID
                                else (i or bid_px[-1] < price) and (i != n or price < _INF)
                            )
                        ):
                            prices.insert(i, price)
                            sizes.insert(i, size)
                            last = seq
                            continue
                    elif not size and i != n and prices[i] == price:
                        del prices[i]
                        del sizes[i]
                        last = seq
                        continue
                except (_SlowPath, InvalidOperation, IndexError):
                    pass  # IndexError: empty other side; InvalidOperation: NaN, or price % tick
                if not self._apply_checked(side, price, size):
                    status = _CROSSED
                    break
                last = seq
        finally:
            self._seq = last
        return last - first, status

    def _apply_checked(self, side: object, price: object, size: object) -> bool:
        """The careful path for one in-sequence delta: full validation, then the change.

        Raises :class:`InvalidLevelError` (nothing changed) for a bad side, price or size;
        returns False, flagging a resync, when a new level would cross the other side.
        """
        book_side = _as_side(side)
        _check_level(price, size, None)
        assert isinstance(price, Decimal) and isinstance(size, Decimal)  # for mypy
        if book_side is _BID:
            prices, sizes = self._bid_px, self._bid_sz
        else:
            prices, sizes = self._ask_px, self._ask_sz
        i = bisect_left(prices, price)
        if i != len(prices) and prices[i] == price:  # a known level: price already vetted
            if size:
                sizes[i] = size
            else:
                del prices[i]
                del sizes[i]
            return True
        tick = self.tick_size
        if tick is not None and _off_tick(price, tick):
            raise InvalidLevelError(f"price {price} is not on tick {tick}")
        if not size:
            return True  # removing an absent level
        if book_side is _BID:
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
        """Slow path: awaiting a snapshot, a replayed seq (ignored) or a skipped one (resync)."""
        if self._needs_resync:
            self.rejected += 1
            return DeltaStatus.NEEDS_RESYNC
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
