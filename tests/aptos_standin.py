"""A strict local stand-in for an Aptos fullnode's REST API (aiohttp on 127.0.0.1).

It exists because no Aptos node is reachable from this machine. It is strict where the real
node is: it decodes the BCS SignedTransaction, verifies the Ed25519 signature and that the
public key's auth key is the sender's, checks chain id, sequence number and expiration,
refuses a validly signed body on /transactions/simulate, executes in sequence-number order
(a failed transaction still consumes its sequence number), and answers with the real API's
JSON shapes and status codes (202 on submit, 404 transaction_not_found, 400 vm_error with the
validation status code).

The read side is served too: ``GET /v1/accounts/{address}/transactions?start=&limit=`` lists a
lead trader's committed transactions by sequence number (recorded transactions from
tests/fixtures/aptos/, re-stamped with the trader, sequence number, version and time), and
``offline`` makes the node drop every connection (an outage). `StandinDecibel` is Decibel's
REST API and WebSocket in their documented shapes (see its docstring).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from aptos_sdk.account_address import AccountAddress
from aptos_sdk.authenticator import Ed25519Authenticator
from aptos_sdk.bcs import Deserializer
from aptos_sdk.transactions import SignedTransaction

TX_PREFIX = hashlib.sha3_256(b"APTOS::Transaction").digest()
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "aptos"

# Recorded user transactions in tests/fixtures/aptos/account_transactions.json, by what they do.
HYPERION_BUY_APT_USDC = 0  # Hyperion pool_v3 SwapEventV3: 100 USDC -> 11.83431952 APT
THALA_SELL_APT_USDT = 2  # ThalaSwap v2 pool::SwapEvent: 5 APT -> 42.24 USDT
HYPERION_SELL_APT_USDC = 5  # Hyperion pool_v3 SwapEventV3: 2 APT -> 16.89 USDC


def recorded_transactions() -> list[dict[str, Any]]:
    """The recorded fullnode transactions (GET /v1/accounts/{a}/transactions shape)."""
    return json.loads((FIXTURES / "account_transactions.json").read_text())


def recorded(name: str) -> Any:
    """A recorded body from tests/fixtures/aptos/ (JSON)."""
    return json.loads((FIXTURES / name).read_text())


# aptos-core StatusCode validation codes used here.
VALIDATION = {
    "INVALID_SIGNATURE": 1,
    "INVALID_AUTH_KEY": 2,
    "SEQUENCE_NUMBER_TOO_OLD": 3,
    "TRANSACTION_EXPIRED": 6,
    "SENDING_ACCOUNT_DOES_NOT_EXIST": 7,
    "BAD_CHAIN_ID": 23,
}
GAS_USED = 10


@dataclass
class Account:
    auth_key: bytes
    sequence_number: int = 0
    balance: int = 0  # octas


@dataclass
class Pending:
    hash: str
    signed: SignedTransaction
    received_at: float


@dataclass
class StandinNode:
    """State of the stand-in chain; tests fund accounts and inject faults here."""

    chain_id: int = 4
    commit_delay_s: float = 0.05
    accounts: dict[str, Account] = field(default_factory=dict)
    mempool: dict[str, Pending] = field(default_factory=dict)
    committed: dict[str, dict[str, Any]] = field(default_factory=dict)
    submissions: list[str] = field(default_factory=list)
    simulations: int = 0
    lose_next_submit_responses: int = 0
    # Added for the copy engine's exactly-once tests: every accepted POST per hash (the same
    # bytes resubmitted count again), and a switch that holds the mempool uncommitted.
    submit_counts: dict[str, int] = field(default_factory=dict)
    hold_commits: bool = False
    abort_functions: set[str] = field(default_factory=set)
    version: int = 100
    base_url: str = ""
    lead_txs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Committed transactions sent by lead traders, by address, in sequence-number order."""
    tx_faults: list[tuple[int, bytes]] = field(default_factory=list)
    """(status, body) answered, once each, to the next account-transactions requests."""
    tx_requests: list[tuple[str, int, int]] = field(default_factory=list)
    offline: bool = False
    """While True every request's connection is dropped without an answer (node outage)."""
    fa_balances: dict[tuple[str, str], int] = field(default_factory=dict)
    """Primary-store balances in base units by (account, FA metadata), for ``POST /v1/view``
    (added for the chain-balance sync; unset pairs answer 0, as the framework does)."""
    view_faults: list[tuple[int, bytes]] = field(default_factory=list)
    """(status, body) answered, once each, to the next view requests."""
    view_requests: list[dict[str, Any]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _ticker: asyncio.Task[None] | None = None

    # -- setup ----------------------------------------------------------------------------
    def create_account(self, address: str, public_key: bytes, balance: int = 10**10) -> None:
        auth_key = hashlib.sha3_256(public_key + b"\x00").digest()
        self.accounts[_norm(address)] = Account(auth_key, 0, balance)

    def set_fa_balance(self, account: str, metadata: str, amount: int) -> None:
        """``account``'s primary-store balance of the asset ``metadata`` (base units, u64)."""
        if not 0 <= amount < 2**64:
            raise ValueError(f"not a u64: {amount}")
        self.fa_balances[(_norm(account), _norm(metadata))] = amount

    def add_lead_transaction(
        self,
        address: str,
        recorded_index: int,
        edit: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Commit a recorded transaction as ``address``'s next one (new hash, version, time);
        ``edit`` may change it first (e.g. a swap amount), as a faulty chain answer would."""
        sender = _norm(address)
        txs = self.lead_txs.setdefault(sender, [])
        tx = copy.deepcopy(recorded_transactions()[recorded_index])
        self.version += 1
        sequence = len(txs)
        tx.update(
            sender=sender,
            sequence_number=str(sequence),
            version=str(self.version),
            hash="0x" + hashlib.sha3_256(f"{sender}:{sequence}".encode()).hexdigest(),
            timestamp=str(int(time.time() * 1_000_000)),
        )
        if edit is not None:
            edit(tx)
        txs.append(tx)
        return tx

    async def start(self) -> str:
        app = web.Application(middlewares=[self._outage])
        app.router.add_get("/v1", self._ledger)
        app.router.add_get("/v1/accounts/{address}", self._account)
        app.router.add_get("/v1/accounts/{address}/transactions", self._account_transactions)
        app.router.add_post("/v1/transactions", self._submit)
        app.router.add_post("/v1/transactions/simulate", self._simulate)
        app.router.add_get("/v1/transactions/by_hash/{hash}", self._by_hash)
        app.router.add_post("/v1/view", self._view)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self._ticker = asyncio.create_task(self._commit_loop())
        return self.base_url

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- handlers -------------------------------------------------------------------------
    async def _ledger(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "chain_id": self.chain_id,
                "epoch": "1",
                "ledger_version": str(self.version),
                "oldest_ledger_version": "0",
                "ledger_timestamp": str(int(time.time() * 1_000_000)),
                "node_role": "full_node",
                "oldest_block_height": "0",
                "block_height": str(self.version // 2),
            }
        )

    @web.middleware
    async def _outage(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self.offline and request.transport is not None:
            request.transport.close()  # the client sees the connection drop, no answer
            return web.Response(status=503)
        return await handler(request)

    async def _account_transactions(self, request: web.Request) -> web.Response:
        address = _norm(request.match_info["address"])
        start = int(request.query.get("start", "0"))
        limit = min(int(request.query.get("limit", "25")), 100)
        self.tx_requests.append((address, start, limit))
        if self.tx_faults:
            status, body = self.tx_faults.pop(0)
            return web.Response(status=status, body=body, content_type="application/json")
        if address not in self.lead_txs and address not in self.accounts:
            return _error(
                404,
                "account_not_found",
                f"Account not found by Address({address}) and Ledger version({self.version})",
            )
        txs = self.lead_txs.get(address, [])
        return web.json_response(txs[start : start + limit])

    async def _view(self, request: web.Request) -> web.Response:
        """``POST /v1/view`` for exactly ``0x1::primary_fungible_store::balance<Metadata>``.

        Strict like the real node (aptos-core api/src/view_function.rs): a body that does not
        convert (unknown function, wrong type arguments or arity, a non-address) is 400
        ``invalid_input``; the answer is the JSON array of return values, u64 as a string.
        """
        if request.content_type != "application/json":
            return _error(415, "unsupported_media_type", "expected application/json")
        try:
            body = json.loads(await request.read())
        except ValueError as exc:
            return _error(400, "invalid_input", f"Parse error: {exc}")
        self.view_requests.append(body)
        if self.view_faults:
            status, raw = self.view_faults.pop(0)
            return web.Response(status=status, body=raw, content_type="application/json")
        if not isinstance(body, dict) or set(body) != {"function", "type_arguments", "arguments"}:
            return _error(400, "invalid_input", "Parse error: expected a ViewRequest")
        function, ty_args, args = body["function"], body["type_arguments"], body["arguments"]
        if function != "0x1::primary_fungible_store::balance":
            return _error(
                400, "invalid_input", f"Function {function} does not exist or is not a view"
            )
        if ty_args != ["0x1::fungible_asset::Metadata"]:
            return _error(
                400,
                "invalid_input",
                f"Wrong type arguments {ty_args!r}: expected 1 (0x1::fungible_asset::Metadata)",
            )
        if not isinstance(args, list) or len(args) != 2:
            n = len(args) if isinstance(args, list) else "non-list"
            return _error(400, "invalid_input", f"Wrong number of arguments: expected 2, got {n}")
        try:
            account, metadata = (_norm(a) for a in args if isinstance(a, str))
        except Exception:
            return _error(400, "invalid_input", f"Invalid address arguments: {args!r}")
        return web.json_response([str(self.fa_balances.get((account, metadata), 0))])

    async def _account(self, request: web.Request) -> web.Response:
        address = _norm(request.match_info["address"])
        account = self.accounts.get(address)
        if account is None and address in self.lead_txs:
            return web.json_response(
                {
                    "sequence_number": str(len(self.lead_txs[address])),
                    "authentication_key": address,
                }
            )
        if account is None:
            return _error(
                404,
                "account_not_found",
                f"Account not found by Address({address}) and Ledger version({self.version})",
            )
        return web.json_response(
            {
                "sequence_number": str(account.sequence_number),
                "authentication_key": "0x" + account.auth_key.hex(),
            }
        )

    async def _decode(self, request: web.Request) -> tuple[SignedTransaction, bytes] | web.Response:
        if request.content_type != "application/x.aptos.signed_transaction+bcs":
            return _error(415, "unsupported_media_type", "expected signed_transaction+bcs")
        body = await request.read()
        try:
            der = Deserializer(body)
            signed = SignedTransaction.deserialize(der)
            if der.remaining():
                raise ValueError("trailing bytes")
        except Exception as exc:
            return _error(
                400, "invalid_input", f"Failed to deserialize input into SignedTransaction: {exc}"
            )
        return signed, body

    def _validate(self, signed: SignedTransaction, *, simulate: bool) -> web.Response | None:
        raw = signed.transaction
        sender = _norm(str(raw.sender))
        account = self.accounts.get(sender)
        if account is None:
            return _vm_error("SENDING_ACCOUNT_DOES_NOT_EXIST")
        auth = signed.authenticator.authenticator
        if not isinstance(auth, Ed25519Authenticator):
            return _vm_error("INVALID_SIGNATURE")
        public = auth.public_key.to_crypto_bytes()
        if hashlib.sha3_256(public + b"\x00").digest() != account.auth_key:
            return _vm_error("INVALID_AUTH_KEY")
        valid = signed.verify()
        if simulate and valid:
            return _error(
                400, "invalid_input", "Simulated transactions must not have a valid signature"
            )
        if not simulate and not valid:
            return _vm_error("INVALID_SIGNATURE")
        if raw.chain_id != self.chain_id:
            return _vm_error("BAD_CHAIN_ID")
        if raw.expiration_timestamps_secs <= time.time():
            return _vm_error("TRANSACTION_EXPIRED")
        if raw.sequence_number < account.sequence_number:
            return _vm_error("SEQUENCE_NUMBER_TOO_OLD")
        return None

    async def _simulate(self, request: web.Request) -> web.Response:
        decoded = await self._decode(request)
        if isinstance(decoded, web.Response):
            return decoded
        signed, body = decoded
        refused = self._validate(signed, simulate=True)
        if refused is not None:
            return refused
        self.simulations += 1
        success, vm_status = self._outcome(signed, dry_run=True)
        return web.json_response([self._user_txn(signed, body, success, vm_status, version=0)])

    async def _submit(self, request: web.Request) -> web.Response:
        decoded = await self._decode(request)
        if isinstance(decoded, web.Response):
            return decoded
        signed, body = decoded
        tx_hash = _hash(body)
        refused = self._validate(signed, simulate=False)
        if refused is not None:
            return refused
        clash = self._same_sequence_in_mempool(signed, tx_hash)
        if clash is not None:
            return clash
        self.submissions.append(tx_hash)
        self.submit_counts[tx_hash] = self.submit_counts.get(tx_hash, 0) + 1
        self.mempool.setdefault(tx_hash, Pending(tx_hash, signed, time.monotonic()))
        if self.lose_next_submit_responses > 0:
            self.lose_next_submit_responses -= 1
            return _error(503, "internal_error", "upstream timed out")  # accepted, answer lost
        return web.json_response(self._pending_json(signed, tx_hash), status=202)

    async def _by_hash(self, request: web.Request) -> web.Response:
        tx_hash = request.match_info["hash"].lower()
        if tx_hash in self.committed:
            return web.json_response(self.committed[tx_hash])
        if tx_hash in self.mempool:
            return web.json_response(self._pending_json(self.mempool[tx_hash].signed, tx_hash))
        return _error(
            404, "transaction_not_found", f"Transaction not found by Transaction hash({tx_hash})"
        )

    def _same_sequence_in_mempool(
        self, signed: SignedTransaction, tx_hash: str
    ) -> web.Response | None:
        """A DIFFERENT transaction with the sender and sequence number of one in the mempool
        is refused, as the real mempool does (same gas price: no replacement); the same bytes
        again are accepted (idempotent)."""
        raw = signed.transaction
        for other in self.mempool.values():
            theirs = other.signed.transaction
            if (
                other.hash != tx_hash
                and theirs.sequence_number == raw.sequence_number
                and _norm(str(theirs.sender)) == _norm(str(raw.sender))
            ):
                return _error(
                    400,
                    "invalid_transaction_update",
                    "Transaction already in mempool with a different payload",
                )
        return None

    # -- chain ----------------------------------------------------------------------------
    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.commit_delay_s)
            if not self.hold_commits:
                self.commit_ready()

    def commit_ready(self) -> None:
        """Commit every mempool transaction whose sequence number is next, in order."""
        progressed = True
        while progressed:
            progressed = False
            for tx_hash, pending in list(self.mempool.items()):
                raw = pending.signed.transaction
                account = self.accounts[_norm(str(raw.sender))]
                if raw.expiration_timestamps_secs <= time.time():
                    del self.mempool[tx_hash]  # expired in mempool: never executes
                    continue
                if raw.sequence_number != account.sequence_number:
                    continue
                success, vm_status = self._outcome(pending.signed, dry_run=False)
                account.sequence_number += 1
                account.balance -= GAS_USED * raw.gas_unit_price
                self.version += 1
                body = pending.signed.bytes()
                self.committed[tx_hash] = self._user_txn(
                    pending.signed, body, success, vm_status, self.version
                )
                del self.mempool[tx_hash]
                progressed = True

    def _outcome(self, signed: SignedTransaction, *, dry_run: bool) -> tuple[bool, str]:
        fn = signed.transaction.payload.value
        name = f"{fn.module}::{fn.function}"
        if name in self.abort_functions:
            return False, (
                f"Move abort in {fn.module}: EINSUFFICIENT_OUTPUT_AMOUNT(0x10001): "
                "output below the minimum"
            )
        if name == "0x1::aptos_account::transfer":
            amount = int.from_bytes(fn.args[1], "little")
            sender = self.accounts[_norm(str(signed.transaction.sender))]
            if amount + GAS_USED * signed.transaction.gas_unit_price > sender.balance:
                return False, (
                    "Move abort in 0x1::coin: EINSUFFICIENT_BALANCE(0x10006): "
                    "Not enough coins to complete transaction"
                )
            if not dry_run:
                sender.balance -= amount
                to = _norm("0x" + fn.args[0].hex())
                if to in self.accounts:
                    self.accounts[to].balance += amount
        return True, "Executed successfully"

    def _pending_json(self, signed: SignedTransaction, tx_hash: str) -> dict[str, Any]:
        raw = signed.transaction
        return {
            "type": "pending_transaction",
            "hash": tx_hash,
            "sender": str(raw.sender),
            "sequence_number": str(raw.sequence_number),
            "max_gas_amount": str(raw.max_gas_amount),
            "gas_unit_price": str(raw.gas_unit_price),
            "expiration_timestamp_secs": str(raw.expiration_timestamps_secs),
            "payload": _payload_json(signed),
            "signature": _signature_json(signed),
        }

    def _user_txn(
        self, signed: SignedTransaction, body: bytes, success: bool, vm_status: str, version: int
    ) -> dict[str, Any]:
        data = self._pending_json(signed, _hash(body))
        data.update(
            {
                "type": "user_transaction",
                "version": str(version),
                "success": success,
                "vm_status": vm_status,
                "gas_used": str(GAS_USED),
                "timestamp": str(int(time.time() * 1_000_000)),
                "events": [],
                "changes": [],
            }
        )
        return data


def _norm(address: str) -> str:
    return "0x" + AccountAddress.from_str_relaxed(address).address.hex()


def _hash(body: bytes) -> str:
    return "0x" + hashlib.sha3_256(TX_PREFIX + b"\x00" + body).hexdigest()


def _payload_json(signed: SignedTransaction) -> dict[str, Any]:
    fn = signed.transaction.payload.value
    return {
        "type": "entry_function_payload",
        "function": f"{fn.module}::{fn.function}",
        "type_arguments": [str(t) for t in fn.ty_args],
        "arguments": ["0x" + a.hex() for a in fn.args],
    }


def _signature_json(signed: SignedTransaction) -> dict[str, Any]:
    auth = signed.authenticator.authenticator
    return {
        "type": "ed25519_signature",
        "public_key": str(auth.public_key),
        "signature": str(auth.signature),
    }


def _error(status: int, code: str, message: str, vm_code: int | None = None) -> web.Response:
    return web.json_response(
        {"message": message, "error_code": code, "vm_error_code": vm_code}, status=status
    )


def _vm_error(name: str) -> web.Response:
    return _error(
        400,
        "vm_error",
        f"Invalid transaction: Type: Validation Code: {name}",
        VALIDATION[name],
    )


# ------------------------------------------------------------------------------ Decibel
@dataclass
class StandinDecibel:
    """Decibel's REST API and WebSocket on 127.0.0.1, in the documented shapes.

    Shapes (docs.decibel.trade OpenAPI/AsyncAPI, as restated in decibeltrade/python-sdk
    docs/SPEC-REST.md and docs/SPEC-WEBSOCKET.md): ``GET /decibel/api/v1/markets`` lists
    ``{"market_addr", "market_name", ...}``; ``GET /decibel/api/v1/depth?market=`` answers
    ``{"market", "bids": [{"price", "size"}], "asks", "unix_ms"}`` with JSON numbers; the
    WebSocket at ``/decibel/ws`` takes the API key as the second subprotocol after
    ``decibel``, acks ``{"method": "subscribe", "topic"}`` with ``{"success", "message"}``
    (no topic), sends the current book first and then the whole book on every change, with
    ``"topic": "depth:<addr>:<aggregation>"`` added.
    """

    markets: list[dict[str, Any]] = field(default_factory=lambda: recorded("decibel_markets.json"))
    books: dict[str, dict[str, Any]] = field(default_factory=dict)
    refuse_ws: bool = False
    """While True the WebSocket upgrade answers 503 (Decibel's socket is down)."""
    depth_faults: int = 0
    """How many of the next depth requests answer 503."""
    depth_requests: list[str] = field(default_factory=list)
    protocols_seen: list[list[str]] = field(default_factory=list)
    """The subprotocols each WebSocket client offered (Sec-WebSocket-Protocol)."""
    auth_seen: list[str | None] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)
    base_url: str = ""
    ws_url: str = ""
    _clients: dict[web.WebSocketResponse, set[str]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    def __post_init__(self) -> None:
        if not self.books:
            book = recorded("decibel_depth_apt.json")
            self.books[book["market"]] = book

    def address_of(self, name: str) -> str:
        return next(m["market_addr"] for m in self.markets if m["market_name"] == name)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/decibel/api/v1/markets", self._markets)
        app.router.add_get("/decibel/api/v1/depth", self._depth)
        app.router.add_get("/decibel/ws", self._ws)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/decibel"
        self.ws_url = f"ws://127.0.0.1:{port}/decibel/ws"
        return self.base_url

    async def stop(self) -> None:
        await self.drop_clients()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what tests do ----------------------------------------------------------------------
    @property
    def connected(self) -> int:
        return len(self._clients)

    async def push(
        self,
        market: str,
        bids: list[tuple[str, str]],
        asks: list[tuple[str, str]],
        unix_ms: int | None = None,
    ) -> dict[str, Any]:
        """A new book for ``market`` (prices/sizes written as JSON numbers), sent to
        subscribers and served by REST from now on."""
        book = {
            "market": market,
            "bids": [{"price": _num(p), "size": _num(s)} for p, s in bids],
            "asks": [{"price": _num(p), "size": _num(s)} for p, s in asks],
            "unix_ms": unix_ms if unix_ms is not None else int(time.time() * 1000),
        }
        self.books[market] = book
        await self.send_raw(market, json.dumps({"topic": f"depth:{market}:1", **book}))
        return book

    async def send_raw(self, market: str, text: str) -> None:
        """Send ``text`` as is to every subscriber of ``market``'s depth (faults included)."""
        for ws, topics in list(self._clients.items()):
            if f"depth:{market}:1" in topics and not ws.closed:
                await ws.send_str(text)

    async def drop_clients(self) -> None:
        """Close every WebSocket, as Decibel does at the end of a session."""
        for ws in list(self._clients):
            await ws.close()
        self._clients.clear()

    # -- handlers -------------------------------------------------------------------------
    async def _markets(self, _: web.Request) -> web.Response:
        return web.json_response(self.markets)

    async def _depth(self, request: web.Request) -> web.Response:
        market = request.query.get("market", "")
        self.depth_requests.append(market)
        self.auth_seen.append(request.headers.get("Authorization"))
        if self.depth_faults > 0:
            self.depth_faults -= 1
            return web.json_response({"message": "upstream unavailable"}, status=503)
        book = self.books.get(market)
        if book is None:
            return web.json_response({"message": f"market {market} not found"}, status=404)
        return web.Response(text=json.dumps(book), content_type="application/json")

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        offered = request.headers.get("Sec-WebSocket-Protocol", "")
        self.protocols_seen.append([p.strip() for p in offered.split(",") if p.strip()])
        if self.refuse_ws:
            return web.Response(status=503, text="unavailable")
        ws = web.WebSocketResponse(protocols=("decibel",))
        await ws.prepare(request)
        topics: set[str] = set()
        self._clients[ws] = topics
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                request_body = json.loads(msg.data)
                topic = str(request_body.get("topic", ""))
                kind, _, rest = topic.partition(":")
                market = rest.rsplit(":", 1)[0]
                if request_body.get("method") != "subscribe" or kind != "depth":
                    await ws.send_json(
                        {"success": False, "message": f"Unknown topic type '{kind}'"}
                    )
                    continue
                topics.add(topic)
                self.subscriptions.append(topic)
                await ws.send_json({"success": True, "message": f"Subscribed to {topic}"})
                if market in self.books:
                    await ws.send_str(json.dumps({"topic": topic, **self.books[market]}))
        finally:
            self._clients.pop(ws, None)
        return ws


def _num(value: str) -> Any:
    """A JSON number with exactly the digits given (Decibel sends numbers, not strings)."""
    return json.loads(value)
