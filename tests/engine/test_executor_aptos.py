"""The copy engine executing on chain through AptosExecutor, on SQLite and real PostgreSQL.

The chain is tests/aptos_standin.py: a strict local stand-in for a fullnode's REST API,
because no Aptos node can run on (or be reached from) this machine. It decodes the BCS,
verifies the Ed25519 signature and auth key, checks chain id, sequence number and expiry,
executes in sequence order, counts every submission per hash and refuses a second
transaction with a sequence number already in its mempool, as the real node does.

What a user would check: a completed copy carries its on-chain hash and version; a failed
one its VM status; a copy whose outcome was unknown (timeout, crash) is settled later from
the chain without ever being signed twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.domain.market_events import LeadTrade, PairSpec, Side
from oneclick_tui.domain.orderbook import OrderBook
from oneclick_tui.services.engine.catalog import Catalog, TraderProfile, seed_catalog
from oneclick_tui.services.engine.copy_engine import CopyEngine
from oneclick_tui.services.execution.aptos import AptosExecutor, JournalEntry
from oneclick_tui.services.wallet import contracts
from oneclick_tui.services.wallet.keys import WalletKey, generate_key
from oneclick_tui.stores.db import ensure_schema, make_engine, session_factory
from oneclick_tui.stores.models import ExecutionJournal, Position, Trade
from oneclick_tui.stores.repositories import Repositories
from tests.aptos_standin import StandinNode

PAIR = PairSpec(
    "APT/USDC", "APT", "USDC", "hyperion", D("0.0001"), D("0.01"), D("0.1"), D("0.0002"),
    D("0.0005"), 8, 6, D("10"),
)  # fmt: skip
TOM = TraderProfile("0x" + "ab" * 32, "Trend Tom", "medium", "trend", D("100000"))
SUE = TraderProfile("0x" + "cd" * 32, "Swing Sue", "medium", "swing", D("100000"))
SWAP = f"{contracts.HYPERION_ROUTER_MODULE}::{contracts.HYPERION_EXACT_INPUT}"


def book() -> OrderBook:
    b = OrderBook("APT/USDC")
    b.load(1, [(D("9.99"), D("500"))], [(D("10.01"), D("500"))])
    return b


def lead(trader: TraderProfile, n: int) -> LeadTrade:
    at = datetime.now(UTC)  # the copy must not be stale by the engine's clock
    return LeadTrade(
        trader.address, "APT/USDC", Side.BUY, D("40"), D("10.01"), D("0.01"),
        "0x" + f"{n:064x}", n, at,
    )  # fmt: skip


@dataclass
class Chain:
    """The database, the stand-in node and one follower with a funded account."""

    url: str
    sessions: async_sessionmaker[AsyncSession]
    catalog: Catalog
    node: StandinNode
    key: WalletKey
    user_id: int
    executors: list[AptosExecutor]

    def executor(self, cls: type[AptosExecutor] = AptosExecutor, **kw: Any) -> AptosExecutor:
        options: dict[str, Any] = {"wait_timeout_s": 10, "poll_interval_s": 0.01}
        options.update(kw)
        ex = cls(self.node.base_url, None, 4, keys={self.user_id: self.key}, **options)
        self.executors.append(ex)
        return ex

    def engine(self, executor: AptosExecutor) -> CopyEngine:
        """A fresh engine, as after a restart: nothing in memory but what it is given."""
        return CopyEngine(self.sessions, self.catalog, {"APT/USDC": book()}, executor=executor)

    async def copies(self) -> list[Trade]:
        async with self.sessions() as s:
            q = select(Trade).where(Trade.user_id == self.user_id).order_by(Trade.id)
            return list((await s.scalars(q)).all())

    async def journal(self) -> list[ExecutionJournal]:
        async with self.sessions() as s:
            q = select(ExecutionJournal).order_by(ExecutionJournal.id)
            return list((await s.scalars(q)).all())

    async def holding(self, asset: str) -> D:
        async with self.sessions() as s:
            q = select(Position.quantity).where(
                Position.user_id == self.user_id, Position.asset == asset
            )
            return (await s.scalar(q)) or D(0)


@pytest.fixture
async def chain(fresh_db_url: str) -> AsyncIterator[Chain]:
    await ensure_schema(fresh_db_url)
    db = make_engine(fresh_db_url)
    sessions = session_factory(db)
    repos = Repositories.over(sessions)
    catalog = await seed_catalog(sessions, [PAIR], [TOM, SUE], simulated=True)
    user, _ = await repos.users.create(display_name="alice", risk_tolerance="high")
    await repos.positions.upsert(user.id, "USDC", quantity=D("1000"), average_cost=D(1))
    for trader in (TOM, SUE):
        await repos.follows.follow(
            user.id, catalog.traders[trader.address].id, copy_percentage=D(25)
        )
    node = StandinNode(chain_id=4, commit_delay_s=0.01)
    await node.start()
    key = generate_key()
    node.create_account(key.address, key.public_key.to_crypto_bytes())
    world = Chain(fresh_db_url, sessions, catalog, node, key, user.id, [])
    yield world
    for ex in world.executors:
        await ex.close()
    await node.stop()
    await db.dispose()


async def test_completed_copy_has_its_on_chain_hash_and_version(chain: Chain) -> None:
    result = await chain.engine(chain.executor()).on_lead_trade(lead(TOM, 1))
    assert (result.copies, result.completed, result.failed) == (1, 1, 0)

    (copy,) = await chain.copies()
    # recorded at the decided reference price (the book's mid); the swap's min-out bounded it
    assert copy.status == "completed" and copy.amount == D("10") and copy.price == D("10")
    on_chain = chain.node.committed[copy.tx_hash]
    assert on_chain["success"] and copy.chain_version == int(on_chain["version"])
    assert chain.node.submit_counts == {copy.tx_hash: 1}
    (entry,) = await chain.journal()
    assert (entry.trade_id, entry.tx_hash, entry.status) == (copy.id, copy.tx_hash, "committed")
    assert entry.sender == chain.key.address and entry.sequence_number == 0
    assert entry.version == copy.chain_version and entry.vm_status == "Executed successfully"
    secret = chain.key.aip80().removeprefix("ed25519-priv-0x")
    assert secret.encode() not in entry.signed_bcs and bytes.fromhex(secret) not in entry.signed_bcs
    assert await chain.holding("APT") == D("10")


async def test_vm_failure_on_chain_fails_the_copy_with_the_vm_status(chain: Chain) -> None:
    node = chain.node
    original = node._outcome

    def abort_on_commit(signed, *, dry_run):  # type: ignore[no-untyped-def]
        if dry_run:
            return True, "Executed successfully"  # the price moves between simulate and commit
        node.abort_functions.add(SWAP)
        return original(signed, dry_run=False)

    node._outcome = abort_on_commit  # type: ignore[method-assign]
    result = await chain.engine(chain.executor()).on_lead_trade(lead(TOM, 1))
    assert (result.completed, result.failed) == (0, 1)

    (copy,) = await chain.copies()
    assert copy.status == "failed" and "EINSUFFICIENT_OUTPUT_AMOUNT" in copy.failure_reason
    assert copy.tx_hash in node.committed and copy.chain_version is not None
    (entry,) = await chain.journal()
    assert entry.status == "aborted" and "EINSUFFICIENT_OUTPUT_AMOUNT" in entry.vm_status
    assert await chain.holding("APT") == D(0)
    assert await chain.holding("USDC") == D("1000")


async def test_failed_simulation_signs_and_submits_nothing(chain: Chain) -> None:
    chain.node.abort_functions.add(SWAP)
    await chain.engine(chain.executor()).on_lead_trade(lead(TOM, 1))
    (copy,) = await chain.copies()
    assert copy.status == "failed" and copy.failure_reason.startswith("simulation failed")
    assert copy.tx_hash is None and await chain.journal() == []
    assert chain.node.submissions == []


async def test_node_timeout_then_recovery_finds_it_committed(chain: Chain) -> None:
    chain.node.hold_commits = True  # accepted into the mempool, not committed in time
    first = chain.engine(chain.executor(wait_timeout_s=0.05))
    result = await first.on_lead_trade(lead(TOM, 1))
    assert (result.copies, result.completed, result.failed) == (1, 0, 0)
    (copy,) = await chain.copies()
    assert copy.status == "submitted" and copy.tx_hash in chain.node.mempool

    chain.node.hold_commits = False
    chain.node.commit_ready()
    restarted = chain.engine(chain.executor())
    assert await restarted.recover() == (1, 0)
    (copy,) = await chain.copies()
    assert copy.status == "completed" and copy.chain_version is not None
    assert chain.node.submit_counts == {copy.tx_hash: 1}  # found by hash, not resubmitted
    assert [e.status for e in await chain.journal()] == ["committed"]
    assert await chain.holding("APT") == D("10")


async def test_node_timeout_then_expiry_fails_the_copy(chain: Chain) -> None:
    chain.node.hold_commits = True
    first = chain.engine(chain.executor(wait_timeout_s=0.05, ttl_secs=30))
    await first.on_lead_trade(lead(TOM, 1))
    (copy,) = await chain.copies()
    assert copy.status == "submitted"
    chain.node.mempool.clear()  # the node dropped it (restart, eviction): it never lands

    later: Callable[[], float] = lambda: time.time() + 120  # noqa: E731 - past its expiry
    restarted = chain.engine(chain.executor(clock=later))
    assert await restarted.recover() == (0, 1)
    (copy,) = await chain.copies()
    assert copy.status == "failed" and copy.failure_reason.startswith("expired without landing")
    assert chain.node.submit_counts == {copy.tx_hash: 1}  # an expired tx is never resent
    assert [e.status for e in await chain.journal()] == ["expired"]
    assert await chain.holding("APT") == D(0)


class Crash(BaseException):
    """The process dies: nothing after this point runs (not an Exception: nobody catches it)."""


class CrashBeforeSubmit(AptosExecutor):
    async def _submit(self, entry: JournalEntry) -> Any:
        raise Crash


async def test_crash_after_journal_commit_resubmits_the_same_bytes_once(chain: Chain) -> None:
    doomed = chain.engine(chain.executor(CrashBeforeSubmit))
    with pytest.raises(Crash):
        await doomed.on_lead_trade(lead(TOM, 1))
    (copy,) = await chain.copies()
    (entry,) = await chain.journal()
    assert copy.status == "submitted" and entry.status == "signed"
    assert chain.node.submissions == []  # it died between the journal commit and the POST
    signed_bytes = bytes(entry.signed_bcs)

    # After the restart, a new copy for the same follower must not take sequence number 0:
    # the journaled transaction holds it and may still land.
    restarted = chain.engine(chain.executor(wait_timeout_s=0.05))
    await restarted.on_lead_trade(lead(SUE, 2))
    assert await restarted.recover() == (2, 0)

    copies = await chain.copies()
    assert [c.status for c in copies] == ["completed", "completed"]
    assert copies[0].tx_hash == entry.tx_hash  # the journaled transaction, not a new one
    assert chain.node.submit_counts == {c.tx_hash: 1 for c in copies}
    assert sorted(e.sequence_number for e in await chain.journal()) == [0, 1]
    assert chain.node.committed[entry.tx_hash]["sequence_number"] == "0"
    assert bytes((await chain.journal())[0].signed_bcs) == signed_bytes
    assert chain.node.accounts[chain.key.address].sequence_number == 2
    assert await chain.holding("APT") == D("20")


async def test_concurrent_copies_from_one_sender_get_distinct_sequence_numbers(
    chain: Chain,
) -> None:
    engine = chain.engine(chain.executor())
    results = await asyncio.gather(
        engine.on_lead_trade(lead(TOM, 1)), engine.on_lead_trade(lead(SUE, 2))
    )
    assert [r.completed for r in results] == [1, 1]
    entries = await chain.journal()
    assert sorted(e.sequence_number for e in entries) == [0, 1]
    assert {e.status for e in entries} == {"committed"}
    assert chain.node.accounts[chain.key.address].sequence_number == 2
    assert len(chain.node.submit_counts) == 2 and set(chain.node.submit_counts.values()) == {1}


async def test_a_copy_already_submitted_is_never_signed_again(chain: Chain) -> None:
    """Running the pending step again (a second engine, a replay) finds nothing to sign."""
    chain.node.hold_commits = True
    engine = chain.engine(chain.executor(wait_timeout_s=0.05))
    trade = lead(TOM, 1)
    await engine.on_lead_trade(trade)
    assert await engine.execute_pending(None) == (0, 0)  # submitted, not pending
    replay = await engine.on_lead_trade(trade)  # the same lead trade seen again
    assert replay.copies == 0
    assert len(await chain.journal()) == 1 and len(chain.node.submit_counts) == 1
