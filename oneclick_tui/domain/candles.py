"""OHLCV candles from trades, bucketed by UTC time, tolerant of late and out-of-order trades.

Open and close follow trade *timestamps*, not arrival order (ties: first arrival opens, last
arrival closes), so a late trade lands in the right candle and corrects it. Each ``add``
returns the candles it changed, ready to be upserted by the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum

from oneclick_tui.domain.market_events import MarketTrade

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CandleError(ValueError):
    """A trade that cannot be aggregated (naive time, non-positive price, bad size)."""


class Timeframe(Enum):
    """Supported candle widths; the value is the label used in storage and the UI."""

    M1 = "1m"
    M5 = "5m"
    H1 = "1h"
    D1 = "1d"

    @property
    def width(self) -> timedelta:
        """Bucket width."""
        return _WIDTHS[self]

    def bucket_start(self, at: datetime) -> datetime:
        """Start of the UTC bucket holding ``at`` (exact: integer timedelta arithmetic)."""
        width = _WIDTHS[self]
        return _EPOCH + ((at - _EPOCH) // width) * width


_WIDTHS = {
    Timeframe.M1: timedelta(minutes=1),
    Timeframe.M5: timedelta(minutes=5),
    Timeframe.H1: timedelta(hours=1),
    Timeframe.D1: timedelta(days=1),
}


@dataclass(frozen=True, slots=True)
class Candle:
    """One closed-or-open OHLCV bucket; ``vwap`` = quote volume / base volume."""

    pair: str
    timeframe: Timeframe
    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trade_count: int

    @property
    def end(self) -> datetime:
        """Exclusive end of the bucket."""
        return self.start + self.timeframe.width

    @property
    def vwap(self) -> Decimal:
        """Volume-weighted average price (the close when volume is zero)."""
        return self.quote_volume / self.volume if self.volume else self.close


class _Bucket:
    """Mutable accumulator behind a :class:`Candle`."""

    __slots__ = (
        "close",
        "close_key",
        "count",
        "high",
        "low",
        "open",
        "open_key",
        "quote_volume",
        "volume",
    )

    def __init__(self, price: Decimal, size: Decimal, key: tuple[datetime, int]) -> None:
        self.open = self.high = self.low = self.close = price
        self.open_key = self.close_key = key
        self.volume = size
        self.quote_volume = price * size
        self.count = 1

    def add(self, price: Decimal, size: Decimal, key: tuple[datetime, int]) -> None:
        if key < self.open_key:
            self.open, self.open_key = price, key
        if key >= self.close_key:
            self.close, self.close_key = price, key
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.volume += size
        self.quote_volume += price * size
        self.count += 1


class CandleAggregator:
    """Keeps candles per (pair, timeframe) and reports what each trade changed."""

    def __init__(self, timeframes: tuple[Timeframe, ...] = tuple(Timeframe)) -> None:
        self.timeframes = timeframes
        self._buckets: dict[tuple[str, Timeframe, datetime], _Bucket] = {}
        self._arrivals = 0

    def add_trade(self, trade: MarketTrade) -> list[Candle]:
        """Aggregate a :class:`MarketTrade`; returns the changed candle of each timeframe."""
        return self.add(trade.pair, trade.price, trade.size, trade.at)

    def add(self, pair: str, price: Decimal, size: Decimal, at: datetime) -> list[Candle]:
        """Aggregate one trade; returns the changed candle of each timeframe."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise CandleError(f"trade time must be timezone-aware, got {at!r}")
        if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
            raise CandleError(f"price must be a positive finite Decimal, got {price!r}")
        if not isinstance(size, Decimal) or not size.is_finite() or size < 0:
            raise CandleError(f"size must be a non-negative finite Decimal, got {size!r}")
        key = (at, self._arrivals)
        self._arrivals += 1
        changed = []
        for tf in self.timeframes:
            start = tf.bucket_start(at)
            bucket = self._buckets.get((pair, tf, start))
            if bucket is None:
                bucket = self._buckets[(pair, tf, start)] = _Bucket(price, size, key)
            else:
                bucket.add(price, size, key)
            changed.append(_freeze(pair, tf, start, bucket))
        return changed

    def get(self, pair: str, timeframe: Timeframe, start: datetime) -> Candle | None:
        """The candle starting at ``start`` (a bucket boundary), if any trade fell in it."""
        bucket = self._buckets.get((pair, timeframe, start))
        return None if bucket is None else _freeze(pair, timeframe, start, bucket)

    def candles(self, pair: str, timeframe: Timeframe) -> list[Candle]:
        """All candles of one series, oldest first."""
        found = [
            _freeze(p, tf, start, b)
            for (p, tf, start), b in self._buckets.items()
            if p == pair and tf is timeframe
        ]
        return sorted(found, key=lambda c: c.start)

    def evict_before(self, cutoff: datetime) -> int:
        """Forget candles that end at or before ``cutoff`` (bounded memory); returns count."""
        old = [k for k in self._buckets if k[2] + k[1].width <= cutoff]
        for k in old:
            del self._buckets[k]
        return len(old)


def _freeze(pair: str, tf: Timeframe, start: datetime, b: _Bucket) -> Candle:
    return Candle(
        pair=pair,
        timeframe=tf,
        start=start,
        open=b.open,
        high=b.high,
        low=b.low,
        close=b.close,
        volume=b.volume,
        quote_volume=b.quote_volume,
        trade_count=b.count,
    )
