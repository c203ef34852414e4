"""`oneclick config ...`: inspect the effective configuration."""

from __future__ import annotations

import typer

from oneclick_tui.cli.common import print_json, settings_of
from oneclick_tui.config import default_config_path, public_view

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of TOML-like lines."),
) -> None:
    """Print the effective settings (defaults < TOML file < environment), secrets masked."""
    data = public_view(settings_of(ctx))
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                typer.echo(f"{key}.{sub} = {_fmt(subvalue)}")
        else:
            typer.echo(f"{key} = {_fmt(value)}")


@app.command("path")
def path() -> None:
    """Print where the default config file is looked for."""
    typer.echo(str(default_config_path()))


def _fmt(value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value).lower() if isinstance(value, bool) else str(value)
