"""The fullnode REST client: API key, timeouts, error mapping, refusing malformed bodies.

Responses are recorded stand-ins (no Aptos node is reachable from this machine) in the shapes
of the Aptos node API (aptos-core api/doc/spec.yaml): ``GET /v1`` IndexResponse, the
transaction list of ``GET /v1/accounts/{address}/transactions``, and the error body
``{"message", "error_code", "vm_error_code"}``. They are served through httpx's MockTransport,
so the client's real HTTP code path (headers, query, status handling) runs unchanged.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from oneclick_tui.config import AptosSettings
from oneclick_tui.services.aptos.client import FullnodeClient, FullnodeError, MalformedResponse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aptos"
LEAD = "0x5a1ec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffee5eed01"
BASE = "https://fullnode.test/v1"


def _client(handler: httpx.MockTransport, **kwargs: object) -> FullnodeClient:
    return FullnodeClient(BASE, transport=handler, **kwargs)  # type: ignore[arg-type]


def _body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


async def test_api_key_goes_out_as_bearer_and_query_is_start_limit() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=_body("account_transactions.json"))

    client = _client(httpx.MockTransport(handle), api_key="k-123")
    txs = await client.account_transactions(LEAD, start=4, limit=500)
    await client.close()
    assert len(txs) == 6
    request = seen[0]
    assert request.headers["Authorization"] == "Bearer k-123"
    assert request.url.path == f"/v1/accounts/{LEAD}/transactions"
    assert dict(request.url.params) == {"start": "4", "limit": "100"}  # capped at the max page


async def test_ledger_info_and_settings_defaults() -> None:
    transport = httpx.MockTransport(
        lambda r: httpx.Response(200, content=_body("ledger_info.json"))
    )
    info = await _client(transport).ledger_info()
    assert info["ledger_version"] == "2900001000" and info["chain_id"] == 1
    client = FullnodeClient.from_settings(AptosSettings(api_key=SecretStr("s")), "mainnet")
    assert client.base_url == "https://api.mainnet.aptoslabs.com/v1" and client.api_key == "s"
    with pytest.raises(ValueError, match="fullnode_url"):
        FullnodeClient.from_settings(AptosSettings(), "sim")


async def test_new_account_has_no_transactions_but_pruned_history_is_an_error() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("start") == "5":
            return httpx.Response(410, content=_body("error_version_pruned.json"))
        return httpx.Response(404, content=_body("error_account_not_found.json"))

    client = _client(httpx.MockTransport(handle))
    assert await client.account_transactions(LEAD, start=0) == []
    with pytest.raises(FullnodeError) as info:
        await client.account_transactions(LEAD, start=5)
    assert (info.value.status, info.value.code, info.value.retryable) == (
        410,
        "version_pruned",
        False,
    )


async def test_truncated_body_is_malformed_and_retryable() -> None:
    transport = httpx.MockTransport(
        lambda r: httpx.Response(200, content=_body("account_transactions_truncated.json"))
    )
    with pytest.raises(MalformedResponse) as info:
        await _client(transport).account_transactions(LEAD, start=0)
    assert info.value.retryable


@pytest.mark.parametrize("body", [b'{"not": "a list"}', b"[1, 2]", b"<html>502</html>"])
async def test_wrong_shape_is_malformed(body: bytes) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=body))
    with pytest.raises(MalformedResponse):
        await _client(transport).account_transactions(LEAD)


async def test_timeouts_and_5xx_are_retryable_errors() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    with pytest.raises(FullnodeError) as info:
        await _client(httpx.MockTransport(slow), timeout_s=0.5).ledger_info()
    assert info.value.retryable and "timed out" in str(info.value)

    unavailable = httpx.MockTransport(
        lambda r: httpx.Response(503, json={"message": "busy", "error_code": "internal_error"})
    )
    with pytest.raises(FullnodeError) as info:
        await _client(unavailable).ledger_info()
    assert (info.value.status, info.value.retryable) == (503, True)


async def test_account_sequence_number() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(LEAD):
            return httpx.Response(200, content=_body("account.json"))
        if request.url.path.endswith("0x2"):
            return httpx.Response(200, json={"sequence_number": 7})  # a number, not a u64 string
        return httpx.Response(404, content=_body("error_account_not_found.json"))

    client = _client(httpx.MockTransport(handle))
    assert await client.account_sequence_number(LEAD) == 4
    assert await client.account_sequence_number("0x1") == 0
    with pytest.raises(MalformedResponse):
        await client.account_sequence_number("0x2")
