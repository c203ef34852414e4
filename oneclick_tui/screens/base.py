"""What every console screen shares: the status bar, the footer, and access to services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from oneclick_tui.widgets.mode_bar import ModeBar
from oneclick_tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from oneclick_tui.app import ConsoleContext, OneClickApp


class ConsoleScreen(Screen[None]):
    """A mode's base screen: the mode strip, its body, then the status bar and the footer."""

    def compose(self) -> ComposeResult:
        from oneclick_tui.app import MODE_KEYS

        yield ModeBar(MODE_KEYS, self.console.settings.keymap, id="modes")
        yield from self.body()
        yield StatusBar(clock=self.console.clock, id="status")
        yield Footer(compact=True)

    def body(self) -> ComposeResult:
        yield from ()

    @property
    def console(self) -> OneClickApp:
        from oneclick_tui.app import OneClickApp

        assert isinstance(self.app, OneClickApp)
        return self.app

    @property
    def ctx(self) -> ConsoleContext | None:
        """The opened services, or None while the console is still starting."""
        return self.console.ctx

    def on_screen_resume(self) -> None:
        self.query_one(StatusBar).snapshot = self.console.status
        self.refresh_data()

    def refresh_data(self) -> None:
        """Reload what the screen shows from the services (override; runs in a worker)."""
