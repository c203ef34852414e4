"""The keystore on the real Secret Service (gnome-keyring inside scripts/keyring-session.sh)."""

from __future__ import annotations

import time

import pytest
from keyring.backend import KeyringBackend

from oneclick_tui.services.wallet.keys import generate_key
from oneclick_tui.services.wallet.keystore import (
    INDEX_USER,
    SERVICE,
    KeyNotFound,
    Keystore,
    KeystoreLocked,
    KeystoreUnavailable,
    select_backend,
)
from tests.wallet.conftest import lock_default_collection, unlock_default_collection

keyring_test = pytest.mark.keyring


@keyring_test
def test_store_read_list_delete_round_trip(clean_keyring: None) -> None:
    store = Keystore.open("secretservice")
    first, second = generate_key(), generate_key()

    assert store.store(first) == first.address
    store.store(second)
    store.store(first)  # same key again: idempotent, not an error

    loaded = store.load(first.address)
    assert loaded.address == first.address
    assert loaded.aip80() == first.aip80()
    assert store.addresses() == sorted([first.address, second.address])
    assert store.contains(second.address)

    assert store.delete(first.address) is True
    assert store.delete(first.address) is False
    assert store.addresses() == [second.address]
    with pytest.raises(KeyNotFound, match="no key for"):
        store.load(first.address)


@keyring_test
def test_auto_picks_secret_service_on_linux(clean_keyring: None) -> None:
    backend = select_backend("auto", platform="linux")
    assert type(backend).__module__ == "keyring.backends.SecretService"


@keyring_test
def test_entries_are_one_per_address_under_service_oneclick(clean_keyring: None) -> None:
    import secretstorage

    key = generate_key()
    Keystore.open("secretservice").store(key)
    conn = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(conn)
        users = sorted(
            item.get_attributes()["username"]
            for item in collection.search_items({"service": SERVICE})
        )
    finally:
        conn.close()
    assert users == sorted([key.address, INDEX_USER])


@keyring_test
def test_locked_keyring_is_a_clear_error_not_a_hang(clean_keyring: None) -> None:
    store = Keystore.open("secretservice", timeout=5.0)
    key = generate_key()
    store.store(key)
    lock_default_collection()
    try:
        started = time.monotonic()
        with pytest.raises(KeystoreLocked, match="locked") as info:
            store.load(key.address)
        assert time.monotonic() - started < 5.0
        assert "\n" not in str(info.value)
        with pytest.raises(KeystoreLocked):
            store.store(generate_key())
    finally:
        unlock_default_collection()
    assert store.load(key.address).address == key.address


def test_no_dbus_session_means_unavailable_with_a_way_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/oneclick-bus")
    with pytest.raises(KeystoreUnavailable) as info:
        select_backend("secretservice")
    message = str(info.value)
    assert "\n" not in message
    assert "gnome-keyring" in message and "cryptfile" in message


def test_unknown_platform_is_refused_rather_than_a_plaintext_fallback() -> None:
    with pytest.raises(KeystoreUnavailable, match="no OS keyring known"):
        select_backend("auto", platform="sunos5")


class _HangingBackend(KeyringBackend):
    """Stands in for a keyring blocked on an unlock prompt nobody answers."""

    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(30)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        time.sleep(30)

    def delete_password(self, service: str, username: str) -> None:
        time.sleep(30)


def test_a_backend_that_never_answers_times_out() -> None:
    store = Keystore(_HangingBackend(), timeout=0.3)
    started = time.monotonic()
    with pytest.raises(KeystoreLocked, match=r"did not answer within 0\.3s"):
        store.addresses()
    assert time.monotonic() - started < 2


def test_cryptfile_is_opt_in_encrypted_and_checks_the_passphrase(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cryptfile = pytest.importorskip("keyrings.cryptfile.cryptfile")
    CryptFileKeyring = cryptfile.CryptFileKeyring

    from oneclick_tui.services.wallet.keystore import KeystoreError, cryptfile_path

    # Test-only: a cheap Argon2 cost keeps this fast; production keeps the library defaults.
    monkeypatch.setattr(CryptFileKeyring, "time_cost", 1)
    monkeypatch.setattr(CryptFileKeyring, "memory_cost", 2**12)

    with pytest.raises(KeystoreUnavailable, match="needs its passphrase"):
        select_backend("cryptfile")
    with pytest.raises(KeystoreUnavailable, match="empty passphrase"):
        select_backend("cryptfile", passphrase=lambda: "")

    store = Keystore.open("cryptfile", timeout=30, passphrase=lambda: "correct horse")
    key = generate_key()
    store.store(key)
    assert store.load(key.address).address == key.address
    assert store.addresses() == [key.address]

    content = cryptfile_path().read_bytes()
    secret = key.aip80().removeprefix("ed25519-priv-0x")
    assert secret.encode() not in content and key.aip80().encode() not in content
    assert oct(cryptfile_path().stat().st_mode & 0o777) == "0o600"

    with pytest.raises(KeystoreLocked, match="wrong passphrase") as info:
        Keystore.open("cryptfile", timeout=30, passphrase=lambda: "wrong")
    assert isinstance(info.value, KeystoreError)
