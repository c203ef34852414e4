"""Topic names on the bus, in one place so publisher and subscriber cannot drift apart.

Book updates are one topic per pair (a screen subscribes to the pair it shows, in
"latest" mode); the other streams are one topic each and every message carries its fields.
"""

from __future__ import annotations

BOOK_PREFIX = "book."
TRADES = "trades"
"""Market trades: {"pair", "price", "size", "side", "at"} (Decimals as strings)."""
LEAD_TRADES = "lead_trades"
"""A followed lead trader's trade, the copy engine's input."""
COPY_EVENTS = "copy_events"
"""Copy engine outcomes: pending, skipped (with reason), completed, failed."""
ENGINE_STATUS = "engine_status"
"""Engine heartbeat and state; "latest" mode with key "component"."""


def book(pair: str) -> str:
    """Topic of one pair's order-book updates, e.g. book("APT-USDC") -> "book.APT-USDC"."""
    if not pair or any(c.isspace() for c in pair):
        raise ValueError(f"bad pair name {pair!r}")
    return BOOK_PREFIX + pair
