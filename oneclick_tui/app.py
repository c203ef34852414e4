"""The Textual application: wires services into screens.

Screens and widgets never touch a store; they call services and react to the snapshots the
services publish on the bus, which the app's workers turn into messages. In embedded mode the
console runs the engine in-process; in full-stack mode it attaches to a headless engine
through the Redis bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, ScreenStackError
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.worker import Worker, WorkerState

from oneclick_tui.commands import OneClickCommands
from oneclick_tui.config import Settings
from oneclick_tui.messages import (
    BookUpdated,
    Booted,
    BootFailed,
    CopyActivity,
    EngineStatus,
    MarketTrades,
)
from oneclick_tui.services.analytics.service import AnalyticsService
from oneclick_tui.services.engine.live_runner import LiveEngineRunner, LiveStartError
from oneclick_tui.services.engine.runner import EngineRunner
from oneclick_tui.services.flatten import flatten_all
from oneclick_tui.services.follows import FollowService
from oneclick_tui.services.health import HealthMonitor
from oneclick_tui.services.live_feed import pump, subscribe_books
from oneclick_tui.services.preflight import preflight
from oneclick_tui.services.runtime import Services, open_services
from oneclick_tui.services.wallet import passphrase
from oneclick_tui.services.wallet.keystore import Keystore, KeystoreError, cryptfile_path
from oneclick_tui.stores.bus import topics
from oneclick_tui.stores.bus.base import Bus, Subscription
from oneclick_tui.stores.cache.base import Cache
from oneclick_tui.stores.live import open_bus, open_cache
from oneclick_tui.stores.timeseries.base import TimeSeriesStore
from oneclick_tui.stores.timeseries_factory import open_timeseries
from oneclick_tui.widgets.modals import ConfirmModal
from oneclick_tui.widgets.passphrase_modal import PassphraseModal
from oneclick_tui.widgets.status_bar import StatusBar, StatusSnapshot

SHUTDOWN_WAIT_SECONDS = 3.0

MODE_KEYS: dict[str, tuple[str, str]] = {
    "markets": ("1", "Markets"),
    "traders": ("2", "Traders"),
    "following": ("3", "Following"),
    "portfolio": ("4", "Portfolio"),
    "trades": ("5", "Trades"),
    "leaderboards": ("6", "Leaders"),
    "wallet": ("7", "Wallet"),
    "settings": ("8", "Settings"),
    "activity": ("9", "Activity"),
}


@dataclass
class ConsoleContext:
    """Everything the screens may use, opened once in the app's event loop."""

    services: Services
    follows: FollowService
    bus: Bus
    cache: Cache
    timeseries: TimeSeriesStore
    runner: EngineRunner | LiveEngineRunner | None
    analytics: AnalyticsService
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pairs(self) -> list[str]:
        return list(self.services.catalog.pairs)


def _mode_screens() -> dict[str, Callable[[], Any]]:
    from oneclick_tui.screens.activity import ActivityScreen
    from oneclick_tui.screens.following import FollowingScreen
    from oneclick_tui.screens.leaderboards import LeaderboardsScreen
    from oneclick_tui.screens.markets import MarketsScreen
    from oneclick_tui.screens.portfolio import PortfolioScreen
    from oneclick_tui.screens.settings import SettingsScreen
    from oneclick_tui.screens.traders import TradersScreen
    from oneclick_tui.screens.trades import TradesScreen
    from oneclick_tui.screens.wallet import WalletScreen

    return {
        "markets": MarketsScreen,
        "traders": TradersScreen,
        "following": FollowingScreen,
        "portfolio": PortfolioScreen,
        "trades": TradesScreen,
        "leaderboards": LeaderboardsScreen,
        "wallet": WalletScreen,
        "settings": SettingsScreen,
        "activity": ActivityScreen,
    }


class OneClickApp(App[None]):
    """The OneClick console."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "OneClick"
    COMMANDS = App.COMMANDS | {OneClickCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            # shown in the mode strip at the top (widgets/mode_bar.py), not in the footer
            Binding(key, f"switch_mode('{mode}')", label, show=False, id=f"app.mode.{mode}")
            for mode, (key, label) in MODE_KEYS.items()
        ),
        Binding(
            "exclamation_mark",
            "flatten",
            "Flatten",
            key_display="!",
            id="app.flatten",
            tooltip="Panic: sell every copied position at market (asks first)",
        ),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave the console"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
    ]

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
        *,
        run_engine: bool | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.ctx: ConsoleContext | None = None
        self.status = StatusSnapshot(
            network=settings.network,
            stores="full stack" if settings.full_stack else "embedded",
            engine="starting",
        )
        # Without Redis there is no shared bus to attach to, so the console runs the engine
        # itself; with Redis it attaches to the headless engine.
        self._run_engine = (settings.redis_url is None) if run_engine is None else run_engine
        self._subs: list[Subscription] = []
        self._health: HealthMonitor | None = None
        self._engine_now: datetime | None = None
        self.last_books: dict[str, BookUpdated] = {}
        self._asked_passphrase = False

    def on_mount(self) -> None:
        for mode, screen in _mode_screens().items():
            self.add_mode(mode, screen)
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        self.switch_mode("markets")
        self.boot()

    # ------------------------------------------------------------------ start-up
    @work(exclusive=True, group="boot", exit_on_error=False)
    async def boot(self) -> None:
        """Open the stores, start (or attach to) the engine, then start the live feeds."""
        services = await open_services(self.settings)
        bus = await open_bus(self.settings)
        cache = await open_cache(self.settings)
        timeseries = await open_timeseries(self.settings, services.engine)
        runner: EngineRunner | LiveEngineRunner | None = None
        if self._run_engine and self.settings.network != "sim":
            runner = await self._start_live(services, bus, cache, timeseries)
        elif self._run_engine:
            runner = EngineRunner(
                services,
                bus,
                cache,
                timeseries,
                seed=self.settings.sim.seed,
                speed=self.settings.sim.speed,
            )
        analytics = (
            runner.analytics
            if runner is not None
            else AnalyticsService(services.engine, timeseries, cache)
        )
        self.ctx = ConsoleContext(
            services, FollowService(services), bus, cache, timeseries, runner, analytics
        )
        await self._start_feeds(self.ctx)
        self._health = HealthMonitor.for_stores(self.settings, services.engine, bus, timeseries)
        self.set_interval(1.0, self._poll_health)
        await self._unlock_key_file()
        if isinstance(runner, EngineRunner):
            await runner.start()
        if runner is not None:
            self.run_worker(runner.run(self.ctx.stop), group="engine", exit_on_error=False)
        self._set_status(
            engine="running" if runner else ("attaching" if self.settings.redis_url else "stopped"),
            wallet=services.user.wallet_address,
        )
        self.post_message(Booted())

    async def _start_live(
        self, services: Services, bus: Bus, cache: Cache, timeseries: TimeSeriesStore
    ) -> LiveEngineRunner | None:
        """testnet/mainnet in one process: the live engine, started before the feeds (it
        loads the live pairs); a node that cannot be used is said, and the console stays up."""
        await self._unlock_key_file()
        runner = LiveEngineRunner(services, bus, cache, timeseries)
        try:
            await runner.start()
        except LiveStartError as exc:
            await runner.shutdown()
            self.notify(str(exc), title="engine not started", severity="error", timeout=60)
            return None
        return runner

    async def _unlock_key_file(self) -> None:
        """cryptfile keyring: ask its passphrase (once per process) before the engine signs."""
        if self.settings.keyring_backend != "cryptfile" or passphrase.remembered() is not None:
            return
        if self._asked_passphrase:
            return  # asked once; Escape means no signing for this run
        self._asked_passphrase = True

        async def check(secret: str) -> str | None:
            try:
                await asyncio.to_thread(Keystore.open, "cryptfile", passphrase=lambda: secret)
            except KeystoreError as exc:
                return str(exc)
            return None

        modal = PassphraseModal(check, str(cryptfile_path()))
        secret = await self.push_screen_wait(modal)
        if secret is not None:
            passphrase.remember(secret)

    async def _start_feeds(self, ctx: ConsoleContext) -> None:
        self._subs = await subscribe_books(ctx.bus, ctx.pairs)
        for sub in self._subs:
            self.run_worker(pump(sub, self._on_book), group="feeds", exit_on_error=False)
        feeds = (
            (topics.TRADES, self._on_trade, "fifo"),
            (topics.COPY_EVENTS, self._on_copy, "fifo"),
            (topics.ENGINE_STATUS, self._on_engine, "latest"),
        )
        for topic, handler, mode in feeds:
            sub = await ctx.bus.subscribe(topic, mode=mode, key="component")  # type: ignore[arg-type]
            self._subs.append(sub)
            self.run_worker(pump(sub, handler), group="feeds", exit_on_error=False)

    def _on_book(self, message: dict[str, Any]) -> None:
        update = BookUpdated(message)
        self.last_books[update.pair] = update
        self._to_screen(update)

    def _on_trade(self, message: dict[str, Any]) -> None:
        self._to_screen(MarketTrades([message]))

    def _on_copy(self, message: dict[str, Any]) -> None:
        self._to_screen(CopyActivity(message))

    def _on_engine(self, message: dict[str, Any]) -> None:
        state = str(message.get("state", "unknown"))
        if message.get("sim_now"):
            self._engine_now = datetime.fromisoformat(message["sim_now"])
        if self.ctx is not None and self.ctx.runner is None:
            state = "attached" if state == "running" else state
        if state != self.status.engine:
            self._set_status(engine=state)
        self._to_screen(EngineStatus(message))

    def _poll_health(self) -> None:
        self._health_tick()

    @work(exclusive=True, group="health", exit_on_error=False)
    async def _health_tick(self) -> None:
        """Once a second: each store's health into the status bar (only when it changed)."""
        if self._health is None:
            return
        report = await self._health.check()
        base = "full stack" if self.settings.full_stack else "embedded"
        stores = report.stores_label(base)
        if report.flags != self.status.store_health or stores != self.status.stores:
            self._set_status(store_health=report.flags, stores=stores)

    def _to_screen(self, message: Message) -> None:
        """Hand a live message to the active screen (none while starting or closing)."""
        with contextlib.suppress(ScreenStackError):
            self.screen.post_message(message)

    def _set_status(self, **changes: Any) -> None:
        values = {**self.status.__dict__, **changes}
        self.status = StatusSnapshot(**values)
        try:
            bars = list(self.screen.query(StatusBar))
        except ScreenStackError:
            return
        for bar in bars:
            bar.snapshot = self.status

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker error becomes a readable notification; the console goes on."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            if event.worker.group == "boot":
                self._set_status(engine="stopped")
                self.post_message(BootFailed(str(error)))
                self.notify(f"could not start: {error}", severity="error", timeout=30)
            elif event.worker.group == "engine":
                # the status bar must not keep saying "running" for an engine that died
                self._set_status(engine="stopped")
                self.notify(f"engine stopped: {error}", severity="error", timeout=60)
            else:
                self.notify(f"{event.worker.name}: {error}", severity="error", timeout=10)

    def on_boot_failed(self, message: BootFailed) -> None:
        self._to_screen(BootFailed(message.reason))

    def on_booted(self, _: Booted) -> None:
        self._to_screen(Booted())

    # ------------------------------------------------------------------ actions
    def action_flatten(self) -> None:
        """The panic key: after confirmation, close every copied position at market."""
        if self.ctx is None:
            self.notify("still starting; nothing to flatten yet", severity="warning")
            return
        modal = ConfirmModal(
            "Flatten all positions?",
            "Every copied position is sold at market now, within your slippage bound. "
            "Follows stay as they are: pause them to stop new copies.",
            confirm_label="Flatten",
        )
        self.push_screen(modal, self._flatten_answered)

    def _flatten_answered(self, confirmed: bool | None) -> None:
        if confirmed:
            self._flatten()

    @work(exclusive=True, group="flatten", exit_on_error=False)
    async def _flatten(self) -> None:
        ctx = self.ctx
        if ctx is None:
            return
        count = await flatten_all(ctx.services.sessions, ctx.services.user.id, self.market_now())
        self.notify(f"flatten: {count} position(s) being sold" if count else "nothing to flatten")

    def market_now(self) -> datetime:
        """The market's clock: the simulator's (which may run faster than real time)."""
        runner = self.ctx.runner if self.ctx else None
        if isinstance(runner, EngineRunner) and runner.exchange is not None:
            return runner.exchange.now
        if self._engine_now is not None:
            return self._engine_now
        return datetime.now(UTC)

    def action_help(self) -> None:
        self.action_show_help_panel()

    async def on_unmount(self) -> None:
        await self.shutdown()

    async def action_quit(self) -> None:
        await self.shutdown()
        self.exit()

    async def shutdown(self) -> None:
        """Stop the engine (it parks in-flight copies), close feeds and stores."""
        ctx, self.ctx = self.ctx, None
        if ctx is None:
            return
        ctx.stop.set()
        for worker in list(self.workers):
            if worker.group == "engine":
                with contextlib.suppress(Exception):
                    await worker.wait()
        # Every other worker (reloads, health, feeds) is stopped while the stores are still
        # open: one cancelled mid-query must be able to hand its connection back, or closing
        # the database later leaves it waiting forever.
        others = [w for w in self.workers if w.group != "engine" and not w.is_finished]
        for worker in others:
            worker.cancel()
        for worker in others:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.wait(), SHUTDOWN_WAIT_SECONDS)
        for sub in self._subs:
            await sub.close()
        await ctx.timeseries.close()
        await ctx.bus.close()
        await ctx.cache.close()
        await ctx.services.close()
        # A connection whose worker was cancelled mid-query is closed by SQLAlchemy in a task
        # of its own; let those finish while the loop runs, or closing the loop waits forever.
        closing = [
            task
            for task in asyncio.all_tasks()
            if "_terminate_graceful_close" in repr(task.get_coro())
        ]
        if closing:
            await asyncio.wait(closing, timeout=SHUTDOWN_WAIT_SECONDS)


def run_console(settings: Settings) -> None:
    """Check the configured stores, then run the console until the user quits.

    A store that cannot be used raises `PreflightError` (one line for the user) before the
    terminal is taken over; warnings (a degraded InfluxDB) are repeated after exit.
    """
    report = asyncio.run(preflight(settings))
    passphrase.unlock(settings, interactive=False)  # from keyring_passphrase_file, if set
    OneClickApp(settings).run()
    for warning in report.warnings:
        print(f"oneclick: warning: {warning}", file=sys.stderr)
