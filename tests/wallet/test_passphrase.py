"""The cryptfile keyring's passphrase for processes nobody can type into: a mode-600 file for
the headless engine, a modal in the console; the CLI keeps its hidden prompt.

The opt-in encrypted file is what a server without a Secret Service uses, so the 24/7 engine
must be able to sign with it. Argon2 is made cheap here (test-only) so the suite stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oneclick_tui.cli import app as cli_app
from oneclick_tui.config import Settings
from oneclick_tui.services.engine.signer import signer_for_wallets
from oneclick_tui.services.runtime import open_services
from oneclick_tui.services.wallet import passphrase
from oneclick_tui.services.wallet.keystore import Keystore, KeystoreUnavailable
from oneclick_tui.services.wallet.registry import WalletRegistry
from oneclick_tui.services.wallet.service import WalletService

SECRET = "correct horse battery"


@pytest.fixture(autouse=True)
def cheap_cryptfile(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    cryptfile = pytest.importorskip("keyrings.cryptfile.cryptfile")
    monkeypatch.setattr(cryptfile.CryptFileKeyring, "time_cost", 1)
    monkeypatch.setattr(cryptfile.CryptFileKeyring, "memory_cost", 2**12)
    passphrase.forget()
    yield
    passphrase.forget()


def _secret_file(tmp_path: Path, mode: int, text: str = SECRET + "\n") -> Path:
    path = tmp_path / "keyring.pass"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_the_file_must_be_private_and_not_empty(tmp_path: Path) -> None:
    with pytest.raises(passphrase.PassphraseFileError, match=r"readable by others.*chmod 600"):
        passphrase.read_file(_secret_file(tmp_path, 0o644))
    with pytest.raises(passphrase.PassphraseFileError, match="is empty"):
        passphrase.read_file(_secret_file(tmp_path, 0o600, ""))
    with pytest.raises(passphrase.PassphraseFileError, match="cannot read it"):
        passphrase.read_file(tmp_path / "missing")
    assert passphrase.read_file(_secret_file(tmp_path, 0o600)) == SECRET


async def test_the_engine_signs_with_keys_in_the_encrypted_file(
    tmp_path: Path, fresh_sqlite_url: str
) -> None:
    settings = Settings(
        database_url=fresh_sqlite_url,
        keyring_backend="cryptfile",
        keyring_passphrase_file=_secret_file(tmp_path, 0o600),
    )
    services = await open_services(settings)
    try:
        # without the passphrase there is no signing, and the reason names the fix
        with pytest.raises(KeystoreUnavailable, match="keyring_passphrase_file"):
            Keystore.open("cryptfile")
        passphrase.unlock(settings, interactive=False)  # what `oneclick engine` does first
        wallets = WalletService(Keystore.open("cryptfile"), WalletRegistry(services.sessions))
        made = await wallets.create("engine key")
        signer = await signer_for_wallets(services.sessions, "cryptfile")
        assert signer is not None and signer.has_key(services.user.id)
        signer.close()
        assert made.wallet.address in Keystore.open("cryptfile").addresses()
    finally:
        await services.close()


def test_the_engine_refuses_a_passphrase_file_others_can_read(
    tmp_path: Path, fresh_sqlite_url: str
) -> None:
    loose = _secret_file(tmp_path, 0o640)
    env = {
        "ONECLICK_DATABASE_URL": fresh_sqlite_url,
        "ONECLICK_KEYRING_BACKEND": "cryptfile",
        "ONECLICK_KEYRING_PASSPHRASE_FILE": str(loose),
    }
    result = CliRunner().invoke(cli_app, ["engine", "--duration", "1"], env=env)
    assert result.exit_code != 0
    assert f"keyring_passphrase_file {loose} is readable by others (mode 640)" in result.output
