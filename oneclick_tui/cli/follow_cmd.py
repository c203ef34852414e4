"""Follow management and views as commands: the console's twins for scripts (`--json`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import typer

from oneclick_tui.cli.common import fail, print_json, run, settings_of
from oneclick_tui.services.follows import FollowService, as_dict
from oneclick_tui.services.runtime import SetupError, open_services
from oneclick_tui.stores.errors import StoreError

T = TypeVar("T")
JSON = typer.Option(False, "--json", help="Machine-readable output.")


def _with_service(ctx: typer.Context, use: Callable[[FollowService], Awaitable[T]]) -> T:
    async def go() -> T:
        services = await open_services(settings_of(ctx))
        try:
            return await use(FollowService(services))
        finally:
            await services.close()

    try:
        return run(go())
    except (StoreError, SetupError) as exc:
        fail(str(exc))


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        typer.echo("(none)")
        return
    cells = [[_cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _pct(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        fail(f"copy percentage must be a number between 0 and 100, got {value!r}")


def register(app: typer.Typer) -> None:
    """Add the follow commands at the top level of `oneclick`."""

    @app.command("traders")
    def traders(ctx: typer.Context, as_json: bool = JSON) -> None:
        """List lead traders with their key figures and whether you follow them."""
        rows = [as_dict(r) for r in _with_service(ctx, lambda s: s.traders())]
        if as_json:
            print_json(rows)
        else:
            _table(
                rows,
                ["name", "risk_category", "style", "trades", "followers", "following", "address"],
            )

    @app.command("follow")
    def follow(
        ctx: typer.Context,
        trader: str = typer.Argument(..., help="Address (0x...) or display name."),
        copy_pct: str = typer.Option("100", "--copy-pct", help="Percent of the lead's size."),
        sizing: str = typer.Option("copy_pct", help="copy_pct | fixed_quote | equity_ratio"),
        fixed_quote: str | None = typer.Option(None, help="Quote amount per trade (fixed_quote)."),
        side: str = typer.Option("all", help="all | entries_only | exits_only"),
        auto_copy: bool = typer.Option(True, "--auto-copy/--no-auto-copy"),
        as_json: bool = JSON,
    ) -> None:
        """Follow a trader: his trades are copied into your account within your limits."""
        terms: dict[str, Any] = {
            "sizing_mode": sizing,
            "copy_side": side,
            "auto_copy_enabled": auto_copy,
        }
        if fixed_quote is not None:
            terms["fixed_quote_amount"] = fixed_quote
        result = _with_service(ctx, lambda s: s.follow(trader, _pct(copy_pct), **terms))
        _say(
            as_json,
            as_dict(result),
            f"following {trader} at {result.copy_percentage.normalize():f}%",
        )

    for name, verb, doc in (
        ("unfollow", "unfollowed", "Stop following a trader (the follow is kept as history)."),
        ("pause", "paused", "Pause copying a trader; his trades are recorded as skipped."),
        ("resume", "resumed", "Resume copying a paused trader."),
    ):
        _state_command(app, name, verb, doc)

    @app.command("follows")
    def follows(
        ctx: typer.Context,
        all_: bool = typer.Option(False, "--all", help="Include ended follows."),
        as_json: bool = JSON,
    ) -> None:
        """Your follows with copy terms, copies, skips and the PnL each trader made you."""
        rows = [as_dict(r) for r in _with_service(ctx, lambda s: s.follows(all_))]
        if as_json:
            print_json(rows)
        else:
            _table(
                rows,
                [
                    "trader",
                    "status",
                    "copy_pct",
                    "sizing_mode",
                    "copy_side",
                    "copies",
                    "skips",
                    "realized_pnl",
                ],
            )

    @app.command("trades")
    def trades(
        ctx: typer.Context,
        limit: int = typer.Option(50, min=1, max=100_000),
        status: str | None = typer.Option(None, help="Only this status (e.g. skipped)."),
        as_json: bool = JSON,
    ) -> None:
        """Your trades, newest first: copies, skips with their reasons, stop-losses."""
        rows = [as_dict(r) for r in _with_service(ctx, lambda s: s.trades(limit, status))]
        if as_json:
            print_json(rows)
        else:
            _table(
                rows,
                [
                    "created_at",
                    "kind",
                    "pair",
                    "side",
                    "amount",
                    "price",
                    "status",
                    "reason",
                    "trader",
                ],
            )

    @app.command("positions")
    def positions(ctx: typer.Context, as_json: bool = JSON) -> None:
        """Your holdings with average cost, value and PnL."""
        rows = [as_dict(r) for r in _with_service(ctx, lambda s: s.positions())]
        if as_json:
            print_json(rows)
        else:
            _table(
                rows,
                [
                    "asset",
                    "quantity",
                    "average_cost",
                    "current_value",
                    "unrealized_pnl",
                    "realized_pnl",
                ],
            )


def _state_command(app: typer.Typer, name: str, verb: str, doc: str) -> None:
    def command(
        ctx: typer.Context,
        trader: str = typer.Argument(..., help="Address (0x...) or display name."),
        as_json: bool = JSON,
    ) -> None:
        result = _with_service(ctx, lambda s: getattr(s, name)(trader))
        _say(as_json, as_dict(result), f"{verb} {trader}")

    command.__doc__ = doc
    app.command(name)(command)


def _say(as_json: bool, data: dict[str, Any], text: str) -> None:
    if as_json:
        print_json(data)
    else:
        typer.echo(text)
