"""The Aptos executor against tests/aptos_standin.py.

The stand-in is a local strict fake of the fullnode REST API, used because no Aptos node is
reachable from this machine; it verifies signatures, auth keys, chain id, sequence numbers
and expiration the way the real node does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from oneclick_tui.services.execution.aptos import AptosExecutor, MemoryJournal
from oneclick_tui.services.wallet import payloads
from oneclick_tui.services.wallet.keys import WalletKey, generate_key
from tests.aptos_standin import StandinNode

RECIPIENT = "0x" + "be" * 32


@pytest.fixture
async def node() -> AsyncIterator[StandinNode]:
    standin = StandinNode(chain_id=4)
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
def key(node: StandinNode) -> WalletKey:
    key = generate_key()
    node.create_account(key.address, key.public_key.to_crypto_bytes(), balance=10**9)
    return key


@pytest.fixture
async def executor(node: StandinNode, key: WalletKey) -> AsyncIterator[AptosExecutor]:
    ex = AptosExecutor(node.base_url, key, chain_id=4, wait_timeout_s=5, poll_interval_s=0.02)
    yield ex
    await ex.close()


async def test_transfer_completes(node: StandinNode, executor: AptosExecutor) -> None:
    result = await executor.execute("copy-1", payloads.apt_transfer(RECIPIENT, 1_000))
    assert result.status == "completed", result
    assert result.vm_status == "Executed successfully"
    assert result.tx_hash in node.committed and node.simulations == 1
    assert node.accounts[executor.key.address].sequence_number == 1


async def test_failed_simulation_submits_nothing(
    node: StandinNode, executor: AptosExecutor
) -> None:
    result = await executor.execute("copy-1", payloads.apt_transfer(RECIPIENT, 10**12))
    assert result.status == "failed"
    assert result.reason is not None and "EINSUFFICIENT_BALANCE" in result.reason
    assert node.submissions == []
    # The sequence number was not consumed: the next copy uses 0 and completes.
    ok = await executor.execute("copy-2", payloads.apt_transfer(RECIPIENT, 1))
    assert ok.status == "completed"
    assert node.accounts[executor.key.address].sequence_number == 1


async def test_vm_abort_after_submit_is_failed_with_the_reason(
    node: StandinNode, executor: AptosExecutor
) -> None:
    payload = payloads.thala_swap_exact_in(
        pool="0x" + "aa" * 32,
        asset_in="0xa",
        asset_out="0x" + "bb" * 32,
        amount_in=100,
        expected_out=1000,
        slippage=Decimal("0.01"),
    )
    name = f"{payload.value.module}::{payload.value.function}"
    original = node._outcome
    calls = {"n": 0}

    def abort_on_commit(signed, *, dry_run):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if dry_run:
            return True, "Executed successfully"  # price moves between simulate and commit
        node.abort_functions.add(name)
        return original(signed, dry_run=False)

    node._outcome = abort_on_commit  # type: ignore[method-assign]
    result = await executor.execute("swap-1", payload)
    assert result.status == "failed"
    assert result.reason is not None and "EINSUFFICIENT_OUTPUT_AMOUNT" in result.reason
    assert result.version is not None
    assert node.accounts[executor.key.address].sequence_number == 1  # failed txs consume it


async def test_concurrent_copies_get_consecutive_sequence_numbers(
    node: StandinNode, executor: AptosExecutor
) -> None:
    results = await asyncio.gather(
        *(executor.execute(f"copy-{i}", payloads.apt_transfer(RECIPIENT, 10 + i)) for i in range(8))
    )
    assert [r.status for r in results] == ["completed"] * 8
    assert node.accounts[executor.key.address].sequence_number == 8
    assert len(set(node.submissions)) == 8


async def test_lost_submit_response_is_retried_with_the_same_bytes(
    node: StandinNode, executor: AptosExecutor
) -> None:
    node.lose_next_submit_responses = 2
    result = await executor.execute("copy-1", payloads.apt_transfer(RECIPIENT, 5))
    assert result.status == "completed"
    assert len(set(node.submissions)) == 1  # retried, but always the same transaction
    assert node.accounts[executor.key.address].sequence_number == 1


async def test_executing_a_copy_again_never_submits_a_second_transaction(
    node: StandinNode, key: WalletKey
) -> None:
    journal = MemoryJournal()
    first = AptosExecutor(node.base_url, key, 4, journal, wait_timeout_s=0.01, poll_interval_s=0.01)
    node.commit_delay_s = 0.3  # not committed before the first wait gives up
    pending = await first.execute("copy-1", payloads.apt_transfer(RECIPIENT, 5))
    assert pending.status == "unknown"
    await first.close()
    # A restarted process with the same journal resumes instead of signing anew.
    second = AptosExecutor(node.base_url, key, 4, journal, wait_timeout_s=5, poll_interval_s=0.02)
    again = await asyncio.gather(
        second.execute("copy-1", payloads.apt_transfer(RECIPIENT, 5)),
        second.execute("copy-1", payloads.apt_transfer(RECIPIENT, 5)),
    )
    await second.close()
    assert {r.status for r in again} == {"completed"}
    assert {r.tx_hash for r in again} == {pending.tx_hash}
    assert len(set(node.submissions)) == 1
    assert node.accounts[key.address].sequence_number == 1


async def test_wrong_chain_id_is_refused_by_the_node(node: StandinNode, key: WalletKey) -> None:
    ex = AptosExecutor(node.base_url, key, chain_id=1, wait_timeout_s=1)
    result = await ex.execute("copy-1", payloads.apt_transfer(RECIPIENT, 5))
    await ex.close()
    assert result.status == "failed"
    assert result.reason is not None and "BAD_CHAIN_ID" in result.reason


async def test_standin_rejects_a_forged_signature(node: StandinNode, key: WalletKey) -> None:
    import aiohttp

    from oneclick_tui.services.wallet.signing import TxParams, sign_payload

    signed = sign_payload(key, payloads.apt_transfer(RECIPIENT, 5), TxParams.expiring_in(0, 4))
    forged = bytearray(signed.bcs)
    forged[-1] ^= 0xFF
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            node.base_url + "/transactions",
            data=bytes(forged),
            headers={"Content-Type": "application/x.aptos.signed_transaction+bcs"},
        )
        body = await resp.json()
    assert resp.status == 400
    assert body["error_code"] == "vm_error" and "INVALID_SIGNATURE" in body["message"]


async def test_executor_repr_holds_no_secret(executor: AptosExecutor) -> None:
    secret = executor.key.aip80().removeprefix("ed25519-priv-0x")
    assert secret not in repr(executor) and secret not in str(executor)


async def test_standin_refuses_a_second_transaction_with_a_pending_sequence_number(
    node: StandinNode, key: WalletKey
) -> None:
    """As the real mempool: same bytes again are accepted, other bytes with that number not."""
    import aiohttp

    from oneclick_tui.services.wallet.signing import TxParams, sign_payload

    node.hold_commits = True
    first = sign_payload(key, payloads.apt_transfer(RECIPIENT, 5), TxParams.expiring_in(0, 4))
    other = sign_payload(key, payloads.apt_transfer(RECIPIENT, 6), TxParams.expiring_in(0, 4))
    headers = {"Content-Type": "application/x.aptos.signed_transaction+bcs"}
    async with aiohttp.ClientSession() as http:
        statuses = []
        for body in (first.bcs, other.bcs, first.bcs):
            resp = await http.post(node.base_url + "/transactions", data=body, headers=headers)
            statuses.append((resp.status, (await resp.json()).get("error_code")))
    assert statuses == [(202, None), (400, "invalid_transaction_update"), (202, None)]
    assert node.submit_counts == {first.hash: 2}
