"""Following an Aptos account by its address on a live network, through the CLI a user types.

On testnet/mainnet the lead traders are whoever the user names, not a seeded population, so
`oneclick follow 0x...` registers an address it has not seen (short or long form) and the
live engine starts watching it. Nothing here talks to Aptos: registering needs no network.
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from oneclick_tui.cli import app as cli_app
from oneclick_tui.config import Settings
from oneclick_tui.services.follows import FollowService
from oneclick_tui.services.runtime import open_services
from oneclick_tui.stores.errors import NotFoundError

SHORT = "0xa11ce"
LONG = "0x" + "0" * 59 + "a11ce"


def _follow(url: str, network: str, *args: str) -> tuple[int, str]:
    env = {"ONECLICK_DATABASE_URL": url, "ONECLICK_NETWORK": network}
    result = CliRunner().invoke(cli_app, list(args), env=env)
    return result.exit_code, result.output


def test_follow_an_unknown_address_on_testnet_registers_and_follows_it(
    fresh_sqlite_url: str,
) -> None:
    code, out = _follow(fresh_sqlite_url, "testnet", "follow", SHORT, "--copy-pct", "10", "--json")
    assert code == 0, out
    assert json.loads(out)["status"] == "active"
    code, out = _follow(fresh_sqlite_url, "testnet", "follows", "--json")
    assert code == 0, out
    (row,) = json.loads(out)
    assert row["trader"] == "0x0000…11ce" and row["status"] == "active"
    # The long form names the same trader: no second row, the follow is found.
    code, out = _follow(fresh_sqlite_url, "testnet", "pause", LONG)
    assert code == 0, out
    code, out = _follow(fresh_sqlite_url, "testnet", "traders", "--json")
    assert [t["address"] for t in json.loads(out)] == [LONG]


def test_a_malformed_address_is_refused_and_nothing_is_stored(fresh_sqlite_url: str) -> None:
    code, out = _follow(fresh_sqlite_url, "testnet", "follow", "0xnothex", "--copy-pct", "10")
    assert code != 0
    assert "not an Aptos account address: '0xnothex'" in out
    code, out = _follow(fresh_sqlite_url, "testnet", "traders", "--json")
    assert json.loads(out) == []


async def test_on_the_simulator_only_its_own_traders_can_be_followed(
    fresh_sqlite_url: str,
) -> None:
    services = await open_services(Settings(database_url=fresh_sqlite_url))
    try:
        with pytest.raises(NotFoundError, match="no trader named or at"):
            await FollowService(services).follow(LONG, D(10))
    finally:
        await services.close()


@pytest.mark.parametrize(("execution", "cash"), [("paper", D(10_000)), ("chain", None)])
async def test_live_paper_accounts_get_paper_cash_and_chain_accounts_do_not(
    fresh_sqlite_url: str, execution: str, cash: D | None
) -> None:
    from oneclick_tui.config import AptosSettings

    settings = Settings(
        database_url=fresh_sqlite_url,
        network="testnet",
        aptos=AptosSettings(execution=execution),  # type: ignore[arg-type]
    )
    services = await open_services(settings)
    try:
        held = {p.asset: p.quantity for p in await FollowService(services).positions()}
    finally:
        await services.close()
    assert held.get("USDC") == cash
