"""Redis cache for the full stack: shared by the engine and every console on the machine.

TTLs go to Redis in milliseconds (PX/PEXPIRE). The token bucket is one Lua script using the
server clock, so every process sharing a limit agrees on time and nothing races.
Server errors become `CacheError`s, lost connections `CacheUnavailableError`.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from oneclick_tui.stores.cache.base import (
    DEFAULT_PREFIX,
    Cache,
    CacheError,
    CacheUnavailableError,
    Value,
    WrongTypeError,
    bucket_key,
    session_key,
    to_bytes,
)

# KEYS[1] bucket; ARGV rate/s, burst, cost. State: tokens and the time they were counted.
_TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'ts', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return allowed
"""


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    """Redis exceptions -> the cache's own, so services never import redis."""
    try:
        yield
    except ResponseError as exc:
        kind = WrongTypeError if str(exc).startswith("WRONGTYPE") else CacheError
        raise kind(str(exc)) from exc
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise CacheUnavailableError(str(exc)) from exc


class RedisCache(Cache):
    """`Cache` on a Redis server through redis.asyncio (hiredis parser when installed)."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        # redis-py's stubs type replies as unions of every possibility; replies are converted
        # explicitly below, so commands go through an untyped alias.
        self._r: Any = client
        self.prefix = prefix
        self._bucket = client.register_script(_TOKEN_BUCKET)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX, **kwargs: Any) -> RedisCache:
        """Build without connecting; the first command (or `ping`) connects."""
        kwargs.setdefault("socket_connect_timeout", 2.0)
        kwargs.setdefault("socket_timeout", 5.0)
        # A dropped connection is retried on a fresh one (from_url sets no retry by itself).
        kwargs.setdefault("retry", Retry(ExponentialBackoff(cap=0.25, base=0.01), 2))
        return cls(aioredis.Redis.from_url(url, **kwargs), prefix=prefix)

    def _k(self, key: str) -> str:
        return self.prefix + key

    # -- plain values ----------------------------------------------------------------------
    async def get(self, key: str) -> bytes | None:
        async with _translated():
            value: bytes | None = await self._r.get(self._k(key))
        return value

    async def set(self, key: str, value: Value, *, ttl: float | None = None) -> None:
        px = None if ttl is None else _ms(ttl)
        async with _translated():
            await self._r.set(self._k(key), to_bytes(value), px=px)

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        async with _translated():
            return int(await self._r.delete(*(self._k(k) for k in keys)))

    async def expire(self, key: str, ttl: float) -> bool:
        async with _translated():
            return bool(await self._r.pexpire(self._k(key), _ms(ttl)))

    async def ttl(self, key: str) -> float | None:
        async with _translated():
            left = int(await self._r.pttl(self._k(key)))
        return None if left < 0 else left / 1000

    # -- hashes ----------------------------------------------------------------------------
    async def hset_many(
        self, key: str, mapping: Mapping[str, Value], *, remove: Iterable[str] = ()
    ) -> None:
        gone = list(remove)
        async with _translated(), self._r.pipeline(transaction=True) as pipe:
            if mapping:
                pipe.hset(self._k(key), mapping=dict(mapping))
            if gone:
                pipe.hdel(self._k(key), *gone)
            await pipe.execute()

    async def hset_bulk(self, updates: Sequence[tuple[str, Mapping[str, Value]]]) -> None:
        async with _translated(), self._r.pipeline(transaction=False) as pipe:
            for key, mapping in updates:
                if mapping:
                    pipe.hset(self._k(key), mapping=dict(mapping))
            await pipe.execute()

    async def hgetall(self, key: str) -> dict[str, str]:
        async with _translated():
            raw: dict[bytes, bytes] = await self._r.hgetall(self._k(key))
        return {f.decode(): v.decode() for f, v in raw.items()}

    async def hdel(self, key: str, *fields: str) -> int:
        if not fields:
            return 0
        async with _translated():
            return int(await self._r.hdel(self._k(key), *fields))

    # -- sorted sets -----------------------------------------------------------------------
    async def zadd_many(self, key: str, scores: Mapping[str, float]) -> int:
        if not scores:
            return 0
        async with _translated():
            return int(await self._r.zadd(self._k(key), dict(scores)))

    async def zrank(self, key: str, member: str) -> int | None:
        async with _translated():
            rank = await self._r.zrank(self._k(key), member)
        return None if rank is None else int(rank)

    async def zrevrank(self, key: str, member: str) -> int | None:
        async with _translated():
            rank = await self._r.zrevrank(self._k(key), member)
        return None if rank is None else int(rank)

    async def ztop(self, key: str, n: int, *, descending: bool = True) -> list[tuple[str, float]]:
        if n <= 0:
            return []
        async with _translated():
            rows = await self._r.zrange(self._k(key), 0, n - 1, desc=descending, withscores=True)
        return [(m.decode(), float(s)) for m, s in rows]

    async def zrem(self, key: str, *members: str) -> int:
        if not members:
            return 0
        async with _translated():
            return int(await self._r.zrem(self._k(key), *members))

    # -- counters, rate limits, sessions ---------------------------------------------------
    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        async with _translated(), self._r.pipeline(transaction=True) as pipe:
            pipe.incrby(self._k(key), amount)
            if ttl is not None:
                pipe.pexpire(self._k(key), _ms(ttl), nx=True)
            results = await pipe.execute()
        return int(results[0])

    async def allow(self, key: str, rate: float, burst: int, *, cost: int = 1) -> bool:
        if rate <= 0 or burst <= 0:
            raise CacheError("rate and burst must be positive")
        async with _translated():
            result = await self._bucket(keys=[self._k(bucket_key(key))], args=[rate, burst, cost])
        return bool(result)

    async def issue_session(self, subject: str, ttl: float) -> str:
        token = secrets.token_urlsafe(32)
        await self.set(session_key(token), subject, ttl=ttl)
        return token

    async def validate_session(self, token: str) -> str | None:
        return await self.get_str(session_key(token))

    async def revoke_session(self, token: str) -> bool:
        return await self.delete(session_key(token)) == 1

    # -- lifecycle -------------------------------------------------------------------------
    async def ping(self) -> bool:
        try:
            return bool(await self._r.ping())
        except (RedisConnectionError, RedisTimeoutError, OSError):
            return False

    async def close(self) -> None:
        await self._r.aclose()
