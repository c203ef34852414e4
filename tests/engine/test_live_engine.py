"""`oneclick engine --network testnet`: a followed trader's swap on chain becomes a copy.

Aptos and Decibel are stand-ins (tests/aptos_standin.py): this machine cannot reach either,
so local aiohttp servers answer in the real APIs' shapes. The fullnode serves
``GET /v1`` (chain id 2, testnet) and ``GET /v1/accounts/{a}/transactions`` with transactions
recorded in tests/fixtures/aptos/account_transactions.json (a Hyperion ``SwapEventV3`` buy
of APT with USDC, and so on), re-stamped as the followed trader's next sequence number;
Decibel serves its markets, the APT/USD depth in tests/fixtures/aptos/decibel_depth_apt.json
and its WebSocket. Everything else is real: the engine, the copy engine, and the database,
SQLite and PostgreSQL (every test runs on both).

What a user checks: the lead trade is recorded with its transaction hash and ledger version,
his copy is filled against the Decibel book, a restart neither re-copies nor misses a trade,
bad chain answers are counted while the engine goes on, a node outage is survived, and the
CLI starts, says it is paper trading, and stops cleanly. Waits are bounded polls.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.config import AptosSettings, Settings
from oneclick_tui.services.engine.live_runner import LiveEngineRunner
from oneclick_tui.services.follows import FollowService
from oneclick_tui.services.runtime import open_services
from oneclick_tui.stores import migrate
from oneclick_tui.stores.bus import topics
from oneclick_tui.stores.db import is_sqlite, make_engine, session_factory
from oneclick_tui.stores.live import open_bus, open_cache
from oneclick_tui.stores.models import AuditLog, ChainCursor, Position, Trade
from oneclick_tui.stores.timeseries_factory import open_timeseries
from tests.aptos_standin import (
    FIXTURES,
    HYPERION_BUY_APT_USDC,
    HYPERION_SELL_APT_USDC,
    THALA_SELL_APT_USDT,
    StandinDecibel,
    StandinNode,
)
from tests.engine.helpers import PYTHON, REPO, cli_env

LEAD = "0x" + "1ead" * 16
CURSOR = f"aptos:account_tx:{LEAD}"
CASH = D(1_000)


async def eventually(
    check: Callable[[], Awaitable[Any] | Any], within: float = 30.0, what: str = ""
) -> Any:
    """Poll ``check()`` (awaited if async) until truthy and return it; a bounded wait."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what or check}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def chain() -> AsyncIterator[tuple[StandinNode, StandinDecibel]]:
    node, decibel = StandinNode(chain_id=2), StandinDecibel()
    await node.start()
    await decibel.start()
    yield node, decibel
    await decibel.stop()
    await node.stop()


@pytest.fixture
async def db(fresh_db_url: str) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    if not is_sqlite(fresh_db_url):
        await migrate.upgrade(fresh_db_url)  # what `oneclick db upgrade` does
    engine = make_engine(fresh_db_url)
    yield fresh_db_url, session_factory(engine)
    await engine.dispose()


def _settings(url: str, node: StandinNode, decibel: StandinDecibel, **aptos: Any) -> Settings:
    return Settings(
        database_url=url,
        network="testnet",
        aptos=AptosSettings(
            fullnode_url=node.base_url,
            decibel_url=decibel.base_url,
            decibel_ws_url=decibel.ws_url,
            poll_interval_s=0.05,
            **aptos,
        ),
    )


async def _follow_lead(settings: Settings) -> int:
    """The trader (by address) and the local user's follow of him, with paper cash."""
    services = await open_services(settings)
    try:
        await services.repos.traders.register(LEAD, "ChainLead", risk_category="low")
        follow = await FollowService(services).follow(LEAD, D(10))
        assert follow.status == "active"
        await services.repos.positions.upsert(
            services.user.id, "USDC", quantity=CASH, average_cost=D(1)
        )
        return services.user.id
    finally:
        await services.close()


@asynccontextmanager
async def live_engine(settings: Settings) -> AsyncIterator[LiveEngineRunner]:
    """The live engine running in this process (what `oneclick engine` runs), stopped after."""
    services = await open_services(settings)
    cache, bus = await open_cache(settings), await open_bus(settings)
    timeseries = await open_timeseries(settings, services.engine)
    runner = LiveEngineRunner(
        services, bus, cache, timeseries, refresh_every_s=0.2, max_backoff_s=0.3
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:

        async def started() -> bool:
            if task.done():
                task.result()  # a start failure fails the test with its reason
            return runner.state == "running"

        await eventually(started, what="engine start")
        yield runner
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await timeseries.close()
        await bus.close()
        await cache.close()
        await services.close()


async def _cursor(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any] | None:
    async with sessions() as s:
        row = await s.get(ChainCursor, CURSOR)
    return None if row is None else json.loads(row.cursor)


async def _lead(sessions: async_sessionmaker[AsyncSession], tx_hash: str) -> Trade | None:
    async with sessions() as s:
        return await s.scalar(select(Trade).where(Trade.tx_hash == tx_hash))


async def _records(sessions: async_sessionmaker[AsyncSession], lead_id: int) -> list[Trade]:
    """Every copy or skip recorded for one lead trade."""
    async with sessions() as s:
        rows = await s.scalars(select(Trade).where(Trade.copy_of_trade_id == lead_id))
        return list(rows)


def _rows(records: list[Trade]) -> list[tuple[Any, ...]]:
    return [(r.id, r.user_id, r.status, r.amount, r.price, r.skip_reason) for r in records]


async def _settled(
    sessions: async_sessionmaker[AsyncSession], tx_hash: str
) -> tuple[Trade, list[Trade]] | None:
    """The lead trade and its records once none of them is pending any more."""
    lead = await _lead(sessions, tx_hash)
    if lead is None:
        return None
    records = await _records(sessions, lead.id)
    if not records or any(r.status in ("pending", "submitted") for r in records):
        return None
    return lead, records


async def _counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int, D]:
    """Trade rows, audit rows, and the follower's USDC: what a double copy would change."""
    async with sessions() as s:
        trades = await s.scalar(select(func.count()).select_from(Trade))
        audits = await s.scalar(select(func.count()).select_from(AuditLog))
        usdc = await s.scalar(select(Position.quantity).where(Position.asset == "USDC"))
    return int(trades or 0), int(audits or 0), D(usdc or 0)


async def test_follow_copy_restart_exactly_once(
    chain: tuple[StandinNode, StandinDecibel], db: tuple[str, async_sessionmaker[AsyncSession]]
) -> None:
    node, decibel = chain
    url, sessions = db
    settings = _settings(url, node, decibel)
    user = await _follow_lead(settings)

    async with live_engine(settings) as runner:
        await eventually(lambda: _cursor(sessions), what="the engine watching the lead")
        assert runner.pipeline is not None
        assert runner.pipeline.books["APT/USDC"].best_ask() == (D("8.4497"), D(150))
        leads = await runner.bus.subscribe(topics.LEAD_TRADES)
        first = node.add_lead_transaction(LEAD, HYPERION_BUY_APT_USDC)
        lead, records = await eventually(lambda: _settled(sessions, first["hash"]), what="copy")
        # what the console sees: the lead trade on the bus, the live book in the cache
        message = await asyncio.wait_for(leads.get(), 10)
        assert (message["tx_hash"], message["version"]) == (first["hash"], int(first["version"]))
        assert (message["pair"], message["side"], message["copies"]) == ("APT/USDC", "buy", 1)
        top = await eventually(lambda: runner.cache.hgetall("tob:APT/USDC"), what="cached book")
        assert (top["bid"], top["ask"]) == ("8.4493", "8.4497")
        await leads.close()

    # the lead trade, as the chain recorded it
    assert lead.kind == "lead" and lead.trade_type == "buy"
    assert lead.chain_version == int(first["version"])
    assert lead.amount == D("11.83431952") and lead.price == D("8.4501")  # 100 USDC, up
    # the follower's copy: 10 % of the lead, filled at the Decibel ask (paper)
    [copy] = records
    assert (copy.user_id, copy.kind, copy.status) == (user, "copy", "completed")
    assert copy.amount == D("1.18") and copy.price == D("8.4497")
    assert await _cursor(sessions) == {
        "next_sequence_number": 1,
        "last_version": int(first["version"]),
    }
    before = await _counts(sessions)
    assert before[2] < CASH  # the copy was paid for

    # restart: the same transaction is not read or copied again; a new one is
    asked_before = len(node.tx_requests)
    async with live_engine(settings):
        second = node.add_lead_transaction(LEAD, HYPERION_SELL_APT_USDC)
        lead2, records2 = await eventually(lambda: _settled(sessions, second["hash"]))
    assert [r.user_id for r in records2] == [user]
    assert all(start >= 1 for _, start, _ in node.tx_requests[asked_before:])
    assert _rows(await _records(sessions, lead.id)) == _rows(records)  # the first: untouched
    assert lead2.chain_version == int(second["version"])
    after_second = await _counts(sessions)

    # a crash after the copies committed but before the cursor did: the page is read again
    async with sessions.begin() as s:
        await s.execute(
            update(ChainCursor)
            .where(ChainCursor.source == CURSOR)
            .values(cursor=json.dumps({"next_sequence_number": 0, "last_version": None}))
        )
    asked_before = len(node.tx_requests)
    async with live_engine(settings):
        await eventually(lambda: _next_is(sessions, 2), what="the rewound cursor caught up again")
    assert any(start == 0 for _, start, _ in node.tx_requests[asked_before:])  # re-read
    assert await _counts(sessions) == after_second  # ... and nothing copied twice


async def _next_is(sessions: async_sessionmaker[AsyncSession], n: int) -> bool:
    cursor = await _cursor(sessions)
    return cursor is not None and cursor["next_sequence_number"] == n


def _swap_amount_out(value: str) -> Callable[[dict[str, Any]], None]:
    def edit(tx: dict[str, Any]) -> None:
        for event in tx["events"]:
            if event["type"].endswith("::pool_v3::SwapEventV3"):
                event["data"]["amount_out"] = value

    return edit


async def test_bad_input_is_counted_and_a_node_outage_is_survived(
    chain: tuple[StandinNode, StandinDecibel],
    db: tuple[str, async_sessionmaker[AsyncSession]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    node, decibel = chain
    url, sessions = db
    settings = _settings(url, node, decibel, decibel_markets={"APT/USDC": "APT/USD"})
    await _follow_lead(settings)

    async with live_engine(settings) as runner:
        await eventually(lambda: _cursor(sessions), what="the engine watching the lead")

        async def counted(key: str, n: int = 1) -> bool:
            return runner.rejected().get(key, 0) >= n

        # a truncated page: rejected whole, counted, retried at the next poll
        truncated = (FIXTURES / "account_transactions_truncated.json").read_bytes()
        node.tx_faults.append((200, truncated))
        await eventually(lambda: counted("page_malformed"), what="malformed page counted")

        # a lead trade on a pair that is not live (APT/USDT): skipped with its reason
        thala = node.add_lead_transaction(LEAD, THALA_SELL_APT_USDT)
        await eventually(lambda: counted("lead_unknown_pair"), what="unknown pair counted")
        assert "skipped: unknown_pair: APT/USDT is not a live pair" in caplog.text

        # a negative and a non-numeric size: the swap is refused, the cursor moves on
        node.add_lead_transaction(LEAD, HYPERION_BUY_APT_USDC, _swap_amount_out("-5"))
        node.add_lead_transaction(LEAD, HYPERION_BUY_APT_USDC, _swap_amount_out("12abc"))
        await eventually(lambda: counted("swap_malformed", 2), what="bad sizes counted")

        # the copy engine fails on a page: rolled back, counted, retried, copied once
        assert runner.copy_engine is not None
        real, calls = runner.copy_engine.on_lead_trade, []

        async def flaky(lead: Any) -> Any:
            calls.append(lead.tx_hash)
            if len(calls) == 1:
                raise RuntimeError("database went away mid fan-out")
            return await real(lead)

        runner.copy_engine.on_lead_trade = flaky  # type: ignore[method-assign]
        retried = node.add_lead_transaction(LEAD, HYPERION_BUY_APT_USDC)
        await eventually(lambda: _settled(sessions, retried["hash"]), what="copied on retry")
        assert calls == [retried["hash"]] * 2 and runner.rejected()["poll_not_committed"] == 1

        # the node goes away; a trade made meanwhile is copied once it is back
        node.offline = True

        async def down() -> bool:
            return runner.node_state == "unreachable"

        await eventually(down, what="outage noticed")
        during = node.add_lead_transaction(LEAD, HYPERION_BUY_APT_USDC)
        node.offline = False
        await eventually(lambda: _settled(sessions, during["hash"]), what="copied after outage")

        async def up() -> bool:
            return runner.node_state == "ok"

        await eventually(up)
        status = runner.status()
        assert status["node"] == "ok" and status["execution"] == "paper"
        assert status["rejected"]["lead_unknown_pair"] == 1

    assert await _lead(sessions, thala["hash"]) is None  # never recorded as a lead trade
    assert await _next_is(sessions, 5)  # all five transactions consumed, each once
    async with sessions() as s:
        leads = await s.scalar(select(func.count()).select_from(Trade).where(Trade.kind == "lead"))
        copies = await s.scalar(select(func.count()).select_from(Trade).where(Trade.kind == "copy"))
    assert (leads, copies) == (2, 2)
    assert runner.stats.node_outages >= 1
    assert "unreachable or failing; retrying with backoff" in caplog.text


# ---------------------------------------------------------------------------------- CLI
def _engine_env(url: str, node: StandinNode, decibel: StandinDecibel) -> dict[str, str]:
    env = cli_env(url)
    env.update(
        ONECLICK_APTOS__FULLNODE_URL=node.base_url,
        ONECLICK_APTOS__DECIBEL_URL=decibel.base_url,
        ONECLICK_APTOS__DECIBEL_WS_URL=decibel.ws_url,
        ONECLICK_APTOS__POLL_INTERVAL_S="0.1",
    )
    return env


def _log_has(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text()


def _spawn_engine(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`oneclick engine --network testnet` as a child process, its output going to `log`."""
    with log.open("wb") as sink:
        return subprocess.Popen(
            [PYTHON, "-m", "oneclick_tui", "engine", "--network", "testnet"],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


async def test_cli_engine_testnet_starts_copies_and_stops_cleanly(
    chain: tuple[StandinNode, StandinDecibel],
    db: tuple[str, async_sessionmaker[AsyncSession]],
    tmp_path: Path,
) -> None:
    node, decibel = chain
    url, sessions = db
    await _follow_lead(_settings(url, node, decibel))
    log = tmp_path / "engine.log"
    proc = _spawn_engine(_engine_env(url, node, decibel), log)
    try:
        await eventually(lambda: _log_has(log, "engine.started"), 60, "engine.started")
        started = next(ln for ln in log.read_text().splitlines() if "engine.started" in ln)
        assert '"network":"testnet"' in started and '"execution":"paper' in started
        assert LEAD in started and '"pairs":["APT/USDC","APT/USDT"]' in started
        await eventually(lambda: _cursor(sessions), what="the engine watching the lead")
        tx = node.add_lead_transaction(LEAD, HYPERION_BUY_APT_USDC)
        await eventually(lambda: _log_has(log, tx["hash"]), what="lead_trade logged")
        proc.send_signal(signal.SIGINT)
        code = await asyncio.to_thread(proc.wait, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert code == 0, text[-3000:]
    assert "engine.stopped" in text and "Traceback" not in text
    assert await _settled(sessions, tx["hash"]) is not None
    assert await _next_is(sessions, 1)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_cli_engine_refuses_to_start_without_a_reachable_testnet_node(
    chain: tuple[StandinNode, StandinDecibel],
    db: tuple[str, async_sessionmaker[AsyncSession]],
) -> None:
    node, decibel = chain
    url, _ = db

    def engine(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "-m", "oneclick_tui", "engine", "--network", "testnet"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    env = _engine_env(url, node, decibel)
    env["ONECLICK_APTOS__FULLNODE_URL"] = f"http://127.0.0.1:{_closed_port()}/v1"
    done = await asyncio.to_thread(engine, env)
    assert done.returncode == 2
    errors = [ln for ln in done.stderr.splitlines() if ln.startswith("oneclick:")]
    assert len(errors) == 1 and "cannot reach the testnet fullnode" in errors[0]
    assert "Traceback" not in done.stderr

    node.chain_id = 1  # a mainnet node given to a testnet engine
    done = await asyncio.to_thread(engine, _engine_env(url, node, decibel))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is on chain 1, not testnet (2)" in done.stderr
