"""In-process cache for the embedded mode: same behaviour as Redis, no server.

Expiry is lazy (checked on access) plus a sweep every few thousand writes, so memory does not
grow with keys nobody reads again. The clock is injectable so tests can move time.
"""

from __future__ import annotations

import secrets
import time
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from oneclick_tui.stores.cache.base import (
    DEFAULT_PREFIX,
    Cache,
    CacheError,
    Value,
    WrongTypeError,
    bucket_key,
    session_key,
    to_bytes,
)

Clock = Callable[[], float]
T = TypeVar("T")
_SWEEP_EVERY = 4096


@dataclass
class _ZSet:
    """Members with scores plus a sorted (score, member) list, Redis tie order."""

    scores: dict[str, float] = field(default_factory=dict)
    order: list[tuple[float, str]] = field(default_factory=list)

    def add(self, member: str, score: float) -> bool:
        old = self.scores.get(member)
        if old is not None:
            self.order.pop(bisect_left(self.order, (old, member)))
        self.scores[member] = score
        insort(self.order, (score, member))
        return old is None

    def remove(self, member: str) -> bool:
        old = self.scores.pop(member, None)
        if old is None:
            return False
        self.order.pop(bisect_left(self.order, (old, member)))
        return True


@dataclass
class _Bucket:
    tokens: float
    stamp: float


_Stored = bytes | dict[str, str] | _ZSet | _Bucket


@dataclass
class _Entry:
    value: _Stored
    expires_at: float | None = None


class MemoryCache(Cache):
    """Dict-backed `Cache` for one process (the embedded default)."""

    def __init__(self, *, prefix: str = DEFAULT_PREFIX, clock: Clock = time.monotonic) -> None:
        self.prefix = prefix
        self._clock = clock
        self._data: dict[str, _Entry] = {}
        self._writes = 0
        self._closed = False

    # -- internals -------------------------------------------------------------------------
    def _entry(self, key: str) -> _Entry | None:
        full = self.prefix + key
        entry = self._data.get(full)
        if entry is not None and entry.expires_at is not None and entry.expires_at <= self._clock():
            del self._data[full]
            return None
        return entry

    def _typed(self, key: str, kind: type[T]) -> T | None:
        entry = self._entry(key)
        if entry is None:
            return None
        if not isinstance(entry.value, kind):
            raise WrongTypeError(f"key {key!r} holds another type")
        return entry.value

    def _put(self, key: str, value: _Stored, ttl: float | None = None) -> None:
        expires = None if ttl is None else self._clock() + ttl
        self._data[self.prefix + key] = _Entry(value, expires)
        self._wrote()

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            now = self._clock()
            dead = [k for k, e in self._data.items() if e.expires_at and e.expires_at <= now]
            for k in dead:
                del self._data[k]

    def _container(self, key: str, kind: type[T], factory: Callable[[], T]) -> T:
        found = self._typed(key, kind)
        if found is None:
            found = factory()
            self._data[self.prefix + key] = _Entry(found)  # type: ignore[arg-type]
        self._wrote()
        return found

    # -- plain values ----------------------------------------------------------------------
    async def get(self, key: str) -> bytes | None:
        return self._typed(key, bytes)

    async def set(self, key: str, value: Value, *, ttl: float | None = None) -> None:
        self._put(key, to_bytes(value), ttl)

    async def delete(self, *keys: str) -> int:
        found = [k for k in keys if self._entry(k) is not None]
        for k in found:
            del self._data[self.prefix + k]
        return len(found)

    async def expire(self, key: str, ttl: float) -> bool:
        entry = self._entry(key)
        if entry is None:
            return False
        entry.expires_at = self._clock() + ttl
        return True

    async def ttl(self, key: str) -> float | None:
        entry = self._entry(key)
        if entry is None or entry.expires_at is None:
            return None
        return entry.expires_at - self._clock()

    # -- hashes ----------------------------------------------------------------------------
    async def hset_many(
        self, key: str, mapping: Mapping[str, Value], *, remove: Iterable[str] = ()
    ) -> None:
        fields = self._container(key, dict, dict)
        fields.update({f: to_bytes(v).decode() for f, v in mapping.items()})
        for f in remove:
            fields.pop(f, None)
        if not fields:
            del self._data[self.prefix + key]

    async def hset_bulk(self, updates: Sequence[tuple[str, Mapping[str, Value]]]) -> None:
        for key, mapping in updates:
            await self.hset_many(key, mapping)

    async def hgetall(self, key: str) -> dict[str, str]:
        return dict(self._typed(key, dict) or {})

    async def hdel(self, key: str, *fields: str) -> int:
        found = self._typed(key, dict)
        if found is None:
            return 0
        removed = sum(found.pop(f, None) is not None for f in fields)
        if not found:
            del self._data[self.prefix + key]
        return removed

    # -- sorted sets -----------------------------------------------------------------------
    async def zadd_many(self, key: str, scores: Mapping[str, float]) -> int:
        zset = self._container(key, _ZSet, _ZSet)
        return sum(zset.add(m, float(s)) for m, s in scores.items())

    async def zrank(self, key: str, member: str) -> int | None:
        zset = self._typed(key, _ZSet)
        if zset is None or member not in zset.scores:
            return None
        return bisect_left(zset.order, (zset.scores[member], member))

    async def zrevrank(self, key: str, member: str) -> int | None:
        rank = await self.zrank(key, member)
        zset = self._typed(key, _ZSet)
        return None if rank is None or zset is None else len(zset.order) - 1 - rank

    async def ztop(self, key: str, n: int, *, descending: bool = True) -> list[tuple[str, float]]:
        zset = self._typed(key, _ZSet)
        if zset is None or n <= 0:
            return []
        picked = zset.order[::-1][:n] if descending else zset.order[:n]
        return [(m, s) for s, m in picked]

    async def zrem(self, key: str, *members: str) -> int:
        zset = self._typed(key, _ZSet)
        if zset is None:
            return 0
        removed = sum(zset.remove(m) for m in members)
        if not zset.scores:
            del self._data[self.prefix + key]
        return removed

    # -- counters, rate limits, sessions ---------------------------------------------------
    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        entry = self._entry(key)
        if entry is None:
            self._put(key, str(amount).encode(), ttl)
            return amount
        if not isinstance(entry.value, bytes):
            raise WrongTypeError(f"key {key!r} holds another type")
        try:
            total = int(entry.value) + amount
        except ValueError:
            raise CacheError(f"key {key!r} does not hold an integer") from None
        entry.value = str(total).encode()
        return total

    async def allow(self, key: str, rate: float, burst: int, *, cost: int = 1) -> bool:
        if rate <= 0 or burst <= 0:
            raise CacheError("rate and burst must be positive")
        now = self._clock()
        bucket = self._typed(bucket_key(key), _Bucket) or _Bucket(float(burst), now)
        tokens = min(float(burst), bucket.tokens + max(0.0, now - bucket.stamp) * rate)
        allowed = tokens >= cost
        fresh = _Bucket(tokens - cost if allowed else tokens, now)
        self._put(bucket_key(key), fresh, burst / rate + 1.0)
        return allowed

    async def issue_session(self, subject: str, ttl: float) -> str:
        token = secrets.token_urlsafe(32)
        self._put(session_key(token), subject.encode(), ttl)
        return token

    async def validate_session(self, token: str) -> str | None:
        return await self.get_str(session_key(token))

    async def revoke_session(self, token: str) -> bool:
        return await self.delete(session_key(token)) == 1

    # -- lifecycle -------------------------------------------------------------------------
    async def ping(self) -> bool:
        return not self._closed

    async def close(self) -> None:
        self._closed = True
        self._data.clear()
