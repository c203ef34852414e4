"""Key parsing: both accepted forms, one-line errors that never repeat the secret."""

from __future__ import annotations

import pickle

import pytest
from aptos_sdk import ed25519
from aptos_sdk.account import Account

from oneclick_tui.services.wallet.keys import (
    WalletKeyError,
    check_address,
    generate_key,
    normalize_address,
    parse_private_key,
)

SECRET_HEX = "0x" + "4f" * 32


def test_hex_aip80_and_bare_hex_give_the_same_account() -> None:
    reference = Account.load_key(SECRET_HEX[2:])
    forms = [SECRET_HEX, "ed25519-priv-" + SECRET_HEX, SECRET_HEX[2:], f"  {SECRET_HEX}\n"]
    addresses = {parse_private_key(form).address for form in forms}
    assert addresses == {str(reference.address())}
    assert parse_private_key(SECRET_HEX).aip80() == "ed25519-priv-" + SECRET_HEX


def test_parsing_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    # aptos-sdk 0.11 prints an AIP-80 advice line for non-strict hex: prove we avoid it.
    ed25519.PrivateKey.from_hex(SECRET_HEX)
    assert "AIP-80" in capsys.readouterr().out  # the SDK does print...
    parse_private_key(SECRET_HEX)
    parse_private_key("ed25519-priv-" + SECRET_HEX)
    generate_key()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # ...we do not


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no private key"),
        ("0x1234", "got 4 hex digits"),
        ("0x" + "ab" * 33, "got 66 hex digits"),
        ("0x" + "zz" * 32, "hexadecimal"),
        ("secp256k1-priv-0x" + "11" * 32, "only Ed25519"),
        ("ed25519-priv-" + "11" * 32, "AIP-80 key must look like"),
    ],
)
def test_malformed_keys_give_one_line_errors_without_the_input(text: str, message: str) -> None:
    with pytest.raises(WalletKeyError, match=message) as info:
        parse_private_key(text)
    rendered = str(info.value) + repr(info.value)
    assert "\n" not in str(info.value)
    body = text.split("-")[-1].removeprefix("0x")
    if len(body) >= 8:
        assert body not in rendered


def test_address_check() -> None:
    key = parse_private_key(SECRET_HEX)
    check_address(key, key.address)
    check_address(key, key.address.upper().replace("0X", "0x"))
    with pytest.raises(WalletKeyError, match="does not match address") as info:
        check_address(key, "0x1")
    assert SECRET_HEX[2:] not in str(info.value)


def test_normalize_address() -> None:
    assert normalize_address("0x1") == "0x" + "0" * 63 + "1"
    with pytest.raises(WalletKeyError, match="not an Aptos account address"):
        normalize_address("0xnothex")
    with pytest.raises(WalletKeyError):
        normalize_address("0x" + "1" * 65)


def test_key_object_never_shows_the_secret() -> None:
    key = parse_private_key(SECRET_HEX)
    for text in (repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})):
        assert "4f4f4f4f" not in text
    assert key.address in repr(key)
    with pytest.raises(TypeError):
        pickle.dumps(key)
