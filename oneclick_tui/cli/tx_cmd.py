"""`oneclick tx ...`: build and sign transactions locally with a key from the OS keyring."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import TYPE_CHECKING

import aiohttp
import typer
from aptos_sdk.transactions import TransactionPayload

from oneclick_tui.cli.common import fail, print_json, run, settings_of
from oneclick_tui.cli.wallet_cmd import wallet_service
from oneclick_tui.config import Settings
from oneclick_tui.domain.units import UnitsError, apt_to_octas
from oneclick_tui.services.wallet import payloads
from oneclick_tui.services.wallet.keys import WalletKeyError, normalize_address
from oneclick_tui.services.wallet.keystore import KeystoreError
from oneclick_tui.services.wallet.signing import (
    CHAIN_IDS,
    DEFAULT_GAS_UNIT_PRICE,
    DEFAULT_MAX_GAS,
    DEFAULT_TTL_SECS,
    SignedTx,
    TxParams,
    sign_payload,
)

if TYPE_CHECKING:
    from oneclick_tui.services.execution.aptos import ExecutionResult

DEFAULT_FULLNODES = {
    "mainnet": "https://api.mainnet.aptoslabs.com/v1",
    "testnet": "https://api.testnet.aptoslabs.com/v1",
}

app = typer.Typer(help="Build and sign transactions locally.", no_args_is_help=True)


@app.command("transfer")
def transfer(
    ctx: typer.Context,
    to: str = typer.Option(..., "--to", help="Recipient account address."),
    amount: str = typer.Option(..., "--amount", help="Amount in APT, e.g. 1.25"),
    sender: str = typer.Option(..., "--from", help="Your wallet's address (key in keyring)."),
    offline: bool = typer.Option(
        False,
        "--offline",
        help="Print the signed transaction (BCS hex) and its hash; submit nothing.",
    ),
    sequence_number: int | None = typer.Option(None, "--sequence-number", min=0),
    chain_id: int | None = typer.Option(None, "--chain-id", min=0, max=255),
    max_gas: int = typer.Option(DEFAULT_MAX_GAS, "--max-gas", min=1),
    gas_unit_price: int = typer.Option(DEFAULT_GAS_UNIT_PRICE, "--gas-unit-price", min=1),
    expires_in: int = typer.Option(DEFAULT_TTL_SECS, "--expires-in", min=1, help="Seconds."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Transfer APT (0x1::aptos_account::transfer)."""
    settings = settings_of(ctx)
    try:
        recipient = normalize_address(to)
        from_address = normalize_address(sender)
        octas = apt_to_octas(amount)
    except (WalletKeyError, UnitsError) as exc:
        fail(str(exc))
    if octas == 0:
        fail("amount must be greater than zero")
    chain = chain_id if chain_id is not None else CHAIN_IDS.get(settings.network)
    if chain is None:
        fail(f"network {settings.network!r} has no chain id: pass --chain-id")
    payload = payloads.apt_transfer(recipient, octas)
    if not offline:
        _submit(
            settings, from_address, chain, payload, max_gas, gas_unit_price, expires_in, as_json
        )
        return
    if sequence_number is None:
        fail("--offline needs --sequence-number (the sender's next sequence number)")
    params = TxParams.expiring_in(
        sequence_number, chain, expires_in, max_gas_amount=max_gas, gas_unit_price=gas_unit_price
    )

    async def sign() -> SignedTx:
        async with wallet_service(settings) as (service, _warning):
            key = await service.load_key(from_address)
        return sign_payload(key, payload, params)

    try:
        signed = run(sign())
    except (WalletKeyError, KeystoreError) as exc:
        fail(str(exc))
    if as_json:
        print_json(
            {
                "hash": signed.hash,
                "bcs": signed.bcs_hex,
                "sender": signed.sender,
                "sequence_number": signed.sequence_number,
                "chain_id": chain,
                "expiration_timestamp_secs": params.expiration_timestamp_secs,
            }
        )
        return
    typer.echo(f"hash: {signed.hash}")
    typer.echo(f"bcs:  {signed.bcs_hex}")


def _submit(
    settings: Settings,
    sender: str,
    chain: int,
    payload: TransactionPayload,
    max_gas: int,
    gas_unit_price: int,
    expires_in: int,
    as_json: bool,
) -> None:
    """Simulate, sign, submit and wait through the configured fullnode."""
    from oneclick_tui.services.execution.aptos import AptosExecutor

    base_url = settings.aptos.fullnode_url or DEFAULT_FULLNODES.get(settings.network)
    if base_url is None:
        fail(f"network {settings.network!r} has no fullnode: set aptos.fullnode_url")
    api_key = settings.aptos.api_key.get_secret_value() if settings.aptos.api_key else None

    async def go() -> ExecutionResult:
        async with wallet_service(settings) as (service, _warning):
            key = await service.load_key(sender)
        executor = AptosExecutor(
            base_url,
            key,
            chain,
            api_key=api_key,
            max_gas_amount=max_gas,
            gas_unit_price=gas_unit_price,
            ttl_secs=expires_in,
        )
        try:
            return await executor.execute(f"cli-transfer-{uuid.uuid4().hex}", payload)
        finally:
            await executor.close()

    try:
        result = run(go())
    except (WalletKeyError, KeystoreError) as exc:
        fail(str(exc))
    except (OSError, aiohttp.ClientError, TimeoutError) as exc:
        fail(f"fullnode {base_url} unreachable: {type(exc).__name__}", code=1)
    if as_json:
        print_json(asdict(result))
    else:
        typer.echo(f"{result.status}: {result.tx_hash or '-'}")
        if result.reason:
            typer.echo(f"reason: {result.reason}")
    if result.status != "completed":
        raise typer.Exit(1)
