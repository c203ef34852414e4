"""`oneclick doctor`: check every configured store and say how to fix what is not ready."""

from __future__ import annotations

from dataclasses import asdict

import typer

from oneclick_tui.cli.common import print_json, run, settings_of
from oneclick_tui.services.doctor import failed, run_checks, summary


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor(
        ctx: typer.Context,
        wait: float = typer.Option(5.0, "--timeout", help="Seconds each check may take."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """One line per check, with the fix where one fails; exit 1 when any fails."""
        checks = run(run_checks(settings_of(ctx), wait))
        if as_json:
            print_json([asdict(c) for c in checks])
        else:
            for check in checks:
                typer.echo(check.line())
            typer.echo(summary(checks))
        raise typer.Exit(1 if failed(checks) else 0)
