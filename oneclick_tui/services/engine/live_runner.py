"""The engine on a live network: followed traders' swaps on Aptos -> copy engine, paper-filled.

Sibling of `runner.EngineRunner` (the simulator's loop) for ``--network testnet|mainnet``:

- **Who is watched**: every non-simulated trader in ``traders`` that a live (active or
  paused) follow points to, re-read every ``refresh_every_s`` so a new follow is picked up
  without a restart. Each is polled with an `AccountWatcher` whose cursor lives in
  ``chain_cursors`` (source ``aptos:account_tx:<address>``).
- **Exactly once across restarts**: a page's trades go through `CopyEngine.on_lead_trade`
  *before* the cursor moves past them (the watcher advances it in the same step, after the
  handler). A crash in between re-reads the page, and the copy engine, keyed by the lead's
  transaction hash, writes nothing for a lead it already decided. A normal restart starts
  at the stored cursor, so it does not even re-read.
- **A new follow starts now**: the first time a trader is watched his cursor is set to his
  current sequence number; trades he made before that are never copied.
- **Books**: Decibel depth per catalog pair (`DecibelBooks`: REST snapshot + WebSocket,
  resync on gaps), held in a `MarketPipeline` so the console, cache and bus see them exactly
  as they see the simulator's.
- **Execution is paper** by default: copies are filled against the live Decibel books by
  the copy engine's paper executor; nothing is submitted on chain. The start line says so.
  With ``execution = chain`` copies are signed with the followers' keys and submitted, and
  their `positions` follow their wallets (`chain_balances`): synced at start (before
  `recover`), every ``balance_every_s``, and right after a fan-out completed copies.
- **Outages**: node failures (unreachable, timeouts, 429/5xx) make the loop back off
  exponentially up to ``max_backoff_s`` and resume from the cursors; a malformed page of one
  trader is rejected whole, counted, and retried while the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from oneclick_tui.domain.market_events import LeadTrade, PairSpec
from oneclick_tui.services.analytics.service import AnalyticsService
from oneclick_tui.services.aptos.client import CHAIN_IDS, FullnodeClient, FullnodeError
from oneclick_tui.services.aptos.decibel import DECIBEL_HTTP, DECIBEL_WS, DecibelRestClient
from oneclick_tui.services.aptos.decibel_stream import DecibelBooks
from oneclick_tui.services.aptos.swaps import SwapDecoder, normalize_address
from oneclick_tui.services.aptos.watcher import AccountWatcher
from oneclick_tui.services.engine.announce import lead_trade_message, log_event, log_lead_trade
from oneclick_tui.services.engine.catalog import TraderInfo, seed_catalog
from oneclick_tui.services.engine.chain_balances import (
    ChainBalanceSync,
    follower_accounts,
    tracked_assets,
    users_with_completed_copies,
)
from oneclick_tui.services.engine.copy_engine import CopyEngine
from oneclick_tui.services.engine.risk_watch import mark_and_stop
from oneclick_tui.services.engine.signer import CopySigner, signer_for_wallets, wallet_keys
from oneclick_tui.services.execution.aptos import AptosExecutor
from oneclick_tui.services.execution.base import Executor
from oneclick_tui.services.market import MarketPipeline, flush_candles, publish_tick
from oneclick_tui.services.runtime import Services
from oneclick_tui.services.sim.pairs import PAIRS
from oneclick_tui.services.wallet.keystore import KeystoreError
from oneclick_tui.stores.bus import topics
from oneclick_tui.stores.bus.base import Bus
from oneclick_tui.stores.cache.base import Cache
from oneclick_tui.stores.models import FollowRelationship, Trader
from oneclick_tui.stores.timeseries.base import TimeSeriesStore

log = logging.getLogger("oneclick.engine")

EXECUTION = {
    "paper": "paper: copies fill against the live Decibel books; nothing is submitted on chain",
    "chain": "chain: copies are signed with the followers' keys and submitted to the fullnode",
}
ANALYTICS_FLUSH_SECONDS = 30.0
ANALYTICS_EVERY_SECONDS = 300.0
BALANCE_EVERY_SECONDS = 30.0
"""execution = chain: how often every follower's positions are re-read from his wallet."""
READY_WAIT_S = 10.0
"""At start, how long to wait for the first Decibel books before recovering pending copies."""
KNOWN_PAIRS: dict[str, PairSpec] = {p.symbol: p for p in PAIRS}
"""Pair rules (tick, lot, fees, decimals) by symbol; the live catalog is a subset."""


class LiveStartError(Exception):
    """The live engine cannot start; the message is one line for the user."""


@dataclass
class LiveStats:
    """Counters for the logs and engine_status: what was copied, skipped and rejected."""

    polls: int = 0
    lead_trades: int = 0
    node_outages: int = 0
    poll_failures: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    """Lead trades not handed to the copy engine, by reason (unknown_pair, bad_size, ...)."""


def live_pairs(markets: Mapping[str, str]) -> list[PairSpec]:
    """The specs of the configured live pairs (``aptos.decibel_markets`` keys)."""
    unknown = sorted(set(markets) - set(KNOWN_PAIRS))
    if unknown:
        raise LiveStartError(
            f"aptos.decibel_markets names unknown pairs {', '.join(unknown)}; "
            f"known: {', '.join(sorted(KNOWN_PAIRS))}"
        )
    return [KNOWN_PAIRS[s] for s in sorted(markets)]


class LiveEngineRunner:
    """Watches followed traders on Aptos and copies their swaps until `stop` is set."""

    def __init__(
        self,
        services: Services,
        bus: Bus,
        cache: Cache,
        timeseries: TimeSeriesStore,
        *,
        client: FullnodeClient | None = None,
        decibel_rest: DecibelRestClient | None = None,
        poll_interval_s: float | None = None,
        refresh_every_s: float = 30.0,
        max_backoff_s: float = 60.0,
        publish_every_s: float = 0.25,
        decibel_options: Mapping[str, Any] | None = None,
        executor: Executor | None = None,
        balance_every_s: float = BALANCE_EVERY_SECONDS,
    ) -> None:
        settings = services.settings
        if settings.network not in CHAIN_IDS:
            raise ValueError(f"the live runner needs testnet or mainnet, got {settings.network}")
        self.s = services
        self.bus = bus
        self.cache = cache
        self.ts = timeseries
        self.network = settings.network
        aptos = settings.aptos
        key = aptos.api_key.get_secret_value() if aptos.api_key else None
        self.client = client or FullnodeClient.from_settings(aptos, self.network)
        self.decibel_rest = decibel_rest or DecibelRestClient(
            aptos.decibel_url or DECIBEL_HTTP[self.network], key
        )
        self.decibel_ws_url = aptos.decibel_ws_url or DECIBEL_WS[self.network]
        self.api_key = key
        self.poll_interval_s = poll_interval_s or aptos.poll_interval_s
        self.refresh_every_s = refresh_every_s
        self.max_backoff_s = max_backoff_s
        self.publish_every_s = publish_every_s
        self.decibel_options = dict(decibel_options or {})
        self.state = "starting"
        self.node_state = "unknown"
        self.stats = LiveStats()
        self.decoder = SwapDecoder(PAIRS)
        self.watchers: dict[str, AccountWatcher] = {}
        self.pipeline: MarketPipeline | None = None
        self.books: DecibelBooks | None = None
        self.copy_engine: CopyEngine | None = None
        self.signer: CopySigner | None = None
        self.execution = aptos.execution
        self.executor = executor
        """On-chain executor (execution = chain); None: the copy engine's paper default."""
        self.balance_every_s = balance_every_s
        self.balances: ChainBalanceSync | None = None
        """execution = chain: keeps `positions` equal to the followers' on-chain balances."""
        self._settled = 0
        """Bumped (under the lock) whenever copies complete: a balance snapshot read across
        a bump may predate the swap, so it is discarded (`sync_balances`)."""
        self.analytics = AnalyticsService(
            services.engine,
            timeseries,
            cache,
            flush_interval=ANALYTICS_FLUSH_SECONDS,
            clock=lambda: datetime.now(UTC),
        )
        self._lock = asyncio.Lock()
        """One fan-out or execution at a time: the copy engine assumes a single writer."""
        self._halt = asyncio.Event()
        self._books_task: asyncio.Task[None] | None = None
        self._ignored: set[int] = set()

    # ------------------------------------------------------------------ start
    async def check_node(self) -> dict[str, Any]:
        """``GET /v1`` on the configured node: reachable, and on this network's chain."""
        try:
            ledger = await self.client.ledger_info()
        except FullnodeError as exc:
            raise LiveStartError(
                f"cannot reach the {self.network} fullnode at {self.client.base_url}: {exc} "
                "(check aptos.fullnode_url / ONECLICK_APTOS__FULLNODE_URL and the network)"
            ) from None
        chain = ledger.get("chain_id")
        if chain != CHAIN_IDS[self.network]:
            raise LiveStartError(
                f"the fullnode at {self.client.base_url} is on chain {chain}, not "
                f"{self.network} ({CHAIN_IDS[self.network]}); use a {self.network} fullnode"
            )
        return ledger

    async def start(self) -> None:
        """Check the node, load pairs and traders, open the books, recover, announce."""
        ledger = await self.check_node()
        specs = live_pairs(self.s.settings.aptos.decibel_markets)
        self.s.catalog = await seed_catalog(self.s.sessions, specs, [], simulated=False)
        await self.refresh_traders()
        self.pipeline = MarketPipeline(self.s.catalog)
        self.signer = await signer_for_wallets(self.s.sessions, self.s.settings.keyring_backend)
        if self.execution == "chain" and self.executor is None:
            self.executor = await self._chain_executor()
        self.copy_engine = CopyEngine(
            self.s.sessions,
            self.s.catalog,
            self.pipeline.books,
            notify=self._notify,
            signer=self.signer,
            executor=self.executor if self.execution == "chain" else None,
            max_lead_age=timedelta(seconds=self.s.settings.aptos.max_lead_age_s),
        )
        self.books = DecibelBooks(
            self.decibel_rest,
            self.decibel_ws_url,
            self.s.settings.aptos.decibel_markets,
            {s.symbol: s for s in specs},
            self.pipeline,
            api_key=self.api_key,
            **self.decibel_options,
        )
        self._books_task = asyncio.create_task(self.books.run(self._halt))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.books.ready.wait(), READY_WAIT_S)
        if self.execution == "chain":
            await self._start_balances()
        async with self._lock:
            done, _ = await self.copy_engine.recover(now=datetime.now(UTC))
            if done:
                self._settled += 1
        if done and self.balances is not None:
            await self.sync_balances()  # recovered copies moved the wallets
        self.state = "running"
        self.node_state = "ok"
        log_event(
            "engine.started",
            network=self.network,
            execution=EXECUTION[self.execution],
            fullnode=self.client.base_url,
            chain_id=ledger.get("chain_id"),
            ledger_version=ledger.get("ledger_version"),
            traders=sorted(self.watchers),
            pairs=[s.symbol for s in specs],
            decibel=self.decibel_ws_url,
            books={p: b.seq for p, b in self.pipeline.books.items()},
            poll_interval_s=self.poll_interval_s,
            signing=repr(self.signer) if self.signer else "off",
        )

    async def _start_balances(self) -> None:
        """Set up the wallet -> positions sync and run its first round (before `recover`,
        whose pending copies are checked against these figures)."""
        keys = getattr(self.executor, "keys", None) or {}
        keyed = {user: key.address for user, key in keys.items()}
        accounts = await follower_accounts(self.s.sessions, keyed)
        self.balances = ChainBalanceSync(
            self.client, self.s.sessions, tracked_assets(self.s.catalog), accounts
        )
        await self.sync_balances()

    async def sync_balances(self, users: set[int] | None = None) -> None:
        """One sync round (every follower, or `users`); never raises.

        The node is read outside the copy engine's lock (a slow node must not hold copies
        up); the write takes the lock and is dropped if a copy settled meanwhile, since the
        figures may predate that swap: the sync that follows every settlement covers it.
        """
        if self.balances is None or (users is not None and not users):
            return
        epoch = self._settled
        try:
            snapshot = await self.balances.read(users)
            async with self._lock:
                if epoch != self._settled:
                    self.balances.stats.discarded += 1
                    return
                await self.balances.write(snapshot)
        except Exception as exc:  # the database is away: the next round tries again
            log.warning("balance sync not written: %s", exc)

    async def _balance_loop(self) -> None:
        """execution = chain: every follower's balances, every ``balance_every_s``."""
        while not self._halt.is_set():
            await _wait(self._halt, self.balance_every_s)
            if not self._halt.is_set():
                await self.sync_balances()

    async def _chain_executor(self) -> AptosExecutor:
        """The Aptos executor over every follower's keyring key; refuses to start without one."""
        try:
            keys = await wallet_keys(self.s.sessions, self.s.settings.keyring_backend)
        except KeystoreError as exc:
            raise LiveStartError(f"execution = chain needs the keyring: {exc}") from None
        if not keys:
            raise LiveStartError(
                "execution = chain needs a follower's wallet key in the keyring: "
                "run `oneclick wallet new` or `oneclick wallet import` first"
            )
        return AptosExecutor(
            self.client.base_url,
            None,
            CHAIN_IDS[self.network],
            api_key=self.api_key,
            keys=keys,
        )

    async def refresh_traders(self) -> None:
        """Watch exactly the real traders that live follows point to (new ones from now)."""
        live = select(FollowRelationship.trader_id).where(FollowRelationship.status != "ended")
        async with self.s.sessions() as session:
            rows = list(await session.scalars(select(Trader).where(Trader.id.in_(live))))
        wanted: dict[str, TraderInfo] = {}
        for row in rows:
            if row.is_simulated:
                self._ignore(row.id, f"trader {row.display_name} is simulated (sim network only)")
                continue
            try:
                address = normalize_address(row.wallet_address)
            except ValueError:
                self._ignore(row.id, f"trader {row.display_name}: {row.wallet_address!r} "
                             "is not an Aptos address")  # fmt: skip
                continue
            wanted[address] = TraderInfo(
                row.id, address, row.display_name, row.risk_category, row.starting_balance
            )
        for address, info in wanted.items():
            self.s.catalog.traders[address] = info
            if address not in self.watchers:
                watcher = AccountWatcher(
                    self.client, self.s.sessions, self.decoder, address, replay_history=False
                )
                # fix where a new follow begins now, not at the first poll: a trade in
                # between is then copied (or skipped as late), never silently history
                with contextlib.suppress(FullnodeError):
                    await watcher.begin()
                self.watchers[address] = watcher
                log.info("watching %s (%s)", info.display_name, address)
        for address in set(self.watchers) - set(wanted):
            del self.watchers[address]
            log.info("no longer watching %s: no live follow", address)

    def _ignore(self, trader_id: int, why: str) -> None:
        if trader_id not in self._ignored:
            self._ignored.add(trader_id)
            log.warning("not watched: %s", why)

    # ------------------------------------------------------------------- loop
    async def run(self, stop: asyncio.Event, until: timedelta | None = None) -> None:
        """The live loop; returns after `stop` is set (or `until` elapsed), work finished."""
        if self.copy_engine is None:
            try:
                await self.start()
            except BaseException:
                await self._abort()
                raise
        tasks = [
            asyncio.create_task(self._poll_loop()),
            asyncio.create_task(self._publish_loop()),
            asyncio.create_task(self._analytics_schedule()),
        ]
        if self.balances is not None:
            tasks.append(asyncio.create_task(self._balance_loop()))
        timeout = None if until is None else until.total_seconds()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout)
        self._halt.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.shutdown()

    async def _poll_loop(self) -> None:
        """Poll every watched trader; back off while the node is down, then resume."""
        backoff = 0.0
        refresh_due = time.monotonic() + self.refresh_every_s
        while not self._halt.is_set():
            if time.monotonic() >= refresh_due:
                refresh_due = time.monotonic() + self.refresh_every_s
                try:
                    await self.refresh_traders()
                except Exception as exc:  # the database is away: keep the current set
                    log.warning("could not re-read the followed traders: %s", exc)
            outcome = await self.poll_round()
            if outcome == "ok":
                if self.node_state == "unreachable":
                    log.info("fullnode %s answering again; resumed", self.client.base_url)
                self.node_state = "ok"
                backoff = 0.0
                delay = self.poll_interval_s
            else:
                backoff = min(max(backoff * 2, self.poll_interval_s), self.max_backoff_s)
                delay = backoff
                if outcome == "node_down" and self.node_state != "unreachable":
                    log.warning(
                        "fullnode %s unreachable or failing; retrying with backoff (up to %g s)"
                        " from the stored cursors",
                        self.client.base_url, self.max_backoff_s,
                    )  # fmt: skip
                if outcome == "node_down":
                    self.node_state = "unreachable"
            await _wait(self._halt, delay)

    async def poll_round(self) -> str:
        """One poll of every watched trader: "ok", "node_down" (unreachable, timed out,
        429/5xx: the round stops, the other traders would fail the same way) or "failed"
        (the copy engine or the database failed on a page, which was rolled back). Either
        failure makes the caller back off; every page is retried from its cursor."""
        outcome = "ok"
        for address, watcher in list(self.watchers.items()):
            if self._halt.is_set():
                break
            self.stats.polls += 1
            try:
                result = await watcher.poll_once(self._handle_page)
            except Exception:  # copy engine or database failed: the page was rolled back
                self.stats.poll_failures += 1
                log.exception("poll of %s not committed; it is retried from its cursor", address)
                outcome = "failed"
                continue
            if result.outage:
                self.stats.node_outages += 1
                return "node_down"
        return outcome

    async def _handle_page(self, _session: AsyncSession, trades: list[LeadTrade]) -> None:
        """A page's trades, before its cursor commits (an exception rolls the cursor back)."""
        for lead in sorted(trades, key=lambda t: t.version):
            await self.on_lead_trade(lead)

    async def on_lead_trade(self, lead: LeadTrade) -> None:
        """Check, copy (via the copy engine), publish and log one lead trade."""
        assert self.copy_engine is not None
        reason = self._refuse(lead)
        if reason is not None:
            self.stats.skipped[reason.split(":", 1)[0]] += 1
            log.warning("lead trade %s skipped: %s", lead.tx_hash, reason)
            return
        async with self._lock:
            result = await self.copy_engine.on_lead_trade(lead)
            if result.completed:
                self._settled += 1
        if result.ignored is not None:
            self.stats.skipped["ignored"] += 1
            return
        if result.completed and self.balances is not None and result.lead_trade_id is not None:
            try:
                moved = await users_with_completed_copies(self.s.sessions, result.lead_trade_id)
            except Exception as exc:  # the periodic sync catches up
                log.warning("cannot list the followers to re-sync: %s", exc)
            else:
                await self.sync_balances(moved)
        self.stats.lead_trades += 1
        trader = self.s.catalog.traders.get(lead.trader_address)
        if trader is not None:
            try:
                await self.analytics.on_lead_trade(trader.id, lead.at)
            except Exception as exc:  # rankings can wait; the copy is what matters
                log.warning("analytics for lead trade %s failed: %s", lead.tx_hash, exc)
        await self._publish(topics.LEAD_TRADES, lead_trade_message(lead, result))
        log_lead_trade(lead, result, network=self.network)

    def _refuse(self, lead: LeadTrade) -> str | None:
        """Why a decoded trade cannot be handed to the copy engine, or None."""
        if lead.pair not in self.s.catalog.pairs:
            live = ", ".join(self.s.catalog.pairs)
            return f"unknown_pair: {lead.pair} is not a live pair ({live})"
        if lead.trader_address not in self.s.catalog.traders:
            return f"unknown_trader: {lead.trader_address} is not followed"
        if not lead.amount.is_finite() or lead.amount <= 0:
            return f"bad_size: amount {lead.amount}"
        if not lead.price.is_finite() or lead.price <= 0:
            return f"bad_price: price {lead.price}"
        return None

    async def _publish_loop(self) -> None:
        """Books to the bus and cache several times a second; slower work once a second."""
        assert self.pipeline is not None
        slow_due = 0.0
        while not self._halt.is_set():
            at = datetime.now(UTC)
            try:
                await publish_tick(self.pipeline, self.bus, self.cache, at)
                if time.monotonic() >= slow_due:
                    slow_due = time.monotonic() + 1.0
                    await self._slow_work(at)
            except Exception as exc:  # a store hiccup must not stop copying
                log.warning("publishing engine state failed: %s", exc)
            await _wait(self._halt, self.publish_every_s)

    async def _slow_work(self, at: datetime) -> None:
        """Once a second: positions revalued at the live mids, stop-losses, manual orders."""
        assert self.pipeline and self.copy_engine
        mids = {s: m for s, b in self.pipeline.books.items() if (m := b.mid()) is not None}
        async with self._lock:
            await mark_and_stop(self.s.sessions, self.s.catalog, mids, at)
            done, _ = await self.copy_engine.execute_pending(None, now=at)
            if done:
                self._settled += 1
        if done and self.balances is not None:
            await self.sync_balances()  # stop-losses or manual orders moved the wallets
        await self.bus.publish(topics.ENGINE_STATUS, self.status(at))

    def status(self, at: datetime | None = None) -> dict[str, Any]:
        """The engine's figures: node, traders, counters, books."""
        return {
            "component": "engine",
            "state": self.state,
            "network": self.network,
            "execution": self.execution,
            "now": (at or datetime.now(UTC)).isoformat(),
            "node": self.node_state,
            "traders": len(self.watchers),
            "polls": self.stats.polls,
            "lead_trades": self.stats.lead_trades,
            "rejected": self.rejected(),
            "decibel": self.books.status() if self.books else None,
            "balances": asdict(self.balances.stats) if self.balances else None,
        }

    def rejected(self) -> dict[str, int]:
        """Everything refused, by reason: pages, swaps, skipped leads, depth messages."""
        out: Counter[str] = Counter()
        for watcher in self.watchers.values():
            for kind, n in watcher.stats.rejected_pages.items():
                out[f"page_{kind}"] += n
        for kind, n in self.decoder.rejected.items():
            out[f"swap_{kind}"] += n
        for kind, n in self.stats.skipped.items():
            out[f"lead_{kind}"] += n
        if self.stats.poll_failures:
            out["poll_not_committed"] += self.stats.poll_failures
        if self.books is not None:
            for kind, n in self.books.adapter.rejected_messages.items():
                out[f"depth_{kind}"] += n
            for side, n in self.books.adapter.rejected_levels.items():
                out[f"depth_level_{side}"] += n
            if self.books.stats.nacks:
                out["depth_nack"] += self.books.stats.nacks
        return dict(out)

    async def _analytics_schedule(self) -> None:
        try:
            await self.analytics.run_periodic(self._halt, every=ANALYTICS_EVERY_SECONDS, tick=5.0)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("analytics schedule stopped")

    # --------------------------------------------------------------- shutdown
    async def shutdown(self) -> None:
        """Stop the books, close the clients, say what was done."""
        self.state = "stopped"
        self._halt.set()
        if self._books_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._books_task
        if self.pipeline is not None:
            await flush_candles(self.pipeline, self.ts)
        if self.copy_engine is not None:
            await self.copy_engine.aclose()
        if self.signer is not None:
            self.signer.close()
        if isinstance(self.executor, AptosExecutor):
            await self.executor.close()
        await self.client.close()
        await self.decibel_rest.close()
        await self._publish(topics.ENGINE_STATUS, {"component": "engine", "state": "stopped"})
        log_event(
            "engine.stopped",
            network=self.network,
            polls=self.stats.polls,
            lead_trades=self.stats.lead_trades,
            rejected=self.rejected(),
        )

    async def _abort(self) -> None:
        """A start that failed half-way: stop what it started, close the clients."""
        self._halt.set()
        if self._books_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._books_task
        if self.signer is not None:
            self.signer.close()
        if isinstance(self.executor, AptosExecutor):
            await self.executor.close()
        await self.client.close()
        await self.decibel_rest.close()

    async def _publish(self, topic: str, message: dict[str, Any]) -> None:
        try:
            await self.bus.publish(topic, message)
        except Exception as exc:  # the bus is a view; the database is the record
            log.warning("bus publish to %s failed: %s", topic, exc)

    async def _notify(self, kind: str, payload: dict[str, Any]) -> None:
        await self._publish(topics.COPY_EVENTS, {"kind": kind, **payload})


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
