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
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import aiohttp
from aptos_sdk.transactions import TransactionPayload

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


@dataclass(frozen=True)
class JournalEntry:
    """What was signed for a copy: enough to resubmit or look it up, never the key."""

    copy_id: str
    tx_hash: str
    bcs: bytes
    sequence_number: int
    expiration_timestamp_secs: int


class SubmissionJournal(Protocol):
    """Durable record of signed copies (the copy-trade table can implement this)."""

    async def get(self, copy_id: str) -> JournalEntry | None: ...

    async def put(self, entry: JournalEntry) -> None: ...


@dataclass
class MemoryJournal:
    """In-process journal (tests, paper runs); a durable one survives restarts."""

    entries: dict[str, JournalEntry] = field(default_factory=dict)

    async def get(self, copy_id: str) -> JournalEntry | None:
        return self.entries.get(copy_id)

    async def put(self, entry: JournalEntry) -> None:
        self.entries.setdefault(entry.copy_id, entry)


class NodeError(Exception):
    """The fullnode answered with an error; `definitive` means the tx was certainly refused."""

    def __init__(self, message: str, status: int, definitive: bool) -> None:
        super().__init__(message)
        self.status = status
        self.definitive = definitive


@dataclass
class AptosExecutor:
    """Submits copies for one sender through one fullnode REST API (base URL ends in /v1)."""

    base_url: str
    key: WalletKey
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
    _session: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)
    _next_seq: int | None = field(default=None, init=False, repr=False)
    _seq_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
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
    async def account_sequence_number(self) -> int:
        status, data = await self._request("GET", f"/accounts/{self.key.address}")
        if status == 404:
            return 0  # account not created yet: its first transaction uses 0
        if status != 200:
            raise NodeError(_node_message(data, status), status, definitive=False)
        return int(data["sequence_number"])

    async def _reserve(
        self, use: Callable[[int], Awaitable[ExecutionResult | None]]
    ) -> ExecutionResult | None:
        """Run `use(seq)` holding the next sequence number; advance unless it was refused."""
        async with self._seq_lock:
            if self._next_seq is None:
                self._next_seq = await self.account_sequence_number()
            seq = self._next_seq
            outcome = await use(seq)
            if outcome is None or outcome.status != "failed":
                self._next_seq = seq + 1
            return outcome

    async def resync_sequence_number(self) -> None:
        """Forget the local counter (e.g. after another tool used this account)."""
        async with self._seq_lock:
            self._next_seq = None

    # -- the use case ---------------------------------------------------------------------
    async def execute(self, copy_id: str, payload: TransactionPayload) -> ExecutionResult:
        """Execute one copy at most once; safe to call again with the same copy id."""
        lock = self._copy_locks.setdefault(copy_id, asyncio.Lock())
        async with lock:
            entry = await self.journal.get(copy_id)
            if entry is not None:
                await self._resubmit_if_unknown(entry)
                return await self._wait(entry)
            signed: list[JournalEntry] = []

            async def sign_and_submit(seq: int) -> ExecutionResult | None:
                prepared = await self._simulate_and_sign(copy_id, payload, seq)
                if isinstance(prepared, ExecutionResult):
                    return prepared
                await self.journal.put(prepared)  # before the bytes leave the process
                signed.append(prepared)
                return await self._submit(prepared)

            refused = await self._reserve(sign_and_submit)
            if refused is not None:
                return refused
            return await self._wait(signed[0])

    async def _simulate_and_sign(
        self, copy_id: str, payload: TransactionPayload, seq: int
    ) -> ExecutionResult | JournalEntry:
        params = TxParams(
            sequence_number=seq,
            chain_id=self.chain_id,
            expiration_timestamp_secs=int(self.clock()) + self.ttl_secs,
            max_gas_amount=self.max_gas_amount,
            gas_unit_price=self.gas_unit_price,
        )
        raw = build_raw_transaction(self.key.account_address, payload, params)
        body = simulation_bcs(self.key.public_key.to_crypto_bytes(), raw)
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
        signed = sign_raw(self.key, raw)
        return JournalEntry(copy_id, signed.hash, signed.bcs, seq, params.expiration_timestamp_secs)

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
                    if "SEQUENCE_NUMBER_TOO_OLD" in str(data):
                        self._next_seq = None  # the chain moved on without us: re-read it
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
                    "expired without being committed (it can no longer execute)",
                )
            if time.monotonic() >= deadline:
                return ExecutionResult(
                    entry.copy_id,
                    "unknown",
                    entry.tx_hash,
                    f"not committed within {self.wait_timeout_s:g}s; execute again to resume",
                )
            await asyncio.sleep(self.poll_interval_s)


def _node_message(data: Any, status: int) -> str:
    if isinstance(data, dict):
        code = data.get("error_code") or data.get("vm_error_code")
        message = " ".join(str(data.get("message", "")).split())[:200]
        return f"HTTP {status} {code}: {message}" if code else f"HTTP {status}: {message}"
    return f"HTTP {status}"
