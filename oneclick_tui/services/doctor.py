"""`oneclick doctor`: is every configured store reachable and ready, and if not, what to do.

Each check is bounded by a timeout and turns every failure into one `Check` with a fix the
user can type, so a self-hoster sees all problems at once instead of the first traceback.
The keyring check is shared with the Wallet screen (`keyring_status`). No check ever reads
or prints a secret: URLs are masked and tokens are only sent, never shown.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp
import redis.asyncio as aioredis
from alembic.runtime.migration import MigrationContext
from redis.exceptions import AuthenticationError, RedisError
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from oneclick_tui.config import KeyringBackendName, Settings, mask_url
from oneclick_tui.services.wallet import keystore as ks
from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import make_engine, sqlite_path
from oneclick_tui.stores.timeseries.influx import flux_string, flux_time

Status = Literal["ok", "warn", "fail", "skip"]
KeyringState = Literal["available", "locked", "none"]

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_FULLNODES = {
    "mainnet": "https://api.mainnet.aptoslabs.com/v1",
    "testnet": "https://api.testnet.aptoslabs.com/v1",
}
CHAIN_IDS = {"mainnet": 1, "testnet": 2}
_STATUS_TEXT = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, how it went, and the fix when it failed."""

    name: str
    status: Status
    detail: str
    fix: str | None = None

    def line(self) -> str:
        fix = f" -> fix: {self.fix}" if self.fix and self.status in ("fail", "warn") else ""
        return f"{_STATUS_TEXT[self.status]}  {self.name:<13} {self.detail}{fix}"


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.status == "fail"]


def summary(checks: list[Check]) -> str:
    bad = failed(checks)
    if not bad:
        return f"all {len(checks)} checks passed" + (
            " (with warnings)" if any(c.status == "warn" for c in checks) else ""
        )
    return f"{len(bad)} of {len(checks)} checks failed: {', '.join(c.name for c in bad)}"


def reason(exc: BaseException) -> str:
    """One line that says why, from the driver's error when SQLAlchemy wrapped it."""
    inner = getattr(exc, "orig", None) or exc
    text_ = " ".join(str(inner).split())
    if isinstance(exc, TimeoutError) and not text_:
        return "timed out"
    return (text_[:200] or type(inner).__name__) if text_ else type(inner).__name__


# --------------------------------------------------------------------------- database
def _server_version(sync: Connection) -> str:
    if sync.dialect.name == "sqlite":
        return f"SQLite {sync.exec_driver_sql('select sqlite_version()').scalar()}"
    version = sync.exec_driver_sql("show server_version").scalar()
    return f"PostgreSQL {str(version).split()[0]}"


async def check_database(settings: Settings, wait_s: float = DEFAULT_TIMEOUT_S) -> list[Check]:
    """Reachable + server version, then migrations current (`current == head`)."""
    url = settings.database_url
    shown = mask_url(url)
    head = migrate.head()
    path = sqlite_path(url)
    if path is not None and not path.expanduser().exists():
        return [
            Check(
                "database",
                "ok",
                f"SQLite {sqlite3.sqlite_version} at {path} (created on first start)",
            ),
            Check("migrations", "ok", f"applied on first start (head {head})"),
        ]
    engine = make_engine(url)
    try:
        async with asyncio.timeout(wait_s):
            async with engine.connect() as conn:
                version = await conn.run_sync(_server_version)
                revision = await conn.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_revision()
                )
    except (OSError, TimeoutError, SQLAlchemyError, ConnectionError) as exc:
        fix = (
            f"check the file {path} (permissions, disk) or point database_url elsewhere"
            if path is not None
            else "start PostgreSQL there (or create the database), or correct database_url"
        )
        return [
            Check("database", "fail", f"cannot reach {shown}: {reason(exc)}", fix),
            Check("migrations", "skip", "not checked: database unreachable"),
        ]
    finally:
        await engine.dispose()
    checks = [Check("database", "ok", f"{version} at {shown}")]
    fix = "oneclick db upgrade"
    if path is not None:
        fix += " (or start oneclick, which migrates the embedded database)"
    if revision is None:
        checks.append(Check("migrations", "fail", f"none applied (head is {head})", fix))
    elif revision != head:
        checks.append(Check("migrations", "fail", f"at {revision}, head is {head}", fix))
    else:
        checks.append(Check("migrations", "ok", f"current ({head})"))
    return checks


# --------------------------------------------------------------------------- redis
async def check_redis(url: str, wait_s: float = DEFAULT_TIMEOUT_S) -> Check:
    """PING-equivalent INFO: reachable, authenticated, and which version."""
    shown = mask_url(url)
    client = aioredis.Redis.from_url(url, socket_connect_timeout=wait_s, socket_timeout=wait_s)
    try:
        async with asyncio.timeout(wait_s):
            info = await client.info("server")
    except AuthenticationError as exc:
        return Check(
            "redis",
            "fail",
            f"Redis at {shown} refused the login: {reason(exc)}",
            "correct the user/password in redis_url",
        )
    except (RedisError, OSError, TimeoutError) as exc:
        return Check(
            "redis",
            "fail",
            f"cannot reach Redis at {shown}: {reason(exc)}",
            "start Redis there, or unset redis_url to use the in-process cache and bus",
        )
    finally:
        await client.aclose()
    return Check("redis", "ok", f"Redis {info.get('redis_version', '?')} at {shown}")


# --------------------------------------------------------------------------- influxdb
async def check_influx(settings: Settings, wait_s: float = DEFAULT_TIMEOUT_S) -> list[Check]:
    """Reachable + version (GET /ping), then the bucket exists (an empty-range Flux query:
    404 names a missing bucket or org, 401 a refused token; needs only read access)."""
    base = (settings.influx_url or "").rstrip("/")
    shown = mask_url(base)
    org = settings.influx_org
    http_timeout = aiohttp.ClientTimeout(total=wait_s)
    async with aiohttp.ClientSession(timeout=http_timeout) as http:
        try:
            async with http.get(f"{base}/ping") as resp:
                status, version = resp.status, resp.headers.get("X-Influxdb-Version", "?")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return [
                Check(
                    "influxdb",
                    "fail",
                    f"cannot reach InfluxDB at {shown}: {reason(exc)}",
                    "start InfluxDB 2.x there, or unset influx_url to keep time series in the "
                    "relational store (the console runs degraded meanwhile)",
                ),
                Check("influx bucket", "skip", "not checked: InfluxDB unreachable"),
            ]
        if status != 204:
            return [
                Check(
                    "influxdb",
                    "fail",
                    f"{shown} answered /ping with HTTP {status}",
                    "point influx_url at an InfluxDB 2.x server",
                ),
                Check("influx bucket", "skip", "not checked: InfluxDB not usable"),
            ]
        checks = [Check("influxdb", "ok", f"InfluxDB {version} at {shown}")]
        if not org:
            checks.append(
                Check(
                    "influx bucket",
                    "fail",
                    "influx_org is not set",
                    "set influx_org to your InfluxDB organization",
                )
            )
            return checks
        checks.append(await _check_bucket(http, base, settings, wait_s))
        return checks


async def _check_bucket(
    http: aiohttp.ClientSession, base: str, settings: Settings, wait_s: float
) -> Check:
    bucket, org = settings.influx_bucket, settings.influx_org or ""
    now = datetime.now(UTC).replace(microsecond=0)
    flux = (
        f"from(bucket: {flux_string(bucket)})\n  |> range(start: "
        f"{flux_time(now - timedelta(seconds=1))}, stop: {flux_time(now)})"
    )
    token = settings.influx_token.get_secret_value() if settings.influx_token else ""
    headers = {"Authorization": f"Token {token}", "Accept": "application/csv"}
    try:
        async with http.post(
            f"{base}/api/v2/query",
            params={"org": org},
            json={"query": flux, "type": "flux"},
            headers=headers,
        ) as resp:
            status, body = resp.status, await resp.text()
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return Check(
            "influx bucket",
            "fail",
            f"query failed: {reason(exc)}",
            "check that InfluxDB is healthy",
        )
    message = _influx_message(body)
    if status == 200:
        return Check("influx bucket", "ok", f"bucket {bucket!r} in org {org!r}")
    if status == 401:
        return Check(
            "influx bucket",
            "fail",
            "InfluxDB refused the token",
            "set influx_token to a token with read/write access to the bucket",
        )
    if status == 404 and "organization" in message.lower():
        return Check(
            "influx bucket",
            "fail",
            f"organization {org!r} not found",
            "set influx_org to an existing organization",
        )
    if status == 404:
        return Check(
            "influx bucket",
            "fail",
            f"bucket {bucket!r} not found in org {org!r}",
            f"create it: influx bucket create --name {bucket} --org {org} (or set influx_bucket)",
        )
    return Check(
        "influx bucket", "fail", f"HTTP {status}: {message[:160]}", "check the InfluxDB server log"
    )


def _influx_message(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return " ".join(body.split())
    return str(data.get("message", "")) if isinstance(data, dict) else ""


# --------------------------------------------------------------------------- keyring
@dataclass(frozen=True)
class KeyringStatus:
    """What the user may know about the keyring: the backend, its state and the fix."""

    state: KeyringState
    backend: str
    detail: str
    fix: str | None = None
    wallets: int | None = None


def keyring_status(
    name: KeyringBackendName = "auto", wait_s: float = DEFAULT_TIMEOUT_S
) -> KeyringStatus:
    """Blocking (D-Bus): call from a thread. Never prompts, never reads a key, only the index."""
    if name == "cryptfile":
        try:
            ks._backend_class("cryptfile")
        except ks.KeystoreError as exc:
            fix = 'pip install "oneclick-tui[cryptfile]"'
            return KeyringStatus("none", "cryptfile", str(exc), fix)
        path = ks.cryptfile_path()
        where = f"{path}" if path.exists() else f"{path} (created with the first key)"
        return KeyringStatus(
            "available", "cryptfile", f"passphrase-encrypted file {where}; asks its passphrase"
        )
    try:
        backend = ks._with_deadline(lambda: ks.select_backend(name), wait_s, "open the keyring")
        label = type(backend).__module__.rsplit(".", 1)[-1]
        count = len(ks.Keystore(backend, wait_s).addresses())
    except ks.KeystoreLocked as exc:
        return KeyringStatus(
            "locked",
            name,
            str(exc),
            "unlock it (log in to the desktop session, or `gnome-keyring-daemon --unlock`)",
        )
    except ks.KeystoreError as exc:
        detail = str(exc).replace(f"; {ks.HOW_TO_GET_ONE}", "")
        return KeyringStatus("none", name, detail, ks.HOW_TO_GET_ONE)
    return KeyringStatus("available", label, "unlocked", wallets=count)


async def check_keyring(settings: Settings, wait_s: float = DEFAULT_TIMEOUT_S) -> Check:
    """Fails on a live network (copies cannot be signed); only warns on the simulator."""
    status = await asyncio.to_thread(keyring_status, settings.keyring_backend, wait_s)
    if status.state == "available":
        wallets = "" if status.wallets is None else f", {status.wallets} wallet(s)"
        return Check("keyring", "ok", f"{status.backend}: {status.detail}{wallets}")
    severity: Status = "warn" if settings.network == "sim" else "fail"
    note = " (paper trading on sim needs no key)" if severity == "warn" else ""
    return Check("keyring", severity, f"{status.state}: {status.detail}{note}", status.fix)


# --------------------------------------------------------------------------- network
async def check_network(settings: Settings, wait_s: float = DEFAULT_TIMEOUT_S) -> Check:
    """sim needs nothing; testnet/mainnet need a fullnode on the right chain."""
    if settings.network == "sim":
        return Check(
            "network",
            "ok",
            f"sim: built-in simulated exchange (seed {settings.sim.seed}, "
            f"speed {settings.sim.speed:g}x), paper trading",
        )
    base = (settings.aptos.fullnode_url or DEFAULT_FULLNODES[settings.network]).rstrip("/")
    headers = {}
    if settings.aptos.api_key:
        headers["Authorization"] = f"Bearer {settings.aptos.api_key.get_secret_value()}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=wait_s)) as http,
            http.get(base, headers=headers) as resp,
        ):
            status = resp.status
            data: Any = await resp.json(content_type=None) if status == 200 else None
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
        return Check(
            "network",
            "fail",
            f"{settings.network}: cannot reach fullnode {base}: {reason(exc)}",
            "check aptos.fullnode_url and the network connection",
        )
    if status != 200 or not isinstance(data, dict) or "chain_id" not in data:
        return Check(
            "network",
            "fail",
            f"{settings.network}: {base} answered HTTP {status}",
            "point aptos.fullnode_url at a fullnode REST API (…/v1)",
        )
    chain = int(data["chain_id"])
    if chain != CHAIN_IDS[settings.network]:
        return Check(
            "network",
            "fail",
            f"{settings.network}: fullnode {base} is on chain {chain}, expected "
            f"{CHAIN_IDS[settings.network]}",
            f"use a {settings.network} fullnode, or set network to match it",
        )
    return Check(
        "network",
        "ok",
        f"{settings.network} via {base} (chain {chain}, "
        f"ledger version {data.get('ledger_version', '?')})",
    )


# --------------------------------------------------------------------------- all
async def run_checks(settings: Settings, wait_s: float = DEFAULT_TIMEOUT_S) -> list[Check]:
    """Every check for the configured stores, concurrently, in a stable order."""
    jobs: list[Callable[[], Awaitable[Check | list[Check]]]] = [
        lambda: check_database(settings, wait_s)
    ]
    if settings.redis_url:
        url = settings.redis_url
        jobs.append(lambda: check_redis(url, wait_s))
    if settings.influx_url:
        jobs.append(lambda: check_influx(settings, wait_s))
    jobs.append(lambda: check_keyring(settings, wait_s))
    jobs.append(lambda: check_network(settings, wait_s))
    results = await asyncio.gather(*(job() for job in jobs))
    checks: list[Check] = []
    for result in results:
        checks.extend(result if isinstance(result, list) else [result])
    return checks
