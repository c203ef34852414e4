"""The event bus interface and the bounded subscription both backends deliver into.

A message is a JSON-serialisable dict or raw bytes. Dicts go through `json_dumps`: `Decimal`
arrives as its string (exact), datetimes as ISO 8601; subscribers rebuild them with
`Decimal(value)`. The in-process bus round-trips dicts the same way so both backends deliver
identical messages; one decoded dict is shared by all local subscribers: treat it as read-only.

A publisher never waits for a subscriber. Each subscription has its own bounded queue:
- "fifo": every message in order; when full the OLDEST is dropped and counted.
- "latest": conflating, latest value wins per key (the `key` field of the message, e.g. the
  pair); a newer message replaces the waiting one in place and the replaced one is counted.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal

from oneclick_tui.stores.cache.base import json_dumps, json_loads

Message = dict[str, Any] | bytes
Mode = Literal["fifo", "latest"]
DEFAULT_MAXSIZE = 1024


def normalise(message: Message) -> Message:
    """What a subscriber receives: bytes as they are, dicts as they come back from JSON."""
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message)
    if not isinstance(message, dict):
        raise TypeError(f"bus messages are dicts or bytes, not {type(message).__name__}")
    decoded: dict[str, Any] = json_loads(json_dumps(message))
    return decoded


@dataclass(frozen=True, slots=True)
class BusHealth:
    """What a status bar shows: degraded while `connected` is False."""

    connected: bool
    reconnects: int = 0
    publish_errors: int = 0
    malformed: int = 0
    """Foreign messages found on a topic and skipped."""
    last_error: str | None = None


class SubscriptionClosed(Exception):
    """`get()` on a subscription that was closed."""


class Subscription:
    """Bounded local queue fed by the bus; async-iterate it, `close()` when done."""

    def __init__(
        self,
        topic: str,
        *,
        maxsize: int = DEFAULT_MAXSIZE,
        mode: Mode = "fifo",
        key: str | None = "key",
        on_close: Callable[[Subscription], Any] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.topic = topic
        self.maxsize = maxsize
        self.mode: Mode = mode
        self.key = key
        self.dropped = 0
        """Messages this subscriber lost because it was slower than the publisher."""
        self.delivered = 0
        self._items: OrderedDict[Hashable, Message] = OrderedDict()
        self._seq = 0
        self._ready = asyncio.Event()
        self._closed = False
        self._on_close = on_close

    def _slot(self, message: Message) -> Hashable:
        if self.mode == "fifo":
            self._seq += 1
            return self._seq
        if isinstance(message, dict) and self.key is not None:
            return ("k", _hashable(message.get(self.key)))
        return ("k", None)

    def offer(self, message: Message) -> None:
        """Called by the bus, never blocks: enqueue, replacing or dropping as the mode says."""
        if self._closed:
            return
        slot = self._slot(message)
        if slot in self._items:
            self._items[slot] = message
            self.dropped += 1
        else:
            if len(self._items) >= self.maxsize:
                self._items.popitem(last=False)
                self.dropped += 1
            self._items[slot] = message
        self._ready.set()

    def qsize(self) -> int:
        return len(self._items)

    def get_nowait(self) -> Message | None:
        """The next waiting message, or None."""
        if not self._items:
            return None
        _, message = self._items.popitem(last=False)
        if not self._items:
            self._ready.clear()
        self.delivered += 1
        return message

    async def get(self) -> Message:
        """Wait for the next message; raises `SubscriptionClosed` after `close()`."""
        while True:
            if self._closed:
                raise SubscriptionClosed(self.topic)
            message = self.get_nowait()
            if message is not None:
                return message
            await self._ready.wait()

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Stop receiving; waiting readers wake up and iteration ends."""
        if self._closed:
            return
        self._closed = True
        self._items.clear()
        self._ready.set()
        if self._on_close is not None:
            result = self._on_close(self)
            if asyncio.iscoroutine(result):
                await result

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _hashable(value: Any) -> Hashable:
    return value if isinstance(value, Hashable) else repr(value)


class Bus(ABC):
    """Topic publish/subscribe between the engine and the UI."""

    @abstractmethod
    async def publish(self, topic: str, message: Message) -> None:
        """Send to every current subscriber of `topic`; never waits for a slow one."""

    @abstractmethod
    async def subscribe(
        self,
        topic: str,
        *,
        maxsize: int = DEFAULT_MAXSIZE,
        mode: Mode = "fifo",
        key: str | None = "key",
    ) -> Subscription:
        """Receive what is published on `topic` from now on (the subscription is live on
        return). `key` names the message field conflated on in "latest" mode."""

    @abstractmethod
    def health(self) -> BusHealth:
        """Connection state for the UI (always connected in-process)."""

    @abstractmethod
    async def close(self) -> None:
        """Close every subscription and connection."""

    async def __aenter__(self) -> Bus:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
