"""Redis pub/sub bus: engine and consoles in different processes see the same events.

One connection publishes; one pub/sub connection is read by a task that hands each message to
the same bounded local queues as the in-process bus. The pub/sub connection also listens on a
private control channel, so it is always subscribed and a lost server is noticed even when
no topic is.

When Redis goes away the reader reconnects with capped exponential backoff (with jitter) and
resubscribes every topic; `health()` says degraded meanwhile. Pub/sub is fire-and-forget:
messages published during an outage are lost, so a consumer that keeps state (an order book)
should re-read its snapshot when `health().reconnects` changes. A publish that fails is
counted (`publish_errors`), never raised: a live feed must not crash on a blip.

Wire format: b"j" + JSON for dicts, b"b" + payload for bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import defaultdict
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from oneclick_tui.stores.bus.base import (
    DEFAULT_MAXSIZE,
    Bus,
    BusHealth,
    Message,
    Mode,
    Subscription,
)
from oneclick_tui.stores.cache.base import DEFAULT_PREFIX, json_dumps, json_loads

log = logging.getLogger(__name__)
_LOST = (RedisConnectionError, RedisTimeoutError, OSError)
_CONFIRM_TIMEOUT = 5.0


def encode(message: Message) -> bytes:
    if isinstance(message, bytes | bytearray | memoryview):
        return b"b" + bytes(message)
    if not isinstance(message, dict):
        raise TypeError(f"bus messages are dicts or bytes, not {type(message).__name__}")
    return b"j" + json_dumps(message)


def decode(data: bytes) -> Message:
    """Inverse of `encode`; ValueError for anything else found on the channel."""
    if data[:1] == b"b":
        return data[1:]
    if data[:1] != b"j":
        raise ValueError("not a OneClick bus message")
    decoded = json_loads(data[1:])
    if not isinstance(decoded, dict):
        raise ValueError("not a OneClick bus message")
    return decoded


class RedisBus(Bus):
    """`Bus` over Redis pub/sub with reconnect; build it with `await RedisBus.open(url)`."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX + "bus:",
        backoff_initial: float = 0.05,
        backoff_cap: float = 2.0,
    ) -> None:
        self.name = f"oneclick-bus-{uuid.uuid4().hex[:10]}"
        """Client-name stem of the two connections (`<name>:pub`, `<name>:sub`)."""
        self._prefix = prefix
        self._control = f"{prefix}_control:{self.name}"
        self._initial, self._cap = backoff_initial, backoff_cap
        common: dict[str, Any] = {"socket_connect_timeout": 2.0, "health_check_interval": 15}
        self._pub = aioredis.Redis.from_url(
            url,
            client_name=f"{self.name}:pub",
            socket_timeout=2.0,
            retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1),
            **common,
        )
        self._sub_client = aioredis.Redis.from_url(
            url, client_name=f"{self.name}:sub", retry=Retry(NoBackoff(), 0), **common
        )
        self._pubsub: PubSub | None = None
        self._subs: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._confirmed: dict[str, asyncio.Event] = {}
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._connected = False
        self._reconnects = 0
        self._publish_errors = 0
        self._malformed = 0
        self._last_error: str | None = None

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> RedisBus:
        """Connect both sides now (raises the redis error when unreachable), start reading."""
        bus = cls(url, **kwargs)
        try:
            await bus._pub.ping()
            await bus._connect()
            await asyncio.wait_for(bus._await_control(), _CONFIRM_TIMEOUT)
        except BaseException:
            await bus.close()
            raise
        bus._reader = asyncio.create_task(bus._read_forever(), name=bus.name)
        return bus

    # -- publishing ------------------------------------------------------------------------
    async def publish(self, topic: str, message: Message) -> None:
        data = encode(message)
        try:
            await self._pub.publish(self._prefix + topic, data)
        except _LOST as exc:
            self._publish_errors += 1
            self._last_error = f"publish: {exc}"

    # -- subscribing -----------------------------------------------------------------------
    async def subscribe(
        self,
        topic: str,
        *,
        maxsize: int = DEFAULT_MAXSIZE,
        mode: Mode = "fifo",
        key: str | None = "key",
    ) -> Subscription:
        sub = Subscription(topic, maxsize=maxsize, mode=mode, key=key, on_close=self._forget)
        first = not self._subs.get(topic)
        self._subs[topic].add(sub)
        channel = self._prefix + topic
        if first:
            confirmed = self._confirmed[channel] = asyncio.Event()
            await self._send("subscribe", channel)
        else:
            confirmed = self._confirmed.setdefault(channel, asyncio.Event())
        if self._connected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(confirmed.wait(), _CONFIRM_TIMEOUT)
        return sub

    async def _forget(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.topic)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._subs[sub.topic]
            self._confirmed.pop(self._prefix + sub.topic, None)
            if not self._closing:
                await self._send("unsubscribe", self._prefix + sub.topic)

    async def _send(self, command: str, channel: str) -> None:
        """(Un)subscribe on the live connection; while down, the reconnect catches up."""
        pubsub = self._pubsub
        if pubsub is None:
            return
        try:
            await getattr(pubsub, command)(channel)
        except _LOST as exc:
            self._last_error = f"{command}: {exc}"

    # -- the reader ------------------------------------------------------------------------
    async def _connect(self) -> None:
        """A fresh pub/sub connection subscribed to the control channel and every topic."""
        pubsub = self._sub_client.pubsub()
        channels = [self._control, *(self._prefix + t for t in self._subs)]
        try:
            await pubsub.subscribe(*channels)
        except BaseException:
            await pubsub.aclose()
            raise
        self._pubsub = pubsub
        missing = [self._prefix + t for t in self._subs if self._prefix + t not in channels]
        if missing:  # subscribed while the channel list was on its way
            await pubsub.subscribe(*missing)

    async def _await_control(self) -> None:
        """Read until the server confirmed the control channel: the bus is live."""
        while not self._connected and self._pubsub is not None:
            message = await self._pubsub.get_message(timeout=1.0)
            if message is not None:
                self._dispatch(message)

    async def _read_forever(self) -> None:
        delay = self._initial
        while not self._closing:
            try:
                if self._pubsub is None:
                    await self._connect()
                    self._reconnects += 1
                message = await self._pubsub.get_message(timeout=1.0)  # type: ignore[union-attr]
                if message is not None:
                    self._dispatch(message)
                delay = self._initial
            except Exception as exc:  # lost connection, or anything odd: start afresh
                if not isinstance(exc, _LOST):
                    log.exception("bus reader error; reconnecting")
                await self._lost(exc)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, self._cap)

    async def _lost(self, exc: BaseException) -> None:
        self._connected = False
        self._last_error = f"subscriber: {type(exc).__name__}: {exc}"
        for event in self._confirmed.values():
            event.clear()
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"].decode()
        if kind == "subscribe":
            if channel == self._control:
                self._connected = True
            event = self._confirmed.get(channel)
            if event is not None:
                event.set()
        elif kind == "message" and channel.startswith(self._prefix):
            subs = self._subs.get(channel[len(self._prefix) :])
            if subs:
                try:
                    decoded = decode(message["data"])
                except ValueError:  # a foreign publisher; skip it, keep the connection
                    self._malformed += 1
                    log.warning("dropped a malformed message on %s", channel)
                    return
                for sub in tuple(subs):
                    sub.offer(decoded)

    # -- state and lifecycle ---------------------------------------------------------------
    def health(self) -> BusHealth:
        return BusHealth(
            connected=self._connected,
            reconnects=self._reconnects,
            publish_errors=self._publish_errors,
            malformed=self._malformed,
            last_error=self._last_error,
        )

    async def close(self) -> None:
        self._closing = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for subs in list(self._subs.values()):
            for sub in list(subs):
                await sub.close()
        self._subs.clear()
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        self._connected = False
        await self._pub.aclose()
        await self._sub_client.aclose()
