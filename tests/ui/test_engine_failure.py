"""An engine that dies inside the console is said, and the status bar stops saying "running"."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from oneclick_tui.services.engine.runner import EngineRunner
from tests.ui.conftest import Console, wait_until


async def test_a_dead_engine_shows_as_stopped_with_its_reason(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def dies(self: EngineRunner, stop: asyncio.Event, until: Any = None) -> None:
        raise RuntimeError("the market feed broke")

    monkeypatch.setattr(EngineRunner, "run", dies)
    async with console() as (app, pilot):
        await wait_until(pilot, lambda: app.status.engine == "stopped", 20, "engine stopped")
        assert any("the market feed broke" in str(n.message) for n in app._notifications)
