"""Wallet (mode 7): the local user's wallets, the keyring they live in, and paper balances.

Keys are created (`n`) or imported (`i`) through a modal whose key field is a masked
`Input(password=True)`. The secret goes from that field straight to `WalletService` inside a
worker that catches every error itself and shows only its (secret-free) message at the
field: nothing reaches a notification, the log or Textual's crash report, which prints the
locals of the failing frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Static

from oneclick_tui.messages import Booted, CopyActivity
from oneclick_tui.screens.base import ConsoleScreen
from oneclick_tui.services.doctor import KeyringStatus, keyring_status
from oneclick_tui.services.wallet.keys import WalletKeyError
from oneclick_tui.services.wallet.keystore import Keystore, KeystoreError
from oneclick_tui.services.wallet.registry import WalletRegistry
from oneclick_tui.services.wallet.service import Outcome, WalletInfo, WalletService

STABLES = ("USDC", "USDT")
RELOAD_SECONDS = 2.0
"""Copies change paper balances many times a second: reload at most this often."""
WALLET_COLUMNS = (
    ("address", "address"),
    ("label", "label"),
    ("keyring", "key in keyring"),
    ("database", "recorded"),
    ("public_key", "public key"),
)
BALANCE_COLUMNS = (("asset", "asset"), ("quantity", "balance"), ("updated", "updated"))
_STATE_STYLE = {"available": "green", "locked": "yellow", "none": "bold red"}

SaveWallet = Callable[[str | None, str | None], Awaitable[Outcome]]
"""(secret or None to generate, label) -> the stored wallet; raises secret-free errors."""


class WalletKeyModal(ModalScreen[WalletInfo | None]):
    """Create (label only) or import (masked key + label); errors are shown at the field."""

    DEFAULT_CSS = """
    WalletKeyModal { align: center middle; }
    WalletKeyModal > Vertical {
        width: 80; height: auto; border: thick $primary; background: $surface; padding: 1 2;
    }
    WalletKeyModal #wallet-form-title { text-style: bold; margin-bottom: 1; }
    WalletKeyModal .field-label { margin-top: 1; color: $text-muted; }
    WalletKeyModal .field-error { color: $error; height: auto; }
    WalletKeyModal Horizontal { height: auto; margin-top: 1; align-horizontal: right; }
    WalletKeyModal Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="wallet_form.cancel"),
    ]

    def __init__(self, save: SaveWallet, *, importing: bool) -> None:
        super().__init__()
        self._save = save
        self.importing = importing

    def compose(self) -> ComposeResult:
        with Vertical():
            title = "Import a private key" if self.importing else "Create a new wallet"
            yield Label(title, id="wallet-form-title")
            if self.importing:
                yield Label(
                    "Private key (0x… or ed25519-priv-0x…); it is stored only in the OS keyring",
                    classes="field-label",
                )
                yield Input(id="secret", password=True, placeholder="hidden as you type")
                yield Label("", id="secret-error", classes="field-error")
            yield Label("Label (optional)", classes="field-label")
            yield Input(id="label", placeholder="e.g. main")
            yield Label("", id="label-error", classes="field-error")
            with Horizontal():
                yield Button("Import" if self.importing else "Create", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#secret" if self.importing else "#label", Input).focus()

    @property
    def error_field(self) -> str:
        """Where an error belongs: the key field when importing, else the label field."""
        return "secret" if self.importing else "label"

    def show_error(self, why: str | None) -> None:
        field = self.error_field
        self.query_one(f"#{field}", Input).set_class(why is not None, "-invalid")
        self.query_one(f"#{field}-error", Label).update(why or "")

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        label = self.query_one("#label", Input).value.strip() or None
        if self.importing and not self.query_one("#secret", Input).value.strip():
            self.show_error("paste a private key (it stays hidden)")
            return
        self.query_one("#ok", Button).disabled = True
        self._store(label)

    @work(exclusive=True, group="wallet-save", exit_on_error=False)
    async def _store(self, label: str | None) -> None:
        """Read the secret here, hand it over, and never let an error carry it out."""
        try:
            secret_input = self.query_one("#secret", Input) if self.importing else None
            outcome = await self._save(
                secret_input.value if secret_input is not None else None, label
            )
        except (WalletKeyError, KeystoreError) as exc:
            self.show_error(str(exc))
        except Exception as exc:  # anything else: its type only, its text might quote input
            self.show_error(f"could not store the key ({type(exc).__name__})")
        else:
            if secret_input is not None:
                secret_input.value = ""
            self.dismiss(outcome.wallet)
            if outcome.warning:
                self.app.notify(outcome.warning, severity="warning", timeout=10)
            return
        self.query_one("#ok", Button).disabled = False

    def action_cancel(self) -> None:
        self.dismiss(None)


class WalletScreen(ConsoleScreen):
    """Mode 7: wallets, keyring state with its fix, paper balances; `n` create, `i` import."""

    DEFAULT_CSS = """
    WalletScreen #wallet { padding: 0 1; height: 1fr; }
    WalletScreen #keyring-status { height: auto; margin-bottom: 1; }
    WalletScreen .section { text-style: bold; margin-top: 1; }
    WalletScreen #wallets { height: 1fr; }
    WalletScreen #balances { height: 8; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "n",
            "create",
            "New key",
            id="wallet.create",
            tooltip="Generate a key and store it in the OS keyring",
        ),
        Binding(
            "i",
            "import_key",
            "Import key",
            id="wallet.import",
            tooltip="Import a private key into the OS keyring (masked input)",
        ),
        Binding("r", "reload", "Reload", id="wallet.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.keyring: KeyringStatus | None = None
        self.wallets: list[WalletInfo] = []
        self._stale = False

    def body(self) -> ComposeResult:
        with Vertical(id="wallet"):
            yield Static("keyring: checking…", id="keyring-status")
            yield Label("Wallets", classes="section")
            yield DataTable(id="wallets", cursor_type="row", zebra_stripes=True)
            yield Label("Paper balances", classes="section")
            yield DataTable(id="balances", cursor_type="row")

    def on_mount(self) -> None:
        wallets = self.query_one("#wallets", DataTable)
        for key, label in WALLET_COLUMNS:
            wallets.add_column(label, key=key)
        balances = self.query_one("#balances", DataTable)
        for key, label in BALANCE_COLUMNS:
            balances.add_column(label, key=key)
        self.set_interval(RELOAD_SECONDS, self._reload_if_stale)

    def on_booted(self, message: Booted) -> None:
        message.stop()  # the app relays Booted to the screen; bubbling back would loop
        self.refresh_data()

    def on_copy_activity(self, message: CopyActivity) -> None:
        message.stop()
        self._stale = True

    def _reload_if_stale(self) -> None:
        if self._stale and self.is_current:
            self._stale = False
            self.refresh_data()

    def action_reload(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        if self.ctx is not None:
            self._load()

    # ------------------------------------------------------------------ services
    def _registry(self) -> WalletRegistry | None:
        ctx = self.ctx
        return WalletRegistry(ctx.services.sessions) if ctx is not None else None

    async def _service(self) -> WalletService:
        """The wallet service on the configured keyring; `KeystoreError` says why not."""
        backend = self.console.settings.keyring_backend
        keystore = await asyncio.to_thread(Keystore.open, backend)
        return WalletService(keystore, self._registry())

    async def save(self, secret: str | None, label: str | None) -> Outcome:
        """What the modal calls: generate when `secret` is None, else import it."""
        service = await self._service()
        if secret is None:
            return await service.create(label)
        return await service.import_key(secret, label)

    # ------------------------------------------------------------------ loading
    @work(exclusive=True, group="wallet-load", exit_on_error=False)
    async def _load(self) -> None:
        ctx = self.ctx
        if ctx is None:
            return
        status = await asyncio.to_thread(keyring_status, self.console.settings.keyring_backend)
        warning = None
        wallets: list[WalletInfo] = []
        try:
            if status.state == "available":
                wallets, warning = await (await self._service()).list()
            else:
                registry = self._registry()
                rows = await registry.list() if registry is not None else []
                wallets = [WalletInfo(r.address, r.public_key, r.label, False, True) for r in rows]
        except KeystoreError as exc:
            warning = str(exc)
        positions = [p for p in await ctx.follows.positions() if p.asset.upper() in STABLES]
        self.keyring, self.wallets = status, wallets
        self.query_one("#keyring-status", Static).update(_status_text(status, warning))
        table = self.query_one("#wallets", DataTable)
        table.clear()
        for w in wallets:
            table.add_row(*_wallet_cells(w, status), key=w.address)
        balances = self.query_one("#balances", DataTable)
        balances.clear()
        for p in positions:
            balances.add_row(
                Text(p.asset, style="bold"),
                Text(_amount(p.quantity), justify="right"),
                f"{p.updated_at:%Y-%m-%d %H:%M:%S}",
                key=p.asset,
            )

    # ------------------------------------------------------------------ actions
    def action_create(self) -> None:
        self._open_form(importing=False)

    def action_import_key(self) -> None:
        self._open_form(importing=True)

    def _open_form(self, *, importing: bool) -> None:
        if self.ctx is None:
            self.notify("still starting: try again in a moment", severity="warning")
            return

        def done(wallet: WalletInfo | None) -> None:
            if wallet is not None:
                verb = "imported" if importing else "created"
                self.notify(f"wallet {wallet.address} {verb}", title="Wallet")
                self.refresh_data()

        self.app.push_screen(WalletKeyModal(self.save, importing=importing), done)


def _status_text(status: KeyringStatus, warning: str | None) -> Text:
    text = Text("keyring: ", style="dim")
    text.append(status.backend, style="bold")
    text.append("  ")
    text.append(status.state, style=_STATE_STYLE[status.state])
    if status.state == "available":
        wallets = "" if status.wallets is None else f", {status.wallets} key(s)"
        text.append(f"  {status.detail}{wallets}", style="dim")
    else:
        text.append(f"\n{status.detail}")
        if status.fix:
            text.append("\nfix: ", style="bold")
            text.append(status.fix)
    if warning:
        text.append(f"\n{warning}", style="yellow")
    return text


def _wallet_cells(w: WalletInfo, status: KeyringStatus) -> tuple[object, ...]:
    if w.in_keyring:
        in_keyring = Text("yes", style="green")
    elif status.state != "available":
        in_keyring = Text("unknown", style="yellow")
    else:
        in_keyring = Text("missing", style="bold red")
    return (
        Text(w.address, style="bold"),
        w.label or "-",
        in_keyring,
        "yes" if w.in_database else "no",
        w.public_key or "-",
    )


def _amount(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.000001')).normalize():f}"
