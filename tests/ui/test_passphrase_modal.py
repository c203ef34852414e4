"""The console asks for the encrypted key file's passphrase in a modal (cryptfile keyring).

Textual owns the terminal, so the CLI's hidden prompt cannot run; a wrong passphrase is said
so and may be retried, the right one unlocks signing, Escape goes on without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from oneclick_tui.config import Settings, SimSettings
from oneclick_tui.services.wallet import passphrase
from oneclick_tui.services.wallet.keys import generate_key
from oneclick_tui.services.wallet.keystore import Keystore
from oneclick_tui.widgets.passphrase_modal import PassphraseModal
from tests.ui.conftest import Console, wait_until

SECRET = "correct horse battery"


@pytest.fixture(autouse=True)
def key_file() -> Iterator[None]:
    """A key file locked with SECRET (Argon2 made cheap: test-only)."""
    cryptfile = pytest.importorskip("keyrings.cryptfile.cryptfile")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cryptfile.CryptFileKeyring, "time_cost", 1)
        mp.setattr(cryptfile.CryptFileKeyring, "memory_cost", 2**12)
        passphrase.forget()
        Keystore.open("cryptfile", passphrase=lambda: SECRET).store(generate_key())
        yield
        passphrase.forget()


@pytest.fixture
def ui_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
        sim=SimSettings(seed=7, speed=50),
        keyring_backend="cryptfile",
    )


async def test_a_wrong_passphrase_is_refused_and_the_right_one_unlocks(console: Console) -> None:
    async with console() as (app, pilot):
        await wait_until(pilot, lambda: isinstance(app.screen, PassphraseModal), 20, "modal")
        app.screen.query_one(Input).value = "not it"
        await pilot.press("enter")
        error = app.screen.query_one("#passphrase-error", Static)
        await wait_until(pilot, lambda: "wrong passphrase" in str(error.render()), 20, "refusal")
        assert passphrase.remembered() is None
        app.screen.query_one(Input).value = SECRET
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, PassphraseModal), 20, "unlock")
        assert passphrase.remembered() is not None
        await wait_until(pilot, lambda: app.status.engine == "running", 30, "the engine")


async def test_escape_goes_on_without_signing(console: Console) -> None:
    async with console() as (app, pilot):
        await wait_until(pilot, lambda: isinstance(app.screen, PassphraseModal), 20, "modal")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.status.engine == "running", 30, "the engine")
        assert passphrase.remembered() is None
        assert app.ctx is not None and app.ctx.runner is not None
        assert app.ctx.runner.signer is None
