"""Operator commands: `oneclick db roles|backup|restore|retention|rotate-key`, `oneclick audit`.

Why separate from db_cmd: these need elevated roles (owner or an administrator), never the app
role the console runs as. Registration (in oneclick_tui/cli/__init__.py):

    from oneclick_tui.cli import admin_cmd
    admin_cmd.register(app, db_cmd.app)
"""

from __future__ import annotations

from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import typer

from oneclick_tui.cli.common import fail, print_json, run, settings_of
from oneclick_tui.config import Settings, mask_url, user_data_dir

T = TypeVar("T")
EXIT_FAILED = 1

audit_app = typer.Typer(help="Check the tamper-evident audit log.", no_args_is_help=True)


def register(root: typer.Typer, db: typer.Typer) -> None:
    """Add the operator commands to `oneclick db` and `oneclick audit`."""
    db.command("roles")(roles)
    db.command("backup")(backup)
    db.command("restore")(restore)
    db.command("retention")(retention)
    db.command("rotate-key")(rotate_key)
    root.add_typer(audit_app, name="audit")


def _guard(coro: Coroutine[Any, Any, T], url: str) -> T:
    """Run `coro`; a failure is one line naming the database, never a traceback."""
    from oneclick_tui.stores.backup import BackupError
    from oneclick_tui.stores.retention import ArchiveError
    from oneclick_tui.stores.security.fieldcrypt import FieldCryptoError

    try:
        return run(coro)
    except (BackupError, ArchiveError, FieldCryptoError, ValueError) as exc:
        fail(str(exc), EXIT_FAILED)
    except Exception as exc:  # asyncpg / OS errors: show one line
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        fail(f"database at {mask_url(url)}: {type(exc).__name__}: {reason}", EXIT_FAILED)


def _postgres_only(url: str, what: str) -> None:
    if not url.startswith("postgresql"):
        fail(f"{what} needs PostgreSQL (the embedded SQLite store has no roles or audit chain)")


def roles(
    ctx: typer.Context,
    admin_url: str = typer.Option(
        None, "--admin-url", help="Superuser/CREATEROLE URL of the app database (default: config)."
    ),
    prefix: str = typer.Option(None, "--prefix", help="Role name prefix (default: database)."),
    reset_passwords: bool = typer.Option(False, "--reset-passwords"),
) -> None:
    """Create the owner/app/engine/analytics/auditor roles and print their URLs."""
    from oneclick_tui.stores.security.roles import ensure_login_roles, role_url

    url = admin_url or settings_of(ctx).database_url
    _postgres_only(url, "db roles")
    setup = _guard(ensure_login_roles(url, prefix, reset_passwords), url)
    typer.echo(f"roles for prefix {setup.prefix} (passwords are shown once; store them now):")
    for name, password in setup.passwords.items():
        shown = role_url(url, name, password) if password else f"{name} (password unchanged)"
        typer.echo(f"  {name}: {shown}")


def backup(
    ctx: typer.Context,
    directory: Path = typer.Option(None, "--dir", help="Backup directory (default: data dir)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Dump the database and write a manifest of checksums and row counts."""
    from oneclick_tui.stores.backup import backup as do_backup

    url = settings_of(ctx).database_url
    target = directory or user_data_dir() / "backups"
    result = _guard(do_backup(url, target), url)
    if json_out:
        print_json({"dump": str(result.dump), "manifest": str(result.manifest)})
        return
    rows = sum(t["rows"] for t in result.tables.values())
    typer.echo(f"backup {result.dump} ({len(result.tables)} tables, {rows} rows)")
    typer.echo(f"manifest {result.manifest}")


def restore(
    ctx: typer.Context,
    manifest: Path = typer.Argument(..., help="The backup's .manifest.json."),
    yes: bool = typer.Option(False, "--yes", help="Replace the current data without asking."),
    no_owner: bool = typer.Option(False, "--no-owner", help="pg_restore --no-owner."),
) -> None:
    """Restore a backup over the configured database and verify every table against it."""
    from oneclick_tui.stores.backup import restore as do_restore

    url = settings_of(ctx).database_url
    if not manifest.is_file():
        fail(f"no manifest at {manifest}")
    if not yes:
        typer.confirm(f"replace all data in {mask_url(url)} with {manifest.name}?", abort=True)
    stats = _guard(do_restore(url, manifest, no_owner), url)
    typer.echo(f"restored {len(stats)} tables; row counts and checksums match the manifest")


def _retention_settings(settings: Settings) -> Any:
    from oneclick_tui.stores.retention import RetentionSettings

    configured = getattr(settings, "retention", None)
    return configured if isinstance(configured, RetentionSettings) else RetentionSettings()


def retention(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be removed."),
) -> None:
    """Archive (CSV.gz + manifest, verified) and delete data past its retention period."""
    from oneclick_tui.stores import retention as ret
    from oneclick_tui.stores.db import make_engine

    settings = settings_of(ctx)
    policy = _retention_settings(settings)
    archive_dir = policy.archive_dir or user_data_dir() / "archive"

    async def go() -> list[ret.RuleOutcome]:
        engine = make_engine(settings.database_url)
        try:
            return await ret.run(engine, policy, archive_dir, dry_run=dry_run)
        finally:
            await engine.dispose()

    verb = "would remove" if dry_run else "archived and removed"
    for outcome in _guard(go(), settings.database_url):
        where = (
            f" -> {outcome.archives[0].parent} ({len(outcome.archives)} files)"
            if outcome.archives
            else ""
        )
        typer.echo(
            f"{outcome.rule}: {verb} {outcome.rows} rows of {outcome.table} "
            f"older than {outcome.cutoff:%Y-%m-%d}{where}"
        )
    typer.echo("audit_log: kept forever")


def rotate_key(
    ctx: typer.Context,
    batch: int = typer.Option(500, "--batch", min=1),
) -> None:
    """New data key for session fields; re-encrypt in batches; retire unused old keys."""
    from oneclick_tui.services.wallet import passphrase
    from oneclick_tui.services.wallet.keystore import KeystoreError, select_backend
    from oneclick_tui.stores.db import make_engine
    from oneclick_tui.stores.security import fieldcrypt as fc

    settings = settings_of(ctx)
    try:
        passphrase.unlock(settings, interactive=True)
        store = fc.KeyringKeyStore(select_backend(settings.keyring_backend), _scope(settings))
    except (KeystoreError, passphrase.PassphraseFileError) as exc:
        fail(str(exc))

    async def go() -> tuple[str, int, list[str]]:
        keys = fc.rotate(store)
        engine = make_engine(settings.database_url)
        try:
            done = await fc.reencrypt(engine, fc.FieldCipher(keys), batch)
            return keys.active, done, await fc.retire(engine, store)
        finally:
            await engine.dispose()

    active, done, retired = _guard(go(), settings.database_url)
    typer.echo(f"active data key {active}; re-encrypted {done} sessions")
    typer.echo(f"retired keys: {', '.join(retired) or 'none (some rows still use them)'}")


def _scope(settings: Settings) -> str:
    """One keyring entry per database (host/name), so two databases never share keys."""
    from sqlalchemy.engine import make_url

    parsed = make_url(settings.database_url)
    return f"{parsed.host or 'local'}/{parsed.database}"


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    expect_head: str = typer.Option(
        None, "--expect-head", help="ID:HASH printed by an earlier run (detects a cut tail)."
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Recompute the audit hash chain; exit 1 if any row was changed or removed."""
    from oneclick_tui.stores.security.audit_chain import verify as do_verify

    url = settings_of(ctx).database_url
    _postgres_only(url, "audit verify")
    report = _guard(do_verify(url, expect_head=expect_head), url)
    head = f"{report.head_id}:{report.head_hash}" if report.head_id else "empty"
    if json_out:
        print_json(
            {"ok": report.ok, "rows": report.rows, "head": head, "problems": report.problems}
        )
    else:
        for problem in report.problems:
            typer.echo(f"TAMPERED {problem}")
        state = "intact" if report.ok else f"BROKEN ({len(report.problems)} problems)"
        typer.echo(f"audit chain {state}: {report.rows} rows, head {head}")
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)
