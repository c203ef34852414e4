"""InfluxDB 2.x backend: buffered line-protocol writes, Flux queries with aggregateWindow.

Start-up when the server is unreachable: the store opens anyway in an explicit DEGRADED mode
(`health().state == "degraded"`, detail names the URL). Writes are buffered (see buffer.py)
and delivered once the server answers; reads raise `TimeSeriesUnavailable` naming the URL.

Retention: InfluxDB's own retention is per bucket, not per measurement. To keep the same
contract as the relational store, `set_retention` records a per-measurement duration and
`apply_retention(now)` issues a delete-predicate request (`_measurement="<m>"`, from the epoch
to now - keep). A self-hoster who only wants one horizon for everything can instead set the
bucket retention (deploy/docker-compose.yml shows DOCKER_INFLUXDB_INIT_RETENTION).

Numbers: fields are written as float64 and read back as `Decimal(repr(float))`; see
lineprotocol.py for what that means for exactness.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.rest import ApiException

from .base import (
    EPOCH,
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
    require_utc,
)
from .buffer import PermanentWriteError, WriteBuffer
from .lineprotocol import to_line

log = logging.getLogger(__name__)

CANDLE_MEASUREMENT = "candles"
_CANDLE_FIELDS = ("open", "high", "low", "close", "volume", "vwap", "trade_count")
_SYSTEM_COLUMNS = {
    "result",
    "table",
    "_start",
    "_stop",
    "_time",
    "_value",
    "_field",
    "_measurement",
}
_NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


def flux_string(value: str) -> str:
    """A Flux string literal; escapes quotes, backslashes and ${ interpolation."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{escaped}"'


def flux_time(at: datetime) -> str:
    return require_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _to_decimal(value: Any) -> Decimal | None:
    """Float fields come back as Python floats; repr is the shortest round-trip form."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        return None


class InfluxTimeSeries(TimeSeriesStore):
    """Time series in an InfluxDB 2.x bucket."""

    backend = "influxdb"

    def __init__(
        self,
        url: str,
        token: str,
        org: str,
        bucket: str,
        *,
        timeout_ms: int = 5_000,
        max_buffered_points: int = 100_000,
        batch_size: int = 5_000,
        flush_interval: float = 0.1,
        backoff_initial: float = 0.2,
        backoff_max: float = 30.0,
    ) -> None:
        self.url = url
        self.org = org
        self.bucket = bucket
        self._client = InfluxDBClientAsync(url=url, token=token, org=org, timeout=timeout_ms)
        self._write_api = self._client.write_api()
        self._query_api = self._client.query_api()
        self._delete_api = self._client.delete_api()
        self._retention: dict[str, timedelta] = {}
        self._reachable = True
        self._closed = False
        self.buffer = WriteBuffer(
            self._send,
            max_points=max_buffered_points,
            batch_size=batch_size,
            flush_interval=flush_interval,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            name=f"influxdb {url}",
        )

    @classmethod
    async def open(
        cls, url: str, token: str, org: str, bucket: str, **kwargs: Any
    ) -> InfluxTimeSeries:
        """Connect and ping; an unreachable server gives a degraded store, not an exception."""
        store = cls(url, token, org, bucket, **kwargs)
        try:
            await store._client.ping()  # raises on failure despite its bool return type
        except (*_NETWORK_ERRORS, ApiException, InfluxDBError) as exc:
            store._reachable = False
            store.buffer.last_error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "InfluxDB at %s is unreachable (%s); time series writes are buffered", url, exc
            )
        store.buffer.start()
        return store

    # -- writes -------------------------------------------------------------------------

    async def _send(self, lines: list[str]) -> None:
        try:
            await self._write_api.write(
                bucket=self.bucket, org=self.org, record=lines
            )  # default precision is ns, which to_line() emits
        except ApiException as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 429):
                raise PermanentWriteError(f"HTTP {exc.status}: {exc.body or exc.reason}") from exc
            raise
        self._reachable = True

    async def write(self, points: Sequence[Point]) -> None:
        self.buffer.add([to_line(p) for p in points])

    async def flush(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self.buffer.flush(timeout)

    # -- reads --------------------------------------------------------------------------

    async def _query(self, flux: str) -> list[Any]:
        try:
            tables = await self._query_api.query(flux, org=self.org)
        except ApiException as exc:
            if exc.status is not None and exc.status >= 500:
                raise TimeSeriesUnavailable(
                    f"InfluxDB at {self.url} failed: HTTP {exc.status}"
                ) from exc
            raise TimeSeriesError(f"InfluxDB at {self.url} refused the query: {exc.body}") from exc
        except (*_NETWORK_ERRORS, InfluxDBError) as exc:
            raise TimeSeriesUnavailable(f"InfluxDB at {self.url} is unreachable: {exc!r}") from exc
        self._reachable = True
        return [record for table in tables for record in table.records]

    def _base_flux(
        self, measurement: str, start: datetime, stop: datetime, tags: Mapping[str, str] | None
    ) -> list[str]:
        stages = [
            f"from(bucket: {flux_string(self.bucket)})",
            f"range(start: {flux_time(start)}, stop: {flux_time(stop)})",
            f"filter(fn: (r) => r._measurement == {flux_string(measurement)})",
        ]
        for key, value in sorted((tags or {}).items()):
            stages.append(f"filter(fn: (r) => r[{flux_string(key)}] == {flux_string(value)})")
        return stages

    @staticmethod
    def _field_filter(fields: Sequence[str]) -> str:
        terms = " or ".join(f"r._field == {flux_string(f)}" for f in sorted(set(fields)))
        return f"filter(fn: (r) => {terms})"

    async def query_range(
        self,
        measurement: str,
        start: datetime,
        stop: datetime,
        *,
        tags: Mapping[str, str] | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[Point]:
        stages = self._base_flux(measurement, start, stop, tags)
        if fields:
            stages.append(self._field_filter(fields))
        stages.append('yield(name: "raw")')
        merged: dict[tuple[tuple[tuple[str, str], ...], datetime], dict[str, Decimal]] = {}
        for record in await self._query("\n  |> ".join(stages)):
            value = _to_decimal(record.get_value())
            if value is None:
                continue
            tagset = tuple(
                sorted((k, str(v)) for k, v in record.values.items() if k not in _SYSTEM_COLUMNS)
            )
            merged.setdefault((tagset, record.get_time()), {})[record.get_field()] = value
        points = [
            Point(measurement, dict(tagset), values, at) for (tagset, at), values in merged.items()
        ]
        points.sort(key=lambda p: (p.at, p.series_key))
        return points

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
        by_fn: dict[Aggregate, list[tuple[str, str]]] = {}
        for output, (field, kind) in aggregates.items():
            by_fn.setdefault(Aggregate(kind), []).append((output, field))
        queries = []
        for kind, outputs in by_fn.items():
            stages = self._base_flux(measurement, start, stop, tags)
            stages.append(self._field_filter([f for _, f in outputs]))
            stages.append(
                f"aggregateWindow(every: {window.value}, fn: {kind.value}, "
                'createEmpty: false, timeSrc: "_start")'
            )
            stages.append(f"yield(name: {flux_string(kind.value)})")
            queries.append(self._query("\n  |> ".join(stages)))
        results = await asyncio.gather(*queries)
        rows: dict[tuple[tuple[tuple[str, str], ...], datetime], dict[str, Decimal]] = {}
        for (_kind, outputs), records in zip(by_fn.items(), results, strict=True):
            for record in records:
                value = _to_decimal(record.get_value())
                if value is None:
                    continue
                tagset = tuple(
                    sorted(
                        (k, str(v)) for k, v in record.values.items() if k not in _SYSTEM_COLUMNS
                    )
                )
                # The first window is clipped to the range start; label every row by its bucket.
                bucket = window.floor(record.get_time())
                for output, field in outputs:
                    if field == record.get_field():
                        rows.setdefault((tagset, bucket), {})[output] = value
        ordered = sorted(rows.items(), key=lambda item: (item[0][0], item[0][1]))
        return [WindowRow(dict(tagset), bucket, values) for (tagset, bucket), values in ordered]

    # -- candles ------------------------------------------------------------------------

    async def write_candles(self, candles: Sequence[Candle]) -> None:
        points = []
        for c in candles:
            fields = {
                "open": c.open,
                "high": c.high,
                "low": c.low,
                "close": c.close,
                "volume": c.volume,
                "trade_count": Decimal(c.trade_count),
            }
            if c.vwap is not None:
                fields["vwap"] = c.vwap
            points.append(
                Point(
                    CANDLE_MEASUREMENT,
                    {"pair_id": str(c.pair_id), "timeframe": c.timeframe.value},
                    fields,
                    c.bucket_at,
                )
            )
        await self.write(points)

    async def read_candles(
        self, pair_id: int, timeframe: Window, start: datetime, stop: datetime
    ) -> list[Candle]:
        points = await self.query_range(
            CANDLE_MEASUREMENT,
            start,
            stop,
            tags={"pair_id": str(pair_id), "timeframe": Window(timeframe).value},
            fields=_CANDLE_FIELDS,
        )
        candles = []
        for p in points:
            f = p.fields
            if not all(k in f for k in ("open", "high", "low", "close", "volume")):
                continue
            candles.append(
                Candle(
                    pair_id=pair_id,
                    timeframe=Window(timeframe),
                    bucket_at=p.at,
                    open=f["open"],
                    high=f["high"],
                    low=f["low"],
                    close=f["close"],
                    volume=f["volume"],
                    vwap=f.get("vwap"),
                    trade_count=int(f.get("trade_count", 0)),
                )
            )
        return candles

    # -- retention ----------------------------------------------------------------------

    async def set_retention(self, measurement: str, keep: timedelta) -> None:
        if keep <= timedelta(0):
            raise ValueError("retention must be positive")
        self._retention[measurement] = keep

    async def apply_retention(self, now: datetime) -> int:
        now = require_utc(now)
        for measurement, keep in self._retention.items():
            predicate = f"_measurement={flux_string(measurement)}"
            try:
                await self._delete_api.delete(
                    EPOCH, now - keep, predicate, bucket=self.bucket, org=self.org
                )
            except ApiException as exc:
                raise TimeSeriesError(
                    f"InfluxDB at {self.url} refused delete {predicate}: HTTP {exc.status}"
                ) from exc
            except _NETWORK_ERRORS as exc:
                raise TimeSeriesUnavailable(
                    f"InfluxDB at {self.url} is unreachable: {exc!r}"
                ) from exc
        return -1

    # -- lifecycle ----------------------------------------------------------------------

    def health(self) -> StoreHealth:
        stats = self.buffer.stats()
        if self._closed:
            state, detail = "closed", ""
        elif stats.consecutive_failures or not self._reachable:
            state = "degraded"
            detail = f"InfluxDB at {self.url} unreachable; writes buffered"
            if stats.last_error:
                detail += f" ({stats.last_error})"
        else:
            state, detail = "ok", f"InfluxDB at {self.url}"
        return StoreHealth(
            backend=self.backend,
            state=state,  # type: ignore[arg-type]
            detail=detail,
            pending_points=stats.pending,
            dropped_points=stats.dropped,
            extra={"delivered": stats.delivered, "rejected": stats.rejected},
        )

    async def close(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        if self._closed:
            return
        await self.buffer.close(timeout)
        await self._client.close()
        self._closed = True
