"""A strict local stand-in for an Aptos fullnode's REST API (aiohttp on 127.0.0.1).

It exists because no Aptos node is reachable from this machine. It is strict where the real
node is: it decodes the BCS SignedTransaction, verifies the Ed25519 signature and that the
public key's auth key is the sender's, checks chain id, sequence number and expiration,
refuses a validly signed body on /transactions/simulate, executes in sequence-number order
(a failed transaction still consumes its sequence number), and answers with the real API's
JSON shapes and status codes (202 on submit, 404 transaction_not_found, 400 vm_error with the
validation status code).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aptos_sdk.account_address import AccountAddress
from aptos_sdk.authenticator import Ed25519Authenticator
from aptos_sdk.bcs import Deserializer
from aptos_sdk.transactions import SignedTransaction

TX_PREFIX = hashlib.sha3_256(b"APTOS::Transaction").digest()

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
    abort_functions: set[str] = field(default_factory=set)
    version: int = 100
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _ticker: asyncio.Task[None] | None = None

    # -- setup ----------------------------------------------------------------------------
    def create_account(self, address: str, public_key: bytes, balance: int = 10**10) -> None:
        auth_key = hashlib.sha3_256(public_key + b"\x00").digest()
        self.accounts[_norm(address)] = Account(auth_key, 0, balance)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/v1", self._ledger)
        app.router.add_get("/v1/accounts/{address}", self._account)
        app.router.add_post("/v1/transactions", self._submit)
        app.router.add_post("/v1/transactions/simulate", self._simulate)
        app.router.add_get("/v1/transactions/by_hash/{hash}", self._by_hash)
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

    async def _account(self, request: web.Request) -> web.Response:
        address = _norm(request.match_info["address"])
        account = self.accounts.get(address)
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
        self.submissions.append(tx_hash)
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

    # -- chain ----------------------------------------------------------------------------
    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.commit_delay_s)
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
