"""The mode strip and the footer on the terminal widths power users actually have.

Before the strip, nine mode keys filled the footer and a 120-column terminal silently lost
Flatten, Quit and Help off its right edge.
"""

from __future__ import annotations

import pytest
from textual.widgets._footer import FooterKey

from oneclick_tui.app import MODE_KEYS
from oneclick_tui.widgets.mode_bar import ModeBar
from tests.ui.conftest import Console, wait_until


def _footer_laid_out(app: object) -> bool:
    """The new screen's footer has been arranged (its first key has a place on screen)."""
    keys = list(app.screen.query(FooterKey))  # type: ignore[attr-defined]
    return bool(keys) and keys[0].region.width > 0


@pytest.mark.parametrize("width", [120, 80])
async def test_every_screen_keeps_flatten_quit_and_help_on_screen(
    console: Console, width: int
) -> None:
    async with console(size=(width, 40)) as (app, pilot):
        for mode in MODE_KEYS:
            await app.switch_mode(mode)
            await wait_until(pilot, lambda: _footer_laid_out(app), 10, f"{mode} drawn")
            keys = {k.description: k.region for k in app.screen.query(FooterKey)}
            for needed in ("Flatten", "Quit", "Help"):
                region = keys.get(needed)
                assert region is not None, f"{mode}: {needed} missing from the footer"
                assert 0 < region.right <= width, f"{mode}: {needed} cut off at {width} cols"
            strip = str(app.screen.query_one(ModeBar).render())
            assert f"{MODE_KEYS[mode][0]} {MODE_KEYS[mode][1]}" in strip, strip
            assert len(strip) <= width


async def test_the_strip_names_every_mode_and_switches_on_click(console: Console) -> None:
    async with console(size=(160, 40)) as (app, pilot):
        await app.switch_mode("portfolio")
        await wait_until(pilot, lambda: app.current_mode == "portfolio", 10, "portfolio")
        bar = app.screen.query_one(ModeBar)
        await pilot.pause(0.1)
        text = str(bar.render())
        for key, label in MODE_KEYS.values():
            assert f"{key} {label}" in text
        await pilot.click(ModeBar, offset=(text.index("Traders"), 0))
        await wait_until(pilot, lambda: app.current_mode == "traders", 10, "click to Traders")
