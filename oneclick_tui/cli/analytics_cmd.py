"""Leaderboards, the analytics rebuild and the community commands, for scripts and servers.

`oneclick leaderboard`, `oneclick analytics recompute [--since DATE]`, `oneclick like`,
`oneclick comment`, `oneclick comments`. Comments print as plain text (never markup).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import date
from typing import TypeVar

import typer

from oneclick_tui.cli.common import fail, print_json, run, settings_of
from oneclick_tui.services.analytics import AnalyticsService, Period, RankMetric
from oneclick_tui.services.community import CommunityService
from oneclick_tui.services.runtime import Services, SetupError, open_services
from oneclick_tui.stores.cache.base import Cache
from oneclick_tui.stores.errors import StoreError
from oneclick_tui.stores.live import RedisUnavailableError, open_cache
from oneclick_tui.stores.timeseries.base import TimeSeriesError, TimeSeriesStore
from oneclick_tui.stores.timeseries_factory import open_timeseries

T = TypeVar("T")
JSON = typer.Option(False, "--json", help="Machine-readable output.")


@dataclass
class Opened:
    services: Services
    cache: Cache
    timeseries: TimeSeriesStore

    @property
    def analytics(self) -> AnalyticsService:
        return AnalyticsService(self.services.engine, self.timeseries, self.cache)

    @property
    def community(self) -> CommunityService:
        return CommunityService(self.services.sessions)


def _with(ctx: typer.Context, use: Callable[[Opened], Awaitable[T]]) -> T:
    async def go() -> T:
        settings = settings_of(ctx)
        services = await open_services(settings)
        try:
            cache = await open_cache(settings)
            try:
                timeseries = await open_timeseries(settings, services.engine)
                try:
                    return await use(Opened(services, cache, timeseries))
                finally:
                    await timeseries.close()
            finally:
                await cache.close()
        finally:
            await services.close()

    try:
        return run(go())
    except (StoreError, SetupError, RedisUnavailableError, TimeSeriesError, ValueError) as exc:
        fail(str(exc))


def _progress(stage: str, done: int, total: int) -> None:
    """One line per stage on a pipe; an updating line on a terminal."""
    tty = sys.stderr.isatty()
    if not tty and done not in (0, total):
        return
    end = "\n" if done == total else ""
    prefix = "\r" if tty else ""
    width = 30
    filled = width * done // total if total else width
    bar = "#" * filled + "." * (width - filled)
    sys.stderr.write(f"{prefix}{stage:<24} [{bar}] {done}/{total}{end}")
    sys.stderr.flush()


def register(app: typer.Typer) -> None:
    """Add `leaderboard`, `like`, `comment`, `comments` and the `analytics` group."""

    @app.command("leaderboard")
    def leaderboard(
        ctx: typer.Context,
        period: Period = typer.Option(
            Period.WEEKLY, "--period", help="daily|weekly|monthly|all_time"
        ),
        metric: RankMetric = typer.Option(RankMetric.RETURN_PCT, "--metric"),
        limit: int = typer.Option(100, "--limit", min=1, max=1000),
        as_json: bool = JSON,
    ) -> None:
        """Lead traders ranked for the current period (ties share a rank)."""
        rows = _with(ctx, lambda o: o.analytics.leaderboard(period, metric, limit))
        data = [asdict(r) for r in rows]
        if as_json:
            print_json(data)
            return
        if not rows:
            typer.echo("(no ranked traders yet; run: oneclick analytics recompute)")
            return
        typer.echo(f"{'RANK':>4}  {'MOVE':>5}  {'TRADER':<24} {metric.value.upper():>16}  TRADES")
        for r in rows:
            move = {"new": "new", "same": "="}.get(r.movement, f"{r.places:+d}")
            typer.echo(
                f"{r.rank:>4}  {move:>5}  {r.trader:<24} {r.score.normalize():>16f}  {r.trades}"
            )

    analytics = typer.Typer(help="Trader performance, portfolio analytics and leaderboards.")
    app.add_typer(analytics, name="analytics")

    @analytics.command("recompute")
    def recompute(
        ctx: typer.Context,
        since: str | None = typer.Option(
            None, "--since", help="YYYY-MM-DD; default: the start of this week or month."
        ),
        as_json: bool = JSON,
    ) -> None:
        """Rebuild performance, portfolio snapshots and leaderboards from trades and candles."""
        start: date | None = None
        if since is not None:
            try:
                start = date.fromisoformat(since)
            except ValueError:
                fail(f"--since must be a date like 2026-11-01, got {since!r}")
        counts = _with(ctx, lambda o: o.analytics.recompute(start, _progress))
        if as_json:
            print_json(counts)
        else:
            typer.echo(
                f"rebuilt {counts['performance_rows']} performance rows, "
                f"{counts['leaderboard_rows']} leaderboard rows, {counts['users']} portfolio(s)"
            )

    @app.command("like")
    def like(
        ctx: typer.Context,
        trader: str = typer.Argument(..., help="Address (0x...), display name or id."),
        comment_id: int | None = typer.Option(None, "--comment", help="Like this comment instead."),
    ) -> None:
        """Like a trader (or one of the comments on him) once."""

        async def go(o: Opened) -> str:
            tid, name = await o.community.find_trader(trader)
            if comment_id is not None:
                await o.community.like(o.services.user.id, "comment", comment_id)
                return f"liked comment {comment_id}"
            await o.community.like(o.services.user.id, "trader", tid)
            return f"liked {name}"

        typer.echo(_with(ctx, go))

    @app.command("comment")
    def comment(
        ctx: typer.Context,
        trader: str = typer.Argument(..., help="Address (0x...), display name or id."),
        text: str = typer.Argument(..., help="1 to 1000 characters."),
    ) -> None:
        """Comment on a trader."""

        async def go(o: Opened) -> int:
            tid, _ = await o.community.find_trader(trader)
            return await o.community.comment(o.services.user.id, "trader", tid, text)

        typer.echo(f"comment {_with(ctx, go)} posted")

    @app.command("comments")
    def comments(
        ctx: typer.Context,
        trader: str = typer.Argument(..., help="Address (0x...), display name or id."),
        limit: int = typer.Option(50, "--limit", min=1, max=1000),
        as_json: bool = JSON,
    ) -> None:
        """Comments on a trader, newest first, with likes, followers and comment counts."""

        async def go(o: Opened) -> tuple[dict[str, object], list[dict[str, object]]]:
            tid, name = await o.community.find_trader(trader)
            counts = (await o.community.counts([tid]))[tid]
            rows = await o.community.comments("trader", tid, limit)
            return {"trader": name, **asdict(counts)}, [asdict(c) for c in rows]

        head, rows = _with(ctx, go)
        if as_json:
            print_json({**head, "items": rows})
            return
        typer.echo(
            f"{head['trader']}: {head['likes']} likes, {head['comments']} comments, "
            f"{head['followers']} followers"
        )
        for c in rows:
            # Plain echo, never Rich: the text is shown exactly as stored.
            typer.echo(f"#{c['id']} {c['author']} ({c['likes']} likes): {c['content']}")
