"""One contract for every time-series backend.

Runs against: relational on SQLite, relational on the real PostgreSQL, InfluxDB against the
STAND-IN server (tests/stores/influx_standin.py — no InfluxDB 2.x can run on the build
machine, Debian only ships 1.6.7 without /api/v2), and InfluxDB against a real 2.x server
when ONECLICK_TEST_INFLUX_URL, _TOKEN and _ORG are set (bucket: ONECLICK_TEST_INFLUX_BUCKET,
default "oneclick"); that case is skipped with this reason otherwise.

Values are chosen to be exact in binary floating point, because InfluxDB stores float64; the
Decimal-exactness test runs on the relational backend only.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert

from oneclick_tui.config import Settings
from oneclick_tui.stores.db import ensure_schema, make_engine
from oneclick_tui.stores.models import TradingPair
from oneclick_tui.stores.timeseries import (
    OHLCV_FROM_TRADES,
    Aggregate,
    Candle,
    Point,
    TimeSeriesStore,
    Window,
)
from oneclick_tui.stores.timeseries.influx import InfluxTimeSeries
from oneclick_tui.stores.timeseries.relational import RelationalTimeSeries
from oneclick_tui.stores.timeseries_factory import open_timeseries
from tests.conftest import fresh_pg_database
from tests.stores.influx_standin import InfluxStandIn

REAL_INFLUX = os.environ.get("ONECLICK_TEST_INFLUX_URL")
BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    "influx-standin",
    pytest.param(
        "influx-real",
        marks=pytest.mark.skipif(
            not REAL_INFLUX,
            reason="no real InfluxDB 2.x: set ONECLICK_TEST_INFLUX_URL/_TOKEN/_ORG to run",
        ),
    ),
]
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
D = Decimal


@dataclass
class Harness:
    store: TimeSeriesStore
    pair_id: int
    suffix: str

    def m(self, name: str) -> str:
        """A measurement name of this test's own (a real InfluxDB bucket is shared)."""
        return f"{name}_{self.suffix}"


async def _relational(url: str) -> tuple[RelationalTimeSeries, int]:
    await ensure_schema(url)
    engine = make_engine(url)
    async with engine.begin() as conn:
        result = await conn.execute(
            insert(TradingPair).returning(TradingPair.id),
            {
                "base_asset": "APT",
                "quote_asset": "USDC",
                "dex_protocol": "sim",
                "min_trade_size": D("0.01"),
                "tick_size": D("0.0001"),
                "fee_rate": D("0.003"),
                "is_active": True,
            },
        )
        pair_id = result.scalar_one()
    return RelationalTimeSeries(engine), pair_id


async def _db_url(kind: str, stack: AsyncExitStack, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'ts.db'}"
    return await stack.enter_async_context(fresh_pg_database())


@pytest.fixture(params=BACKENDS)
async def ts(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    suffix = uuid.uuid4().hex[:8]
    standin = None
    stack = AsyncExitStack()
    store: TimeSeriesStore
    if request.param in ("sqlite", "postgresql"):
        store, pair_id = await _relational(await _db_url(request.param, stack, tmp_path))
    else:
        if request.param == "influx-standin":
            standin = InfluxStandIn()
            await standin.start()
            url, token, org = standin.url, standin.token, standin.org
            bucket = standin.bucket
        else:
            url, token = REAL_INFLUX or "", os.environ.get("ONECLICK_TEST_INFLUX_TOKEN", "")
            org = os.environ.get("ONECLICK_TEST_INFLUX_ORG", "")
            bucket = os.environ.get("ONECLICK_TEST_INFLUX_BUCKET", "oneclick")
        store = await InfluxTimeSeries.open(url, token, org, bucket, flush_interval=0.01)
        pair_id = int(uuid.uuid4().int % 1_000_000_000)
    yield Harness(store, pair_id, suffix)
    await store.close()
    if isinstance(store, RelationalTimeSeries):
        await store.engine.dispose()
    if standin is not None:
        await standin.stop()
    await stack.aclose()


def trade(measurement: str, pair: str, minute: float, price: str, size: str) -> Point:
    at = T0 + timedelta(minutes=minute)
    return Point(measurement, {"pair": pair}, {"price": D(price), "size": D(size)}, at)


async def test_raw_range_is_half_open_filtered_and_ordered(ts: Harness) -> None:
    m = ts.m("trades")
    await ts.store.write(
        [
            trade(m, "APT-USDC", 0, "10.5", "1"),
            trade(m, "APT-USDC", 1, "11", "2"),
            trade(m, "BTC-USDC", 1.5, "50000", "0.25"),
            trade(m, "APT-USDC", 2, "12", "3"),
        ]
    )
    await ts.store.flush(10)
    got = await ts.store.query_range(m, T0, T0 + timedelta(minutes=2))
    assert [(p.tags["pair"], p.at, p.fields) for p in got] == [
        ("APT-USDC", T0, {"price": D("10.5"), "size": D(1)}),
        ("APT-USDC", T0 + timedelta(minutes=1), {"price": D(11), "size": D(2)}),
        ("BTC-USDC", T0 + timedelta(minutes=1.5), {"price": D(50000), "size": D("0.25")}),
    ]
    assert all(p.at.tzinfo is not None and p.at.utcoffset() == timedelta(0) for p in got)
    only = await ts.store.query_range(
        m, T0, T0 + timedelta(hours=1), tags={"pair": "APT-USDC"}, fields=["price"]
    )
    assert [(p.at, p.fields) for p in only] == [
        (T0 + timedelta(minutes=i), {"price": v}) for i, v in enumerate([D("10.5"), 11, 12])
    ]
    assert await ts.store.query_range(m, T0 - timedelta(days=1), T0) == []


async def test_a_point_written_again_is_one_point_with_its_fields_merged(ts: Harness) -> None:
    """A retried write (same series, same time) must not count twice: InfluxDB keeps one
    point per series and timestamp, merging the field sets with the newer values winning."""
    m = ts.m("equity")
    tags = {"user": "7"}
    await ts.store.write([Point(m, tags, {"cash": D(100)}, T0)])
    await ts.store.write([Point(m, tags, {"cash": D(100)}, T0)])  # the retry
    await ts.store.write(
        [Point(m, tags, {"cash": D(90), "upnl": D(5)}, T0), Point(m, tags, {"cash": D(1)}, T0)]
    )
    await ts.store.flush(10)
    got = await ts.store.query_range(m, T0, T0 + timedelta(seconds=1))
    assert [(p.at, p.fields) for p in got] == [(T0, {"cash": D(1), "upnl": D(5)})]
    # ... and aggregates see it once: a retried trade is not twice the volume
    trades = ts.m("trades")
    await ts.store.write([trade(trades, "APT-USDC", 0.5, "10", "2")])
    await ts.store.write([trade(trades, "APT-USDC", 0.5, "10", "2")])
    await ts.store.flush(10)
    (row,) = await ts.store.query_windows(
        trades, T0, T0 + timedelta(minutes=1), Window.M1, OHLCV_FROM_TRADES
    )
    assert row.values["volume"] == D(2)


async def test_tags_and_names_with_special_characters_round_trip(ts: Harness) -> None:
    m = ts.m("odd measure,ment")
    point = Point(m, {"pair": 'a b,c=d"e\\'}, {"fee rate,x": D("0.125")}, T0)
    await ts.store.write([point])
    await ts.store.flush(10)
    got = await ts.store.query_range(m, T0, T0 + timedelta(seconds=1), tags=dict(point.tags))
    assert [(p.tags, p.fields) for p in got] == [(point.tags, point.fields)]


async def test_ohlcv_from_trades_per_window_and_series(ts: Harness) -> None:
    m = ts.m("trades")
    await ts.store.write(
        [
            trade(m, "APT-USDC", 0.1, "10", "1"),
            trade(m, "APT-USDC", 0.5, "12.5", "2"),
            trade(m, "APT-USDC", 0.9, "9.75", "0.5"),
            trade(m, "APT-USDC", 1.2, "11", "4"),
            trade(m, "APT-USDC", 6.0, "13", "1"),
            trade(m, "BTC-USDC", 0.3, "50000", "0.25"),
        ]
    )
    await ts.store.flush(10)
    stop = T0 + timedelta(minutes=10)
    one = await ts.store.query_windows(
        m, T0, stop, Window.M1, OHLCV_FROM_TRADES, tags={"pair": "APT-USDC"}
    )
    assert [(r.start, dict(r.values)) for r in one] == [
        (T0, {"open": D(10), "high": D("12.5"), "low": D("9.75"), "close": D("9.75"),
              "volume": D("3.5")}),
        (T0 + timedelta(minutes=1), {"open": D(11), "high": D(11), "low": D(11), "close": D(11),
                                     "volume": D(4)}),
        (T0 + timedelta(minutes=6), {"open": D(13), "high": D(13), "low": D(13), "close": D(13),
                                     "volume": D(1)}),
    ]  # fmt: skip
    five = await ts.store.query_windows(m, T0, stop, Window.M5, OHLCV_FROM_TRADES)
    by_series = {(r.tags["pair"], r.start): dict(r.values) for r in five}
    assert by_series[("APT-USDC", T0)] == {
        "open": D(10), "high": D("12.5"), "low": D("9.75"), "close": D(11), "volume": D("7.5")
    }  # fmt: skip
    assert by_series[("APT-USDC", T0 + timedelta(minutes=5))]["volume"] == D(1)
    assert by_series[("BTC-USDC", T0)]["close"] == D(50000)
    assert len(five) == 3


async def test_windows_are_epoch_aligned_for_hours_and_days(ts: Harness) -> None:
    m = ts.m("equity")
    points = [
        Point(m, {"user": "u1"}, {"value": D(v)}, T0 + timedelta(hours=h))
        for h, v in [(0, "100"), (0.5, "150"), (3, "90"), (11, "120")]
    ]
    await ts.store.write(points)
    await ts.store.flush(10)
    spec = {"hi": ("value", Aggregate.MAX), "lo": ("value", Aggregate.MIN),
            "sum": ("value", Aggregate.SUM), "last": ("value", Aggregate.LAST)}  # fmt: skip
    # A range start that is not on a window boundary still labels rows by bucket start.
    start = T0 - timedelta(minutes=17)
    hourly = await ts.store.query_windows(m, start, T0 + timedelta(days=2), Window.H1, spec)
    assert [(r.start - T0, r.values["sum"]) for r in hourly] == [
        (timedelta(0), D(250)), (timedelta(hours=3), D(90)), (timedelta(hours=11), D(120))
    ]  # fmt: skip
    daily = await ts.store.query_windows(m, start, T0 + timedelta(days=2), Window.D1, spec)
    day = T0.replace(hour=0)
    assert [(r.start, dict(r.values)) for r in daily] == [
        (day, {"hi": D(150), "lo": D(90), "sum": D(460), "last": D(120)})
    ]


async def test_candles_upsert_read_and_roll_up(ts: Harness) -> None:
    def candle(minute: int, o: str, h: str, lo: str, c: str, v: str, vwap: str) -> Candle:
        return Candle(ts.pair_id, Window.M1, T0 + timedelta(minutes=minute),
                      D(o), D(h), D(lo), D(c), D(v), D(vwap), trade_count=minute + 1)  # fmt: skip

    first = [
        candle(0, "10", "11", "9.5", "10.5", "2", "10.25"),
        candle(1, "10.5", "12", "10", "11.5", "6", "11"),
        candle(5, "11.5", "11.5", "11", "11", "1", "11.25"),
    ]
    await ts.store.write_candles(first)
    revised = candle(1, "10.5", "12.5", "10", "12", "8", "11.5")
    await ts.store.write_candles([revised])
    await ts.store.flush(10)
    got = await ts.store.read_candles(ts.pair_id, Window.M1, T0, T0 + timedelta(hours=1))
    assert got == [first[0], revised, first[2]]
    assert await ts.store.read_candles(ts.pair_id, Window.M5, T0, T0 + timedelta(hours=1)) == []
    five = await ts.store.rollup_candles(
        ts.pair_id, Window.M1, Window.M5, T0, T0 + timedelta(hours=1)
    )
    assert five[0] == Candle(ts.pair_id, Window.M5, T0, D(10), D("12.5"), D("9.5"), D(12),
                             D(10), D("11.25"), trade_count=3)  # fmt: skip
    assert [c.bucket_at for c in five] == [T0, T0 + timedelta(minutes=5)]


async def test_retention_deletes_only_older_points_of_that_measurement(ts: Harness) -> None:
    old, keep = ts.m("ticks"), ts.m("audit")
    now = T0 + timedelta(days=10)
    await ts.store.write(
        [
            Point(old, {}, {"v": D(1)}, now - timedelta(days=8)),
            Point(old, {}, {"v": D(2)}, now - timedelta(days=1)),
            Point(keep, {}, {"v": D(3)}, now - timedelta(days=8)),
        ]
    )
    await ts.store.write_candles(
        [Candle(ts.pair_id, Window.M1, now - timedelta(days=40), D(1), D(1), D(1), D(1), D(1)),
         Candle(ts.pair_id, Window.M1, now - timedelta(days=2), D(1), D(1), D(1), D(1), D(1))]
    )  # fmt: skip
    await ts.store.flush(10)
    await ts.store.set_retention(old, timedelta(days=7))
    await ts.store.set_retention("candles", timedelta(days=30))
    deleted = await ts.store.apply_retention(now)
    assert deleted in (-1, 2)  # InfluxDB deletes by predicate and cannot count
    span = (now - timedelta(days=60), now)
    assert [p.fields["v"] for p in await ts.store.query_range(old, *span)] == [D(2)]
    assert [p.fields["v"] for p in await ts.store.query_range(keep, *span)] == [D(3)]
    candles = await ts.store.read_candles(ts.pair_id, Window.M1, *span)
    assert [c.bucket_at for c in candles] == [now - timedelta(days=2)]


async def test_health_reports_ok(ts: Harness) -> None:
    health = ts.store.health()
    assert health.state == "ok"
    assert health.dropped_points == 0


def test_points_refuse_naive_times_floats_and_empty_fields() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Point("m", {}, {"v": D(1)}, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="finite Decimal"):
        Point("m", {}, {"v": 1.5}, T0)  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="at least one field"):
        Point("m", {}, {}, T0)


@pytest.mark.parametrize("url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_relational_sums_are_decimal_exact(url: str, tmp_path: Path) -> None:
    """InfluxDB stores float64 (0.1 + 0.2 != 0.3 there); the relational store must not."""
    async with AsyncExitStack() as stack:
        store, _ = await _relational(await _db_url(url, stack, tmp_path))
        await _exact_sums(store)
        await store.engine.dispose()


async def _exact_sums(store: RelationalTimeSeries) -> None:
    values = ["0.1", "0.2", "0.000000000000000001", "123456789012345.123456789"]
    await store.write([Point("fees", {}, {"v": D(v)}, T0 + timedelta(seconds=i))
                       for i, v in enumerate(values)])  # fmt: skip
    rows = await store.query_windows(
        "fees", T0, T0 + timedelta(hours=1), Window.H1, {"s": ("v", Aggregate.SUM)}
    )
    assert rows[0].values["s"] == D("123456789012345.423456789000000001")
    raw = await store.query_range("fees", T0, T0 + timedelta(hours=1))
    assert [p.fields["v"] for p in raw] == [D(v) for v in values]


async def test_factory_picks_influx_only_when_a_url_is_set(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'f.db'}"
    engine = make_engine(url)
    store = await open_timeseries(Settings(database_url=url), engine)
    assert isinstance(store, RelationalTimeSeries)
    server = InfluxStandIn()
    await server.start()
    settings = Settings(
        database_url=url, influx_url=server.url, influx_token=server.token, influx_org=server.org
    )
    influx = await open_timeseries(settings, engine)
    assert isinstance(influx, InfluxTimeSeries) and influx.health().state == "ok"
    await influx.close()
    await server.stop()
    await engine.dispose()
