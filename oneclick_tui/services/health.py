"""Store health for the status bar: one cheap snapshot the console polls once a second.

Why a monitor object: the bus and time-series stores already track their own connection
state (`Bus.health()`, `TimeSeriesStore.health()`), so reading them is free; only the
relational database needs a round trip, which is bounded and done at most every few
seconds, so polling every second never stacks up queries against a slow server.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from oneclick_tui.config import Settings
from oneclick_tui.stores.bus.base import Bus
from oneclick_tui.stores.timeseries.base import TimeSeriesStore

DB_EVERY_S = 5.0
DB_WAIT_S = 1.0


@dataclass(frozen=True)
class HealthReport:
    """name -> healthy (what `StatusSnapshot.store_health` renders) and why, per store."""

    flags: dict[str, bool] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)

    @property
    def degraded(self) -> list[str]:
        return [name for name, ok in self.flags.items() if not ok]

    def stores_label(self, base: str) -> str:
        """e.g. "full stack (influx degraded)": the words the user sees in the status bar."""
        bad = self.degraded
        return f"{base} ({', '.join(bad)} degraded)" if bad else base


class HealthMonitor:
    """Snapshots of db / redis (bus) / influx health; `check()` is safe to call every second."""

    def __init__(
        self,
        engine: AsyncEngine,
        bus: Bus,
        timeseries: TimeSeriesStore,
        *,
        redis: bool,
        influx: bool,
        db_every_s: float = DB_EVERY_S,
        db_wait_s: float = DB_WAIT_S,
    ) -> None:
        self._engine = engine
        self._bus = bus
        self._timeseries = timeseries
        self._redis = redis
        self._influx = influx
        self._db_every_s = db_every_s
        self._db_wait_s = db_wait_s
        self._db: tuple[bool, str] = (True, "not checked yet")
        self._db_at: float | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def for_stores(
        cls, settings: Settings, engine: AsyncEngine, bus: Bus, timeseries: TimeSeriesStore
    ) -> HealthMonitor:
        """Show redis and influx only when the settings use them."""
        return cls(
            engine,
            bus,
            timeseries,
            redis=bool(settings.redis_url),
            influx=bool(settings.influx_url),
        )

    async def _ping_db(self) -> tuple[bool, str]:
        now = time.monotonic()
        if self._db_at is not None and now - self._db_at < self._db_every_s:
            return self._db
        async with self._lock:
            try:
                async with asyncio.timeout(self._db_wait_s), self._engine.connect() as conn:
                    await conn.execute(text("select 1"))
                self._db = (True, f"{self._engine.dialect.name} answering")
            except (OSError, TimeoutError, SQLAlchemyError, ConnectionError) as exc:
                self._db = (False, f"{self._engine.dialect.name}: {type(exc).__name__}")
            self._db_at = time.monotonic()
        return self._db

    async def check(self) -> HealthReport:
        flags: dict[str, bool] = {}
        details: dict[str, str] = {}
        flags["db"], details["db"] = await self._ping_db()
        if self._redis:
            bus = self._bus.health()
            flags["redis"] = bus.connected
            details["redis"] = "connected" if bus.connected else (bus.last_error or "reconnecting")
        if self._influx:
            ts = self._timeseries.health()
            flags["influx"] = ts.state == "ok"
            details["influx"] = ts.detail or ts.state
        return HealthReport(flags, details)
