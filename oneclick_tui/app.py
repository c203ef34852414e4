"""The Textual application: wires services into screens.

Screens and widgets never touch a store; they call services and react to the snapshots
services publish. This module is the only place where the console meets the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from oneclick_tui.config import Settings
from oneclick_tui.widgets.status_bar import StatusBar, StatusSnapshot


class OneClickApp(App[None]):
    """The OneClick console."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "OneClick"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave the console"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
    ]

    def __init__(self, settings: Settings, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.settings = settings
        self._clock = clock

    def compose(self) -> ComposeResult:
        yield Static(_welcome(self.settings), id="home")
        yield StatusBar(clock=self._clock, id="status")
        yield Footer()

    def on_mount(self) -> None:
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        self.query_one(StatusBar).snapshot = StatusSnapshot(
            network=self.settings.network,
            stores="full stack" if self.settings.full_stack else "embedded",
        )

    def action_help(self) -> None:
        self.action_show_help_panel()


def _welcome(settings: Settings) -> str:
    return (
        "[b]OneClick[/b] — copy trading on Aptos from the terminal\n\n"
        f"network: {settings.network}\n"
        "Press [b]?[/b] for the keys, [b]q[/b] to quit."
    )


def run_console(settings: Settings) -> None:
    """Open the database (migrating it on first start) and run the console until quit."""
    OneClickApp(settings).run()
