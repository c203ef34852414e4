"""`oneclick engine --network testnet --execution chain`: a lead's swap seen on chain becomes
the follower's own swap, signed with his key and submitted, recorded with its chain hash.

The chain is tests/aptos_standin.py's StandinNode, a strict local stand-in for a fullnode
(no Aptos node can run on or be reached from this machine): it serves the lead trader's
recorded Hyperion transactions AND verifies, sequences and commits the follower's signed
copy, and answers ``POST /v1/view`` balance reads. The follower's cash is USDC the stand-in
says his wallet holds, synced into `positions` by the engine: nothing is seeded by hand.
Decibel books come from its stand-in too. Real SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal as D

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.config import Settings
from oneclick_tui.services.engine.live_runner import LiveEngineRunner, LiveStartError
from oneclick_tui.services.execution.aptos import AptosExecutor
from oneclick_tui.services.follows import FollowService
from oneclick_tui.services.runtime import open_services
from oneclick_tui.services.wallet.contracts import USDC_FA_METADATA
from oneclick_tui.services.wallet.keys import WalletKey, generate_key
from oneclick_tui.stores.live import open_bus, open_cache
from oneclick_tui.stores.models import ExecutionJournal, Position
from oneclick_tui.stores.timeseries_factory import open_timeseries
from tests.aptos_standin import HYPERION_BUY_APT_USDC, StandinDecibel, StandinNode
from tests.engine.test_live_engine import (  # noqa: F401  (fixtures: chain, db)
    LEAD,
    _settings,
    _settled,
    chain,
    db,
    eventually,
)


async def follow_without_cash(settings: Settings) -> int:
    """The lead trader and the local user's follow of him; no position rows at all (with
    execution = chain his balances come from his wallet)."""
    services = await open_services(settings)
    try:
        await services.repos.traders.register(LEAD, "ChainLead", risk_category="low")
        follow = await FollowService(services).follow(LEAD, D(10))
        assert follow.status == "active"
        return services.user.id
    finally:
        await services.close()


@asynccontextmanager
async def chain_engine(
    settings: Settings, executor: AptosExecutor, balance_every_s: float = 30.0
) -> AsyncIterator[LiveEngineRunner]:
    """The live engine with on-chain execution over `executor` (keys given, not keyring)."""
    services = await open_services(settings)
    cache, bus = await open_cache(settings), await open_bus(settings)
    timeseries = await open_timeseries(settings, services.engine)
    runner = LiveEngineRunner(
        services,
        bus,
        cache,
        timeseries,
        refresh_every_s=0.2,
        executor=executor,
        balance_every_s=balance_every_s,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await eventually(lambda: task.done() or runner.state == "running", what="start")
        if task.done():
            task.result()
        assert runner.status()["execution"] == "chain"
        yield runner
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await timeseries.close()
        await bus.close()
        await cache.close()
        await services.close()


async def test_a_lead_swap_is_copied_on_chain_exactly_once(
    chain: tuple[StandinNode, StandinDecibel],  # noqa: F811
    db: tuple[str, async_sessionmaker[AsyncSession]],  # noqa: F811
) -> None:
    node, decibel = chain
    url, sessions = db
    settings = _settings(url, node, decibel, execution="chain")
    user = await follow_without_cash(settings)
    key: WalletKey = generate_key()
    node.create_account(key.address, key.public_key.to_crypto_bytes())
    node.set_fa_balance(key.address, USDC_FA_METADATA, 500 * 10**6)  # 500 USDC in his wallet
    executor = AptosExecutor(node.base_url, None, 2, keys={user: key}, poll_interval_s=0.02)

    async with chain_engine(settings, executor):
        async with sessions() as s:
            cash = await s.scalar(select(Position.quantity).where(Position.asset == "USDC"))
        assert cash == D(500)  # read from the chain at start, not seeded
        lead = node.add_lead_transaction(LEAD, HYPERION_BUY_APT_USDC)
        _, records = await eventually(lambda: _settled(sessions, lead["hash"]), what="the copy")
    await executor.close()

    (copy,) = records
    assert copy.user_id == user and copy.status == "completed", copy.failure_reason
    on_chain = node.committed[copy.tx_hash]
    assert on_chain["success"] and on_chain["sender"] == key.address
    assert copy.chain_version == int(on_chain["version"])
    assert node.submit_counts == {copy.tx_hash: 1}
    async with sessions() as s:
        (entry,) = (await s.scalars(select(ExecutionJournal))).all()
    assert (entry.trade_id, entry.status, entry.sequence_number) == (copy.id, "committed", 0)
    assert copy.amount > D(0)


async def test_chain_execution_without_a_wallet_key_refuses_to_start(
    chain: tuple[StandinNode, StandinDecibel],  # noqa: F811
    db: tuple[str, async_sessionmaker[AsyncSession]],  # noqa: F811
) -> None:
    node, decibel = chain
    url, _ = db
    settings = _settings(url, node, decibel, execution="chain")
    await follow_without_cash(settings)
    services = await open_services(settings)
    cache, bus = await open_cache(settings), await open_bus(settings)
    timeseries = await open_timeseries(settings, services.engine)
    runner = LiveEngineRunner(services, bus, cache, timeseries)
    try:
        try:
            await runner.start()
        except LiveStartError as exc:
            assert "oneclick wallet new" in str(exc)
        else:
            raise AssertionError("started chain execution with no key to sign with")
        assert node.submit_counts == {}
    finally:
        await runner.shutdown()
        await timeseries.close()
        await bus.close()
        await cache.close()
        await services.close()


def test_the_cli_refuses_chain_execution_on_the_simulator(fresh_sqlite_url: str) -> None:
    from typer.testing import CliRunner

    from oneclick_tui.cli import app

    env = {"ONECLICK_DATABASE_URL": fresh_sqlite_url}
    result = CliRunner().invoke(app, ["engine", "--execution", "chain"], env=env)
    assert result.exit_code != 0
    assert "--execution chain needs --network testnet or mainnet" in result.output
    result = CliRunner().invoke(app, ["engine", "--execution", "live"], env=env)
    assert "--execution must be paper or chain, got 'live'" in result.output
