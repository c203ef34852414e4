"""Pixel-exact snapshots of the screens a new user meets first, on a fixed clock.

The engine does not run (`run_engine=False`), so what is drawn comes only from the seeded
catalog and the local user's paper account: the same on every machine. A change to layout,
columns or formatting shows up as a diff in the snapshot report; accept it with
`pytest tests/ui/test_screen_snapshots.py --snapshot-update` once it is the intended look.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from oneclick_tui.app import OneClickApp
from oneclick_tui.config import Settings, SimSettings
from tests.ui.conftest import wait_until

FIXED_NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _app(tmp_path: Path) -> OneClickApp:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'snap.db'}", sim=SimSettings(seed=7)
    )
    return OneClickApp(settings, clock=lambda: FIXED_NOW, run_engine=False)


def _filled(app: OneClickApp) -> bool:
    """The screen shows its data: table rows, or (Settings) the stored preferences."""
    if any(table.row_count for table in app.screen.query(DataTable)):
        return True
    return any(field.value for field in app.screen.query(Input))


@pytest.mark.parametrize("mode", ["traders", "portfolio", "settings"])
def test_screen_snapshot(snap_compare: Any, tmp_path: Path, mode: str) -> None:
    app = _app(tmp_path)

    async def open_mode(pilot: Pilot[None]) -> None:
        await wait_until(pilot, lambda: app.ctx is not None, 60, "boot")
        await app.switch_mode(mode)
        await wait_until(pilot, lambda: _filled(app), 15, f"{mode} filled")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(140, 40), run_before=open_mode)
