"""The lead-trader watcher: paging, a durable cursor, restarts, failed and malformed input.

The "node" is a stand-in (no Aptos node is reachable from this machine): an httpx
MockTransport serving tests/fixtures/aptos/account_transactions.json exactly as
``GET /v1/accounts/{address}/transactions?start=&limit=`` does (aptos-core api/doc/spec.yaml):
the account's committed transactions from sequence number ``start``, oldest first, at most
``limit``. Every test runs on SQLite and on the real PostgreSQL (``fresh_db_url``).
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.domain.market_events import LeadTrade
from oneclick_tui.services.aptos.client import FullnodeClient
from oneclick_tui.services.aptos.swaps import SwapDecoder
from oneclick_tui.services.aptos.watcher import AccountWatcher
from oneclick_tui.services.sim.pairs import PAIRS
from oneclick_tui.stores.db import ensure_schema, make_engine, session_factory
from oneclick_tui.stores.models import ChainCursor

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aptos"
LEAD = "0x5a1ec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffee5eed01"


@dataclass
class StandinNode:
    """Serves the fixture transactions by (start, limit); ``faults`` answer one request each."""

    txs: list[dict[str, Any]] = field(
        default_factory=lambda: json.loads((FIXTURES / "account_transactions.json").read_text())
    )
    faults: dict[int, httpx.Response] = field(default_factory=dict)
    requests: list[tuple[int, int]] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/transactions"):  # GET /v1/accounts/{address}
            return httpx.Response(200, content=(FIXTURES / "account.json").read_bytes())
        start = int(request.url.params.get("start", "0"))
        limit = int(request.url.params["limit"])
        self.requests.append((start, limit))
        if start in self.faults:
            return self.faults.pop(start)
        page = [t for t in self.txs if int(t["sequence_number"]) >= start][:limit]
        return httpx.Response(200, json=page)

    def client(self) -> FullnodeClient:
        return FullnodeClient(
            "https://fullnode.test/v1", transport=httpx.MockTransport(self.handle)
        )


@pytest.fixture
async def sessions(fresh_db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await ensure_schema(fresh_db_url)
    engine = make_engine(fresh_db_url)
    yield session_factory(engine)
    await engine.dispose()


def _watcher(
    node: StandinNode, sessions: async_sessionmaker[AsyncSession], replay: bool = True
) -> AccountWatcher:
    return AccountWatcher(
        node.client(), sessions, SwapDecoder(PAIRS), LEAD, page_size=2, replay_history=replay
    )


class Sink:
    """A handler that records what it was given (and can be told to fail once)."""

    def __init__(self) -> None:
        self.trades: list[LeadTrade] = []
        self.fail_next = False

    async def __call__(self, session: AsyncSession, trades: list[LeadTrade]) -> None:
        session.add(ChainCursor(source=f"marker:{trades[0].tx_hash}", cursor="{}"))
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("copy engine crashed")
        self.trades.extend(trades)


async def test_pages_through_skips_failed_and_rejects_unknown_tokens(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    node, sink = StandinNode(), Sink()
    watcher = _watcher(node, sessions)
    result = await watcher.poll_once(sink)
    assert result.error is None and result.next_sequence == 6
    assert [(t.pair, t.side.value, t.amount) for t in sink.trades] == [
        ("APT/USDC", "buy", Decimal("11.83431952")),
        ("APT/USDT", "sell", Decimal(5)),
        ("APT/USDC", "sell", Decimal(2)),
    ]
    assert node.requests == [(0, 2), (2, 2), (4, 2), (6, 2)]
    assert watcher.stats.failed_skipped == 1 and watcher.stats.transactions == 6
    assert watcher.decoder.rejected == {"unknown_token": 1}
    async with sessions() as session:
        row = await session.get(ChainCursor, watcher.source)
    assert row is not None
    assert json.loads(row.cursor) == {"next_sequence_number": 6, "last_version": 2_900_000_777}


async def test_restart_resumes_after_the_last_processed_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    node, first = StandinNode(), Sink()
    await _watcher(node, sessions).poll_once(first)
    assert len(first.trades) == 3

    later = copy.deepcopy(node.txs[0])  # the lead trades again after our restart
    later.update(sequence_number="6", version="2900000900", hash="0x" + "ab" * 32)
    node.txs.append(later)
    second = Sink()
    restarted = _watcher(node, sessions)  # a new process: state only from chain_cursors
    assert await restarted.next_sequence() == 6
    await restarted.poll_once(second)
    assert [t.tx_hash for t in second.trades] == ["0x" + "ab" * 32]
    assert (await restarted.poll_once(second)).trades == []  # caught up: nothing repeats


async def test_handler_failure_rolls_back_its_writes_and_the_cursor_together(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    node, sink = StandinNode(), Sink()
    sink.fail_next = True
    watcher = _watcher(node, sessions)
    with pytest.raises(RuntimeError, match="crashed"):
        await watcher.poll_once(sink)
    assert await watcher.next_sequence() == 0
    async with sessions() as session:
        assert await session.get(ChainCursor, f"marker:{node.txs[0]['hash']}") is None
    await _watcher(node, sessions).poll_once(sink)  # after the "restart": nothing missed
    assert [t.tx_hash for t in sink.trades] == [node.txs[i]["hash"] for i in (0, 2, 5)]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (
            httpx.Response(
                200, content=(FIXTURES / "account_transactions_truncated.json").read_bytes()
            ),
            "not valid JSON",
        ),
        (
            httpx.Response(200, content=(FIXTURES / "account_transactions_gap.json").read_bytes()),
            "sequence 4, expected 3",
        ),
        (httpx.Response(503, json={"message": "busy", "error_code": "internal_error"}), "503"),
    ],
)
async def test_bad_page_is_rejected_whole_and_retried_next_poll(
    sessions: async_sessionmaker[AsyncSession], fault: httpx.Response, reason: str
) -> None:
    node, sink = StandinNode(), Sink()
    node.faults[2] = fault  # the second page comes back broken, once
    watcher = _watcher(node, sessions)
    result = await watcher.poll_once(sink)
    assert result.error is not None and reason in result.error
    assert result.next_sequence == 2 and await watcher.next_sequence() == 2
    assert sum(watcher.stats.rejected_pages.values()) == 1
    assert len(sink.trades) == 1  # page one was complete and delivered

    retried = await watcher.poll_once(sink)
    assert retried.error is None and retried.next_sequence == 6
    assert [t.tx_hash for t in sink.trades] == [node.txs[i]["hash"] for i in (0, 2, 5)]


async def test_page_with_foreign_sender_or_bad_fields_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    node = StandinNode()
    bad = copy.deepcopy(node.txs[:2])
    bad[1]["sender"] = "0x1"
    node.faults[0] = httpx.Response(200, json=bad)
    watcher = _watcher(node, sessions)
    result = await watcher.poll_once()
    assert result.error is not None and "not the watched account" in result.error
    assert await watcher.next_sequence() == 0

    bad = copy.deepcopy(node.txs[:2])
    del bad[0]["timestamp"]
    node.faults[0] = httpx.Response(200, json=bad)
    result = await watcher.poll_once()
    assert result.error is not None and "missing timestamp" in result.error
    assert watcher.stats.rejected_pages == {"malformed": 2}


async def test_new_follow_starts_at_the_current_sequence_number_not_history(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    node, sink = StandinNode(), Sink()  # account.json: the lead has sent 4 transactions
    watcher = _watcher(node, sessions, replay=False)
    assert await watcher.next_sequence() is None
    result = await watcher.poll_once(sink)
    assert node.requests[0] == (4, 2)  # never asked for sequence numbers 0-3
    assert [t.tx_hash for t in sink.trades] == [node.txs[5]["hash"]]
    assert result.next_sequence == 6


async def test_run_polls_until_stopped(sessions: async_sessionmaker[AsyncSession]) -> None:
    node, stop = StandinNode(), asyncio.Event()
    seen: list[LeadTrade] = []

    calls = 0

    async def handler(session: AsyncSession, trades: list[LeadTrade]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database went away")  # rolled back, retried next poll
        seen.extend(trades)
        if len(seen) >= 3:
            stop.set()

    watcher = _watcher(node, sessions)
    await asyncio.wait_for(watcher.run(handler, interval_s=0.01, stop=stop), 10)
    assert [t.tx_hash for t in seen] == [node.txs[i]["hash"] for i in (0, 2, 5)]
    assert watcher.stats.handler_errors == 1
