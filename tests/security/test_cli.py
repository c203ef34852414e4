"""The operator commands end to end, and `sslmode` honoured on both connection paths."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import typer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from oneclick_tui.cli import admin_cmd
from oneclick_tui.config import load_settings
from oneclick_tui.stores import migrate
from oneclick_tui.stores.security.roles import libpq_url
from oneclick_tui.stores.security.tls import asyncpg_url_and_args
from tests.conftest import _pg_admin, _pg_url_for
from tests.security.conftest import drop_roles, seed


def _cli() -> typer.Typer:
    """The real root callback's job (settings into ctx.obj) plus the operator commands."""
    root = typer.Typer(pretty_exceptions_enable=False)
    db = typer.Typer()

    @root.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = load_settings()

    @db.callback()
    def db_main() -> None:
        """db"""

    root.add_typer(db, name="db")
    admin_cmd.register(root, db)
    return root


def invoke(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(_cli(), list(args), env={"ONECLICK_DATABASE_URL": url})
    return result.exit_code, result.output


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A migrated, seeded PostgreSQL database (set up outside any running event loop)."""
    name = f"oneclick_test_{uuid.uuid4().hex[:12]}"
    url = _pg_url_for(name)
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(migrate.upgrade(url))
        asyncio.run(seed(url))
        yield url
    finally:
        asyncio.run(drop_roles(url, name))
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.postgres
def test_roles_then_audit_verify(pg_url: str) -> None:
    code, out = invoke(pg_url, "db", "roles")
    assert code == 0, out
    urls = dict(re.findall(r"^\s+(\S+_(?:owner|app|engine|analytics|auditor)): (\S+)$", out, re.M))
    assert len(urls) == 5
    app_url = next(u for name, u in urls.items() if name.endswith("_app"))

    async def whoami() -> str:
        conn = await asyncpg.connect(libpq_url(app_url))
        try:
            return str(await conn.fetchval("SELECT current_user"))
        finally:
            await conn.close()

    assert asyncio.run(whoami()).endswith("_app")
    code, again = invoke(pg_url, "db", "roles")  # idempotent, passwords kept
    assert code == 0 and "password unchanged" in again

    code, out = invoke(pg_url, "audit", "verify")
    assert code == 0 and "audit chain intact" in out, out

    async def tamper() -> None:
        conn = await asyncpg.connect(libpq_url(pg_url))
        try:
            await conn.execute("SET session_replication_role = replica")
            await conn.execute(
                "UPDATE audit_log SET actor = 'mallory' WHERE id = (SELECT min(id) FROM audit_log)"
            )
        finally:
            await conn.close()

    asyncio.run(tamper())
    code, out = invoke(pg_url, "audit", "verify")
    assert code == 1 and "TAMPERED row" in out and "BROKEN" in out


def test_backup_restore_retention_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'oneclick.db'}"
    asyncio.run(migrate.upgrade(url))
    asyncio.run(seed(url))
    code, out = invoke(url, "db", "backup", "--dir", str(tmp_path / "b"), "--json")
    assert code == 0, out
    manifest = json.loads(out)["manifest"]
    code, out = invoke(url, "db", "restore", manifest, "--yes")
    assert code == 0 and "checksums match" in out, out
    code, out = invoke(url, "db", "retention", "--dry-run")
    assert code == 0 and "candles_1m: would remove" in out and "audit_log: kept forever" in out
    code, out = invoke(url, "audit", "verify")
    assert code == 2 and "needs PostgreSQL" in out


@pytest.mark.postgres
def test_sslmode_in_the_url_is_honoured(pg_url: str, tmp_path: Path) -> None:
    """The test server has TLS off: `require` must fail, `disable` must connect."""

    async def connect(mode: str) -> int:
        url, args = asyncpg_url_and_args(f"{pg_url}?sslmode={mode}")
        assert "sslmode" not in url and args == {"ssl": mode}
        engine = create_async_engine(url, connect_args=args)
        try:
            async with engine.connect() as conn:
                return int((await conn.execute(text("SELECT 1"))).scalar_one())
        finally:
            await engine.dispose()

    assert asyncio.run(connect("disable")) == 1
    with pytest.raises(Exception, match=r"(?i)ssl"):
        asyncio.run(connect("require"))
    # pg_dump (libpq) reads sslmode from the same URL.
    code, out = invoke(f"{pg_url}?sslmode=require", "db", "backup", "--dir", str(tmp_path))
    assert code == 1 and "SSL" in out


@pytest.mark.keyring
def test_rotate_key_through_the_os_keyring(tmp_path: Path) -> None:
    from oneclick_tui.services.wallet.keystore import select_backend
    from oneclick_tui.stores.security import fieldcrypt as fc
    from tests.wallet.conftest import unlock_default_collection

    unlock_default_collection()
    url = f"sqlite+aiosqlite:///{tmp_path / 'oneclick.db'}"
    asyncio.run(migrate.upgrade(url))
    asyncio.run(seed(url))
    env = {"ONECLICK_DATABASE_URL": url, "ONECLICK_KEYRING_BACKEND": "secretservice"}
    store = fc.KeyringKeyStore(select_backend("secretservice"), f"local/{tmp_path}/oneclick.db")
    try:
        first = CliRunner().invoke(_cli(), ["db", "rotate-key", "--batch", "1"], env=env)
        assert first.exit_code == 0 and "re-encrypted 2 sessions" in first.output, first.output
        second = CliRunner().invoke(_cli(), ["db", "rotate-key"], env=env)
        assert second.exit_code == 0 and "re-encrypted 2 sessions" in second.output
        keys = store.load()
        assert keys is not None and len(keys.keys) == 1  # the first key was retired
        assert f"active data key {keys.active}" in second.output
    finally:
        select_backend("secretservice").delete_password(
            fc.KEYRING_SERVICE, f"data-keys:local/{tmp_path}/oneclick.db"
        )
