"""Checks the console runs before Textual takes the terminal.

Why: once Textual owns the screen, a start-up failure becomes a notification in a console
that cannot work. A missing Redis or an unmigrated PostgreSQL is a configuration problem the
user fixes in the shell, so it is reported there as one line (exit 2). An unreachable
InfluxDB is not fatal: the console starts in an explicit degraded mode (status bar) and the
time-series writes are buffered; preflight only returns that as a warning.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from oneclick_tui.config import Settings, mask_url
from oneclick_tui.services.doctor import check_influx, reason
from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import is_sqlite

PREFLIGHT_WAIT_S = 5.0


class PreflightError(Exception):
    """A store the settings name is not usable; the message is one line for the user."""


@dataclass(frozen=True)
class PreflightReport:
    """What is not fatal but the user should know (shown before/after the console)."""

    warnings: list[str] = field(default_factory=list)


async def preflight(settings: Settings, wait_s: float = PREFLIGHT_WAIT_S) -> PreflightReport:
    """Raise `PreflightError` when the console cannot start; else return the warnings."""
    await asyncio.gather(_redis(settings, wait_s), _database(settings, wait_s))
    warnings: list[str] = []
    if settings.influx_url:
        influx = (await check_influx(settings, wait_s))[0]
        if influx.status == "fail":
            warnings.append(f"{influx.detail}; time series run degraded (writes buffered)")
    return PreflightReport(warnings)


async def _redis(settings: Settings, wait_s: float) -> None:
    if not settings.redis_url:
        return
    shown = mask_url(settings.redis_url)
    client = aioredis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=wait_s, socket_timeout=wait_s
    )
    try:
        async with asyncio.timeout(wait_s):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        raise PreflightError(
            f"cannot reach Redis at {shown}: {reason(exc)} "
            "(start it, or unset redis_url for the in-process cache and bus)"
        ) from None
    finally:
        await client.aclose()


async def _database(settings: Settings, wait_s: float) -> None:
    """PostgreSQL must answer and be migrated; embedded SQLite is migrated at start."""
    url = settings.database_url
    if is_sqlite(url):
        return
    shown = mask_url(url)
    try:
        async with asyncio.timeout(wait_s):
            revision = await migrate.current(url)
    except (OSError, TimeoutError, SQLAlchemyError, ConnectionError) as exc:
        raise PreflightError(f"cannot reach the database at {shown}: {reason(exc)}") from None
    head = migrate.head()
    if revision != head:
        raise PreflightError(
            f"database at {shown} is at {revision or 'no revision'}, head is {head}: "
            "run `oneclick db upgrade`"
        )
