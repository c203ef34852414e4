"""One execution interface for the copy engine; paper and Aptos implement it.

Why one interface: the engine decides, records and accounts for copies the same way whether
they fill against the simulated book or land on chain; only "execute these orders" and
"what became of these signed transactions" differ. The engine asks `Executor.live` whether a
copy's pending row must be durable before execution (live: a signed transaction may land
even if we crash) or whether deciding and filling may share one transaction (paper: a crash
loses both and the replay redoes both).

The journal types live here too: the live executor writes a `JournalEntry` (the signed bytes,
never the key) through a `SubmissionJournal` BEFORE the bytes leave the process; the engine's
journal is the `execution_journal` table (`execution.journal.DbJournal`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

from oneclick_tui.domain.market_events import PairSpec, Side
from oneclick_tui.domain.orderbook import OrderBook

OutcomeStatus = Literal["completed", "failed", "unknown"]
_ZERO = Decimal(0)
_FEE_QUANTUM = Decimal("1e-8")


@dataclass(frozen=True, slots=True)
class Order:
    """One copy to execute: what the engine decided, sized and bounded."""

    trade_id: int
    user_id: int
    pair: PairSpec
    side: Side
    amount: Decimal
    """Base units (display amount)."""
    reference_price: Decimal
    worst_price: Decimal
    """The slippage bound: no fill at a worse average price."""
    slippage_pct: Decimal


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of an order. `unknown`: signed and journaled, not known to have landed."""

    trade_id: int
    status: OutcomeStatus
    amount: Decimal = _ZERO
    price: Decimal | None = None
    fee: Decimal = _ZERO
    tx_hash: str | None = None
    version: int | None = None
    vm_status: str | None = None
    reason: str | None = None
    journal_status: str | None = None
    """The execution_journal status this outcome settles (None: nothing was journaled)."""


@dataclass(frozen=True)
class JournalEntry:
    """What was signed for a copy: enough to resubmit or look it up, never the key."""

    copy_id: str
    tx_hash: str
    bcs: bytes
    sequence_number: int
    expiration_timestamp_secs: int
    sender: str = ""
    chain_id: int = 0


class SubmissionJournal(Protocol):
    """Durable record of signed copies, written before a signed transaction is submitted."""

    async def get(self, copy_id: str) -> JournalEntry | None: ...

    async def put(self, entry: JournalEntry) -> None: ...

    async def highest_sequence(self, sender: str, now_secs: float) -> int | None:
        """The highest sequence number journaled for `sender` that may still land."""
        ...


@dataclass
class MemoryJournal:
    """In-process journal (tests, one-off CLI transfers); the engine's survives restarts."""

    entries: dict[str, JournalEntry] = field(default_factory=dict)

    async def get(self, copy_id: str) -> JournalEntry | None:
        return self.entries.get(copy_id)

    async def put(self, entry: JournalEntry) -> None:
        self.entries.setdefault(entry.copy_id, entry)

    async def highest_sequence(self, sender: str, now_secs: float) -> int | None:
        seqs = [
            e.sequence_number
            for e in self.entries.values()
            if e.sender == sender and e.expiration_timestamp_secs > now_secs
        ]
        return max(seqs, default=None)


class Executor(Protocol):
    """How the copy engine executes orders; `PaperExecutor` and `AptosExecutor` implement it."""

    @property
    def live(self) -> bool:
        """True when orders become signed transactions that may land after a crash."""
        ...

    async def execute_orders(
        self, orders: Sequence[Order], journal: SubmissionJournal
    ) -> list[Outcome]:
        """Execute each order at most once; one outcome per order, in order."""
        ...

    async def reconcile(self, entries: Sequence[JournalEntry]) -> list[Outcome]:
        """After a crash or a timeout: what became of these journaled transactions.

        Landed -> completed/failed with the VM status; not landed and not expired -> the SAME
        bytes are resubmitted (or awaited); expired -> failed. Never signs anything new.
        """
        ...


def paper_tx_hash(trade_id: int) -> str:
    """A deterministic stand-in transaction hash, so a re-executed copy is recognisable."""
    return "0x" + hashlib.sha3_256(f"oneclick-paper:{trade_id}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Walk:
    """One depth walk of a book: what a market order of `amount` would fill, and at what."""

    filled: Decimal
    avg: Decimal | None
    notional: Decimal


def _walk(
    memo: dict[tuple[str, Side, Decimal], _Walk], book: OrderBook, side: Side, amount: Decimal
) -> _Walk:
    key = (book.pair, side, amount)
    found = memo.get(key)
    if found is None:
        estimate = book.estimate_fill(side, amount)
        found = memo[key] = _Walk(estimate.filled, estimate.avg_price, estimate.notional)
    return found


class PaperExecutor:
    """Fills orders against the live simulated books without consuming them.

    Average price over the levels walked, a partial fill when depth runs out (rounded down to
    the lot size), the taker fee in the quote asset, refusal when the average is worse than
    the order's slippage bound, and a deterministic simulated hash. The book is shared by
    every paper account, so one follower's copy must not move another's price. Within one
    batch (one lead trade's fan-out) walks are shared by followers of the same size.
    """

    live = False

    def __init__(self, books: Mapping[str, OrderBook]) -> None:
        self.books = books

    def fill(
        self, order: Order, walks: dict[tuple[str, Side, Decimal], _Walk] | None = None
    ) -> Outcome:
        """Execute one order now (synchronous: paper has nothing to wait for).

        `walks` memoises depth walks within one batch (the book cannot move during it).
        """
        spec = order.pair
        book = self.books.get(spec.symbol)
        if book is None:
            return Outcome(order.trade_id, "failed", reason="pair has no live book")
        if book.needs_resync or book.mid() is None:
            return Outcome(order.trade_id, "failed", reason="book unavailable (resyncing)")
        memo = walks if walks is not None else {}
        walk = _walk(memo, book, order.side, order.amount)
        filled = (walk.filled // spec.lot_size) * spec.lot_size
        if filled <= 0 or walk.avg is None:
            return Outcome(order.trade_id, "failed", reason="no liquidity")
        if filled != walk.filled:
            walk = _walk(memo, book, order.side, filled)
        avg = walk.avg
        assert avg is not None
        worst = order.worst_price
        if (order.side is Side.BUY and avg > worst) or (order.side is Side.SELL and avg < worst):
            return Outcome(
                order.trade_id,
                "failed",
                reason=f"slippage: average {avg:.8f} beyond bound {worst:.8f}",
            )
        fee = (walk.notional * spec.taker_fee).quantize(_FEE_QUANTUM)
        return Outcome(order.trade_id, "completed", filled, avg, fee, paper_tx_hash(order.trade_id))

    async def execute_orders(
        self, orders: Sequence[Order], journal: SubmissionJournal | None = None
    ) -> list[Outcome]:
        walks: dict[tuple[str, Side, Decimal], _Walk] = {}
        return [self.fill(order, walks) for order in orders]

    async def reconcile(self, entries: Sequence[JournalEntry]) -> list[Outcome]:
        """Paper signs nothing it submits: no journaled transaction can be in flight."""
        return [
            Outcome(int(e.copy_id), "failed", reason="paper executor cannot settle a signed tx")
            for e in entries
        ]
