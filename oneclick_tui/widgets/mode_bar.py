"""The one-line strip of console modes at the top of every screen, the current one lit.

Why not the footer: nine mode keys there left no room on a 120-column terminal for the keys
that matter most (flatten, quit, help), and the footer cut them silently. The strip shows the
effective key of each mode (after the user's keymap) and switches mode on a click; on a
narrow terminal only the active mode keeps its name.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.binding import Binding
from textual.content import Content
from textual.widget import Widget


class ModeBar(Widget):
    """`1 Markets  2 Traders  …` with the active mode in reverse video."""

    DEFAULT_CSS = """
    ModeBar { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    """

    def __init__(
        self,
        modes: Mapping[str, tuple[str, str]],
        keymap: Mapping[str, str] | None = None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._modes = dict(modes)
        self._keymap = dict(keymap or {})

    def key_for(self, mode: str) -> str:
        """The key that switches to `mode` as the user sees it (keymap applied)."""
        default, label = self._modes[mode]
        key = self._keymap.get(f"app.mode.{mode}", default).split(",")[0].strip()
        return self.app.get_key_display(Binding(key, "", label))

    def render(self) -> Content:
        active = self.app.current_mode
        full = self._strip(active, labels=True)
        if full.cell_length <= self.content_region.width:
            return full
        # Too narrow for every label (under ~110 columns): keys only, the active mode named.
        return self._strip(active, labels=False)

    def _strip(self, active: str, *, labels: bool) -> Content:
        parts: list[Content] = []
        for mode, (_, label) in self._modes.items():
            lit = mode == active
            text = f" {self.key_for(mode)} {label} " if labels or lit else f" {self.key_for(mode)} "
            style = "reverse bold " if lit else ""
            parts.append(
                Content.from_markup(f"[{style}@click=app.switch_mode('{mode}')]$text[/]", text=text)
            )
        return Content(" ").join(parts)
