"""Build and sign each copy as an Aptos swap, off the event loop, before it is executed.

Why a thread pool: an Ed25519 signature plus BCS is ~30 us, and a lead trade with 10,000
followers is 10,000 of them; on the loop that would freeze the console for a third of a
second. PyNaCl releases the GIL inside libsodium, so the pool's threads also sign on more
than one core. A process pool is not an option by design: `WalletKey` refuses to be pickled,
so a key never leaves this process.

Signing is optional: a follower without a key in the keyring is simply not signed for, which
is what the simulator and paper trading need. In paper mode the signed transaction is never
submitted; its hash goes into the copy's audit row.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from aptos_sdk.transactions import TransactionPayload
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.config import KeyringBackendName
from oneclick_tui.domain.market_events import PairSpec, Side
from oneclick_tui.services.wallet import contracts, payloads
from oneclick_tui.services.wallet.keys import WalletKey
from oneclick_tui.services.wallet.signing import SignedTx, TxParams, sign_payload
from oneclick_tui.stores.models import Wallet

log = logging.getLogger(__name__)

SIM_CHAIN_ID = 4
"""Aptos' local-testing chain id: a transaction signed for the simulator is valid nowhere."""
DEADLINE_SECS = 60
MIN_CHUNK = 64
"""Below this many copies per worker, one more thread hop costs more than it saves."""

# Fungible-asset metadata objects of assets we know on mainnet. The simulator's other assets
# get a placeholder derived from their symbol (see `asset_metadata`): paper only.
KNOWN_METADATA: dict[str, str] = {
    "APT": contracts.APT_FA_METADATA,
    "USDC": contracts.USDC_FA_METADATA,
}


def asset_metadata(symbol: str) -> str:
    """The asset's metadata address; a deterministic placeholder for simulator-only assets."""
    known = KNOWN_METADATA.get(symbol.upper())
    if known is not None:
        return known
    return "0x" + hashlib.sha3_256(f"oneclick-sim-asset:{symbol.upper()}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CopyToSign:
    """One decided copy, as the swap it becomes on chain."""

    user_id: int
    side: Side
    amount: Decimal
    """Base units of the pair (display amount, e.g. APT)."""
    reference_price: Decimal
    slippage_pct: Decimal


def _units(value: Decimal, decimals: int) -> int:
    """Display amount -> integer base units, rounded down (never spend more than decided)."""
    return int(value.scaleb(decimals).to_integral_value(rounding=ROUND_FLOOR))


def swap_payload(
    pair: PairSpec,
    copy: CopyToSign,
    recipient: str,
    deadline: int,
    base_metadata: str | None = None,
    quote_metadata: str | None = None,
) -> TransactionPayload:
    """The Hyperion exact-input swap a copy becomes (min-out from the follower's slippage).

    Shared by paper signing and the live executor, so both sign the very same swap.
    """
    base = base_metadata or asset_metadata(pair.base)
    quote = quote_metadata or asset_metadata(pair.quote)
    notional = copy.amount * copy.reference_price
    if copy.side is Side.BUY:
        from_token, to_token = quote, base
        amount_in = _units(notional, pair.quote_decimals)
        expected_out = _units(copy.amount, pair.base_decimals)
    else:
        from_token, to_token = base, quote
        amount_in = _units(copy.amount, pair.base_decimals)
        expected_out = _units(notional, pair.quote_decimals)
    return payloads.hyperion_exact_input(
        from_token=from_token,
        to_token=to_token,
        amount_in=amount_in,
        expected_out=expected_out,
        slippage=copy.slippage_pct / 100,
        recipient=recipient,
        deadline_secs=deadline,
    )


class SigningJob:
    """Copies being signed (`CopySigner.submit`); `result()` waits for them."""

    def __init__(
        self,
        n: int,
        futures: list[Future[list[tuple[int, SignedTx]]]],
        inline: Callable[[], list[tuple[int, SignedTx]]] | None = None,
    ) -> None:
        self._n = n
        self._futures = futures
        self._inline = inline

    def result(self) -> list[SignedTx | None]:
        """One signed transaction per copy, in order (None where the follower has no key)."""
        out: list[SignedTx | None] = [None] * self._n
        chunks = [f.result() for f in self._futures]
        if self._inline is not None:
            chunks.append(self._inline())
        for chunk in chunks:
            for index, signed in chunk:
                out[index] = signed
        return out


class CopySigner:
    """Signs copies for the followers whose keys it holds, in a thread pool."""

    def __init__(
        self,
        keys: Mapping[int, WalletKey],
        *,
        chain_id: int = SIM_CHAIN_ID,
        executor: Executor | None = None,
        workers: int | None = None,
    ) -> None:
        self._keys = dict(keys)
        self.chain_id = chain_id
        # one core stays with the event loop (and the database driver's thread)
        self.workers = workers or max(1, min(4, (os.cpu_count() or 2) - 1))
        self._own_pool = executor is None
        self._pool = executor or ThreadPoolExecutor(self.workers, thread_name_prefix="sign")
        self._sequence: dict[int, int] = {}
        self._sequence_lock = threading.Lock()
        """Sequences are drawn on the event loop (`sign`) and in the fan-out's thread
        (`submit`)."""

    def __repr__(self) -> str:
        return f"CopySigner({len(self._keys)} keys, chain {self.chain_id})"

    def has_key(self, user_id: int) -> bool:
        return user_id in self._keys

    def _next_sequence(self, user_id: int) -> int:
        """Paper: a local counter per account (a live executor would ask the fullnode)."""
        with self._sequence_lock:
            seq = self._sequence.get(user_id, 0)
            self._sequence[user_id] = seq + 1
        return seq

    def _jobs(self, copies: Sequence[CopyToSign]) -> list[tuple[int, CopyToSign, int]]:
        return [(i, c, self._next_sequence(c.user_id)) for i, c in enumerate(copies)
                if c.user_id in self._keys]  # fmt: skip

    def _chunks(
        self, jobs: list[tuple[int, CopyToSign, int]]
    ) -> list[list[tuple[int, CopyToSign, int]]]:
        size = max(MIN_CHUNK, -(-len(jobs) // self.workers))
        return [jobs[i : i + size] for i in range(0, len(jobs), size)]

    def submit(self, pair: PairSpec, copies: Sequence[CopyToSign]) -> SigningJob:
        """`sign` for a caller that is not on the event loop (the paper fan-out's thread):
        the pool starts now, `SigningJob.result()` waits. A batch smaller than one chunk is
        signed by `result()` in the caller's thread: a hop to the pool would cost more."""
        jobs = self._jobs(copies)
        deadline = int(time.time()) + DEADLINE_SECS
        if len(jobs) < MIN_CHUNK:
            return SigningJob(len(copies), [], lambda: self._sign_chunk(pair, jobs, deadline))
        futures = [
            self._pool.submit(self._sign_chunk, pair, chunk, deadline)
            for chunk in self._chunks(jobs)
        ]
        return SigningJob(len(copies), futures)

    async def sign(self, pair: PairSpec, copies: Sequence[CopyToSign]) -> list[SignedTx | None]:
        """Sign every copy whose follower has a key (None for the others), off the loop."""
        jobs = self._jobs(copies)
        out: list[SignedTx | None] = [None] * len(copies)
        if not jobs:
            return out
        deadline = int(time.time()) + DEADLINE_SECS
        loop = asyncio.get_running_loop()
        chunks = self._chunks(jobs)
        results = await asyncio.gather(
            *(
                loop.run_in_executor(self._pool, self._sign_chunk, pair, chunk, deadline)
                for chunk in chunks
            )
        )
        for chunk_result in results:
            for index, signed in chunk_result:
                out[index] = signed
        return out

    def _sign_chunk(
        self, pair: PairSpec, jobs: list[tuple[int, CopyToSign, int]], deadline: int
    ) -> list[tuple[int, SignedTx]]:
        """Runs in a worker thread: payloads, signatures, BCS and hashes for a slice."""
        base, quote = asset_metadata(pair.base), asset_metadata(pair.quote)
        out = []
        for index, copy, sequence in jobs:
            key = self._keys[copy.user_id]
            payload = swap_payload(pair, copy, key.address, deadline, base, quote)
            params = TxParams(sequence, self.chain_id, deadline)
            out.append((index, sign_payload(key, payload, params)))
        return out

    def close(self) -> None:
        if self._own_pool:
            self._pool.shutdown(wait=True)


async def wallet_keys(
    sessions: async_sessionmaker[AsyncSession], keyring_backend: KeyringBackendName = "auto"
) -> dict[int, WalletKey]:
    """The keyring key of every user with a wallet row (first wallet per user), by user id.

    `KeystoreError` when the keyring cannot be opened: the caller decides whether that is
    fatal (on-chain execution) or only means no signing (paper).
    """
    async with sessions() as session:
        rows = (await session.execute(select(Wallet.user_id, Wallet.address))).all()
    if not rows:
        return {}
    from oneclick_tui.services.wallet.keystore import Keystore

    keystore = await asyncio.to_thread(Keystore.open, keyring_backend)
    keys: dict[int, WalletKey] = {}
    for user_id, address in rows:
        if user_id not in keys and await asyncio.to_thread(keystore.contains, address):
            keys[user_id] = await asyncio.to_thread(keystore.load, address)
    return keys


async def signer_for_wallets(
    sessions: async_sessionmaker[AsyncSession], keyring_backend: KeyringBackendName = "auto"
) -> CopySigner | None:
    """A signer over the keys of every user with a wallet row; None when there are none.

    A keyring that cannot be opened is logged and means no signing (paper still runs).
    """
    from oneclick_tui.services.wallet.keystore import KeystoreError

    try:
        keys = await wallet_keys(sessions, keyring_backend)
    except KeystoreError as exc:
        log.warning("copy signing disabled: %s", exc)
        return None
    return CopySigner(keys) if keys else None
