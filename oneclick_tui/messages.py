"""Messages the app's live workers post to screens: immutable snapshots, newest wins.

They do not bubble: the app hands each one to the active screen, and a screen that ignores
it must not send it back up to the app.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from oneclick_tui.services.snapshots import LadderSnapshot


class Booted(Message, bubble=False):
    """The stores are open and the engine is running (or attached)."""


class BootFailed(Message, bubble=False):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class BookUpdated(Message, bubble=False):
    """A new top of book for one pair; a newer one replaces a waiting older one.

    It carries the bus message as received and builds the Decimal ladder only when a screen
    asks for it, so pairs nobody is looking at cost almost nothing.
    """

    def __init__(self, raw: dict[str, Any]) -> None:
        super().__init__()
        self.raw = raw
        self.pair: str = raw["pair"]
        self.last: str | None = raw.get("last")
        self.change_pct: str | None = raw.get("change_24h_pct")
        self._snapshot: LadderSnapshot | None = None

    @property
    def snapshot(self) -> LadderSnapshot:
        if self._snapshot is None:
            from oneclick_tui.services.live_feed import ladder_from_message

            self._snapshot = ladder_from_message(self.raw)
        return self._snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BookUpdated) and message.pair == self.pair


class MarketTrades(Message, bubble=False):
    """Market trades published since the last message."""

    def __init__(self, trades: list[dict[str, Any]]) -> None:
        super().__init__()
        self.trades = trades


class CopyActivity(Message, bubble=False):
    """The copy engine finished a lead trade or a stop-loss: trades and positions changed."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event


class EngineStatus(Message, bubble=False):
    def __init__(self, status: dict[str, Any]) -> None:
        super().__init__()
        self.status = status

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EngineStatus)
