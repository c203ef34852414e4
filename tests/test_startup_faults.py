"""Start-up faults: an unreachable Redis stops `oneclick engine` and the console with one
line naming the URL (password masked) and exit 2, before Textual takes the terminal; an
unreachable InfluxDB is not fatal but an explicit degraded mode the user sees.

Processes are real subprocesses (real exit codes, real stderr); the degraded console is
the real app under Pilot.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from oneclick_tui.app import OneClickApp
from oneclick_tui.config import Settings, SimSettings
from oneclick_tui.services.health import HealthMonitor
from oneclick_tui.services.preflight import PreflightError, preflight
from oneclick_tui.stores import migrate
from oneclick_tui.widgets.status_bar import StatusBar
from tests.stores.influx_standin import InfluxStandIn
from tests.ui.conftest import wait_until


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def oneclick(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oneclick_tui", *args],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("oneclick: ")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def dead_redis_env(tmp_path: Path) -> dict[str, str]:
    return {
        "ONECLICK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'oneclick.db'}",
        "ONECLICK_REDIS_URL": f"redis://:pa55word@127.0.0.1:{unused_port()}/0",
    }


# ------------------------------------------------------------------ Redis unreachable
def test_engine_with_redis_unreachable_exits_2_with_one_line(
    dead_redis_env: dict[str, str],
) -> None:
    result = oneclick(dead_redis_env, "engine", "--duration", "5")
    line = assert_one_line_error(result, "cannot reach Redis at redis://:***@127.0.0.1:")
    assert "pa55word" not in result.stderr + result.stdout
    assert line.count("\n") == 0


def test_console_with_redis_unreachable_exits_2_before_textual(
    dead_redis_env: dict[str, str],
) -> None:
    from oneclick_tui import app as app_module
    from oneclick_tui import cli

    wired = inspect.getsource(app_module.run_console) + inspect.getsource(cli.root)
    if "preflight" not in wired:
        pytest.skip("run_console does not call preflight() yet (lead wires it)")
    result = oneclick(dead_redis_env, timeout=30)
    assert_one_line_error(result, "cannot reach Redis at redis://:***@127.0.0.1:")
    assert "pa55word" not in result.stderr + result.stdout
    assert "\x1b[?1049h" not in result.stdout, "Textual must not have taken the terminal"


async def test_preflight_redis_unreachable_is_one_typed_line(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        redis_url=f"redis://user:pa55word@127.0.0.1:{unused_port()}/1",
    )
    with pytest.raises(PreflightError) as caught:
        await preflight(settings, 3)
    message = str(caught.value)
    assert "\n" not in message and "pa55word" not in message
    assert f"redis://user:***@127.0.0.1:{settings.redis_url.rsplit(':', 1)[1]}" in message


@pytest.mark.redis
async def test_preflight_real_redis_passes(tmp_path: Path, redis_url: str) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", redis_url=redis_url
    )
    assert (await preflight(settings, 3)).warnings == []


@pytest.mark.postgres
async def test_preflight_postgres_unmigrated_then_ready(fresh_pg_url: str) -> None:
    settings = Settings(database_url=fresh_pg_url)
    with pytest.raises(PreflightError, match="oneclick db upgrade"):
        await preflight(settings, 3)
    await migrate.upgrade(fresh_pg_url)
    assert (await preflight(settings, 3)).warnings == []


@pytest.mark.postgres
async def test_preflight_postgres_unreachable() -> None:
    url = f"postgresql+asyncpg://u:pa55word@127.0.0.1:{unused_port()}/db"
    with pytest.raises(PreflightError) as caught:
        await preflight(Settings(database_url=url), 3)
    assert "cannot reach the database" in str(caught.value)
    assert "pa55word" not in str(caught.value) and "\n" not in str(caught.value)


# ------------------------------------------------------------------ InfluxDB unreachable
async def test_preflight_influx_unreachable_is_a_warning_not_an_error(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        influx_url=f"http://127.0.0.1:{unused_port()}",
        influx_org="oneclick",
    )
    report = await preflight(settings, 3)
    assert len(report.warnings) == 1 and "degraded" in report.warnings[0]


def test_engine_with_influx_unreachable_runs_degraded(tmp_path: Path) -> None:
    port = unused_port()
    env = {
        "ONECLICK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'oneclick.db'}",
        "ONECLICK_INFLUX_URL": f"http://127.0.0.1:{port}",
        "ONECLICK_INFLUX_ORG": "oneclick",
    }
    result = oneclick(env, "engine", "--duration", "20", "--speed", "100")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert f"InfluxDB at http://127.0.0.1:{port} is unreachable" in result.stderr


def _bar_text(app: OneClickApp) -> str:
    bar = app.screen.query_one(StatusBar)
    console = Console(width=400, record=True)
    console.print(bar.render())
    return console.export_text()


async def test_console_status_bar_says_influx_degraded(tmp_path: Path) -> None:
    """The console boots with InfluxDB down; the health poll marks it degraded; back up, ok."""
    server = InfluxStandIn()
    await server.start()
    await server.stop()  # the port is known, nobody listens: InfluxDB is down
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
        influx_url=server.url,
        influx_org=server.org,
        influx_token=server.token,  # type: ignore[arg-type]
        sim=SimSettings(seed=7, speed=20),
    )
    app = OneClickApp(settings)
    async with app.run_test(size=(200, 40)) as pilot:
        await wait_until(pilot, lambda: app.ctx is not None, 60, "the console to boot")
        ctx = app.ctx
        assert ctx is not None
        monitor = HealthMonitor.for_stores(settings, ctx.services.engine, ctx.bus, ctx.timeseries)

        async def poll() -> None:  # what the app does once a second
            report = await monitor.check()
            app._set_status(store_health=report.flags, stores=report.stores_label("embedded"))

        await poll()
        await wait_until(pilot, lambda: "influx degraded" in _bar_text(app), 5, "degraded")
        text = _bar_text(app)
        assert "influx✗" in text and "db✗" not in text, text
        # Stay degraded for a few screen refreshes (Markets reloads candles every 2 s): the
        # console must keep running, not crash on a time-series read.
        for _ in range(50):
            await pilot.pause(0.1)
        assert app.is_running and "influx degraded" in _bar_text(app)

        await server.start()
        with contextlib.suppress(TimeoutError):  # wakes the retry loop; the engine keeps writing
            await ctx.timeseries.flush(2)

        async def recovered() -> bool:
            await poll()
            return "influx✗" not in _bar_text(app)

        for _ in range(200):
            if await recovered():
                break
            await pilot.pause(0.1)
        assert "influx✗" not in _bar_text(app) and "degraded" not in _bar_text(app)
        await app.shutdown()
    await server.stop()


# ------------------------------------------------------------------ health snapshot
@pytest.mark.redis
async def test_health_monitor_reports_db_redis_and_influx(tmp_path: Path, redis_url: str) -> None:
    from oneclick_tui.stores.bus.redis import RedisBus
    from oneclick_tui.stores.db import ensure_schema, make_engine
    from oneclick_tui.stores.timeseries.relational import RelationalTimeSeries

    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    await ensure_schema(url)
    engine = make_engine(url)
    bus = await RedisBus.open(redis_url)
    settings = Settings(database_url=url, redis_url=redis_url)
    monitor = HealthMonitor.for_stores(settings, engine, bus, RelationalTimeSeries(engine))
    try:
        report = await monitor.check()
        assert report.flags == {"db": True, "redis": True}
        assert report.stores_label("full stack") == "full stack"
        await bus.close()  # the bus is no longer connected: redis shows degraded
        report = await monitor.check()
        assert report.flags == {"db": True, "redis": False}
        assert report.stores_label("full stack") == "full stack (redis degraded)"
        await engine.dispose()
        dead = HealthMonitor.for_stores(
            Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'no' / 'dir' / 'x.db'}"),
            make_engine(f"sqlite+aiosqlite:///{tmp_path / 'no' / 'dir' / 'x.db'}"),
            bus,
            RelationalTimeSeries(engine),
        )
        assert (await dead.check()).flags == {"db": False}
    finally:
        await bus.close()
        await engine.dispose()
