"""The Wallet screen (mode 7) on the real console and, for keyring tests, the real Secret
Service inside scripts/keyring-session.sh: create a wallet and see it listed; import a
malformed key and see the error at the field with nothing stored; the key never shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Label, Static

from oneclick_tui.app import OneClickApp
from oneclick_tui.config import Settings, SimSettings
from oneclick_tui.screens.wallet import WalletKeyModal, WalletScreen
from oneclick_tui.services.wallet.keys import generate_key
from oneclick_tui.services.wallet.keystore import Keystore
from oneclick_tui.services.wallet.registry import WalletRegistry
from tests.ui.conftest import wait_until
from tests.wallet.conftest import (
    keyring_skip_reason,
    unlock_default_collection,
    wipe_oneclick_entries,
)

in_keyring_session = pytest.mark.skipif(
    keyring_skip_reason() is not None, reason=keyring_skip_reason() or ""
)


@pytest.fixture
def empty_keyring() -> Iterator[None]:
    unlock_default_collection()
    wipe_oneclick_entries()
    yield
    unlock_default_collection()
    wipe_oneclick_entries()


@asynccontextmanager
async def wallet_console(
    tmp_path: Path, **settings: Any
) -> AsyncIterator[tuple[OneClickApp, Any, WalletScreen]]:
    """The booted console showing the Wallet screen (registered here if the app lacks it)."""
    app = OneClickApp(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
            sim=SimSettings(seed=7, speed=20),
            **settings,
        )
    )
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: app.ctx is not None, 60, "the console to boot")
        if "wallet" not in app._modes:
            app.add_mode("wallet", WalletScreen)
        await app.switch_mode("wallet")
        await wait_until(pilot, lambda: isinstance(app.screen, WalletScreen), 10, "wallet")
        screen = app.screen
        assert isinstance(screen, WalletScreen)
        await wait_until(pilot, lambda: screen.keyring is not None, 20, "keyring status")
        try:
            yield app, pilot, screen
        finally:
            await app.shutdown()


async def open_form(app: OneClickApp, pilot: Any, key: str) -> WalletKeyModal:
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, WalletKeyModal), 10, "the form")
    modal = app.screen
    assert isinstance(modal, WalletKeyModal)
    return modal


def screen_text(app: OneClickApp) -> str:
    return app.export_screenshot()


def keyring_addresses() -> list[str]:
    return Keystore.open("auto").addresses()


@pytest.mark.keyring
@in_keyring_session
@pytest.mark.usefixtures("empty_keyring")
async def test_create_wallet_from_screen_and_see_it_listed(tmp_path: Path) -> None:
    async with wallet_console(tmp_path) as (app, pilot, screen):
        assert screen.keyring is not None and screen.keyring.state == "available"
        status = str(screen.query_one("#keyring-status", Static).render())
        assert "available" in status
        table = screen.query_one("#wallets", DataTable)
        assert table.row_count == 0

        modal = await open_form(app, pilot, "n")
        assert not modal.query("#secret"), "creating asks for no key"
        await pilot.press(*"main")
        await pilot.press("enter")
        await wait_until(pilot, lambda: table.row_count == 1, 20, "the new wallet row")

        stored = await asyncio.to_thread(keyring_addresses)
        assert len(stored) == 1
        address = stored[0]
        row = [str(c) for c in table.get_row(address)]
        assert row[0] == address and row[1] == "main" and row[2] == "yes"
        assert row[4].startswith("0x") and len(row[4]) == 66
        rows = await WalletRegistry(app.ctx.services.sessions).list()  # type: ignore[union-attr]
        assert [r.address for r in rows] == [address]


@pytest.mark.keyring
@in_keyring_session
@pytest.mark.usefixtures("empty_keyring")
async def test_malformed_key_error_at_field_and_nothing_stored(tmp_path: Path) -> None:
    typed = "0x12ab34zz"
    async with wallet_console(tmp_path) as (app, pilot, screen):
        modal = await open_form(app, pilot, "i")
        secret = modal.query_one("#secret", Input)
        assert secret.password, "the key field must be masked"
        await pilot.press(*typed)
        await pilot.press("enter")
        error = modal.query_one("#secret-error", Label)
        await wait_until(pilot, lambda: str(error.render()).strip() != "", 10, "field error")

        message = str(error.render())
        assert "hexadecimal" in message and typed not in message
        assert secret.has_class("-invalid")
        assert isinstance(app.screen, WalletKeyModal), "the form stays open to fix the key"
        assert typed not in screen_text(app) and "12ab34" not in screen_text(app)
        assert await asyncio.to_thread(keyring_addresses) == []
        assert await WalletRegistry(app.ctx.services.sessions).list() == []  # type: ignore[union-attr]

        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, 10, "the form to close")
        assert screen.query_one("#wallets", DataTable).row_count == 0


@pytest.mark.keyring
@in_keyring_session
@pytest.mark.usefixtures("empty_keyring")
async def test_import_valid_key_lists_it_and_never_shows_the_key(tmp_path: Path) -> None:
    key = generate_key()
    secret = key.aip80()
    hex_part = secret.rsplit("0x", 1)[1]
    async with wallet_console(tmp_path) as (app, pilot, screen):
        modal = await open_form(app, pilot, "i")
        modal.query_one("#secret", Input).value = secret
        assert hex_part not in screen_text(app), "the key must be masked on screen"
        modal.query_one("#label", Input).value = "imported"
        await pilot.press("enter")
        table = screen.query_one("#wallets", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1, 20, "the imported wallet row")
        assert str(table.get_row(key.address)[1]) == "imported"
        assert hex_part not in screen_text(app)
        assert all(hex_part not in str(n.message) for n in app._notifications)
        assert await asyncio.to_thread(keyring_addresses) == [key.address]


async def test_no_keyring_shows_fix_and_import_error_at_field(tmp_path: Path) -> None:
    """A backend that cannot work here (Windows' locker on Linux): status none + the fix."""
    async with wallet_console(tmp_path, keyring_backend="windows") as (app, pilot, screen):
        assert screen.keyring is not None and screen.keyring.state == "none"
        status = str(screen.query_one("#keyring-status", Static).render())
        assert "none" in status and "fix:" in status
        modal = await open_form(app, pilot, "i")
        modal.query_one("#secret", Input).value = generate_key().aip80()
        await pilot.press("enter")
        error = modal.query_one("#secret-error", Label)
        await wait_until(pilot, lambda: str(error.render()).strip() != "", 10, "field error")
        assert "keyring" in str(error.render())
        assert "ed25519-priv" not in str(error.render())


async def test_paper_balances_show_stablecoins(tmp_path: Path) -> None:
    async with wallet_console(tmp_path, keyring_backend="windows") as (app, pilot, screen):
        ctx = app.ctx
        assert ctx is not None
        positions = await ctx.follows.positions()
        stables = sorted(p.asset for p in positions if p.asset in ("USDC", "USDT"))
        balances = screen.query_one("#balances", DataTable)
        await wait_until(
            pilot, lambda: balances.row_count == len(stables), 10, "the balances table"
        )
        assert sorted(str(k.value) for k in balances.rows) == stables


@pytest.mark.keyring
@in_keyring_session
@pytest.mark.usefixtures("empty_keyring")
async def test_locked_keyring_shows_locked_with_the_fix(tmp_path: Path) -> None:
    from tests.wallet.conftest import lock_default_collection

    lock_default_collection()
    async with wallet_console(tmp_path) as (_app, _pilot, screen):
        assert screen.keyring is not None and screen.keyring.state == "locked"
        status = str(screen.query_one("#keyring-status", Static).render())
        assert "locked" in status and "fix: unlock" in status
