"""Fixtures for wallet tests: the real Secret Service inside scripts/keyring-session.sh.

Keyring tests never touch a developer's desktop keyring: they run only when the session
script set ONECLICK_TEST_KEYRING_SESSION (a throwaway HOME and gnome-keyring daemon).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# The throwaway password scripts/keyring-session.sh created the login keyring with.
KEYRING_PASSWORD = os.environ.get("ONECLICK_KEYRING_PASSWORD", "oneclick-test")


def keyring_skip_reason() -> str | None:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return (
            "DBUS_SESSION_BUS_ADDRESS is unset: no Secret Service; run the suite through "
            "scripts/keyring-session.sh"
        )
    if not os.environ.get("ONECLICK_TEST_KEYRING_SESSION"):
        return (
            "not inside scripts/keyring-session.sh: refusing to write to this desktop's "
            "real keyring"
        )
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = keyring_skip_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "keyring" in item.keywords:
            item.add_marker(skip)


def _default_collection():  # type: ignore[no-untyped-def]
    import secretstorage

    conn = secretstorage.dbus_init()
    return conn, secretstorage.get_default_collection(conn)


def unlock_default_collection() -> None:
    """Unlock without a prompt through gnome-keyring's master-password D-Bus call."""
    from secretstorage.defines import SS_PATH
    from secretstorage.util import DBusAddressWrapper, format_secret, open_session

    conn, collection = _default_collection()
    try:
        if not collection.is_locked():
            return
        session = open_session(conn)
        secret = format_secret(session, KEYRING_PASSWORD.encode(), "text/plain")
        internal = DBusAddressWrapper(
            SS_PATH, "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface", conn
        )
        internal.call("UnlockWithMasterPassword", "o(oayays)", collection.collection_path, secret)
        assert not collection.is_locked()
    finally:
        conn.close()


def lock_default_collection() -> None:
    conn, collection = _default_collection()
    try:
        collection.lock()
        assert collection.is_locked()
    finally:
        conn.close()


def wipe_oneclick_entries() -> None:
    """Remove every `oneclick` item so each test starts from an empty keyring."""
    conn, collection = _default_collection()
    try:
        for item in list(collection.search_items({"service": "oneclick"})):
            item.delete()
    finally:
        conn.close()


@pytest.fixture
def clean_keyring() -> Iterator[None]:
    """An unlocked default collection with no OneClick entries, before and after."""
    unlock_default_collection()
    wipe_oneclick_entries()
    yield
    unlock_default_collection()
    wipe_oneclick_entries()
