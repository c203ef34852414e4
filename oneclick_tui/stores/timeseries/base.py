"""The time-series store interface and its value types, shared by every backend.

Values are `Decimal` everywhere above the backend; a backend that stores floats (InfluxDB)
converts at its own boundary. Timestamps are timezone-aware UTC; naive ones are refused
because a silent local-time guess would shift candles by hours.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal, localcontext
from enum import StrEnum
from typing import Literal

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Twice NUMERIC(38, 18): sums of stored amounts never round (the default context keeps 28).
EXACT = Context(prec=76)


class Window(StrEnum):
    """Aggregation window; buckets are aligned to the Unix epoch, labelled by their start."""

    M1 = "1m"
    M5 = "5m"
    H1 = "1h"
    D1 = "1d"

    @property
    def delta(self) -> timedelta:
        return _WINDOW_DELTAS[self]

    def floor(self, at: datetime) -> datetime:
        """Start of the bucket holding `at` (epoch-aligned, like InfluxDB's aggregateWindow)."""
        step = self.delta
        return EPOCH + ((at - EPOCH) // step) * step


_WINDOW_DELTAS = {
    Window.M1: timedelta(minutes=1),
    Window.M5: timedelta(minutes=5),
    Window.H1: timedelta(hours=1),
    Window.D1: timedelta(days=1),
}


class Aggregate(StrEnum):
    """Per-window reductions: enough for OHLCV from trades or from finer candles."""

    FIRST = "first"
    MAX = "max"
    MIN = "min"
    LAST = "last"
    SUM = "sum"


AggSpec = tuple[str, Aggregate]
"""(source field, reduction); e.g. ("price", Aggregate.MAX) for a high."""

OHLCV_FROM_TRADES: Mapping[str, AggSpec] = {
    "open": ("price", Aggregate.FIRST),
    "high": ("price", Aggregate.MAX),
    "low": ("price", Aggregate.MIN),
    "close": ("price", Aggregate.LAST),
    "volume": ("size", Aggregate.SUM),
}


def require_utc(at: datetime, what: str = "timestamp") -> datetime:
    """Refuse naive datetimes; normalise aware ones to UTC."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {at!r}")
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Point:
    """One observation: measurement + tags identify the series, fields carry the numbers."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, Decimal]
    at: datetime

    def __post_init__(self) -> None:
        if not self.measurement:
            raise ValueError("measurement must not be empty")
        if not self.fields:
            raise ValueError("a point needs at least one field")
        for name, value in self.fields.items():
            if not isinstance(value, Decimal) or not value.is_finite():
                raise ValueError(f"field {name!r} must be a finite Decimal, got {value!r}")
        for key, tag_value in self.tags.items():
            if key.startswith("_") or key == "time":
                raise ValueError(f"tag {key!r}: _-prefixed names and 'time' are reserved")
            if not tag_value:
                raise ValueError(f"tag {key!r} has an empty value (InfluxDB cannot store it)")
        object.__setattr__(self, "at", require_utc(self.at))
        object.__setattr__(self, "tags", dict(self.tags))
        object.__setattr__(self, "fields", dict(self.fields))

    @property
    def series_key(self) -> str:
        """Canonical series identity: measurement plus sorted tags."""
        return series_key(self.measurement, self.tags)


def series_key(measurement: str, tags: Mapping[str, str]) -> str:
    parts = [measurement, *(f"{k}={tags[k]}" for k in sorted(tags))]
    return ",".join(parts)


@dataclass(frozen=True, slots=True)
class WindowRow:
    """One window of one series: its start, and one value per requested output name."""

    tags: Mapping[str, str]
    start: datetime
    values: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class Candle:
    """OHLCV for one pair and timeframe, labelled by the bucket start."""

    pair_id: int
    timeframe: Window
    bucket_at: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    vwap: Decimal | None = None
    trade_count: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "bucket_at", require_utc(self.bucket_at, "bucket_at"))
        object.__setattr__(self, "timeframe", Window(self.timeframe))


HealthState = Literal["ok", "degraded", "closed"]


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """What the UI status bar and `oneclick doctor` show about the store."""

    backend: str
    state: HealthState
    detail: str = ""
    pending_points: int = 0
    dropped_points: int = 0
    extra: Mapping[str, int] = field(default_factory=dict)


class TimeSeriesError(Exception):
    """Base for time-series store failures the caller may want to show."""


class TimeSeriesUnavailable(TimeSeriesError):
    """The backend server cannot be reached; the message names the URL."""


class TimeSeriesStore(abc.ABC):
    """Batched writes, raw and windowed range queries, retention, candles.

    Ranges are half-open: `start <= at < stop`. Window results are per series (one row per
    series and window that holds data; empty windows are omitted), ordered by series then start.
    """

    backend: str = "abstract"

    @abc.abstractmethod
    async def write(self, points: Sequence[Point]) -> None:
        """Store points. Buffered backends accept now and deliver later (see `flush`)."""

    @abc.abstractmethod
    async def query_range(
        self,
        measurement: str,
        start: datetime,
        stop: datetime,
        *,
        tags: Mapping[str, str] | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[Point]:
        """Raw points in [start, stop), oldest first, one Point per (series, timestamp)."""

    @abc.abstractmethod
    async def query_windows(
        self,
        measurement: str,
        start: datetime,
        stop: datetime,
        window: Window,
        aggregates: Mapping[str, AggSpec],
        *,
        tags: Mapping[str, str] | None = None,
    ) -> list[WindowRow]:
        """Per-series windowed aggregates in [start, stop); output name -> (field, reduction)."""

    @abc.abstractmethod
    async def set_retention(self, measurement: str, keep: timedelta) -> None:
        """Keep points of `measurement` for `keep`; enforced by `apply_retention`."""

    @abc.abstractmethod
    async def apply_retention(self, now: datetime) -> int:
        """Delete points older than their measurement's retention; returns rows deleted or -1
        when the backend cannot count (InfluxDB deletes by predicate)."""

    @abc.abstractmethod
    async def write_candles(self, candles: Sequence[Candle]) -> None:
        """Upsert candles: a rewrite of the same (pair, timeframe, bucket) replaces it."""

    @abc.abstractmethod
    async def read_candles(
        self, pair_id: int, timeframe: Window, start: datetime, stop: datetime
    ) -> list[Candle]:
        """Candles with bucket_at in [start, stop), oldest first."""

    async def rollup_candles(
        self, pair_id: int, source: Window, target: Window, start: datetime, stop: datetime
    ) -> list[Candle]:
        """Coarser candles from finer stored ones (e.g. 1h from 1m); not stored."""
        if target.delta <= source.delta:
            raise ValueError(f"cannot roll {source} up into {target}")
        return rollup(await self.read_candles(pair_id, source, start, stop), target)

    async def flush(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until buffered writes are delivered (no-op for unbuffered backends)."""
        return None

    @abc.abstractmethod
    def health(self) -> StoreHealth:
        """Current state, cheap to call from a status bar."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Deliver what can be delivered and release connections."""


def rollup(candles: Sequence[Candle], target: Window) -> list[Candle]:
    """Aggregate finer candles into `target` buckets (vwap volume-weighted, exact Decimal)."""
    groups: dict[datetime, list[Candle]] = {}
    for candle in sorted(candles, key=lambda c: c.bucket_at):
        groups.setdefault(target.floor(candle.bucket_at), []).append(candle)
    out = []
    for bucket_at, group in groups.items():
        out.append(_merge(group, target, bucket_at))
    return out


def _merge(group: Sequence[Candle], target: Window, bucket_at: datetime) -> Candle:
    with localcontext(EXACT):
        volume = sum((c.volume for c in group), Decimal(0))
        weighted = [c for c in group if c.vwap is not None]
        wvol = sum((c.volume for c in weighted), Decimal(0))
        vwap = (
            sum(((c.vwap or Decimal(0)) * c.volume for c in weighted), Decimal(0)) / wvol
            if wvol
            else None
        )
        return Candle(
            pair_id=group[0].pair_id,
            timeframe=target,
            bucket_at=bucket_at,
            open=group[0].open,
            high=max(c.high for c in group),
            low=min(c.low for c in group),
            close=group[-1].close,
            volume=volume,
            vwap=vwap,
            trade_count=sum(c.trade_count for c in group),
        )


def reduce_values(kind: Aggregate, values: Sequence[Decimal]) -> Decimal:
    """Apply one reduction to values already in time order (sums exact to 76 digits)."""
    if kind is Aggregate.FIRST:
        return values[0]
    if kind is Aggregate.LAST:
        return values[-1]
    if kind is Aggregate.MAX:
        return max(values)
    if kind is Aggregate.MIN:
        return min(values)
    with localcontext(EXACT):
        return sum(values, Decimal(0))
