"""Ask for the encrypted key file's passphrase inside the console (keyring_backend = cryptfile).

The terminal belongs to Textual, so the CLI's hidden prompt cannot run; this modal asks
instead, checks the passphrase against the key file before accepting it (a wrong one says so
and lets the user retry), and Escape goes on without signing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

Check = Callable[[str], Awaitable[str | None]]
"""Returns why the passphrase is refused, or None when it opens the key file."""


class PassphraseModal(ModalScreen[str | None]):
    """Dismisses with the checked passphrase, or None when the user skips (Escape)."""

    DEFAULT_CSS = """
    PassphraseModal { align: center middle; }
    PassphraseModal > Vertical {
        width: 68; height: auto; border: thick $primary; background: $surface; padding: 1 2;
    }
    PassphraseModal #passphrase-title { text-style: bold; margin-bottom: 1; }
    PassphraseModal #passphrase-error { color: $error; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "skip", "Skip (no signing)", id="passphrase.skip"),
    ]

    def __init__(self, check: Check, where: str) -> None:
        super().__init__()
        self._check = check
        self._where = where

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Unlock the encrypted key file", id="passphrase-title")
            yield Static(
                f"Wallet keys are in {self._where}. Enter its passphrase to sign copies; "
                "Escape goes on without signing."
            )
            yield Input(password=True, placeholder="passphrase", id="passphrase-input")
            yield Static("", id="passphrase-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self._try(event.value)

    @work(exclusive=True, group="passphrase-check", exit_on_error=False)
    async def _try(self, secret: str) -> None:
        error = "enter the passphrase (Escape to skip)" if not secret else None
        if error is None:
            self.query_one("#passphrase-error", Static).update("checking…")
            error = await self._check(secret)
        if error is None:
            self.dismiss(secret)
            return
        self.query_one("#passphrase-error", Static).update(error)
        field = self.query_one(Input)
        field.value = ""
        field.focus()

    def action_skip(self) -> None:
        self.dismiss(None)
