"""Paper execution: fill a copy against the current simulated order book.

The follower's paper fill walks the live book (average price, partial fill when depth runs
out, taker fee in the quote asset) but does not consume it: the simulated market is shared
by every paper account, and one follower's copy must not move another's price.

The copy engine executes through `services.execution.base.PaperExecutor` (same rules, as an
`Executor`); this function form stays for callers that fill one order by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from oneclick_tui.domain.market_events import Side
from oneclick_tui.domain.orderbook import OrderBook
from oneclick_tui.services.execution.base import paper_tx_hash

__all__ = ["PaperFill", "PaperReject", "fill_on_book", "paper_tx_hash"]


@dataclass(frozen=True)
class PaperFill:
    amount: Decimal
    price: Decimal
    fee: Decimal
    tx_hash: str

    @property
    def notional(self) -> Decimal:
        return self.amount * self.price


@dataclass(frozen=True)
class PaperReject:
    reason: str


def fill_on_book(
    book: OrderBook,
    trade_id: int,
    side: Side,
    amount: Decimal,
    worst_price: Decimal,
    taker_fee: Decimal,
    lot_size: Decimal,
) -> PaperFill | PaperReject:
    """Fill `amount` (or what the book holds) unless the average is worse than `worst_price`."""
    if book.needs_resync or book.mid() is None:
        return PaperReject("book unavailable (resyncing)")
    estimate = book.estimate_fill(side, amount)
    filled = (estimate.filled // lot_size) * lot_size
    if filled <= 0 or estimate.avg_price is None:
        return PaperReject("no liquidity")
    if filled != estimate.filled:
        estimate = book.estimate_fill(side, filled)
    avg = estimate.avg_price
    assert avg is not None
    if (side is Side.BUY and avg > worst_price) or (side is Side.SELL and avg < worst_price):
        return PaperReject(f"slippage: average {avg:.8f} beyond bound {worst_price:.8f}")
    fee = (estimate.notional * taker_fee).quantize(Decimal("1e-8"))
    return PaperFill(filled, avg, fee, paper_tx_hash(trade_id))
