"""Turns bus messages into the immutable snapshots the console draws.

Runs in the console's event loop as async tasks; it never touches Textual itself, it hands
each decoded snapshot to a callback (the app posts it as a message).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from oneclick_tui.services.snapshots import LadderSnapshot
from oneclick_tui.stores.bus.base import Bus, Subscription


def ladder_from_message(message: dict[str, Any]) -> LadderSnapshot:
    """Rebuild a ladder from a `book.<pair>` message (Decimals arrive as strings)."""
    return LadderSnapshot(
        pair=message["pair"],
        bids=tuple((Decimal(p), Decimal(s)) for p, s in message["bids"]),
        asks=tuple((Decimal(p), Decimal(s)) for p, s in message["asks"]),
        seq=int(message["seq"]),
        at=datetime.fromisoformat(message["at"]),
    )


async def pump(sub: Subscription, handle: Callable[[dict[str, Any]], None]) -> None:
    """Deliver every message of a subscription to `handle` until it is closed."""
    async for message in sub:
        if isinstance(message, dict):
            handle(message)


async def subscribe_books(bus: Bus, pairs: list[str]) -> list[Subscription]:
    """One conflating subscription per pair: a slow console only sees the newest book."""
    from oneclick_tui.stores.bus import topics

    return [await bus.subscribe(topics.book(p), mode="latest", maxsize=4) for p in pairs]
