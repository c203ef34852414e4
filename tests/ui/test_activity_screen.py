"""Activity screen (mode 9) on the real console: the audit log, live, newest first, filter."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from oneclick_tui.app import OneClickApp
from oneclick_tui.config import Settings, SimSettings
from oneclick_tui.screens.activity import ActivityScreen
from tests.ui.conftest import Console, wait_until


@pytest.fixture
def ui_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
        sim=SimSettings(seed=7, speed=100),
    )


async def open_activity(app: OneClickApp, pilot: Any) -> ActivityScreen:
    await pilot.press("9")
    await wait_until(pilot, lambda: isinstance(app.screen, ActivityScreen), 10, "Activity")
    screen = app.screen
    assert isinstance(screen, ActivityScreen)
    return screen


def shown(screen: ActivityScreen) -> list[int]:
    """Row ids in display order."""
    t = screen.query_one("#activity", DataTable)
    return [int(t.coordinate_to_cell_key((i, 0)).row_key.value or 0) for i in range(t.row_count)]


async def test_follow_and_engine_entries_appear_live_newest_first(console: Console) -> None:
    async with console() as (app, pilot):
        await app.ctx.follows.follow("CrimsonRaven", Decimal(20))
        screen = await open_activity(app, pilot)
        await wait_until(
            pilot,
            lambda: any(r.action == "follow.started" for r in screen.entries.values()),
            10,
            "follow",
        )
        follow = next(r for r in screen.entries.values() if r.action == "follow.started")
        assert follow.actor.startswith("user:") and follow.entity.startswith("follow:")
        assert "status=active" in follow.summary
        await wait_until(
            pilot, lambda: any(r.actor == "engine" for r in screen.entries.values()), 60, "engine"
        )
        await app.ctx.follows.follow("GoldenFox", Decimal(20))
        await wait_until(
            pilot,
            lambda: sum(r.action == "follow.started" for r in screen.entries.values()) == 2,
            5,
            "live",
        )
        ids = shown(screen)
        assert ids == sorted(ids, reverse=True) and len(ids) == len(screen.entries)


async def test_slash_filters_the_rows(console: Console) -> None:
    async with console() as (app, pilot):
        await app.ctx.follows.follow("CrimsonRaven", Decimal(20))
        await app.ctx.follows.pause("CrimsonRaven")
        screen = await open_activity(app, pilot)
        await wait_until(pilot, lambda: len(screen.entries) >= 2, 10, "entries")
        await pilot.press("slash", *"paused")
        await wait_until(pilot, lambda: len(shown(screen)) >= 1, 5, "a match")
        assert all(
            "paused" in f"{screen.entries[i].action} {screen.entries[i].summary}"
            for i in shown(screen)
        )
        assert any(r.action == "follow.started" for r in screen.entries.values())
        assert not any(screen.entries[i].action == "follow.started" for i in shown(screen))
