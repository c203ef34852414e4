"""Private keys in the OS keyring: explicit backend choice, store/read/list/delete.

Why explicit: keyring's default chain may fall back to a plaintext or prompting backend.
OneClick names the backend (Secret Service, macOS Keychain, Windows Credential Locker, or the
opt-in passphrase-encrypted cryptfile) and refuses to run without one rather than writing a
key to a plain file. Every backend call runs under a deadline, so a locked keyring that
would wait forever on an unlock prompt becomes a one-line error instead of a hang.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, KeyringLocked, PasswordDeleteError

from oneclick_tui.config import KeyringBackendName, user_data_dir
from oneclick_tui.services.wallet.keys import (
    WalletKey,
    WalletKeyError,
    normalize_address,
    parse_private_key,
)

SERVICE = "oneclick"
INDEX_USER = "__index__"
DEFAULT_TIMEOUT_S = 10.0

T = TypeVar("T")

_PLATFORM_BACKEND: dict[str, KeyringBackendName] = {
    "linux": "secretservice",
    "darwin": "macos",
    "win32": "windows",
}

HOW_TO_GET_ONE = (
    "install and start a Secret Service (e.g. `apt install gnome-keyring` and log in to a "
    "desktop session, or run `gnome-keyring-daemon --unlock` in a D-Bus session), or opt in "
    'to the passphrase-encrypted file with keyring_backend = "cryptfile" in config.toml'
)


class KeystoreError(Exception):
    """The keyring cannot do what was asked; the message is one line for the user."""


class KeystoreUnavailable(KeystoreError):
    """No usable keyring backend on this machine."""


class KeystoreLocked(KeystoreError):
    """The keyring exists but is locked (or an unlock prompt did not answer in time)."""


class KeyNotFound(KeystoreError):
    """No key for that address in the keyring."""


def _backend_class(name: KeyringBackendName) -> type[KeyringBackend]:
    if name == "secretservice":
        from keyring.backends import SecretService

        return SecretService.Keyring
    if name == "macos":
        from keyring.backends import macOS

        return macOS.Keyring
    if name == "windows":
        from keyring.backends import Windows

        return Windows.WinVaultKeyring
    if name == "cryptfile":
        try:
            from keyrings.cryptfile.cryptfile import CryptFileKeyring
        except ImportError:
            raise KeystoreUnavailable(
                'keyring_backend = "cryptfile" needs the keyrings.cryptfile package '
                '(pip install "oneclick-tui[cryptfile]")'
            ) from None
        return CryptFileKeyring
    raise KeystoreUnavailable(f"unknown keyring backend {name!r}")


def select_backend(
    name: KeyringBackendName = "auto",
    platform: str | None = None,
    passphrase: Callable[[], str] | None = None,
) -> KeyringBackend:
    """The configured backend, checked usable; `KeystoreUnavailable` naming the fix if not.

    `passphrase` is asked only for the opt-in cryptfile backend, once, before any keyring
    call runs under a deadline.
    """
    plat = platform or sys.platform
    resolved: KeyringBackendName | None = name
    if name == "auto":
        resolved = _PLATFORM_BACKEND.get("linux" if plat.startswith("linux") else plat)
        if resolved is None:
            raise KeystoreUnavailable(
                f"no OS keyring known for platform {plat!r}; {HOW_TO_GET_ONE}"
            )
    assert resolved is not None
    cls = _backend_class(resolved)
    try:
        priority = cls.priority  # keyring's own viability check; raises when unusable
    except Exception as exc:
        raise KeystoreUnavailable(
            f"no usable OS keyring ({resolved}: {_one_line(exc)}); {HOW_TO_GET_ONE}"
        ) from None
    if not priority or priority <= 0:
        raise KeystoreUnavailable(f"no usable OS keyring ({resolved}); {HOW_TO_GET_ONE}")
    backend = cls()
    if resolved == "cryptfile":
        _configure_cryptfile(backend, passphrase)
    return backend


def cryptfile_path() -> Path:
    """Where the opt-in encrypted key file lives (OneClick's data dir, mode 0600)."""
    return user_data_dir() / "keyring.cryptfile"


def _configure_cryptfile(backend: KeyringBackend, passphrase: Callable[[], str] | None) -> None:
    if passphrase is None:
        from oneclick_tui.services.wallet import passphrase as known

        passphrase = known.remembered()  # given once for the process (file, prompt, modal)
    if passphrase is None:
        raise KeystoreUnavailable(
            'keyring_backend = "cryptfile" needs its passphrase: run from a terminal, or set '
            "keyring_passphrase_file (a mode-600 file holding it)"
        )
    secret = passphrase()
    if not secret:
        raise KeystoreUnavailable("an empty passphrase would leave the key file unprotected")
    path = cryptfile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    backend.file_path = str(path)  # type: ignore[attr-defined]
    try:
        backend.keyring_key = secret  # type: ignore[attr-defined]  # checks it on an existing file
    except Exception:
        raise KeystoreLocked(f"wrong passphrase for the encrypted key file {path}") from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] or type(exc).__name__


def _secret_service_locked() -> bool:
    """True when the default Secret Service collection is locked (checked without prompting)."""
    import secretstorage

    conn = secretstorage.dbus_init()
    try:
        return bool(secretstorage.get_default_collection(conn).is_locked())
    finally:
        conn.close()


def _with_deadline(fn: Callable[[], T], timeout: float, what: str) -> T:
    """Run a blocking keyring call in a daemon thread; give up after `timeout` seconds."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"keyring-{what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise KeystoreLocked(
            f"the OS keyring did not answer within {timeout:g}s while trying to {what} "
            "(is it locked and waiting for an unlock prompt?)"
        )
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


class Keystore:
    """One keyring entry per account address (service `oneclick`), plus an address index."""

    def __init__(self, backend: KeyringBackend, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self._backend = backend
        self._timeout = timeout
        self._is_secret_service = type(backend).__module__ == "keyring.backends.SecretService"

    def __repr__(self) -> str:
        return f"Keystore(backend={type(self._backend).__module__}.{type(self._backend).__name__})"

    @classmethod
    def open(
        cls,
        name: KeyringBackendName = "auto",
        timeout: float = DEFAULT_TIMEOUT_S,
        passphrase: Callable[[], str] | None = None,
    ) -> Keystore:
        """The keystore on the configured backend."""
        return cls(select_backend(name, passphrase=passphrase), timeout)

    # -- plumbing -------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T], *, quote_errors: bool = True) -> T:
        def guarded() -> T:
            if self._is_secret_service and _secret_service_locked():
                raise KeystoreLocked(
                    "the OS keyring (Secret Service default collection) is locked: unlock it "
                    "(log in to the desktop, or `gnome-keyring-daemon --unlock`) and retry"
                )
            return fn()

        try:
            return _with_deadline(guarded, self._timeout, what)
        except KeystoreError:
            raise
        except KeyringLocked:
            raise KeystoreLocked(f"the OS keyring is locked; could not {what}") from None
        except (KeyringError, Exception) as exc:
            detail = _one_line(exc) if quote_errors else type(exc).__name__
            raise KeystoreError(f"the OS keyring failed to {what}: {detail}") from None

    def _read_index(self) -> list[str]:
        raw = self._call(
            "read the wallet index", lambda: self._backend.get_password(SERVICE, INDEX_USER)
        )
        if not raw:
            return []
        try:
            data = json.loads(raw)
        except ValueError:
            return []
        return [a for a in data if isinstance(a, str)] if isinstance(data, list) else []

    def _write_index(self, addresses: list[str]) -> None:
        payload = json.dumps(sorted(set(addresses)))
        self._call(
            "write the wallet index",
            lambda: self._backend.set_password(SERVICE, INDEX_USER, payload),
        )

    # -- use cases ------------------------------------------------------------------------
    def store(self, key: WalletKey) -> str:
        """Save the key under its address; refuses to replace a different key. Returns address."""
        address = key.address
        existing = self._call("read a key", lambda: self._backend.get_password(SERVICE, address))
        if existing is not None:
            if _same_key(existing, key):
                self._ensure_indexed(address)
                return address
            raise KeystoreError(f"a different key for {address} is already in the keyring")
        secret = key.aip80()
        self._call(
            "store the key",
            lambda: self._backend.set_password(SERVICE, address, secret),
            quote_errors=False,
        )
        back = self._call("read the key back", lambda: self._backend.get_password(SERVICE, address))
        if back is None or not _same_key(back, key):
            raise KeystoreError("the keyring did not keep the key (read-back mismatch)")
        self._ensure_indexed(address)
        return address

    def _ensure_indexed(self, address: str) -> None:
        index = self._read_index()
        if address not in index:
            self._write_index([*index, address])

    def load(self, address: str) -> WalletKey:
        """The key for `address`, or `KeyNotFound`."""
        wanted = normalize_address(address)
        raw = self._call(
            "read a key", lambda: self._backend.get_password(SERVICE, wanted), quote_errors=False
        )
        if raw is None:
            raise KeyNotFound(f"no key for {wanted} in the OS keyring (see `oneclick wallet list`)")
        try:
            key = parse_private_key(raw)
        except WalletKeyError:
            raise KeystoreError(f"the keyring entry for {wanted} is not a valid key") from None
        if key.address != wanted:
            raise KeystoreError(f"the keyring entry for {wanted} holds a key for another account")
        return key

    def contains(self, address: str) -> bool:
        wanted = normalize_address(address)
        raw = self._call(
            "read a key", lambda: self._backend.get_password(SERVICE, wanted), quote_errors=False
        )
        return raw is not None

    def addresses(self) -> list[str]:
        """Addresses with a key in the keyring (from the index entry), sorted."""
        return sorted(self._read_index())

    def delete(self, address: str) -> bool:
        """Remove the key and its index line; False when there was none."""
        wanted = normalize_address(address)

        def remove() -> bool:
            try:
                self._backend.delete_password(SERVICE, wanted)
            except PasswordDeleteError:
                return False
            return True

        removed = self._call("delete the key", remove)
        index = self._read_index()
        if wanted in index:
            self._write_index([a for a in index if a != wanted])
        return removed


def _same_key(stored: str, key: WalletKey) -> bool:
    try:
        return parse_private_key(stored).address == key.address
    except WalletKeyError:
        return False
