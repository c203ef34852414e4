"""In-process bus for the embedded mode: publish hands the message to each local queue."""

from __future__ import annotations

from collections import defaultdict

from oneclick_tui.stores.bus.base import (
    DEFAULT_MAXSIZE,
    Bus,
    BusHealth,
    Message,
    Mode,
    Subscription,
    normalise,
)


class MemoryBus(Bus):
    """`Bus` inside one event loop; publishing is a few dict operations per subscriber."""

    def __init__(self) -> None:
        self._subs: defaultdict[str, set[Subscription]] = defaultdict(set)

    async def publish(self, topic: str, message: Message) -> None:
        delivered = normalise(message)  # also when nobody listens: same errors as Redis
        for sub in tuple(self._subs.get(topic, ())):
            sub.offer(delivered)

    async def subscribe(
        self,
        topic: str,
        *,
        maxsize: int = DEFAULT_MAXSIZE,
        mode: Mode = "fifo",
        key: str | None = "key",
    ) -> Subscription:
        sub = Subscription(topic, maxsize=maxsize, mode=mode, key=key, on_close=self._forget)
        self._subs[topic].add(sub)
        return sub

    def _forget(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.topic)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.topic]

    def health(self) -> BusHealth:
        return BusHealth(connected=True)

    async def close(self) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                await sub.close()
        self._subs.clear()
