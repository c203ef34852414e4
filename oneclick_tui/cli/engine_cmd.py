"""`oneclick engine`: market, trader watch and copy engine without the console (24/7).

``--network sim`` runs the simulated market (`EngineRunner`); ``testnet``/``mainnet`` watch
the followed traders on Aptos and paper-fill their copies against live Decibel books
(`LiveEngineRunner`). Either stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from datetime import timedelta

import typer

from oneclick_tui.cli.common import fail, settings_of
from oneclick_tui.config import Settings
from oneclick_tui.services.engine.live_runner import LiveEngineRunner, LiveStartError
from oneclick_tui.services.engine.runner import EngineRunner
from oneclick_tui.services.preflight import PreflightError, preflight
from oneclick_tui.services.runtime import SetupError, open_services
from oneclick_tui.services.wallet import passphrase
from oneclick_tui.services.wallet.passphrase import PassphraseFileError
from oneclick_tui.stores.errors import StoreError
from oneclick_tui.stores.live import RedisUnavailableError, open_bus, open_cache
from oneclick_tui.stores.timeseries_factory import open_timeseries


def register(app: typer.Typer) -> None:
    @app.command("engine")
    def engine(
        ctx: typer.Context,
        network: str | None = typer.Option(None, help="sim | testnet | mainnet"),
        seed: int | None = typer.Option(None, help="Simulator seed (same seed, same market)."),
        speed: float | None = typer.Option(None, help="Simulated seconds per real second."),
        duration: float | None = typer.Option(
            None,
            help="Stop after this many seconds (simulated on sim, real on testnet/mainnet; "
            "default: run until stopped).",
        ),
        execution: str | None = typer.Option(
            None,
            help="testnet/mainnet: paper (fill against live books, submit nothing) or chain "
            "(sign with the followers' keys and submit: real money). Default: aptos.execution.",
        ),
    ) -> None:
        """Run the engine headless; stops cleanly on Ctrl-C or SIGTERM."""
        settings = _with_overrides(settings_of(ctx), network, seed, speed, execution)
        if settings.network != "sim" and (seed is not None or speed is not None):
            fail(f"--seed and --speed apply to --network sim only, not {settings.network}")
        if settings.network == "sim" and execution == "chain":
            fail("--execution chain needs --network testnet or mainnet (sim has no chain)")
        try:
            asyncio.run(preflight(settings))
        except PreflightError as exc:
            fail(str(exc))
        try:  # the cryptfile keyring's passphrase: its file, else a prompt on a terminal
            passphrase.unlock(settings, interactive=True)
        except PassphraseFileError as exc:
            fail(str(exc))
        _configure_logging(settings.log_level)
        until = None if duration is None else timedelta(seconds=duration)
        main = _run if settings.network == "sim" else _run_live
        try:
            asyncio.run(main(settings, until))
        except (SetupError, StoreError, RedisUnavailableError, LiveStartError) as exc:
            fail(str(exc))


def _with_overrides(
    settings: Settings,
    network: str | None,
    seed: int | None,
    speed: float | None,
    execution: str | None = None,
) -> Settings:
    data = settings.model_dump()
    if execution is not None:
        if execution not in ("paper", "chain"):
            fail(f"--execution must be paper or chain, got {execution!r}")
        data["aptos"]["execution"] = execution
    if network is not None:
        if network not in ("sim", "testnet", "mainnet"):
            fail(f"--network must be sim, testnet or mainnet, got {network!r}")
        data["network"] = network
    if seed is not None:
        data["sim"]["seed"] = seed
    if speed is not None:
        if speed <= 0:
            fail(f"--speed must be greater than 0, got {speed}")
        data["sim"]["speed"] = speed
    return Settings.model_validate(data)


async def _run(settings: Settings, until: timedelta | None) -> None:
    services = await open_services(settings)
    cache = await open_cache(settings)
    bus = await open_bus(settings)
    timeseries = await open_timeseries(settings, services.engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = EngineRunner(
        services, bus, cache, timeseries, seed=settings.sim.seed, speed=settings.sim.speed
    )
    try:
        await runner.run(stop, until)
    finally:
        await timeseries.close()
        await bus.close()
        await cache.close()
        await services.close()


async def _run_live(settings: Settings, until: timedelta | None) -> None:
    """The live engine: refuses to start without a reachable fullnode on the right chain
    (LiveStartError, one line), then survives node and Decibel outages on its own."""
    services = await open_services(settings)
    cache = await open_cache(settings)
    bus = await open_bus(settings)
    timeseries = await open_timeseries(settings, services.engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = LiveEngineRunner(services, bus, cache, timeseries)
    try:
        await runner.run(stop, until)
    finally:
        await timeseries.close()
        await bus.close()
        await cache.close()
        await services.close()


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
