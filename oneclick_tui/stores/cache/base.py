"""The cache interface services see, whatever holds the data (this process or Redis).

Values are bytes or str (str is stored UTF-8); `get` returns bytes, `get_str`/`get_json` decode.
Hash fields/values and sorted-set members come back as str. TTLs are seconds (float, kept to the
millisecond). Sorted-set scores are floats because they rank, they never hold money.

JSON helpers encode `Decimal` as its string (exact, no float on the way) and datetimes as
ISO 8601; readers turn them back with `Decimal(value)` because they know their schema.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

DEFAULT_PREFIX = "oneclick:"
Value = bytes | str


class CacheError(Exception):
    """A cache operation could not be done (wrong type, bad argument)."""


class WrongTypeError(CacheError):
    """The key holds another kind of value (e.g. a hash read as a string)."""


class CacheUnavailableError(CacheError):
    """The backing server did not answer (connection lost or timed out)."""


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_dumps(value: Any) -> bytes:
    """Compact JSON; Decimal -> string so no amount ever passes through a float."""
    return json.dumps(value, default=_json_default, separators=(",", ":")).encode()


def json_loads(data: bytes | str) -> Any:
    """Inverse of `json_dumps` (Decimals come back as strings)."""
    return json.loads(data)


def to_bytes(value: Value) -> bytes:
    return value.encode() if isinstance(value, str) else value


class Cache(ABC):
    """Key/value, hashes, sorted sets, counters, rate limits and sessions under one prefix."""

    prefix: str

    # -- plain values -------------------------------------------------------------------
    @abstractmethod
    async def get(self, key: str) -> bytes | None:
        """The value, or None when missing or expired."""

    @abstractmethod
    async def set(self, key: str, value: Value, *, ttl: float | None = None) -> None:
        """Store `value`; with `ttl` (seconds) it disappears afterwards."""

    @abstractmethod
    async def delete(self, *keys: str) -> int:
        """Remove keys of any type; returns how many existed."""

    @abstractmethod
    async def expire(self, key: str, ttl: float) -> bool:
        """Give an existing key of any type a TTL; False when the key does not exist."""

    @abstractmethod
    async def ttl(self, key: str) -> float | None:
        """Seconds left, or None when the key is missing or never expires."""

    async def get_str(self, key: str) -> str | None:
        data = await self.get(key)
        return None if data is None else data.decode()

    async def get_json(self, key: str) -> Any:
        data = await self.get(key)
        return None if data is None else json_loads(data)

    async def set_json(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        await self.set(key, json_dumps(value), ttl=ttl)

    # -- hashes (order-book levels keyed by price string) -----------------------------------
    @abstractmethod
    async def hset_many(
        self, key: str, mapping: Mapping[str, Value], *, remove: Iterable[str] = ()
    ) -> None:
        """Set fields and remove others in one atomic step (a book delta)."""

    @abstractmethod
    async def hset_bulk(self, updates: Sequence[tuple[str, Mapping[str, Value]]]) -> None:
        """Many hashes' field sets in one round trip (pipelined on Redis)."""

    @abstractmethod
    async def hgetall(self, key: str) -> dict[str, str]:
        """Every field; {} when the key is missing."""

    @abstractmethod
    async def hdel(self, key: str, *fields: str) -> int:
        """Remove fields; returns how many existed."""

    # -- sorted sets (leaderboards) ---------------------------------------------------------
    @abstractmethod
    async def zadd_many(self, key: str, scores: Mapping[str, float]) -> int:
        """Add or re-score members; returns how many were new."""

    @abstractmethod
    async def zrank(self, key: str, member: str) -> int | None:
        """0-based rank, lowest score first (ties by member name, as Redis)."""

    @abstractmethod
    async def zrevrank(self, key: str, member: str) -> int | None:
        """0-based rank, highest score first."""

    @abstractmethod
    async def ztop(self, key: str, n: int, *, descending: bool = True) -> list[tuple[str, float]]:
        """The first `n` members with their scores, best (highest) first by default."""

    @abstractmethod
    async def zrem(self, key: str, *members: str) -> int:
        """Remove members; returns how many existed."""

    # -- counters, rate limits, sessions ----------------------------------------------------
    @abstractmethod
    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Atomic add; `ttl` is set when the counter is created (a fixed window)."""

    @abstractmethod
    async def allow(self, key: str, rate: float, burst: int, *, cost: int = 1) -> bool:
        """Token bucket: `burst` tokens, refilled at `rate` per second; atomic."""

    @abstractmethod
    async def issue_session(self, subject: str, ttl: float) -> str:
        """A new random token that validates to `subject` until `ttl` passes or revoked."""

    @abstractmethod
    async def validate_session(self, token: str) -> str | None:
        """The subject of a live token, or None (unknown, expired or revoked)."""

    @abstractmethod
    async def revoke_session(self, token: str) -> bool:
        """Forget the token at once; False when it was not live."""

    # -- lifecycle --------------------------------------------------------------------------
    @abstractmethod
    async def ping(self) -> bool:
        """True when the backing store answers."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections; the object is unusable afterwards."""

    async def __aenter__(self) -> Cache:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def session_key(token: str) -> str:
    """Sessions are stored under a hash of the token, so a cache dump leaks no live token."""
    return "session:" + hashlib.sha256(token.encode()).hexdigest()


def bucket_key(key: str) -> str:
    return "rl:" + key
