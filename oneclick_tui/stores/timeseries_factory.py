"""Pick the time-series backend from settings: InfluxDB when `influx_url` is set, else the
relational store the caller already opened. Configuration, never a code change."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from oneclick_tui.config import Settings
from oneclick_tui.stores.timeseries.base import TimeSeriesStore
from oneclick_tui.stores.timeseries.influx import InfluxTimeSeries
from oneclick_tui.stores.timeseries.relational import RelationalTimeSeries


async def open_timeseries(settings: Settings, engine: AsyncEngine) -> TimeSeriesStore:
    """An opened store. An unreachable InfluxDB gives a degraded store (see `health()`)."""
    if settings.influx_url:
        if not settings.influx_org:
            raise ValueError("influx_org must be set when influx_url is set")
        token = settings.influx_token.get_secret_value() if settings.influx_token else ""
        return await InfluxTimeSeries.open(
            settings.influx_url, token, settings.influx_org, settings.influx_bucket
        )
    return RelationalTimeSeries(engine)
