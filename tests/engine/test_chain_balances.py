"""execution = chain: the followers' `positions` are their wallets' on-chain balances.

The fullnode is tests/aptos_standin.py's StandinNode, a strict local stand-in (no Aptos node
can run on or be reached from this machine). It answers ``POST /v1/view`` for exactly
``0x1::primary_fungible_store::balance<0x1::fungible_asset::Metadata>(account, metadata)``
in the real API's shape (``["<u64>"]``; anything else is a 400 ``invalid_input``), from
balances each test sets, and it commits the follower's signed copies. Decibel books come from
its stand-in. The engine, copy engine and database are real, SQLite and PostgreSQL.

What a user checks: with 500 USDC in his wallet and no position rows he gets his copy; his
positions equal the chain after a sync while the engine's cost basis stays; a node error
keeps the previous figures (never a zeroed balance); an empty wallet gets skips for
insufficient balance even when a stale figure says otherwise.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.services.aptos.client import FullnodeClient, FullnodeError, MalformedResponse
from oneclick_tui.services.engine.catalog import Catalog, seed_catalog
from oneclick_tui.services.engine.chain_balances import ChainBalanceSync, tracked_assets
from oneclick_tui.services.execution.aptos import AptosExecutor
from oneclick_tui.services.runtime import open_services
from oneclick_tui.services.sim.pairs import pair_by_symbol
from oneclick_tui.services.wallet.contracts import APT_FA_METADATA, USDC_FA_METADATA
from oneclick_tui.services.wallet.keys import WalletKey, generate_key
from oneclick_tui.stores.models import Position
from tests.aptos_standin import HYPERION_BUY_APT_USDC, StandinDecibel, StandinNode
from tests.engine.test_live_chain_execution import chain_engine, follow_without_cash
from tests.engine.test_live_engine import (  # noqa: F401  (fixtures: chain, db)
    LEAD,
    _settings,
    _settled,
    chain,
    db,
    eventually,
)

Chain = tuple[StandinNode, StandinDecibel]
Db = tuple[str, async_sessionmaker[AsyncSession]]


def _follower(node: StandinNode, usdc_units: int) -> WalletKey:
    """A follower's key, his account on the stand-in chain, and his USDC (6 decimals)."""
    key = generate_key()
    node.create_account(key.address, key.public_key.to_crypto_bytes())
    node.set_fa_balance(key.address, USDC_FA_METADATA, usdc_units)
    return key


async def _positions(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Position]:
    async with sessions() as s:
        return {p.asset: p for p in (await s.scalars(select(Position))).all()}


async def _quantities(sessions: async_sessionmaker[AsyncSession]) -> dict[str, D]:
    return {a: p.quantity for a, p in (await _positions(sessions)).items()}


# ------------------------------------------------------------------------- the client
async def test_the_balance_read_is_the_documented_view_call(chain: Chain) -> None:  # noqa: F811
    node, _ = chain
    account = "0x" + "ab" * 32
    node.set_fa_balance(account, USDC_FA_METADATA, 123_456_789)
    client = FullnodeClient(node.base_url)
    try:
        assert await client.fa_balance(account, USDC_FA_METADATA) == 123_456_789
        assert await client.fa_balance(account, APT_FA_METADATA) == 0  # never held: 0
        assert node.view_requests[0] == {
            "function": "0x1::primary_fungible_store::balance",
            "type_arguments": ["0x1::fungible_asset::Metadata"],
            "arguments": [account, USDC_FA_METADATA],
        }
        # the stand-in is strict like the node: another function or arity is a 400
        for body in (
            {"function": "0x1::coin::balance", "type_arguments": ["0x1::aptos_coin::AptosCoin"],
             "arguments": [account]},
            {"function": "0x1::primary_fungible_store::balance",
             "type_arguments": ["0x1::fungible_asset::Metadata"], "arguments": [account]},
        ):  # fmt: skip
            with pytest.raises(FullnodeError) as err:
                await client.post_json("/view", body)
            assert (err.value.status, err.value.code) == (400, "invalid_input")
        # an answer not shaped ["<u64>"] is refused, not guessed at
        for bad in (b'["12.5"]', b"[12]", b'["1", "2"]', b"{}", b'["18446744073709551616"]'):
            node.view_faults.append((200, bad))
            with pytest.raises(MalformedResponse):
                await client.fa_balance(account, USDC_FA_METADATA)
    finally:
        await client.close()


async def test_an_api_key_goes_out_on_the_view_call() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=["5"])

    client = FullnodeClient("https://node.test/v1", "k3y", transport=httpx.MockTransport(answer))
    try:
        assert await client.fa_balance("0x1", APT_FA_METADATA) == 5
    finally:
        await client.close()
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/v1/view")
    assert request.headers["Authorization"] == "Bearer k3y"


# --------------------------------------------------------------------------- the sync
async def _sync_for(settings: Any, address: str) -> tuple[ChainBalanceSync, int, Any, Catalog]:
    """A ChainBalanceSync over the live pairs for the local user at `address`."""
    services = await open_services(settings)
    specs = [pair_by_symbol("APT/USDC"), pair_by_symbol("APT/USDT")]
    catalog = await seed_catalog(services.sessions, specs, [], simulated=False)
    client = FullnodeClient(settings.aptos.fullnode_url)
    sync = ChainBalanceSync(
        client, services.sessions, tracked_assets(catalog), {services.user.id: address}
    )
    return sync, services.user.id, services, catalog


async def test_a_node_error_keeps_the_previous_figures(chain: Chain, db: Db) -> None:  # noqa: F811
    node, decibel = chain
    url, sessions = db
    settings = _settings(url, node, decibel, execution="chain")
    key = _follower(node, 500_000_000)
    node.set_fa_balance(key.address, APT_FA_METADATA, 123_456_789)  # 1.23456789 APT
    sync, user, services, catalog = await _sync_for(settings, key.address)
    try:
        assert [a.symbol for a in sync.assets] == ["APT", "USDC", "USDT"]
        await sync.sync()
        assert await _quantities(sessions) == {"APT": D("1.23456789"), "USDC": D(500)}
        positions = await _positions(sessions)
        assert positions["APT"].pair_id == catalog.pairs["APT/USDC"].id  # marked by it
        assert positions["USDC"].pair_id is None  # quote cash
        assert positions["USDC"].average_cost == D(0)

        # the wallet empties, but the node fails: 503, unreachable JSON, a malformed answer
        node.set_fa_balance(key.address, USDC_FA_METADATA, 0)
        node.set_fa_balance(key.address, APT_FA_METADATA, 0)
        for fault in (
            (503, b'{"message":"upstream","error_code":"internal_error","vm_error_code":null}'),
            (200, b'["not a number"]'),
            (200, b'["1"'),  # truncated
        ):
            node.view_faults.append(fault)
            assert await sync.sync() == 0
        assert sync.stats.node_errors == 3 and sync.stats.last_error
        assert await _quantities(sessions) == {"APT": D("1.23456789"), "USDC": D(500)}

        # USDC read fine but APT failed: neither moves (a user's figures move together)
        node.view_faults.append((429, b'{"message":"slow down","error_code":"internal_error"}'))
        assert await sync.sync() == 0
        assert await _quantities(sessions) == {"APT": D("1.23456789"), "USDC": D(500)}

        # the node answers again: the chain's figures (0 written over existing rows)
        assert await sync.sync() == 2
        assert await _quantities(sessions) == {"APT": D(0), "USDC": D(0)}
        assert user in sync.accounts
    finally:
        await sync.client.close()
        await services.close()


async def test_the_sync_keeps_the_engines_cost_basis(chain: Chain, db: Db) -> None:  # noqa: F811
    node, decibel = chain
    url, sessions = db
    settings = _settings(url, node, decibel, execution="chain")
    key = _follower(node, 250_000_001)  # 250.000001 USDC: exact, to the last unit
    node.set_fa_balance(key.address, APT_FA_METADATA, 2 * 10**8)
    sync, user, services, _ = await _sync_for(settings, key.address)
    try:
        await services.repos.positions.upsert(
            user, "APT", quantity=D(3), average_cost=D("8.41"), realized_pnl=D("1.5"),
            current_value=D("27"), unrealized_pnl=D("1.77"),
        )  # fmt: skip
        await sync.sync()
        apt = (await _positions(sessions))["APT"]
        assert (apt.quantity, apt.average_cost, apt.realized_pnl) == (D(2), D("8.41"), D("1.5"))
        assert (apt.current_value, apt.unrealized_pnl) == (D(18), D("1.18"))  # at the last mark
        assert (await _quantities(sessions))["USDC"] == D("250.000001")
    finally:
        await sync.client.close()
        await services.close()


# ---------------------------------------------------------------------- the live engine
async def test_chain_usdc_and_no_positions_gets_the_copy_executed(chain: Chain, db: Db) -> None:  # noqa: F811
    node, decibel = chain
    url, sessions = db
    settings = _settings(url, node, decibel, execution="chain")
    user = await follow_without_cash(settings)
    key = _follower(node, 500 * 10**6)
    assert await _positions(sessions) == {}
    executor = AptosExecutor(node.base_url, None, 2, keys={user: key}, poll_interval_s=0.02)

    async with chain_engine(settings, executor, balance_every_s=0.1) as runner:
        assert await _quantities(sessions) == {"USDC": D(500)}  # synced before recover
        lead = node.add_lead_transaction(LEAD, HYPERION_BUY_APT_USDC)
        _, records = await eventually(lambda: _settled(sessions, lead["hash"]), what="the copy")
        (copy,) = records
        assert copy.user_id == user and copy.status == "completed", copy.failure_reason
        assert copy.skip_reason is None and copy.amount > 0
        # The stand-in does not move token balances on a swap: the wallet now holds what
        # the test says it holds after the swap, and the positions follow it exactly.
        spent = (copy.amount * copy.price * 10**6).to_integral_value()
        node.set_fa_balance(key.address, USDC_FA_METADATA, 500 * 10**6 - int(spent))
        node.set_fa_balance(key.address, APT_FA_METADATA, int(copy.amount * 10**8))
        want = {
            "USDC": D(500 * 10**6 - int(spent)).scaleb(-6),
            "APT": D(int(copy.amount * 10**8)).scaleb(-8),
        }
        await eventually(lambda: _is(sessions, want), what="positions = chain")
        stats = runner.status()["balances"]
        assert stats["node_errors"] == 0 and stats["rounds"] >= 2
    await executor.close()
    apt = (await _positions(sessions))["APT"]
    assert apt.average_cost == copy.price  # the engine's basis, not the sync's


async def _is(sessions: async_sessionmaker[AsyncSession], want: dict[str, D]) -> bool:
    return await _quantities(sessions) == want


async def test_an_empty_wallet_gets_insufficient_balance_skips(chain: Chain, db: Db) -> None:  # noqa: F811
    node, decibel = chain
    url, sessions = db
    settings = _settings(url, node, decibel, execution="chain")
    user = await follow_without_cash(settings)
    key = _follower(node, 0)
    # a stale figure from before (paper, or a hand edit) says 1,000 USDC: the chain wins
    services = await open_services(settings)
    try:
        await services.repos.positions.upsert(user, "USDC", quantity=D(1000), average_cost=D(1))
    finally:
        await services.close()
    executor = AptosExecutor(node.base_url, None, 2, keys={user: key}, poll_interval_s=0.02)

    async with chain_engine(settings, executor):
        assert await _quantities(sessions) == {"USDC": D(0)}
        lead = node.add_lead_transaction(LEAD, HYPERION_BUY_APT_USDC)
        _, records = await eventually(lambda: _settled(sessions, lead["hash"]), what="the skip")
    await executor.close()
    (skip,) = records
    assert skip.user_id == user and skip.status == "skipped", (skip.status, skip.skip_reason)
    assert (skip.skip_reason or "").startswith("insufficient_balance")
    assert node.submit_counts == {}  # nothing signed or sent


async def test_a_node_error_at_start_keeps_the_figures_and_the_engine_runs(
    chain: Chain,  # noqa: F811
    db: Db,  # noqa: F811
) -> None:
    node, decibel = chain
    url, sessions = db
    settings = _settings(url, node, decibel, execution="chain")
    user = await follow_without_cash(settings)
    key = _follower(node, 0)
    services = await open_services(settings)
    try:
        await services.repos.positions.upsert(user, "USDC", quantity=D(42), average_cost=D(1))
    finally:
        await services.close()
    node.view_faults.append((503, b'{"message":"down","error_code":"internal_error"}'))
    executor = AptosExecutor(node.base_url, None, 2, keys={user: key}, poll_interval_s=0.02)
    async with chain_engine(settings, executor) as runner:
        assert runner.status()["balances"]["node_errors"] == 1
        assert await _quantities(sessions) == {"USDC": D(42)}  # not zeroed
    await executor.close()
