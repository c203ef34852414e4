"""`oneclick db ...`: move the relational schema up or down, or show where it is."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

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
