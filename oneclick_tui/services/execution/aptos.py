"""Execute copy trades on Aptos: simulate, sign locally, submit BCS, wait, map the VM status.

Safety rules, in order of importance:
- One copy, one signed transaction. The first signed bytes for a copy id are journaled
  before they leave the process; a retry (after a timeout, a 5xx, a restart) resubmits those
  same bytes or just asks for their hash, never a newly signed transaction. The chain
  deduplicates identical bytes (same hash, same sequence number), so a copy commits at most
  once.
- Simulation first, with an all-zero signature (the node refuses simulation of a validly
  signed transaction, so the simulated body could never be replayed).
- Sequence numbers come from one lock-protected counter per sender, read from the node once
  and advanced only when a submission may have been accepted, so concurrent copies get
  consecutive numbers and a rejected one does not leave a gap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal

import aiohttp
from aptos_sdk.transactions import TransactionPayload

from oneclick_tui.services.engine.signer import CopyToSign, swap_payload
from oneclick_tui.services.execution.base import (
    JournalEntry,
    MemoryJournal,
    Order,
    Outcome,
    SubmissionJournal,
)
from oneclick_tui.services.wallet.keys import WalletKey
from oneclick_tui.services.wallet.signing import (
    DEFAULT_GAS_UNIT_PRICE,
    DEFAULT_MAX_GAS,
    DEFAULT_TTL_SECS,
    TxParams,
    build_raw_transaction,
    sign_raw,
    simulation_bcs,
)

__all__ = [
    "AptosExecutor",
    "ExecutionResult",
    "JournalEntry",
    "MemoryJournal",
    "NodeError",
    "SubmissionJournal",
]
log = logging.getLogger(__name__)
BCS_CONTENT_TYPE = "application/x.aptos.signed_transaction+bcs"
Status = Literal["completed", "failed", "unknown"]


@dataclass(frozen=True)
class ExecutionResult:
    """Outcome of one copy: completed/failed with the reason, or unknown (still in flight)."""

    copy_id: str
    status: Status
    tx_hash: str | None = None
    reason: str | None = None
    vm_status: str | None = None
    version: int | None = None


class NodeError(Exception):
    """The fullnode answered with an error; `definitive` means the tx was certainly refused."""

    def __init__(self, message: str, status: int, definitive: bool) -> None:
        super().__init__(message)
        self.status = status
        self.definitive = definitive


@dataclass
class _Sender:
    """One account's sequence numbers: a lock and the next number, read once from the node."""

    key: WalletKey = field(repr=False)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_seq: int | None = None


@dataclass
class AptosExecutor:
    """Submits transactions through one fullnode REST API (base URL ends in /v1).

    `key` is the sender of `execute()` (one-off transfers from the CLI); `keys` are the
    followers' keys by user id, for the copy engine's `execute_orders()`. Each sender has its
    own sequence-number lock, so concurrent copies of one follower get distinct, consecutive
    numbers while different followers proceed in parallel.
    """

    base_url: str
    key: WalletKey | None
    chain_id: int
    journal: SubmissionJournal = field(default_factory=MemoryJournal)
    api_key: str | None = field(default=None, repr=False)
    max_gas_amount: int = DEFAULT_MAX_GAS
    gas_unit_price: int = DEFAULT_GAS_UNIT_PRICE
    ttl_secs: int = DEFAULT_TTL_SECS
    wait_timeout_s: float = 30.0
    poll_interval_s: float = 0.2
    submit_attempts: int = 3
    request_timeout_s: float = 10.0
    clock: Callable[[], float] = time.time
    keys: Mapping[int, WalletKey] = field(default_factory=dict, repr=False)
    concurrency: int = 64
    """Copies in flight at once (each is a few HTTP round trips to the fullnode)."""
    live: ClassVar[bool] = True
    _session: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)
    _senders: dict[str, _Sender] = field(default_factory=dict, init=False, repr=False)
    _copy_locks: dict[str, asyncio.Lock] = field(default_factory=dict, init=False, repr=False)

    # -- HTTP -----------------------------------------------------------------------------
    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._session = aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(total=self.request_timeout_s)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        http = await self._http()
        headers = {"Content-Type": BCS_CONTENT_TYPE} if body is not None else {}
        async with http.request(
            method, self.base_url.rstrip("/") + path, data=body, headers=headers
        ) as resp:
            try:
                data = await resp.json(content_type=None)
            except (aiohttp.ContentTypeError, ValueError):
                data = {"message": (await resp.text())[:200]}
            return resp.status, data

    # -- sequence numbers -----------------------------------------------------------------
    def _sender(self, key: WalletKey) -> _Sender:
        found = self._senders.get(key.address)
        if found is None:
            found = self._senders[key.address] = _Sender(key)
        return found

    async def account_sequence_number(self, address: str | None = None) -> int:
        if address is None:
            assert self.key is not None, "no sender key"
            address = self.key.address
        status, data = await self._request("GET", f"/accounts/{address}")
        if status == 404:
            return 0  # account not created yet: its first transaction uses 0
        if status != 200:
            raise NodeError(_node_message(data, status), status, definitive=False)
        return int(data["sequence_number"])

    async def _reserve(
        self,
        sender: _Sender,
        journal: SubmissionJournal,
        use: Callable[[int], Awaitable[ExecutionResult | None]],
    ) -> ExecutionResult | None:
        """Run `use(seq)` holding the sender's next sequence number; advance unless refused.

        The first number is the node's, unless the journal holds a higher one that may still
        land (signed before a crash, not yet submitted or committed): reusing that number
        would sign a second transaction that competes with it.
        """
        async with sender.lock:
            if sender.next_seq is None:
                node = await self.account_sequence_number(sender.key.address)
                journaled = await journal.highest_sequence(sender.key.address, self.clock())
                sender.next_seq = node if journaled is None else max(node, journaled + 1)
            seq = sender.next_seq
            outcome = await use(seq)
            if outcome is None or outcome.status != "failed":
                sender.next_seq = seq + 1
            return outcome

    async def resync_sequence_number(self, address: str | None = None) -> None:
        """Forget the local counter (e.g. after another tool used this account)."""
        for sender in self._senders.values():
            if address is None or sender.key.address == address:
                async with sender.lock:
                    sender.next_seq = None

    # -- the use case ---------------------------------------------------------------------
    async def execute(self, copy_id: str, payload: TransactionPayload) -> ExecutionResult:
        """Execute one transaction of `key` at most once; safe to call again with the same id."""
        assert self.key is not None, "AptosExecutor.execute needs a sender key"
        return await self._execute(copy_id, self.key, payload, self.journal)

    async def _execute(
        self,
        copy_id: str,
        key: WalletKey,
        payload: TransactionPayload,
        journal: SubmissionJournal,
    ) -> ExecutionResult:
        lock = self._copy_locks.setdefault(copy_id, asyncio.Lock())
        async with lock:
            entry = await journal.get(copy_id)
            if entry is not None:
                await self._resubmit_if_unknown(entry)
                return await self._wait(entry)
            sender = self._sender(key)
            signed: list[JournalEntry] = []

            async def sign_and_submit(seq: int) -> ExecutionResult | None:
                prepared = await self._simulate_and_sign(copy_id, key, payload, seq)
                if isinstance(prepared, ExecutionResult):
                    return prepared
                await journal.put(prepared)  # durable BEFORE the bytes leave the process
                signed.append(prepared)
                refused = await self._submit(prepared)
                if refused is not None and "SEQUENCE_NUMBER_TOO_OLD" in (refused.reason or ""):
                    sender.next_seq = None  # the chain moved on without us: re-read it
                return refused

            refused = await self._reserve(sender, journal, sign_and_submit)
            if refused is not None:
                return refused
            result = await self._wait(signed[0])
            if result.status == "failed" and result.version is None:
                sender.next_seq = None  # expired unused: later numbers would wait on a gap
            return result

    async def _simulate_and_sign(
        self, copy_id: str, key: WalletKey, payload: TransactionPayload, seq: int
    ) -> ExecutionResult | JournalEntry:
        params = TxParams(
            sequence_number=seq,
            chain_id=self.chain_id,
            expiration_timestamp_secs=int(self.clock()) + self.ttl_secs,
            max_gas_amount=self.max_gas_amount,
            gas_unit_price=self.gas_unit_price,
        )
        raw = build_raw_transaction(key.account_address, payload, params)
        body = simulation_bcs(key.public_key.to_crypto_bytes(), raw)
        status, data = await self._request("POST", "/transactions/simulate", body)
        if status != 200:
            return ExecutionResult(
                copy_id, "failed", reason=f"simulation refused: {_node_message(data, status)}"
            )
        sim = data[0] if isinstance(data, list) and data else {}
        if not sim.get("success", False):
            vm = str(sim.get("vm_status", "unknown"))
            return ExecutionResult(
                copy_id, "failed", reason=f"simulation failed: {vm}", vm_status=vm
            )
        signed = sign_raw(key, raw)
        return JournalEntry(
            copy_id,
            signed.hash,
            signed.bcs,
            seq,
            params.expiration_timestamp_secs,
            key.address,
            self.chain_id,
        )

    async def _submit(self, entry: JournalEntry) -> ExecutionResult | None:
        """POST the signed bytes; retry the same bytes on transient errors."""
        for attempt in range(self.submit_attempts):
            try:
                status, data = await self._request("POST", "/transactions", entry.bcs)
            except (aiohttp.ClientError, TimeoutError):
                pass  # transient: the same bytes go again
            else:
                if status in (200, 202):
                    return None
                if 400 <= status < 500 and attempt > 0:
                    # An earlier attempt may have been accepted (and even committed, which
                    # makes these same bytes "too old" now): only the hash can tell.
                    return None
                if 400 <= status < 500:
                    return ExecutionResult(
                        entry.copy_id,
                        "failed",
                        tx_hash=entry.tx_hash,
                        reason=f"rejected by the node: {_node_message(data, status)}",
                    )
            await asyncio.sleep(min(0.1 * 2**attempt, 1.0))
        # Outcome unknown: the node may have accepted it. Waiting by hash decides.
        return None

    async def _resubmit_if_unknown(self, entry: JournalEntry) -> None:
        status, _ = await self._request("GET", f"/transactions/by_hash/{entry.tx_hash}")
        if status == 404 and self.clock() < entry.expiration_timestamp_secs:
            await self._submit(entry)  # the same bytes: the chain dedupes them

    async def _wait(self, entry: JournalEntry) -> ExecutionResult:
        deadline = time.monotonic() + self.wait_timeout_s
        while True:
            try:
                status, data = await self._request("GET", f"/transactions/by_hash/{entry.tx_hash}")
            except (aiohttp.ClientError, TimeoutError):
                status, data = 0, {}
            if status == 200 and data.get("type") != "pending_transaction":
                vm = str(data.get("vm_status", ""))
                version = int(data["version"]) if "version" in data else None
                if data.get("success"):
                    return ExecutionResult(
                        entry.copy_id, "completed", entry.tx_hash, None, vm, version
                    )
                return ExecutionResult(
                    entry.copy_id, "failed", entry.tx_hash, f"VM: {vm}", vm, version
                )
            if status == 404 and self.clock() > entry.expiration_timestamp_secs + 5:
                return ExecutionResult(
                    entry.copy_id,
                    "failed",
                    entry.tx_hash,
                    "expired without landing (it can no longer execute)",
                )
            if time.monotonic() >= deadline:
                return ExecutionResult(
                    entry.copy_id,
                    "unknown",
                    entry.tx_hash,
                    f"not committed within {self.wait_timeout_s:g}s; execute again to resume",
                )
            await asyncio.sleep(self.poll_interval_s)

    # -- the copy engine's interface (execution.base.Executor) ----------------------------
    async def execute_orders(
        self, orders: Sequence[Order], journal: SubmissionJournal
    ) -> list[Outcome]:
        """Execute copies as Hyperion swaps signed by each follower's key, concurrently.

        Each order goes through `_execute`: simulate, sign, journal (durable, before the
        submit), submit, wait. A copy whose follower has no key loaded fails before anything
        is signed. An exception for one copy (the journal refused it, the node is down)
        leaves that copy as the journal says — pending if nothing was journaled — for
        recovery, and does not stop the others.
        """
        gate = asyncio.Semaphore(max(1, self.concurrency))

        async def one(order: Order) -> Outcome:
            key = self.keys.get(order.user_id)
            if key is None:
                return Outcome(order.trade_id, "failed", reason="no wallet key loaded")
            copy = CopyToSign(
                order.user_id, order.side, order.amount, order.reference_price, order.slippage_pct
            )
            deadline = int(self.clock()) + self.ttl_secs
            payload = swap_payload(order.pair, copy, key.address, deadline)
            async with gate:
                try:
                    result = await self._execute(str(order.trade_id), key, payload, journal)
                except Exception as exc:  # per copy: not fatal to the others
                    log.warning("copy %s: execution interrupted: %s", order.trade_id, exc)
                    return Outcome(order.trade_id, "unknown", reason=f"interrupted: {exc}")
            return _outcome(order.trade_id, result, order.amount, order.reference_price)

        return list(await asyncio.gather(*(one(o) for o in orders)))

    async def reconcile(self, entries: Sequence[JournalEntry]) -> list[Outcome]:
        """What became of journaled transactions: landed, resubmitted-and-landed, or expired.

        Only ever the journaled bytes: if the chain does not know the hash and the
        transaction has not expired, the SAME bytes are submitted again (the chain dedupes
        them); nothing new is signed.
        """
        gate = asyncio.Semaphore(max(1, self.concurrency))

        async def one(entry: JournalEntry) -> Outcome:
            lock = self._copy_locks.setdefault(entry.copy_id, asyncio.Lock())
            async with gate, lock:
                try:
                    await self._resubmit_if_unknown(entry)
                    result = await self._wait(entry)
                except Exception as exc:  # stays unknown: retried later
                    return Outcome(int(entry.copy_id), "unknown", reason=f"node: {exc}")
            return _outcome(int(entry.copy_id), result, None, None)

        return list(await asyncio.gather(*(one(e) for e in entries)))


def _outcome(
    trade_id: int, result: ExecutionResult, amount: Decimal | None, price: Decimal | None
) -> Outcome:
    """An ExecutionResult as the engine's Outcome, with the journal status it settles.

    The fill is the decided amount at the reference price: the swap's min-out bounds it
    within the slippage limit (reading the exact amounts from the swap events is not done).
    """
    journaled = result.tx_hash is not None
    if result.status == "completed":
        journal_status: str | None = "committed"
    elif result.status == "unknown":
        journal_status = None
    elif result.version is not None:
        journal_status = "aborted"  # landed, VM failure: the sequence number is consumed
    elif journaled and (result.reason or "").startswith("expired"):
        journal_status = "expired"
    elif journaled:
        journal_status = "refused"
    else:
        journal_status = None  # simulation failed: nothing was signed or journaled
    return Outcome(
        trade_id,
        result.status,
        amount if amount is not None else Decimal(0),
        price,
        Decimal(0),
        result.tx_hash,
        result.version,
        result.vm_status,
        result.reason,
        journal_status,
    )


def _node_message(data: Any, status: int) -> str:
    if isinstance(data, dict):
        code = data.get("error_code") or data.get("vm_error_code")
        message = " ".join(str(data.get("message", "")).split())[:200]
        return f"HTTP {status} {code}: {message}" if code else f"HTTP {status}: {message}"
    return f"HTTP {status}"
