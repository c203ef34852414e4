"""`oneclick doctor` against the real servers: embedded SQLite, PostgreSQL (migrated and not),
Redis (real and unreachable), the InfluxDB stand-in (bucket present and missing) and the
Aptos stand-in node. CLI runs are real subprocesses, so exit statuses are the real ones.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from oneclick_tui.config import AptosSettings, Settings
from oneclick_tui.services.doctor import Check, check_keyring, failed, run_checks
from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import ensure_schema
from tests.aptos_standin import StandinNode
from tests.stores.influx_standin import InfluxStandIn

# Registers `doctor` on the real CLI if the lead has not wired it yet, then runs it.
CLI = (
    "import sys\n"
    "from oneclick_tui.cli import app, doctor_cmd\n"
    "if not any(c.name == 'doctor' for c in app.registered_commands):\n"
    "    doctor_cmd.register(app)\n"
    "sys.argv = ['oneclick', *sys.argv[1:]]\n"
    "app()\n"
)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def doctor(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run `oneclick doctor` in a subprocess without blocking this loop (stand-ins live here)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLI,
        "doctor",
        "--timeout",
        "3",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def line_of(out: str, name: str) -> str:
    lines = [line for line in out.splitlines() if f"  {name} " in line]
    assert lines, f"no {name!r} line in:\n{out}"
    return lines[0]


@pytest.fixture
async def influx() -> AsyncIterator[InfluxStandIn]:
    server = InfluxStandIn()
    await server.start()
    yield server
    await server.stop()


def influx_settings(server: InfluxStandIn, tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'oneclick.db'}",
        "influx_url": server.url,
        "influx_org": server.org,
        "influx_bucket": server.bucket,
        "influx_token": SecretStr(server.token),
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


# ------------------------------------------------------------------ embedded
async def test_embedded_first_run_passes_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "data" / "oneclick.db"
    code, out, err = await doctor({"ONECLICK_DATABASE_URL": f"sqlite+aiosqlite:///{db}"})
    assert code == 0, out + err
    assert "created on first start" in line_of(out, "database")
    assert line_of(out, "migrations").startswith("ok")
    assert line_of(out, "network").startswith("ok") and "sim" in line_of(out, "network")
    assert line_of(out, "keyring").split()[0] in ("ok", "warn")
    assert "redis" not in out and "influx" not in out
    assert "Traceback" not in err
    assert not db.exists(), "doctor must not create the embedded database"


async def test_embedded_migrated_and_behind(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'oneclick.db'}"
    await ensure_schema(url)
    checks = by_name(await run_checks(Settings(database_url=url), 3))
    assert checks["database"].status == "ok" and "SQLite" in checks["database"].detail
    assert checks["migrations"].status == "ok"
    await migrate.downgrade(url, "base")
    checks = by_name(await run_checks(Settings(database_url=url), 3))
    assert checks["migrations"].status == "fail"
    assert checks["migrations"].fix is not None
    assert "oneclick db upgrade" in checks["migrations"].fix


# ------------------------------------------------------------------ PostgreSQL
@pytest.mark.postgres
async def test_postgres_unmigrated_fails_then_passes_after_upgrade(fresh_pg_url: str) -> None:
    env = {"ONECLICK_DATABASE_URL": fresh_pg_url}
    code, out, err = await doctor(env)
    assert code == 1, out + err
    assert line_of(out, "database").startswith("ok") and "PostgreSQL" in out
    migrations = line_of(out, "migrations")
    assert migrations.startswith("FAIL") and "fix: oneclick db upgrade" in migrations
    assert "checks failed: migrations" in out

    await migrate.upgrade(fresh_pg_url)
    code, out, err = await doctor(env)
    assert code == 0, out + err
    assert line_of(out, "migrations").startswith("ok") and migrate.head() in out


@pytest.mark.postgres
async def test_postgres_unreachable_names_url_without_password() -> None:
    url = f"postgresql+asyncpg://oneclick:hunter2@127.0.0.1:{unused_port()}/oneclick"
    checks = by_name(await run_checks(Settings(database_url=url), 3))
    assert checks["database"].status == "fail"
    assert "hunter2" not in checks["database"].detail and "***" in checks["database"].detail
    assert checks["database"].fix and "database_url" in checks["database"].fix
    assert checks["migrations"].status == "skip"


# ------------------------------------------------------------------ Redis
@pytest.mark.redis
async def test_real_redis_reports_version(tmp_path: Path, redis_url: str) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", redis_url=redis_url
    )
    check = by_name(await run_checks(settings, 3))["redis"]
    assert check.status == "ok" and check.detail.startswith("Redis ")
    assert check.detail.split()[1][0].isdigit()


async def test_unreachable_redis_fails_with_masked_url_and_exit_1(tmp_path: Path) -> None:
    url = f"redis://:s3cret@127.0.0.1:{unused_port()}/0"
    env = {
        "ONECLICK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        "ONECLICK_REDIS_URL": url,
    }
    code, out, err = await doctor(env)
    assert code == 1, out + err
    line = line_of(out, "redis")
    assert line.startswith("FAIL") and "redis://:***@127.0.0.1" in line
    assert "fix: start Redis" in line
    assert "s3cret" not in out + err and "Traceback" not in err


# ------------------------------------------------------------------ InfluxDB stand-in
async def test_influx_bucket_present(influx: InfluxStandIn, tmp_path: Path) -> None:
    checks = by_name(await run_checks(influx_settings(influx, tmp_path), 3))
    assert checks["influxdb"].status == "ok" and "v2.7" in checks["influxdb"].detail
    assert checks["influx bucket"].status == "ok", checks["influx bucket"]
    assert not failed(list(checks.values()))


async def test_influx_bucket_missing_says_how_to_create_it(
    influx: InfluxStandIn, tmp_path: Path
) -> None:
    env = {
        "ONECLICK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        "ONECLICK_INFLUX_URL": influx.url,
        "ONECLICK_INFLUX_ORG": influx.org,
        "ONECLICK_INFLUX_BUCKET": "nope",
        "ONECLICK_INFLUX_TOKEN": influx.token,
    }
    code, out, err = await doctor(env)
    assert code == 1, out + err
    line = line_of(out, "influx bucket")
    assert line.startswith("FAIL") and "'nope' not found" in line
    assert "influx bucket create --name nope" in line
    assert influx.token not in out + err


async def test_influx_wrong_token_org_and_unreachable(
    influx: InfluxStandIn, tmp_path: Path
) -> None:
    bad_token = influx_settings(influx, tmp_path, influx_token=SecretStr("wrong"))
    check = by_name(await run_checks(bad_token, 3))["influx bucket"]
    assert check.status == "fail" and "token" in check.detail
    bad_org = influx_settings(influx, tmp_path, influx_org="elsewhere")
    check = by_name(await run_checks(bad_org, 3))["influx bucket"]
    assert check.status == "fail" and "organization 'elsewhere'" in check.detail
    await influx.stop()
    checks = by_name(await run_checks(influx_settings(influx, tmp_path), 3))
    assert checks["influxdb"].status == "fail" and influx.url in checks["influxdb"].detail
    assert checks["influx bucket"].status == "skip"


# ------------------------------------------------------------------ network
async def test_live_network_checks_the_fullnode_chain(tmp_path: Path) -> None:
    node = StandinNode(chain_id=2)
    base = await node.start()
    try:
        db = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
        testnet = Settings(
            database_url=db, network="testnet", aptos=AptosSettings(fullnode_url=base)
        )
        check = by_name(await run_checks(testnet, 3))["network"]
        assert check.status == "ok" and "chain 2" in check.detail
        mainnet = Settings(
            database_url=db, network="mainnet", aptos=AptosSettings(fullnode_url=base)
        )
        check = by_name(await run_checks(mainnet, 3))["network"]
        assert check.status == "fail" and "expected 1" in check.detail
    finally:
        await node.stop()
    check = by_name(await run_checks(testnet, 3))["network"]
    assert check.status == "fail" and check.fix and "fullnode_url" in check.fix


# ------------------------------------------------------------------ keyring
@pytest.mark.keyring
async def test_keyring_available_then_locked(tmp_path: Path) -> None:
    from tests.wallet.conftest import (
        keyring_skip_reason,
        lock_default_collection,
        unlock_default_collection,
        wipe_oneclick_entries,
    )

    if (why := keyring_skip_reason()) is not None:
        pytest.skip(why)
    db = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    unlock_default_collection()
    wipe_oneclick_entries()
    try:
        check = await check_keyring(Settings(database_url=db), 3)
        assert check.status == "ok" and "unlocked, 0 wallet(s)" in check.detail
        lock_default_collection()
        on_sim = await check_keyring(Settings(database_url=db), 3)
        assert on_sim.status == "warn" and on_sim.detail.startswith("locked")
        assert on_sim.fix is not None and "unlock" in on_sim.fix
        live = await check_keyring(Settings(database_url=db, network="testnet"), 3)
        assert live.status == "fail" and live.detail.startswith("locked")
    finally:
        unlock_default_collection()
        wipe_oneclick_entries()


async def test_no_keyring_backend_warns_on_sim_fails_live(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    on_sim = await check_keyring(Settings(database_url=db, keyring_backend="windows"), 3)
    assert on_sim.status == "warn" and on_sim.detail.startswith("none")
    assert on_sim.fix is not None and "Secret Service" in on_sim.fix
    live = await check_keyring(
        Settings(database_url=db, keyring_backend="windows", network="mainnet"), 3
    )
    assert live.status == "fail"
