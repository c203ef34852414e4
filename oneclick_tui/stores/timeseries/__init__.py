"""Time series (candles, metrics over time): one interface, relational and InfluxDB backends."""

from .base import (
    OHLCV_FROM_TRADES,
    Aggregate,
    AggSpec,
    Candle,
    Point,
    StoreHealth,
    TimeSeriesError,
    TimeSeriesStore,
    TimeSeriesUnavailable,
    Window,
    WindowRow,
)

__all__ = [
    "OHLCV_FROM_TRADES",
    "AggSpec",
    "Aggregate",
    "Candle",
    "Point",
    "StoreHealth",
    "TimeSeriesError",
    "TimeSeriesStore",
    "TimeSeriesUnavailable",
    "Window",
    "WindowRow",
]
