"""What every CLI command shares: settings from the context, one-line failures, async runs."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import typer

from oneclick_tui.config import Settings

T = TypeVar("T")

EXIT_USAGE = 2


def settings_of(ctx: typer.Context) -> Settings:
    """The effective settings the root callback built for this invocation."""
    root = ctx.find_root()
    settings = root.obj
    assert isinstance(settings, Settings), "root callback stores Settings in ctx.obj"
    return settings


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one line to stderr and exit: no traceback ever reaches the user."""
    typer.echo(f"oneclick: {message}", err=True)
    raise typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one async use case to completion from a synchronous command."""
    return asyncio.run(coro)


def print_json(data: Any) -> None:
    """Machine-readable output for --json: Decimals and datetimes become strings."""
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
