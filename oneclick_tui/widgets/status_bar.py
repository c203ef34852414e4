"""The one-line status bar: network, stores, engine, wallet and the UTC clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


@dataclass(frozen=True)
class StatusSnapshot:
    """Everything the status bar shows, as one immutable value posted by the app."""

    network: str = "sim"
    stores: str = "embedded"
    store_health: dict[str, bool] = field(default_factory=dict)
    engine: str = "stopped"
    wallet: str | None = None


_ENGINE_STYLE = {"running": "green", "degraded": "yellow", "stopped": "red", "attached": "cyan"}


class StatusBar(Widget):
    """One line above the footer; redraws when its snapshot or the clock changes."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    snapshot: reactive[StatusSnapshot] = reactive(StatusSnapshot)
    now: reactive[datetime] = reactive(lambda: datetime.now(UTC))

    def __init__(
        self, clock: Callable[[], datetime] | None = None, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._clock = clock or (lambda: datetime.now(UTC))

    def on_mount(self) -> None:
        self.now = self._clock()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        self.now = self._clock()

    def render(self) -> Text:
        snap = self.snapshot
        text = Text()
        text.append(f" {snap.network.upper()} ", style="bold reverse")
        text.append("  stores: ")
        text.append(snap.stores, style="bold")
        for name, healthy in snap.store_health.items():
            if not healthy:  # a healthy store is not news; a failing one is shown in red
                text.append(f" {name}✗", style="bold red")
        text.append("  engine: ")
        text.append(snap.engine, style=_ENGINE_STYLE.get(snap.engine, "white"))
        text.append("  wallet: ")
        text.append(_short(snap.wallet) if snap.wallet else "none", style="bold")
        text.append(f"  {self.now:%Y-%m-%d %H:%M:%S} UTC")
        return text


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address
