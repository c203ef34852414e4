"""Relational backend (embedded SQLite by default, PostgreSQL for the full stack).

Points go to `metric_points` (fields JSON: name -> decimal string, so values stay exact);
candles go to `market_data` (NUMERIC on PostgreSQL, exact TEXT on SQLite), keyed by
trading_pairs.id. Window aggregation runs in SQL on PostgreSQL (date_bin + ordered
array_agg for first/last, NUMERIC max/min/sum). On SQLite the decimals are TEXT, which SQL
would compare as strings or add as floats, so rows are fetched in time order and reduced in
Python with Decimal: exact, and fine for the embedded, single-user data sizes.

Retention: `set_retention` keeps the per-measurement durations in this store object (the
schema has no table for them; callers set them at start-up). `apply_retention(now)` deletes
older rows; the measurement name "candles" applies to `market_data`, like on InfluxDB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from oneclick_tui.stores.models import MarketData, MetricPoint

from .base import (
    Aggregate,
    AggSpec,
    Candle,
    Point,
    StoreHealth,
    TimeSeriesStore,
    Window,
    WindowRow,
    reduce_values,
    require_utc,
    series_key,
)

CANDLE_MEASUREMENT = "candles"
_CHUNK = 5_000
_EPOCH_SQL = "timestamptz '1970-01-01 00:00:00+00'"


class RelationalTimeSeries(TimeSeriesStore):
    """Time series in the relational store; the engine is owned by the caller."""

    backend = "relational"

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._retention: dict[str, timedelta] = {}
        self._closed = False

    # -- writes -------------------------------------------------------------------------

    async def write(self, points: Sequence[Point]) -> None:
        """Upsert: one point per (series, time), fields merged with the newer values winning.

        That is InfluxDB's rule, so a retried write is not counted twice by aggregates. Points
        repeated inside one batch are merged here first (one statement may not touch a row
        twice on PostgreSQL).
        """
        rows: dict[tuple[str, str, datetime], dict[str, Any]] = {}
        for p in points:
            fields = {k: format(v, "f") for k, v in p.fields.items()}
            row = rows.get((p.measurement, p.series_key, p.at))
            if row is not None:
                row["fields"] = {**row["fields"], **fields}
                continue
            rows[(p.measurement, p.series_key, p.at)] = {
                "measurement": p.measurement,
                "series_key": p.series_key,
                "tags": dict(p.tags),
                "fields": fields,
                "recorded_at": p.at,
            }
        values = list(rows.values())
        stmt = self._upsert_points()
        async with self.engine.begin() as conn:
            for i in range(0, len(values), _CHUNK):
                await conn.execute(stmt, values[i : i + _CHUNK])

    def _upsert_points(self) -> Any:
        merged: Any
        stmt: Any
        if self.dialect == "postgresql":
            stmt = pg_insert(MetricPoint)
            merged = MetricPoint.fields.op("||")(stmt.excluded.fields)
        else:
            stmt = sqlite_insert(MetricPoint)
            merged = func.json_patch(MetricPoint.fields, stmt.excluded.fields)
        return stmt.on_conflict_do_update(
            index_elements=["measurement", "series_key", "recorded_at"],
            set_={"fields": merged},
        )

    # -- reads --------------------------------------------------------------------------

    def _where(
        self, measurement: str, start: datetime, stop: datetime, tags: Mapping[str, str] | None
    ) -> Any:
        conditions = [
            MetricPoint.measurement == measurement,
            MetricPoint.recorded_at >= require_utc(start),
            MetricPoint.recorded_at < require_utc(stop),
        ]
        for key, value in (tags or {}).items():
            conditions.append(MetricPoint.tags[key].as_string() == value)
        return and_(*conditions)

    async def query_range(
        self,
        measurement: str,
        start: datetime,
        stop: datetime,
        *,
        tags: Mapping[str, str] | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[Point]:
        stmt = (
            select(MetricPoint.tags, MetricPoint.fields, MetricPoint.recorded_at)
            .where(self._where(measurement, start, stop, tags))
            .order_by(MetricPoint.recorded_at, MetricPoint.series_key, MetricPoint.id)
        )
        # One Point per (series, timestamp): a later write of the same field wins, like InfluxDB.
        merged: dict[tuple[str, datetime], tuple[dict[str, str], dict[str, Decimal]]] = {}
        async with self.engine.connect() as conn:
            for row_tags, row_fields, at in await conn.execute(stmt):
                wanted = {k: Decimal(v) for k, v in row_fields.items() if not fields or k in fields}
                if not wanted:
                    continue
                key = (series_key(measurement, row_tags), at)
                merged.setdefault(key, (row_tags, {}))[1].update(wanted)
        return [Point(measurement, t, f, at) for (_, at), (t, f) in merged.items()]

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
        window = Window(window)
        if self.dialect == "postgresql":
            return await self._windows_sql(measurement, start, stop, window, aggregates, tags)
        return await self._windows_python(measurement, start, stop, window, aggregates, tags)

    async def _windows_python(
        self,
        measurement: str,
        start: datetime,
        stop: datetime,
        window: Window,
        aggregates: Mapping[str, AggSpec],
        tags: Mapping[str, str] | None,
    ) -> list[WindowRow]:
        stmt = (
            select(
                MetricPoint.series_key,
                MetricPoint.tags,
                MetricPoint.fields,
                MetricPoint.recorded_at,
            )
            .where(self._where(measurement, start, stop, tags))
            .order_by(MetricPoint.series_key, MetricPoint.recorded_at, MetricPoint.id)
        )
        groups: dict[tuple[str, datetime], tuple[dict[str, str], dict[str, list[Decimal]]]] = {}
        async with self.engine.connect() as conn:
            for key, row_tags, row_fields, at in await conn.execute(stmt):
                _, values = groups.setdefault((key, window.floor(at)), (row_tags, {}))
                for name, raw in row_fields.items():
                    values.setdefault(name, []).append(Decimal(raw))
        rows = []
        for (_, bucket), (row_tags, values) in groups.items():
            out = {
                output: reduce_values(Aggregate(kind), values[field])
                for output, (field, kind) in aggregates.items()
                if field in values
            }
            if out:
                rows.append(WindowRow(row_tags, bucket, out))
        return rows

    async def _windows_sql(
        self,
        measurement: str,
        start: datetime,
        stop: datetime,
        window: Window,
        aggregates: Mapping[str, AggSpec],
        tags: Mapping[str, str] | None,
    ) -> list[WindowRow]:
        params: dict[str, Any] = {
            "measurement": measurement,
            "start": require_utc(start),
            "stop": require_utc(stop),
            "step": window.delta,
        }
        columns = []
        for index, (_output, (field, kind)) in enumerate(aggregates.items()):
            params[f"f{index}"] = field
            value = f"(fields->>:f{index})::numeric"
            has = f"fields ? :f{index}"
            kind = Aggregate(kind)
            if kind is Aggregate.FIRST:
                expr = f"(array_agg({value} ORDER BY recorded_at, id) FILTER (WHERE {has}))[1]"
            elif kind is Aggregate.LAST:
                expr = (
                    f"(array_agg({value} ORDER BY recorded_at DESC, id DESC) "
                    f"FILTER (WHERE {has}))[1]"
                )
            else:
                expr = f"{kind.value}({value})"
            columns.append(f"{expr} AS a{index}")
        tag_sql = []
        for index, (key, value) in enumerate(sorted((tags or {}).items())):
            params[f"tk{index}"], params[f"tv{index}"] = key, value
            tag_sql.append(f" AND tags->>:tk{index} = :tv{index}")
        sql = (
            f"SELECT series_key, (array_agg(tags))[1] AS tags, "
            f"date_bin(:step, recorded_at, {_EPOCH_SQL}) AS bucket, {', '.join(columns)} "
            "FROM metric_points WHERE measurement = :measurement "
            f"AND recorded_at >= :start AND recorded_at < :stop{''.join(tag_sql)} "
            "GROUP BY series_key, bucket ORDER BY series_key, bucket"
        )
        outputs = list(aggregates)
        rows = []
        async with self.engine.connect() as conn:
            for record in await conn.execute(text(sql), params):
                values = {outputs[i]: Decimal(v) for i, v in enumerate(record[3:]) if v is not None}
                if values:
                    rows.append(WindowRow(record.tags, record.bucket, values))
        return rows

    # -- candles ------------------------------------------------------------------------

    async def write_candles(self, candles: Sequence[Candle]) -> None:
        if not candles:
            return
        rows = [
            {
                "pair_id": c.pair_id,
                "timeframe": c.timeframe.value,
                "bucket_at": c.bucket_at,
                "open": c.open,
                "high": c.high,
                "low": c.low,
                "close": c.close,
                "volume": c.volume,
                "vwap": c.vwap,
                "trade_count": c.trade_count,
            }
            for c in candles
        ]
        make_insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        stmt = make_insert(MarketData)
        stmt = stmt.on_conflict_do_update(
            index_elements=["pair_id", "timeframe", "bucket_at"],
            set_={
                name: stmt.excluded[name]
                for name in ("open", "high", "low", "close", "volume", "vwap", "trade_count")
            },
        )
        async with self.engine.begin() as conn:
            for i in range(0, len(rows), _CHUNK):
                await conn.execute(stmt, rows[i : i + _CHUNK])

    async def read_candles(
        self, pair_id: int, timeframe: Window, start: datetime, stop: datetime
    ) -> list[Candle]:
        timeframe = Window(timeframe)
        stmt = (
            select(MarketData)
            .where(
                MarketData.pair_id == pair_id,
                MarketData.timeframe == timeframe.value,
                MarketData.bucket_at >= require_utc(start),
                MarketData.bucket_at < require_utc(stop),
            )
            .order_by(MarketData.bucket_at)
        )
        async with self.engine.connect() as conn:
            result = await conn.execute(stmt)
            return [
                Candle(
                    pair_id=row.pair_id,
                    timeframe=timeframe,
                    bucket_at=row.bucket_at,
                    open=row.open.normalize(),
                    high=row.high.normalize(),
                    low=row.low.normalize(),
                    close=row.close.normalize(),
                    volume=row.volume.normalize(),
                    vwap=row.vwap.normalize() if row.vwap is not None else None,
                    trade_count=row.trade_count,
                )
                for row in result
            ]

    # -- retention ----------------------------------------------------------------------

    async def set_retention(self, measurement: str, keep: timedelta) -> None:
        if keep <= timedelta(0):
            raise ValueError("retention must be positive")
        self._retention[measurement] = keep

    async def apply_retention(self, now: datetime) -> int:
        now = require_utc(now)
        deleted = 0
        async with self.engine.begin() as conn:
            for measurement, keep in self._retention.items():
                cutoff = now - keep
                if measurement == CANDLE_MEASUREMENT:
                    stmt = delete(MarketData).where(MarketData.bucket_at < cutoff)
                else:
                    stmt = delete(MetricPoint).where(
                        MetricPoint.measurement == measurement, MetricPoint.recorded_at < cutoff
                    )
                result = await conn.execute(stmt)
                deleted += max(result.rowcount or 0, 0)
        return deleted

    # -- lifecycle ----------------------------------------------------------------------

    def health(self) -> StoreHealth:
        return StoreHealth(
            backend=self.backend,
            state="closed" if self._closed else "ok",
            detail=f"{self.dialect} database",
        )

    async def close(self) -> None:
        self._closed = True
