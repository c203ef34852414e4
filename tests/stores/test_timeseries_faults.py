"""Faults of the InfluxDB backend, and the strictness of the InfluxDB STAND-IN.

These run against tests/stores/influx_standin.py, a stand-in server: no InfluxDB 2.x can run on
the build machine (Debian ships 1.6.7 without /api/v2). The stand-in can be stopped and
restarted on the same port (an outage), told to answer 5xx, drop connections or delay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from oneclick_tui.stores.timeseries import Point, TimeSeriesUnavailable, Window
from oneclick_tui.stores.timeseries.influx import InfluxTimeSeries
from tests.stores.influx_standin import InfluxStandIn, LineProtocolError, parse_line

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
FAST = {"flush_interval": 0.005, "backoff_initial": 0.02, "backoff_max": 0.1, "timeout_ms": 1000}


def points(n: int, start: int = 0) -> list[Point]:
    return [
        Point("ticks", {"pair": "APT-USDC"}, {"v": Decimal(i)}, T0 + timedelta(seconds=i))
        for i in range(start, start + n)
    ]


@pytest.fixture
async def standin() -> AsyncIterator[InfluxStandIn]:
    server = InfluxStandIn()
    await server.start()
    yield server
    await server.stop()


async def open_store(server: InfluxStandIn, **kwargs: object) -> InfluxTimeSeries:
    options = {**FAST, **kwargs}
    return await InfluxTimeSeries.open(
        server.url, server.token, server.org, server.bucket, **options
    )


async def _until(check: Callable[[], bool], within: float = 10.0) -> None:
    """Poll (bounded) for what the background flusher will do: load only delays it."""
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_unreachable_at_start_is_degraded_then_delivers(standin: InfluxStandIn) -> None:
    await standin.stop()
    store = await open_store(standin)
    health = store.health()
    assert health.state == "degraded" and standin.url in health.detail
    with pytest.raises(TimeSeriesUnavailable, match=standin.url.replace(".", r"\.")):
        await store.query_range("ticks", T0, T0 + timedelta(hours=1))
    await store.write(points(20))
    await _until(lambda: store.health().pending_points == 20)
    await standin.start()
    await store.flush(5)
    assert standin.count() == 20
    assert store.health().state == "ok"
    await store.close()


async def test_outage_mid_run_buffers_and_delivers_everything(standin: InfluxStandIn) -> None:
    store = await open_store(standin)
    await store.write(points(10))
    await store.flush(5)
    await standin.stop()
    await store.write(points(30, start=10))
    await _until(lambda: store.health().state == "degraded")
    assert store.health().pending_points == 30
    await standin.start()
    await store.flush(5)
    assert standin.count() == 40
    assert store.health().dropped_points == 0
    got = await store.query_range("ticks", T0, T0 + timedelta(hours=1))
    assert [p.fields["v"] for p in got] == [Decimal(i) for i in range(40)]
    await store.close()


async def test_overflow_drops_the_oldest_counts_and_logs(
    standin: InfluxStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    await standin.stop()
    store = await open_store(standin, max_buffered_points=10, batch_size=5)
    with caplog.at_level(logging.WARNING):
        await store.write(points(25))
        await _until(lambda: store.health().dropped_points == 15)
    assert store.health().dropped_points == 15
    assert store.health().pending_points == 10
    assert any("dropped 15 oldest" in r.getMessage() for r in caplog.records)
    await standin.start()
    await store.flush(5)
    got = await store.query_range("ticks", T0, T0 + timedelta(hours=1))
    assert [p.fields["v"] for p in got] == [Decimal(i) for i in range(15, 25)]
    await store.close()


async def test_server_errors_and_dropped_connections_are_retried(standin: InfluxStandIn) -> None:
    store = await open_store(standin)
    standin.fail_status = 503
    await store.write(points(5))
    await _until(lambda: store.health().state == "degraded")
    assert "503" in store.health().detail
    standin.fail_status = None
    standin.drop_connections = True
    await asyncio.sleep(0.1)
    assert store.health().pending_points == 5
    standin.drop_connections = False
    await store.flush(5)
    assert standin.count() == 5 and store.health().state == "ok"
    await store.close()


async def test_slow_server_times_out_and_is_retried(standin: InfluxStandIn) -> None:
    store = await open_store(standin, timeout_ms=100)
    standin.delay = 0.3
    await store.write(points(3))
    await _until(lambda: store.health().state == "degraded")
    standin.delay = 0
    await store.flush(5)
    assert standin.count() == 3
    await store.close()


async def test_rejected_batches_are_counted_not_retried(
    standin: InfluxStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    store = await InfluxTimeSeries.open(standin.url, "wrong", standin.org, standin.bucket, **FAST)
    with caplog.at_level(logging.ERROR):
        await store.write(points(4))
        await store.flush(5)
    assert store.health().extra["rejected"] == 4
    assert standin.write_requests == 1
    assert any("rejected 4" in r.getMessage() for r in caplog.records)
    await store.close()


async def test_close_counts_what_could_not_be_delivered(standin: InfluxStandIn) -> None:
    await standin.stop()
    store = await open_store(standin)
    await store.write(points(7))
    await store.close(timeout=0.05)
    assert store.health().dropped_points == 7
    assert store.health().state == "closed"


# -- the stand-in is strict like the real server ------------------------------------------------


async def _post(
    server: InfluxStandIn, path: str, body: str, token: str | None = "ok", **q: str
) -> tuple[int, Any]:
    headers = {"Authorization": f"Token {server.token if token == 'ok' else token}"}
    if token is None:
        headers = {}
    params = {"org": server.org, "bucket": server.bucket, **q}
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.url + path, data=body, headers=headers, params=params) as resp,
    ):
        text = await resp.text()
        return resp.status, (await resp.json() if resp.content_type == "application/json" else text)


async def test_standin_write_errors_match_the_real_api(standin: InfluxStandIn) -> None:
    assert await _post(standin, "/api/v2/write", "m v=1 1") == (204, "")
    status, body = await _post(standin, "/api/v2/write", "m v=1", token=None)
    assert (status, body["code"]) == (401, "unauthorized")
    status, body = await _post(standin, "/api/v2/write", "m v=1", bucket="nope")
    assert (status, body["code"]) == (404, "not found")
    status, body = await _post(standin, "/api/v2/write", "m v=1", precision="minutes")
    assert (status, body["code"]) == (400, "invalid")
    status, body = await _post(standin, "/api/v2/write", "m v=1\nm,t=1\nm v=2")
    assert (status, body["code"]) == (400, "invalid") and "m,t=1" in body["message"]
    assert standin.count() == 1  # the whole malformed batch was refused


def test_standin_parses_line_protocol_escapes_and_types() -> None:
    line = parse_line(r'my\ m\,x,t\ k=a\,b\=c f\=1=1.5e3,i=-3i,u=7u,s="q\"uo,te x",b=T 1700000000')
    assert line.measurement == "my m,x"
    assert line.tags == {"t k": "a,b=c"}
    assert line.fields == {
        "f=1": ("double", 1500.0),
        "i": ("long", -3),
        "u": ("unsignedLong", 7),
        "s": ("string", 'q"uo,te x'),
        "b": ("boolean", True),
    }
    assert line.timestamp == 1700000000
    assert parse_line("m v=1").timestamp is None
    for bad in ["m", "m v=", "m v=1x", 'm s="open', "m,t v=1", "m v=1 12ab", "m v=-1u", ",t=1 v=1"]:
        with pytest.raises(LineProtocolError):
            parse_line(bad)


async def test_standin_query_returns_annotated_csv(
    standin: InfluxStandIn,
) -> None:
    await _post(standin, "/api/v2/write", "px,pair=A v=1.5 60000000000\npx,pair=A v=2 90000000000")
    flux = (
        'from(bucket: "oneclick") |> range(start: 1970-01-01T00:00:00Z, stop: 1970-01-01T01:00:00Z)'
        ' |> filter(fn: (r) => r._measurement == "px")'
        ' |> aggregateWindow(every: 1m, fn: max, createEmpty: false) |> yield(name: "hi")'
    )
    headers = {"Authorization": f"Token {standin.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{standin.url}/api/v2/query",
            params={"org": standin.org},
            json={"query": flux, "dialect": {"annotations": ["datatype", "group", "default"]}},
            headers=headers,
        ) as resp,
    ):
        text = await resp.text()
    assert resp.status == 200
    assert text.splitlines()[0] == (
        "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,"
        "string,string,string"
    )
    assert ",,0,1970-01-01T00:00:00Z,1970-01-01T01:00:00Z,1970-01-01T00:02:00Z,2,v,px,A" in text
    assert text.splitlines()[2] == ",".join(["#default", "hi", *[""] * 8])
    assert text.endswith("\r\n\r\n")  # the real server ends each table block with a blank line
    status, body = await _post(standin, "/api/v2/query", "not json")
    assert status == 400 and body["code"] == "invalid"


def test_candle_window_values_are_exact_enum() -> None:
    assert Window("5m").delta == timedelta(minutes=5)
    assert Window.H1.floor(T0 + timedelta(minutes=59)) == T0
