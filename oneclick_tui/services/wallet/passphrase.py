"""The cryptfile passphrase: asked once per process, from a file, the terminal or the console.

Why once per process: the opt-in encrypted key file is the keyring of machines without a
Secret Service (a server running the engine 24/7), and every part of OneClick that opens the
keyring (the engine's signer, the wallet screen, the CLI) needs the same passphrase. Like an
agent, the process keeps it in memory only; it is never written, logged or put in settings.
A service manager hands it over as a file readable by the owner alone
(`keyring_passphrase_file`, e.g. a systemd credential); a terminal asks for it; the console
asks in a modal.
"""

from __future__ import annotations

import getpass
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from oneclick_tui.config import Settings

_remembered: str | None = None


class PassphraseFileError(Exception):
    """The configured passphrase file cannot be used; the message names the fix."""


def remember(secret: str) -> None:
    """Keep the passphrase for this process (memory only)."""
    global _remembered
    _remembered = secret


def forget() -> None:
    global _remembered
    _remembered = None


def remembered() -> Callable[[], str] | None:
    """A provider for `Keystore.open(passphrase=...)`, or None when none is known yet."""
    secret = _remembered
    return None if secret is None else (lambda: secret)


def read_file(path: Path) -> str:
    """The passphrase in `path` (first line), refused unless only its owner can read it."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PassphraseFileError(
            f"keyring_passphrase_file {path}: cannot read it ({exc.strerror})"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PassphraseFileError(
            f"keyring_passphrase_file {path} is readable by others "
            f"(mode {stat.S_IMODE(mode):03o}); run: chmod 600 {path}"
        )
    secret = text.splitlines()[0] if text else ""
    if not secret:
        raise PassphraseFileError(f"keyring_passphrase_file {path} is empty")
    return secret


def unlock(settings: Settings, *, interactive: bool) -> None:
    """Learn the passphrase at start-up when the keyring is the cryptfile.

    From `keyring_passphrase_file` when configured; else, when `interactive` and stdin is a
    terminal, from a hidden prompt. Otherwise nothing happens (the console asks later; a
    headless engine then runs without signing and says so).
    """
    if settings.keyring_backend != "cryptfile" or _remembered is not None:
        return
    if settings.keyring_passphrase_file is not None:
        remember(read_file(settings.keyring_passphrase_file))
    elif interactive and sys.stdin is not None and sys.stdin.isatty():
        remember(getpass.getpass("OneClick keyring passphrase: "))
