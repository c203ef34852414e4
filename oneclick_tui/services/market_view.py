"""Reads the Markets screen needs that are not on the bus: candles from the time series."""

from __future__ import annotations

from datetime import datetime, timedelta

from oneclick_tui.services.snapshots import Bar
from oneclick_tui.stores.timeseries.base import TimeSeriesStore, Window

TIMEFRAMES: tuple[str, ...] = ("1m", "5m", "1h", "1d")
CANDLES_SHOWN = 120


async def candle_bars(
    store: TimeSeriesStore, pair_id: int, timeframe: str, now: datetime
) -> list[Bar]:
    """The newest candles of one pair and timeframe, oldest first."""
    window = Window(timeframe)
    start = window.floor(now) - window.delta * (CANDLES_SHOWN - 1)
    stop = now + timedelta(microseconds=1)
    candles = await store.read_candles(pair_id, window, start, stop)
    return [Bar(c.open, c.high, c.low, c.close, c.volume) for c in candles]
