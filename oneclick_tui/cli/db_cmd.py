"""`oneclick db ...`: move the relational schema up or down, or show where it is."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import typer
from alembic.util.exc import CommandError
from sqlalchemy.exc import DBAPIError

from oneclick_tui.cli.common import fail, run, settings_of
from oneclick_tui.config import mask_url
from oneclick_tui.stores import migrate
from oneclick_tui.stores.db import sqlite_path

app = typer.Typer(help="Migrate the relational database.", no_args_is_help=True)

T = TypeVar("T")


def _against_database(
    ctx: typer.Context, action: Callable[[str], Coroutine[Any, Any, T]]
) -> tuple[str, T]:
    """Run `action(url)`; an unreachable database or a bad revision is a one-line failure."""
    url = settings_of(ctx).database_url
    shown = mask_url(url)
    path = sqlite_path(url)
    try:
        if path is not None:
            path.expanduser().parent.mkdir(parents=True, exist_ok=True)
        return url, run(action(url))
    except CommandError as exc:
        fail(f"database at {shown}: {exc}")
    except (OSError, DBAPIError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        fail(f"cannot reach the database at {shown}: {reason}")


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: str = typer.Argument("head", help="Target revision (default: head)."),
) -> None:
    """Apply migrations up to REVISION."""
    url, _ = _against_database(ctx, lambda u: migrate.upgrade(u, revision))
    now = run(migrate.current(url))
    typer.echo(f"database at {mask_url(url)} is at revision {now}")


@app.command("downgrade")
def downgrade(
    ctx: typer.Context,
    revision: str = typer.Argument("-1", help="Target revision, 'base', or -N steps (default -1)."),
) -> None:
    """Revert migrations down to REVISION (one step by default)."""
    url, _ = _against_database(ctx, lambda u: migrate.downgrade(u, revision))
    now = run(migrate.current(url))
    typer.echo(f"database at {mask_url(url)} is at revision {now or 'base (empty)'}")


@app.command("current")
def current(ctx: typer.Context) -> None:
    """Print the database's revision and whether it is the newest."""
    url, revision = _against_database(ctx, migrate.current)
    head = migrate.head()
    if revision is None:
        state = f"base (empty); run `oneclick db upgrade` to reach {head}"
    elif revision == head:
        state = f"{revision} (head)"
    else:
        state = f"{revision} (head is {head})"
    typer.echo(f"database at {mask_url(url)}: {state}")


partitions_app = typer.Typer(
    help="Monthly partitions of trades and market_data (PostgreSQL).", no_args_is_help=True
)
app.add_typer(partitions_app, name="partitions")


def _partitions_guard(coro: Coroutine[Any, Any, T], url: str) -> T:
    """Run a partition command; a refusal or database error is one line, never a traceback."""
    from oneclick_tui.stores.partitions import PartitionError

    try:
        return run(coro)
    except PartitionError as exc:
        fail(str(exc))
    except (OSError, asyncpg.PostgresError) as exc:
        fail(f"database at {mask_url(url)}: {' '.join(str(exc).split())[:300]}")


@partitions_app.command("ensure")
def partitions_ensure(
    ctx: typer.Context,
    months_ahead: int = typer.Option(3, "--months-ahead", min=0, max=36),
) -> None:
    """Create this month's and the coming months' partitions (rows in DEFAULT move in)."""
    from oneclick_tui.stores import partitions

    url = settings_of(ctx).database_url
    made = _partitions_guard(partitions.ensure(url, months_ahead), url)
    typer.echo(f"created {', '.join(made)}" if made else "all partitions already exist")


@partitions_app.command("list")
def partitions_list(ctx: typer.Context) -> None:
    """Every partition with its row count."""
    from oneclick_tui.stores import partitions

    url = settings_of(ctx).database_url
    for p in _partitions_guard(partitions.partitions(url), url):
        month = p.month.isoformat()[:7] if p.month else "default"
        typer.echo(f"{p.table:<12} {month:<8} {p.rows:>10} rows  {p.name}")


@partitions_app.command("detach")
def partitions_detach(
    ctx: typer.Context,
    before: str = typer.Option(..., "--before", help="Detach months ending by YYYY-MM-01."),
    archive_dir: Path = typer.Option(
        None, "--archive-dir", help="Archive each month to verified CSV.gz, then drop it."
    ),
) -> None:
    """Detach (and optionally archive and drop) every month before YYYY-MM, as owner."""
    from oneclick_tui.stores import partitions

    url = settings_of(ctx).database_url
    month = _partitions_guard(_month(before), url)
    done = _partitions_guard(partitions.detach(url, month, archive_dir), url)
    if not done:
        typer.echo(f"no partition ends before {before}")
    for d in done:
        where = (
            f"archived to {len(d.archives)} file(s) in {archive_dir}, dropped"
            if d.dropped
            else f"kept as table {partitions.SCHEMA}.{d.name}"
        )
        typer.echo(f"{d.name}: {d.rows} rows detached, {where}")


async def _month(value: str) -> Any:
    from oneclick_tui.stores.partitions import parse_month

    return parse_month(value)
