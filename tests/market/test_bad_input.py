"""Bad market input is rejected with a logged reason, counted, and the feed goes on.

Covers the market pipeline (``MarketPipeline.apply``) and the Aptos read-side adapters that
sit in front of it (swap decoding, account-transaction pages, Decibel depth). Chain and
Decibel bodies are the stand-in fixtures of tests/fixtures/aptos/ (no Aptos node or Decibel
API is reachable from this machine), built in the shapes documented by the Aptos node API
(aptos-core api/doc/spec.yaml) and docs.decibel.trade.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from oneclick_tui.domain.market_events import BookDelta, BookSide, BookSnapshot
from oneclick_tui.services.aptos.client import FullnodeClient, MalformedResponse
from oneclick_tui.services.aptos.decibel import DecibelDepthAdapter
from oneclick_tui.services.aptos.swaps import SwapDecoder
from oneclick_tui.services.engine.catalog import Catalog, PairInfo
from oneclick_tui.services.market import MarketPipeline
from oneclick_tui.services.sim.pairs import PAIRS, pair_by_symbol

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aptos"
LEAD = "0x5a1ec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffee5eed01"
AT = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
PAIR = "APT/USDC"
D = Decimal


@pytest.fixture
def pipeline() -> MarketPipeline:
    p = MarketPipeline(Catalog({s.symbol: PairInfo(i, s) for i, s in enumerate(PAIRS, 1)}, {}))
    p.apply([BookSnapshot(PAIR, 10, ((D("8.4490"), D(5)),), ((D("8.4510"), D(4)),), AT)])
    return p


def _delta(seq: int, price: Any, size: Any, pair: str = PAIR) -> BookDelta:
    return BookDelta(pair, seq, BookSide.BID, price, size, AT)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (_delta(11, D("8.4480"), D(-1)), "size must be a non-negative"),
        (_delta(11, D("8.4480"), "abc"), "size must be a non-negative finite Decimal"),
        (_delta(11, "8.4480", D(1)), "price must be a positive finite Decimal"),
        (_delta(11, D("8.4480"), D("NaN")), "finite"),
        (_delta(11, D(-2), D(1)), "price must be a positive"),
        (_delta(11, D("8.4480"), D(1), pair="DOGE/USDC"), "DOGE/USDC"),
        (BookSnapshot("DOGE/USDC", 1, (), (), AT), "DOGE/USDC"),
        (BookSnapshot(PAIR, 12, ((D("8.4"), D(-1)),), (), AT), "size must be a non-negative"),
    ],
)
def test_pipeline_rejects_counts_logs_and_keeps_going(
    pipeline: MarketPipeline, caplog: pytest.LogCaptureFixture, bad: Any, reason: str
) -> None:
    good = _delta(11, D("8.4480"), D(2))
    pipeline.apply([bad, good])
    assert pipeline.stats.rejected == 1
    assert "feed message rejected" in caplog.text and reason in caplog.text
    book = pipeline.books[PAIR]
    assert book.seq == 11 and book.best_bid() == (D("8.4490"), D(5))  # the good delta applied
    assert book.size_at(BookSide.BID, D("8.4480")) == D(2)
    assert not book.needs_resync


def test_pipeline_counts_a_message_that_is_not_a_market_event(pipeline: MarketPipeline) -> None:
    pipeline.apply([{"type": "delta", "seq": "x"}])  # type: ignore[list-item]
    assert pipeline.stats.rejected == 1


def test_swap_decoder_rejects_unknown_pair_and_bad_sizes_then_decodes_the_next() -> None:
    txs = json.loads((FIXTURES / "account_transactions.json").read_text())
    decoder = SwapDecoder([pair_by_symbol("APT/USDT")])  # APT/USDC is not one of our pairs here
    assert decoder.decode_transaction(txs[0], LEAD) is None  # USDC->APT: unknown pair
    negative = copy.deepcopy(txs[2])
    negative["events"][1]["data"]["amount_in"] = "-500000000"
    assert decoder.decode_transaction(negative, LEAD) is None
    words = copy.deepcopy(txs[2])
    words["events"][1]["data"]["amount_out"] = "forty-two"
    assert decoder.decode_transaction(words, LEAD) is None
    assert decoder.rejected == {"unknown_pair": 1, "malformed": 2}
    trade = decoder.decode_transaction(txs[2], LEAD)  # the feed goes on
    assert trade is not None and trade.pair == "APT/USDT"


async def test_truncated_fullnode_response_is_refused() -> None:
    body = (FIXTURES / "account_transactions_truncated.json").read_bytes()
    client = FullnodeClient(
        "https://fullnode.test/v1",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=body)),
    )
    with pytest.raises(MalformedResponse, match="not valid JSON"):
        await client.account_transactions(LEAD, start=0)


def test_decibel_bad_messages_never_reach_the_pipeline(pipeline: MarketPipeline) -> None:
    wbtc = pair_by_symbol("WBTC/USDC")
    market = "0x" + "b7c0" * 16
    adapter = DecibelDepthAdapter({market: wbtc})
    good = (FIXTURES / "decibel_depth.json").read_bytes()
    feed = [
        good[:60],  # truncated
        b'{"market": "0xfeed", "bids": [], "asks": [], "unix_ms": 1}',  # unknown pair
        b'{"hello": "world"}',  # malformed
        (FIXTURES / "decibel_depth_bad_levels.json").read_bytes(),  # bad levels dropped
        good,
    ]
    snapshots = [s for s in map(adapter.parse, feed) if s is not None]
    pipeline.apply(snapshots)
    assert len(snapshots) == 2 and pipeline.stats.rejected == 0
    assert adapter.rejected_messages == {"truncated": 1, "unknown_pair": 1, "malformed": 1}
    assert sum(adapter.rejected_levels.values()) == 8
    assert pipeline.books["WBTC/USDC"].best_ask() == (D("96500.1"), D("0.4"))
