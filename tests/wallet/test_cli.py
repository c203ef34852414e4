"""`oneclick wallet` / `oneclick tx` end to end on the real Secret Service, and leak checks.

Everything except the keyring (stdout, stderr, logs, the SQLite files, exception messages,
repr/str of wallet objects) is searched for the private key in hex and AIP-80 form.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from oneclick_tui.cli import app
from oneclick_tui.config import user_data_dir
from oneclick_tui.services.wallet.keys import WalletKeyError, parse_private_key
from oneclick_tui.services.wallet.keystore import SERVICE, Keystore
from oneclick_tui.services.wallet.signing import decode_signed, transaction_hash

pytestmark = pytest.mark.keyring

IMPORTED = "0x" + "5a" * 31 + "01"
OTHER = "0x" + "3c" * 32


class Transcript:
    """Every byte the commands wrote, to search for secrets afterwards."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def run(self, *args: str, input: str | None = None) -> Result:
        result = CliRunner().invoke(app, list(args), input=input)
        self.texts += [result.stdout, result.stderr]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            self.texts.append(repr(result.exception))
            raise result.exception
        return result


@pytest.fixture
def cli(clean_keyring: None, caplog: pytest.LogCaptureFixture) -> Iterator[Transcript]:
    caplog.set_level(logging.DEBUG)
    transcript = Transcript()
    yield transcript
    transcript.texts.append(caplog.text)


def _secret_forms(secret_hex: str) -> list[str]:
    body = secret_hex.removeprefix("0x").lower()
    return [body, body.upper(), "ed25519-priv-0x" + body, body[:32], body[32:]]


def _keyring_secret(address: str) -> str:
    """Read the stored key straight from the Secret Service (test-only)."""
    import secretstorage

    conn = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(conn)
        (item,) = collection.search_items({"service": SERVICE, "username": address})
        return item.get_secret().decode()
    finally:
        conn.close()


def _db_bytes() -> bytes:
    folder = user_data_dir()
    return b"".join(p.read_bytes() for p in sorted(folder.glob("oneclick.db*")))


def _assert_no_leak(secret_hex: str, texts: list[str]) -> None:
    haystack = "\n".join(texts)
    db = _db_bytes()
    raw = bytes.fromhex(secret_hex.removeprefix("0x"))
    for form in _secret_forms(secret_hex):
        assert form not in haystack, "private key found in command output or logs"
        assert form.encode() not in db, "private key found in the database file"
    assert raw not in db


def test_import_list_sign_remove_and_nothing_leaks(cli: Transcript) -> None:
    result = cli.run("wallet", "import", "--label", "main", input=IMPORTED + "\n")
    assert result.exit_code == 0, result.stderr
    key = parse_private_key(IMPORTED)
    assert key.address in result.stdout and key.public_key_hex in result.stdout

    aip = cli.run("wallet", "import", "--label", "other", input="ed25519-priv-" + OTHER)
    assert aip.exit_code == 0, aip.stderr
    other = parse_private_key(OTHER)

    listed = json.loads(cli.run("wallet", "list", "--json").stdout)
    assert {w["address"]: w["label"] for w in listed} == {
        key.address: "main",
        other.address: "other",
    }
    assert all(w["in_keyring"] and w["in_database"] for w in listed)
    assert key.address in cli.run("wallet", "list").stdout

    signed = cli.run(
        "tx",
        "transfer",
        "--from",
        key.address,
        "--to",
        "0x1",
        "--amount",
        "1.25",
        "--offline",
        "--sequence-number",
        "3",
        "--chain-id",
        "2",
        "--json",
    )
    assert signed.exit_code == 0, signed.stderr
    out = json.loads(signed.stdout)
    # Decode independently with aptos-sdk, verify the signature, recompute the hash.
    decoded = decode_signed(bytes.fromhex(out["bcs"][2:]))
    assert decoded.verify()
    assert str(decoded.transaction.sender) == key.address
    assert decoded.transaction.sequence_number == 3
    assert decoded.transaction.chain_id == 2
    fn = decoded.transaction.payload.value
    assert (str(fn.module), fn.function) == ("0x1::aptos_account", "transfer")
    assert int.from_bytes(fn.args[1], "little") == 125_000_000
    assert transaction_hash(bytes.fromhex(out["bcs"][2:])) == out["hash"]

    plain = cli.run(
        "tx",
        "transfer",
        "--from",
        key.address,
        "--to",
        "0x1",
        "--amount",
        "1",
        "--offline",
        "--sequence-number",
        "0",
        "--chain-id",
        "1",
    )
    assert plain.stdout.startswith("hash: 0x") and "bcs:  0x" in plain.stdout

    refused = cli.run("wallet", "remove", key.address, input="n\n")
    assert refused.exit_code == 1
    removed = cli.run("wallet", "remove", key.address, "--yes")
    assert removed.exit_code == 0 and "removed" in removed.stdout
    remaining = json.loads(cli.run("wallet", "list", "--json").stdout)
    assert [w["address"] for w in remaining] == [other.address]
    assert cli.run("wallet", "remove", key.address, "--yes").exit_code == 1

    _assert_no_leak(IMPORTED, cli.texts)
    _assert_no_leak(OTHER, cli.texts)


def test_new_stores_a_key_that_is_never_printed(cli: Transcript) -> None:
    result = cli.run("wallet", "new", "--label", "fresh")
    assert result.exit_code == 0, result.stderr
    address = result.stdout.split()[1]
    secret = _keyring_secret(address)
    assert parse_private_key(secret).address == address
    assert "ed25519-priv-0x" in secret  # the keyring holds it, in AIP-80 form
    _assert_no_leak(secret.removeprefix("ed25519-priv-"), cli.texts)


@pytest.mark.parametrize(
    ("stdin", "extra", "message"),
    [
        ("0x" + "5a" * 31, [], "got 62 hex digits"),
        ("0x" + "5a" * 31 + "zz", [], "hexadecimal"),
        ("", [], "no private key"),
        (IMPORTED, ["--address", "0x" + "ab" * 32], "does not match address"),
        (IMPORTED, ["--address", "not-an-address"], "not an Aptos account address"),
    ],
)
def test_bad_keys_store_nothing(
    cli: Transcript, stdin: str, extra: list[str], message: str
) -> None:
    result = cli.run("wallet", "import", *extra, input=stdin)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert Keystore.open("secretservice").addresses() == []
    assert json.loads(cli.run("wallet", "list", "--json").stdout) == []
    _assert_no_leak(IMPORTED, cli.texts)


def test_no_keyring_means_one_line_and_no_file(
    cli: Transcript, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = set(Path(os.environ["XDG_DATA_HOME"]).rglob("*"))
    with monkeypatch.context() as patch:  # undone before clean_keyring's teardown
        patch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/oneclick-bus")
        result = cli.run("wallet", "import", input=IMPORTED)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "gnome-keyring" in result.stderr and "cryptfile" in result.stderr
    assert set(Path(os.environ["XDG_DATA_HOME"]).rglob("*")) == before
    _assert_no_leak(IMPORTED, cli.texts)


def test_tx_errors_are_one_line(cli: Transcript) -> None:
    cli.run("wallet", "import", input=IMPORTED)
    address = parse_private_key(IMPORTED).address
    cases = [
        (["--amount", "0.000000001"], "more than 8 decimal places"),
        (["--amount", "1", "--to", "0xzz"], "not an Aptos account address"),
        (["--amount", "1", "--from", "0x" + "77" * 32], "no key for"),
        (["--amount", "1", "--no-seq"], "needs --sequence-number"),
    ]
    for extra, message in cases:
        args = ["tx", "transfer", "--from", address, "--to", "0x1", "--offline", "--chain-id", "2"]
        if "--no-seq" in extra:
            extra = [a for a in extra if a != "--no-seq"]
        else:
            args += ["--sequence-number", "0"]
        # Later options win in click, so the override in `extra` is what is parsed.
        result = cli.run(*args, *extra)
        assert result.exit_code == 2, (extra, result.stdout)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    _assert_no_leak(IMPORTED, cli.texts)


def test_repr_and_errors_of_wallet_objects_hold_no_secret(clean_keyring: None) -> None:
    import asyncio

    from oneclick_tui.services.wallet.service import WalletService

    store = Keystore.open("secretservice")
    service = WalletService(store)
    outcome = asyncio.run(service.import_key(IMPORTED, "x"))
    key = store.load(outcome.wallet.address)
    wallets, _ = asyncio.run(service.list())
    objects: list[object] = [store, service, outcome, outcome.wallet, key, *wallets]
    texts = [repr(o) for o in objects] + [str(o) for o in objects]
    with pytest.raises(WalletKeyError) as info:
        asyncio.run(service.import_key(IMPORTED, expected_address="0x2"))
    texts += [str(info.value), repr(info.value)]
    haystack = "\n".join(texts)
    for form in _secret_forms(IMPORTED):
        assert form not in haystack


@pytest.fixture
def standin_url() -> Iterator[tuple[str, object]]:
    """The stand-in fullnode (tests/aptos_standin.py) on its own loop in a thread, because
    the CLI under test runs its own asyncio loop. No real Aptos node is reachable here."""
    import asyncio
    import threading

    from tests.aptos_standin import StandinNode

    node = StandinNode(chain_id=4)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    url = asyncio.run_coroutine_threadsafe(node.start(), loop).result(10)
    yield url, node
    asyncio.run_coroutine_threadsafe(node.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def test_transfer_submits_through_the_fullnode(
    cli: Transcript, standin_url: tuple[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, node = standin_url
    key = parse_private_key(IMPORTED)
    node.create_account(key.address, key.public_key.to_crypto_bytes(), 10**9)  # type: ignore[attr-defined]
    cli.run("wallet", "import", input=IMPORTED)
    monkeypatch.setenv("ONECLICK_APTOS__FULLNODE_URL", url)
    args = ["tx", "transfer", "--from", key.address, "--to", "0x1", "--chain-id", "4", "--json"]
    done = cli.run(*args, "--amount", "0.5")
    assert done.exit_code == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["status"] == "completed"
    broke = cli.run(*args, "--amount", "100")
    assert broke.exit_code == 1
    assert "EINSUFFICIENT_BALANCE" in json.loads(broke.stdout)["reason"]
    _assert_no_leak(IMPORTED, cli.texts)
