"""The engine loop: simulated market -> pipeline -> copy engine, in real time or faster.

Restart safety: the run's start time and how far it got are kept as a cursor in
`chain_cursors`. A restarted engine rebuilds the same market from the same seed and start,
replays it up to the cursor (the copy engine writes nothing for trades it already decided,
and finishes what a crash left pending), and goes on from there. So after a kill -9 no lead
trade is copied twice and none is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from oneclick_tui.domain.market_events import LeadTrade
from oneclick_tui.services.analytics.service import AnalyticsService
from oneclick_tui.services.engine.announce import lead_trade_message, log_event, log_lead_trade
from oneclick_tui.services.engine.copy_engine import CopyEngine
from oneclick_tui.services.engine.risk_watch import mark_and_stop
from oneclick_tui.services.engine.signer import CopySigner, signer_for_wallets
from oneclick_tui.services.market import MarketPipeline, flush_candles, publish_tick
from oneclick_tui.services.runtime import Services
from oneclick_tui.services.sim.exchange import SimExchange
from oneclick_tui.stores.bus import topics
from oneclick_tui.stores.bus.base import Bus
from oneclick_tui.stores.cache.base import Cache
from oneclick_tui.stores.models import ChainCursor
from oneclick_tui.stores.timeseries.base import TimeSeriesStore

log = logging.getLogger("oneclick.engine")

TICK_SECONDS = 0.05
REPLAY_CHUNK = timedelta(minutes=5)
ANALYTICS_FLUSH_SECONDS = 30.0
ANALYTICS_EVERY_SECONDS = 300.0
MAX_STEP_PER_TICK = timedelta(seconds=20)
"""At most this much simulated time per tick: when the machine cannot keep up with --speed,
the market runs slower instead of taking ever larger steps that freeze everything else."""
SLOW_EVERY_SECONDS = 1.0


@dataclass
class SimCursor:
    start_at: datetime
    sim_now: datetime


class EngineRunner:
    """Runs market, trader watch and copy engine until `stop` is set (or `until` elapses)."""

    def __init__(
        self,
        services: Services,
        bus: Bus,
        cache: Cache,
        timeseries: TimeSeriesStore,
        *,
        seed: int,
        speed: float,
    ) -> None:
        self.s = services
        self.bus = bus
        self.cache = cache
        self.ts = timeseries
        self.seed = seed
        self.speed = speed
        self.state = "starting"
        self.exchange: SimExchange | None = None
        self.pipeline: MarketPipeline | None = None
        self.copy_engine: CopyEngine | None = None
        self.signer: CopySigner | None = None
        """Signs copies for followers whose wallet key is in the keyring (None: paper only)."""
        self.analytics = AnalyticsService(
            services.engine,
            timeseries,
            cache,
            flush_interval=ANALYTICS_FLUSH_SECONDS,
            clock=self.market_now,
        )
        """Trader performance and leaderboards, updated as lead trades arrive."""

    def market_now(self) -> datetime:
        """The simulated clock (it runs faster than real time with --speed)."""
        return self.exchange.now if self.exchange is not None else datetime.now(UTC)

    @property
    def cursor_source(self) -> str:
        return f"sim:{self.seed}"

    async def start(self) -> None:
        """Open the market at the stored cursor (or now), recover, and catch up."""
        cursor = await self._load_cursor() or SimCursor(_now_s(), _now_s())
        self.exchange = SimExchange(self.seed, cursor.start_at)
        self.pipeline = MarketPipeline(self.s.catalog, snapshot_source=self.exchange)
        self.signer = await signer_for_wallets(self.s.sessions, self.s.settings.keyring_backend)
        self.copy_engine = CopyEngine(
            self.s.sessions,
            self.s.catalog,
            self.pipeline.books,
            notify=self._notify,
            signer=self.signer,
        )
        await self._replay_until(cursor.sim_now)
        await self.copy_engine.recover(now=self.exchange.now)
        await self._save_cursor()
        self.state = "running"
        log_event(
            "engine.started",
            seed=self.seed,
            speed=self.speed,
            start_at=cursor.start_at.isoformat(),
            sim_now=self.exchange.now.isoformat(),
            signing=repr(self.signer) if self.signer else "off",
        )

    async def run(self, stop: asyncio.Event, until: timedelta | None = None) -> None:
        """The live loop; returns after `stop` is set, with in-flight work finished."""
        if self.exchange is None:
            await self.start()
        assert self.exchange is not None
        goal = None if until is None else self.exchange.now + until
        analytics = asyncio.create_task(self._analytics_schedule(stop))
        last = time.monotonic()
        slow_due = last
        while not stop.is_set():
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            step = timedelta(seconds=(now - last) * self.speed)
            last = now
            if goal is not None:
                step = min(step, goal - self.exchange.now)
            await self._tick(step, slow=now >= slow_due)
            if now >= slow_due:
                slow_due = now + SLOW_EVERY_SECONDS
            if goal is not None and self.exchange.now >= goal:
                break
        analytics.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await analytics
        await self.shutdown()

    async def _analytics_schedule(self, stop: asyncio.Event) -> None:
        """Leaderboards and performance on their schedule; a failure is logged, not fatal."""
        try:
            await self.analytics.run_periodic(stop, every=ANALYTICS_EVERY_SECONDS, tick=5.0)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("analytics schedule stopped")

    async def _tick(self, step: timedelta, *, slow: bool) -> None:
        assert self.exchange and self.pipeline and self.copy_engine
        leads = await asyncio.to_thread(self._advance, min(step, MAX_STEP_PER_TICK))
        await self._copy(leads)
        at = self.exchange.now
        await publish_tick(self.pipeline, self.bus, self.cache, at)
        if slow:
            await self._slow_work(at)
        if leads or slow:
            await self._save_cursor()

    async def _copy(self, leads: list[LeadTrade]) -> None:
        assert self.copy_engine is not None
        for lead in leads:
            result = await self.copy_engine.on_lead_trade(lead)
            trader = self.s.catalog.traders.get(lead.trader_address)
            if trader is not None and self.state == "running":
                await self.analytics.on_lead_trade(trader.id, lead.at)
            await self.bus.publish(topics.LEAD_TRADES, lead_trade_message(lead, result))
            log_lead_trade(lead, result)

    async def _slow_work(self, at: datetime) -> None:
        """Once a second: candles to the store, positions revalued, stop-losses, status."""
        assert self.pipeline and self.copy_engine
        await flush_candles(self.pipeline, self.ts)
        mids = {s: m for s, b in self.pipeline.books.items() if (m := b.mid()) is not None}
        await mark_and_stop(self.s.sessions, self.s.catalog, mids, at)
        # stop-losses just written, and manual orders (flatten) from the console
        await self.copy_engine.execute_pending(None, now=at)
        stats = self.pipeline.stats
        await self.bus.publish(
            topics.ENGINE_STATUS,
            {
                "component": "engine",
                "state": self.state,
                "sim_now": at.isoformat(),
                "events": stats.events,
                "gaps": stats.gaps,
                "resyncs": stats.resyncs,
                "rejected": stats.rejected,
                "lead_trades": stats.lead_trades,
            },
        )

    def _advance(self, step: timedelta) -> list[LeadTrade]:
        """Simulate `step` and apply it to the books: CPU work, run in a thread so the
        console's event loop keeps answering keys while the market computes."""
        assert self.exchange and self.pipeline
        return self.pipeline.apply(self.exchange.advance(step))

    async def _replay_until(self, target: datetime) -> None:
        """Rebuild books and candles up to `target`, re-offering every lead trade."""
        assert self.exchange and self.pipeline
        while self.exchange.now < target:
            step = min(REPLAY_CHUNK, target - self.exchange.now)
            leads = await asyncio.to_thread(self._advance, step)
            self.pipeline.take_trades()
            await self._copy(leads)
        await flush_candles(self.pipeline, self.ts)

    async def shutdown(self) -> None:
        """Finish what is in flight, write the cursor and the last candles."""
        self.state = "stopped"
        if self.pipeline is not None:
            await flush_candles(self.pipeline, self.ts)
        if self.exchange is not None:
            await self._save_cursor()
        if self.copy_engine is not None:
            await self.copy_engine.aclose()
        if self.signer is not None:
            self.signer.close()
        await self.bus.publish(topics.ENGINE_STATUS, {"component": "engine", "state": "stopped"})
        log_event("engine.stopped")

    async def _notify(self, kind: str, payload: dict[str, Any]) -> None:
        await self.bus.publish(topics.COPY_EVENTS, {"kind": kind, **payload})

    async def _load_cursor(self) -> SimCursor | None:
        async with self.s.sessions() as session:
            row = await session.get(ChainCursor, self.cursor_source)
        if row is None:
            return None
        data = json.loads(row.cursor)
        return SimCursor(
            datetime.fromisoformat(data["start_at"]), datetime.fromisoformat(data["sim_now"])
        )

    async def _save_cursor(self) -> None:
        assert self.exchange is not None
        value = json.dumps(
            {
                "start_at": self.exchange.start_at.isoformat(),
                "sim_now": self.exchange.now.isoformat(),
            }
        )
        async with self.s.sessions.begin() as session:
            row = await session.scalar(
                select(ChainCursor).where(ChainCursor.source == self.cursor_source)
            )
            if row is None:
                session.add(
                    ChainCursor(
                        source=self.cursor_source, cursor=value, updated_at=datetime.now(UTC)
                    )
                )
            else:
                row.cursor, row.updated_at = value, datetime.now(UTC)


def _now_s() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
