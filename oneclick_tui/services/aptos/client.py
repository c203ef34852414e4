"""A small read-only client for the Aptos fullnode REST API (``/v1``).

Why our own and not the SDK's: the read side needs three endpoints, strict validation of what
comes back (a truncated or reshaped page must be refused, never half-used), typed errors that
say whether a retry can help, and bounded timeouts. Numbers stay exact: u64 values arrive as
strings and JSON floats (there should be none) are parsed as ``Decimal``.

Shapes follow the Aptos node API (aptos-core ``api/doc/spec.yaml``): ``GET /v1`` returns the
ledger info, ``GET /v1/accounts/{address}/transactions?start=&limit=`` returns the account's
committed transactions by *account sequence number* (not ledger version), oldest first,
``POST /v1/view`` runs a Move view function (body ``{"function", "type_arguments",
"arguments"}``, answer a JSON array of its return values, u64 as decimal strings; a bad
function or argument is 400 ``invalid_input``: aptos-core ``api/src/view_function.rs``), and
errors are ``{"message", "error_code", "vm_error_code"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from oneclick_tui.config import AptosSettings
from oneclick_tui.services.wallet.contracts import FA_METADATA_TYPE, PRIMARY_FUNGIBLE_STORE_MODULE

DEFAULT_FULLNODES = {
    "mainnet": "https://api.mainnet.aptoslabs.com/v1",
    "testnet": "https://api.testnet.aptoslabs.com/v1",
}
MAX_PAGE = 100  # the node's default maximum page size for transaction listings
U64_MAX = 2**64 - 1
FA_BALANCE_FUNCTION = f"{PRIMARY_FUNGIBLE_STORE_MODULE}::balance"
"""``#[view] balance<T: key>(account: address, metadata: Object<T>): u64`` (aptos-framework
primary_fungible_store.move): 0 when the account has no primary store for that asset."""
CHAIN_IDS = {"mainnet": 1, "testnet": 2}
"""The chain id ``GET /v1`` reports for each network (a node on another chain is refused)."""


class FullnodeError(Exception):
    """The node answered with an error, or could not be reached.

    ``retryable`` is True when asking again later can succeed (timeouts, 429, 5xx, a
    malformed/truncated body); False when the request itself is wrong (400, 404, 410 pruned).
    """

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None,
        retryable: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.status = status
        self.code = code
        self.retryable = retryable


class MalformedResponse(FullnodeError):
    """A 2xx body that is not what the API documents (truncated JSON, wrong shape)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, status=status, code="malformed_response", retryable=True)


def parse_json(text: str | bytes) -> Any:
    """JSON with floats as Decimal; a truncated or invalid body raises MalformedResponse."""
    try:
        return json.loads(text, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse(f"body is not valid JSON ({exc})") from None


def json_http_client(
    base_url: str,
    api_key: str | None,
    timeout: httpx.Timeout | float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An httpx client for an Aptos Labs JSON API (fullnode, Decibel): bearer key if any."""
    headers = {"Accept": "application/json", "User-Agent": "oneclick-tui"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
    )


@dataclass
class FullnodeClient:
    """Reads one fullnode; the API key, when set, goes out as ``Authorization: Bearer``."""

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0
    connect_timeout_s: float = 5.0
    transport: httpx.AsyncBaseTransport | None = field(default=None, repr=False)
    _http: httpx.AsyncClient | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: AptosSettings, network: str, **kwargs: Any) -> FullnodeClient:
        """Client for the configured fullnode, or the public one of ``network``."""
        url = settings.fullnode_url or DEFAULT_FULLNODES.get(network)
        if url is None:
            raise ValueError(f"no fullnode URL for network {network!r}; set aptos.fullnode_url")
        key = settings.api_key.get_secret_value() if settings.api_key else None
        return cls(url, key, **kwargs)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None or self._http.is_closed:
            self._http = json_http_client(
                self.base_url,
                self.api_key,
                httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
                self.transport,
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to /v1) and return the decoded body, or raise FullnodeError."""
        return await self._send("GET", path, params=params)

    async def post_json(self, path: str, body: Any) -> Any:
        """POST JSON ``body`` to ``path`` (relative to /v1); the decoded answer or FullnodeError."""
        return await self._send("POST", path, json=body)

    async def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = await self._client().request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise FullnodeError(f"timed out: {type(exc).__name__}", retryable=True) from None
        except httpx.HTTPError as exc:
            raise FullnodeError(f"cannot reach node: {exc}", retryable=True) from None
        if resp.status_code >= 400:
            raise _error_from(resp)
        return parse_json(resp.content)

    async def fa_balance(self, account: str, metadata: str) -> int:
        """``account``'s primary-store balance of the fungible asset ``metadata``, in base units.

        A view call, not a resource read: the primary store lives at an address derived from
        both, and the view also answers 0 for an account that never held the asset. The
        answer must be exactly ``["<u64>"]``; anything else is refused, never guessed at.
        """
        body = {
            "function": FA_BALANCE_FUNCTION,
            "type_arguments": [FA_METADATA_TYPE],
            "arguments": [account, metadata],
        }
        data = await self.post_json("/view", body)
        if not isinstance(data, list) or len(data) != 1:
            raise MalformedResponse("view balance: expected a JSON array of one value")
        (value,) = data
        if not isinstance(value, str) or not value.isascii() or not value.isdigit():
            raise MalformedResponse(f"view balance: {value!r} is not a u64 string")
        amount = int(value)
        if amount > U64_MAX:
            raise MalformedResponse(f"view balance: {value} is beyond u64")
        return amount

    async def ledger_info(self) -> dict[str, Any]:
        """``GET /v1``: chain id, ledger version and timestamp (µs), as the node reports them.

        The base URL itself, not ``/v1/``: the index is routed without the trailing slash."""
        data = await self.get_json(self.base_url.rstrip("/"))
        if not isinstance(data, dict) or "ledger_version" not in data:
            raise MalformedResponse("ledger info without ledger_version")
        return data

    async def account_sequence_number(self, address: str) -> int:
        """The account's next sequence number (``GET /v1/accounts/{a}``); 0 if not created yet."""
        try:
            data = await self.get_json(f"/accounts/{address}")
        except FullnodeError as exc:
            if exc.status == 404 and exc.code == "account_not_found":
                return 0
            raise
        seq = data.get("sequence_number") if isinstance(data, dict) else None
        if not isinstance(seq, str) or not seq.isdigit():
            raise MalformedResponse("account resource without a u64 sequence_number")
        return int(seq)

    async def account_transactions(
        self, address: str, start: int | None = None, limit: int = MAX_PAGE
    ) -> list[dict[str, Any]]:
        """Committed transactions sent by ``address`` from sequence number ``start`` on.

        A not-yet-created account has no transactions: its 404 ``account_not_found`` is [].
        """
        params: dict[str, Any] = {"limit": max(1, min(limit, MAX_PAGE))}
        if start is not None:
            params["start"] = start
        try:
            data = await self.get_json(f"/accounts/{address}/transactions", params)
        except FullnodeError as exc:
            if exc.status == 404 and exc.code == "account_not_found":
                return []
            raise
        if not isinstance(data, list) or not all(isinstance(tx, dict) for tx in data):
            raise MalformedResponse("account transactions: expected a JSON array of objects")
        return data


def _error_from(resp: httpx.Response) -> FullnodeError:
    code: str | None = None
    message = resp.text[:200]
    try:
        body = json.loads(resp.content)
        if isinstance(body, dict):
            code = body.get("error_code")
            message = str(body.get("message", message))
    except ValueError:
        pass
    status = resp.status_code
    retryable = status == 429 or status >= 500
    return FullnodeError(f"HTTP {status} {code or ''}: {message}".strip(), status=status,
                         code=code, retryable=retryable)  # fmt: skip
