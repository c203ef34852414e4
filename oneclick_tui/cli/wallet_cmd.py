"""`oneclick wallet ...`: keys in the OS keyring, address/label/public key in the database."""

from __future__ import annotations

import getpass
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

import typer

from oneclick_tui.cli.common import fail, print_json, run, settings_of
from oneclick_tui.config import Settings
from oneclick_tui.services.wallet import passphrase
from oneclick_tui.services.wallet.keys import WalletKeyError, normalize_address
from oneclick_tui.services.wallet.keystore import Keystore, KeystoreError
from oneclick_tui.services.wallet.service import WalletInfo, WalletService

app = typer.Typer(help="Manage wallets: keys live in the OS keyring only.", no_args_is_help=True)


@asynccontextmanager
async def wallet_service(settings: Settings) -> AsyncIterator[tuple[WalletService, str | None]]:
    """The service on the configured keyring and database; DB trouble is a warning only."""
    try:
        passphrase.unlock(settings, interactive=False)  # keyring_passphrase_file, if set
        keystore = Keystore.open(
            settings.keyring_backend, passphrase=passphrase.remembered() or _ask_passphrase
        )
    except (KeystoreError, passphrase.PassphraseFileError) as exc:
        fail(str(exc))
    from oneclick_tui.services.wallet.registry import WalletRegistry
    from oneclick_tui.stores.db import ensure_schema, make_engine, session_factory

    engine = make_engine(settings.database_url)
    registry: WalletRegistry | None = None
    warning = None
    try:
        try:
            await ensure_schema(settings.database_url)
            registry = WalletRegistry(session_factory(engine))
        except Exception as exc:
            warning = f"database unavailable ({type(exc).__name__}); keyring only"
        yield WalletService(keystore, registry), warning
    finally:
        await engine.dispose()


def _ask_passphrase() -> str:
    """The cryptfile passphrase, from the terminal (getpass reads /dev/tty, not the pipe)."""
    return getpass.getpass("OneClick keyring passphrase: ")


def _warn(message: str | None) -> None:
    if message:
        typer.echo(f"oneclick: warning: {message}", err=True)


def _read_secret() -> str:
    """Hidden prompt on a terminal, else the first line of stdin (for scripts and pipes)."""
    if sys.stdin is not None and sys.stdin.isatty():
        value: str = typer.prompt("Private key (hex or ed25519-priv-0x...)", hide_input=True)
        return value
    data = sys.stdin.read() if sys.stdin is not None else ""
    lines = [line.strip() for line in data.splitlines() if line.strip()]
    return lines[0] if lines else ""


def _show(info: WalletInfo) -> None:
    label = f" ({info.label})" if info.label else ""
    typer.echo(f"address:    {info.address}{label}")
    typer.echo(f"public key: {info.public_key}")


@app.command("new")
def new(
    ctx: typer.Context,
    label: str | None = typer.Option(None, "--label", help="A name to recognise it by."),
) -> None:
    """Generate a new key and store it in the OS keyring."""
    settings = settings_of(ctx)

    async def go() -> None:
        async with wallet_service(settings) as (service, warning):
            _warn(warning)
            outcome = await service.create(label)
        _warn(outcome.warning)
        _show(outcome.wallet)

    _guard(go)


@app.command("import")
def import_(
    ctx: typer.Context,
    label: str | None = typer.Option(None, "--label", help="A name to recognise it by."),
    address: str | None = typer.Option(
        None, "--address", help="Refuse the key unless it controls this address."
    ),
) -> None:
    """Import a key (hidden prompt, or stdin when piped) into the OS keyring."""
    settings = settings_of(ctx)
    secret = _read_secret()

    async def go() -> None:
        async with wallet_service(settings) as (service, warning):
            _warn(warning)
            outcome = await service.import_key(secret, label, address)
        _warn(outcome.warning)
        _show(outcome.wallet)

    _guard(go)


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List wallets (address, label, public key; never a key)."""
    settings = settings_of(ctx)

    async def go() -> None:
        async with wallet_service(settings) as (service, warning):
            wallets, list_warning = await service.list()
        _warn(warning)
        _warn(list_warning)
        if as_json:
            print_json([asdict(w) for w in wallets])
            return
        if not wallets:
            typer.echo("no wallets yet: `oneclick wallet new` or `oneclick wallet import`")
            return
        for w in wallets:
            flags = "" if w.in_keyring else "  [no key in keyring]"
            typer.echo(f"{w.address}  {w.label or '-'}  {w.public_key or '-'}{flags}")

    _guard(go)


@app.command("remove")
def remove(
    ctx: typer.Context,
    address: str = typer.Argument(..., help="Account address of the wallet."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a wallet's key from the OS keyring and its database record."""
    settings = settings_of(ctx)
    try:
        wanted = normalize_address(address)
    except WalletKeyError as exc:
        fail(str(exc))
    if not yes and not typer.confirm(
        f"Delete the key of {wanted} from the keyring? Funds are lost without a backup"
    ):
        fail("not removed", code=1)

    async def go() -> None:
        async with wallet_service(settings) as (service, warning):
            _warn(warning)
            removed, remove_warning = await service.remove(wanted)
        _warn(remove_warning)
        if not removed:
            fail(f"no wallet {wanted}", code=1)
        typer.echo(f"removed {wanted}")

    _guard(go)


def _guard(go: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run the coroutine function; wallet errors become one line, never a traceback."""
    try:
        run(go())
    except (WalletKeyError, KeystoreError) as exc:
        fail(str(exc))
