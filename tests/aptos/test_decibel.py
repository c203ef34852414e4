"""Decibel depth -> BookSnapshot, bad levels dropped and counted, snapshots fed to the pipeline.

The bodies in tests/fixtures/aptos/decibel_*.json are stand-ins (Decibel's API is not
reachable from this machine) in the shapes documented at docs.decibel.trade and modelled by
Decibel's own Python SDK (decibel-python-sdk 0.3.0, read/_market_depth.py):
``/api/v1/depth`` and the ``depth:{market}:{agg}`` WebSocket topic send
``{"market", "bids": [{"price", "size"}], "asks", "unix_ms"}`` (JSON numbers; the WebSocket
adds ``"topic"``); ``/api/v1/orderbook`` sends ``{"ticker_id", "bids": [["p", "q"]], "asks",
"timestamp"}`` (strings, CoinGecko aggregator format).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from oneclick_tui.domain.market_events import BookSnapshot
from oneclick_tui.services.aptos.decibel import (
    DecibelDepthAdapter,
    DecibelRestClient,
    depth_topic,
)
from oneclick_tui.services.engine.catalog import Catalog, PairInfo
from oneclick_tui.services.market import MarketPipeline
from oneclick_tui.services.sim.pairs import pair_by_symbol

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aptos"
MARKET = "0x" + "b7c0" * 16
WBTC = pair_by_symbol("WBTC/USDC")


@pytest.fixture
def adapter() -> DecibelDepthAdapter:
    return DecibelDepthAdapter({MARKET: WBTC, "BTC-PERP": WBTC})


def _raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_depth_body_becomes_an_exact_snapshot(adapter: DecibelDepthAdapter) -> None:
    snap = adapter.parse(_raw("decibel_depth.json"))
    assert isinstance(snap, BookSnapshot)
    assert snap.pair == "WBTC/USDC"
    assert snap.bids[0] == (Decimal("96499.9"), Decimal("0.5"))  # best first, exact decimals
    assert [p for p, _ in snap.bids] == sorted((p for p, _ in snap.bids), reverse=True)
    assert snap.asks[-1] == (Decimal("96505.5"), Decimal("0.00012"))  # no float round-trip
    assert snap.seq == 1_795_550_490_000
    assert snap.at == datetime(2026, 11, 24, 20, 1, 30, tzinfo=UTC)
    assert adapter.rejected == 0


def test_websocket_and_aggregator_shapes(adapter: DecibelDepthAdapter) -> None:
    ws = adapter.parse(_raw("decibel_ws_depth.json"))
    assert ws is not None and ws.bids == ((Decimal("96510.0"), Decimal("0.75")),)
    ob = adapter.parse(_raw("decibel_orderbook.json"))
    assert ob is not None and ob.asks[0] == (Decimal("96500.1"), Decimal("0.4"))
    assert depth_topic(MARKET, 10) == f"depth:{MARKET}:10"
    with pytest.raises(ValueError):
        depth_topic(MARKET, 3)


def test_bad_levels_are_dropped_counted_and_logged(
    adapter: DecibelDepthAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    snap = adapter.parse(_raw("decibel_depth_bad_levels.json"))
    assert snap is not None  # the good levels still make a book
    assert snap.bids == ((Decimal("96499.9"), Decimal("0.5")),)
    assert snap.asks == ((Decimal("96500.1"), Decimal("0.4")),)
    # bids: "abc", negative size, off tick, duplicate price, missing size, wrong shape;
    # asks: zero price, boolean size
    assert adapter.rejected_levels == {"bid": 6, "ask": 2}
    assert "not a number" in caplog.text and "off tick" in caplog.text


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (_raw("decibel_depth.json")[:100], "truncated"),
        (b"[]", "malformed"),
        (b'{"market": "0xdead", "bids": [], "asks": [], "unix_ms": 1}', "unknown_pair"),
        (b'{"market": "%s", "bids": {}, "asks": [], "unix_ms": 1}' % MARKET.encode(), "malformed"),
        (b'{"market": "%s", "bids": [], "asks": [], "unix_ms": -1}' % MARKET.encode(), "malformed"),
        (
            b'{"market": "%s", "bids": [{"price": 2, "size": 1}], '
            b'"asks": [{"price": 1, "size": 1}], "unix_ms": 5}' % MARKET.encode(),
            "crossed",
        ),
    ],
)
def test_unusable_messages_are_rejected_and_the_feed_goes_on(
    adapter: DecibelDepthAdapter, body: bytes, kind: str
) -> None:
    assert adapter.parse(body) is None
    assert adapter.rejected_messages == {kind: 1}
    assert adapter.parse(_raw("decibel_depth.json")) is not None  # the next one is fine


def test_snapshot_feeds_the_market_pipeline(adapter: DecibelDepthAdapter) -> None:
    pipeline = MarketPipeline(Catalog({"WBTC/USDC": PairInfo(1, WBTC)}, {}))
    snap = adapter.parse(_raw("decibel_depth.json"))
    assert snap is not None
    pipeline.apply([snap])
    book = pipeline.books["WBTC/USDC"]
    assert not book.needs_resync and book.seq == snap.seq
    assert book.best_bid() == (Decimal("96499.9"), Decimal("0.5"))
    assert pipeline.stats.rejected == 0


async def test_rest_client_sends_key_and_market() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=_raw("decibel_depth.json"))

    client = DecibelRestClient(
        "https://api.testnet.aptoslabs.com/decibel",
        "node-key",
        transport=httpx.MockTransport(handle),
    )
    body = await client.depth(MARKET, limit=50)
    await client.close()
    assert DecibelDepthAdapter({MARKET: WBTC}).parse(body) is not None
    assert seen[0].headers["Authorization"] == "Bearer node-key"
    assert seen[0].url.path == "/decibel/api/v1/depth"
    assert dict(seen[0].url.params) == {"market": MARKET, "limit": "50"}
