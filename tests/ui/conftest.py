"""The real console on a throwaway SQLite file, booted, with the simulator at high speed.

`console()` is an async context manager rather than a yielding fixture, so the Pilot lives
in the test's own task. Waiting is bounded and driven by the app (workers finishing, a
predicate becoming true), never a blind sleep of a guessed length.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandInput, CommandList, CommandPalette
from textual.pilot import Pilot

from oneclick_tui.app import OneClickApp
from oneclick_tui.config import Settings, SimSettings

Console = Callable[..., Any]


async def settle(app: OneClickApp, pilot: Pilot[None], *groups: str) -> None:
    """Wait for the named worker groups to finish, then for the messages they posted."""
    for worker in [w for w in app.workers if w.group in groups]:
        with contextlib.suppress(Exception):
            await worker.wait()
    await pilot.pause()


async def wait_until(
    pilot: Pilot[None],
    predicate: Callable[[], object],
    seconds: float = 20.0,
    what: str = "condition",
) -> None:
    """Let the app run until `predicate()` is true; fail with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await pilot.pause(0.05)


@pytest.fixture
def ui_settings(tmp_path: Path) -> Settings:
    """Embedded stores on a temp SQLite file; the seeded simulator at 50x."""
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
        sim=SimSettings(seed=7, speed=50),
    )


@pytest.fixture
def console(ui_settings: Settings) -> Console:
    """`async with console() as (app, pilot):` a booted OneClickApp, shut down afterwards."""

    @asynccontextmanager
    async def run(size: tuple[int, int] = (160, 45)) -> AsyncIterator[tuple[OneClickApp, Any]]:
        app = OneClickApp(ui_settings)
        async with app.run_test(size=size) as pilot:
            await wait_until(pilot, lambda: app.ctx is not None, 60, "the console to boot")
            await pilot.pause()
            try:
                yield app, pilot
            finally:
                await app.shutdown()

    return run


async def run_from_palette(app: OneClickApp, pilot: Pilot[None], text: str, pick: str) -> None:
    """Open the palette, type `text`, and run the hit whose prompt contains `pick`."""
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), 10, "the palette")
    app.screen.query_one(CommandInput).value = text
    hits = app.screen.query_one(CommandList)

    def index() -> int | None:
        prompts = [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]
        return next((i for i, p in enumerate(prompts) if pick.lower() in p.lower()), None)

    await wait_until(pilot, lambda: index() is not None, 15, f"palette hit {pick!r}")
    hits.highlighted = index()
    await pilot.press("enter")
    await wait_until(pilot, lambda: not isinstance(app.screen, CommandPalette), 10, "palette")
