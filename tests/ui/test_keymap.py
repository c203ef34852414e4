"""Bindings are remapped from the config file's [keymap] table, by binding id."""

from __future__ import annotations

from pathlib import Path

import pytest

from oneclick_tui.config import Settings, SimSettings
from oneclick_tui.screens.traders import TradersScreen
from tests.ui.conftest import Console, wait_until


@pytest.fixture
def ui_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'keymap.db'}",
        sim=SimSettings(seed=7, speed=20),
        keymap={"app.mode.traders": "ctrl+t"},
    )


async def test_a_remapped_key_switches_mode_and_the_old_one_does_not(console: Console) -> None:
    async with console() as (app, pilot):
        await pilot.press("2")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, TradersScreen), "2 should no longer open Traders"
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.screen, TradersScreen), 10, "Traders")


async def test_the_mode_strip_shows_the_remapped_key(console: Console) -> None:
    from oneclick_tui.widgets.mode_bar import ModeBar

    async with console() as (app, pilot):
        await wait_until(pilot, lambda: app.screen.query(ModeBar), 10, "the mode strip")
        text = str(app.screen.query_one(ModeBar).render())
        assert "^t Traders" in text and "2 Traders" not in text
