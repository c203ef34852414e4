"""The `oneclick` command: the console by default, and its twins for scripts and servers."""

from __future__ import annotations

from pathlib import Path

import typer

from oneclick_tui.cli import (
    admin_cmd,
    analytics_cmd,
    config_cmd,
    db_cmd,
    doctor_cmd,
    engine_cmd,
    follow_cmd,
    tx_cmd,
    wallet_cmd,
)
from oneclick_tui.cli.common import fail
from oneclick_tui.config import ConfigError, load_settings

app = typer.Typer(
    name="oneclick",
    help="OneClick: copy trading on Aptos from the terminal.",
    pretty_exceptions_enable=False,
    add_completion=False,
    invoke_without_command=True,
)

# --- sub-commands: one registration line each -------------------------------------------
app.add_typer(config_cmd.app, name="config")
app.add_typer(wallet_cmd.app, name="wallet")
app.add_typer(tx_cmd.app, name="tx")
app.add_typer(db_cmd.app, name="db")
follow_cmd.register(app)
engine_cmd.register(app)
doctor_cmd.register(app)
admin_cmd.register(app, db_cmd.app)
analytics_cmd.register(app)
# --- end of sub-commands ---------------------------------------------------------------


@app.callback()
def root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", help="TOML config file (default: the user config dir)."
    ),
) -> None:
    """Start the console when no command is given; otherwise run the command."""
    try:
        ctx.obj = load_settings(config)
    except ConfigError as exc:
        fail(str(exc))
    if ctx.invoked_subcommand is None:
        from oneclick_tui.app import run_console
        from oneclick_tui.services.preflight import PreflightError
        from oneclick_tui.services.wallet.passphrase import PassphraseFileError

        try:
            run_console(ctx.obj)
        except (PreflightError, PassphraseFileError) as exc:
            fail(str(exc))


def main() -> None:
    """Console-script entry point."""
    app()
