"""Pick the cache and bus backends from the settings: Redis when `redis_url` is set.

An unreachable Redis at start is a `RedisUnavailableError` naming the URL (password masked),
so the CLI can print one line; after start the Redis bus rides out outages on its own.
"""

from __future__ import annotations

from redis.exceptions import RedisError

from oneclick_tui.config import Settings, mask_url
from oneclick_tui.stores.bus.base import Bus
from oneclick_tui.stores.bus.memory import MemoryBus
from oneclick_tui.stores.bus.redis import RedisBus
from oneclick_tui.stores.cache.base import Cache
from oneclick_tui.stores.cache.memory import MemoryCache
from oneclick_tui.stores.cache.redis import RedisCache


class RedisUnavailableError(Exception):
    """Redis named in the settings did not answer at start."""

    def __init__(self, url: str, reason: object) -> None:
        self.url = mask_url(url) or ""
        super().__init__(f"cannot reach Redis at {self.url}: {reason}")


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def open_cache(settings: Settings) -> Cache:
    """In-process cache, or a Redis cache checked with a PING."""
    if not settings.redis_url:
        return MemoryCache()
    cache = RedisCache.from_url(settings.redis_url)
    try:
        await cache.client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        await cache.close()
        raise RedisUnavailableError(settings.redis_url, _reason(exc)) from None
    return cache


async def open_bus(settings: Settings) -> Bus:
    """In-process bus, or a connected Redis pub/sub bus."""
    if not settings.redis_url:
        return MemoryBus()
    try:
        return await RedisBus.open(settings.redis_url)
    except (RedisError, OSError, TimeoutError) as exc:
        raise RedisUnavailableError(settings.redis_url, _reason(exc)) from None
