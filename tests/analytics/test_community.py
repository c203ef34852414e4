"""Community: likes once, comments cleaned and never markup, counts with the trader; CLI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from oneclick_tui.services.community import CommunityService, clean_comment, display_text
from oneclick_tui.stores.db import ensure_schema, make_engine, session_factory
from oneclick_tui.stores.errors import DuplicateError, NotFoundError, ValidationError
from oneclick_tui.stores.models import FollowRelationship, User
from tests.analytics import data


@pytest.fixture
async def engine(fresh_db_url: str) -> AsyncIterator[AsyncEngine]:
    await ensure_schema(fresh_db_url)
    engine = make_engine(fresh_db_url)
    ds = data.Dataset()
    await data.insert_pairs(engine, ds)
    await data.insert_trader(engine, ds, 1, Decimal(1000))
    await data.insert_trader(engine, ds, 2, Decimal(1000))
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        for uid in (1, 2):
            await conn.execute(
                User.__table__.insert(),
                {"id": uid, "display_name": f"user{uid}", "created_at": now, "status": "active",
                 "verification_level": 0},
            )  # fmt: skip
        await conn.execute(
            FollowRelationship.__table__.insert(),
            [{"follower_id": u, "trader_id": 1, "started_at": now, "auto_copy_enabled": True,
              "copy_percentage": Decimal(50), "sizing_mode": "copy_pct", "copy_side": "all",
              "status": "active"} for u in (1, 2)],
        )  # fmt: skip
    yield engine
    await engine.dispose()


async def test_like_once_comment_share_and_counts(engine: AsyncEngine) -> None:
    svc = CommunityService(session_factory(engine))
    await svc.like(1, "trader", 1)
    with pytest.raises(DuplicateError, match="already like trader trader-001"):
        await svc.like(1, "trader", 1)
    await svc.like(2, "trader", 1)
    cid = await svc.comment(1, "trader", 1, "  great\x00 call\x1b[31m \u202eevil  ")
    await svc.comment(2, "trader", 1, "[bold red]not markup[/]")
    await svc.like(2, "comment", cid)
    with pytest.raises(DuplicateError):
        await svc.like(2, "comment", cid)
    await svc.share(1, "trader", 1)
    await svc.share(1, "trader", 1)
    counts = await svc.counts()
    assert counts[1].likes == 2 and counts[1].comments == 2 and counts[1].shares == 2
    assert counts[1].followers == 2 and counts[2].likes == 0 and counts[2].followers == 0
    comments = await svc.comments("trader", 1)
    assert [c.content for c in comments] == ["[bold red]not markup[/]", "great call[31m evil"]
    assert comments[1].likes == 1 and comments[1].author == "user1"
    assert await svc.unlike(1, "trader", 1) and not await svc.unlike(1, "trader", 1)
    await svc.like(1, "trader", 1)  # allowed again after unlike


async def test_missing_targets_and_bad_comments(engine: AsyncEngine) -> None:
    svc = CommunityService(session_factory(engine))
    with pytest.raises(NotFoundError):
        await svc.like(1, "trader", 42)
    with pytest.raises(NotFoundError):
        await svc.like(1, "comment", 42)
    with pytest.raises(ValidationError):
        await svc.comment(1, "trader", 1, " \x00\u200b\t ")
    with pytest.raises(ValidationError, match="at most 1000"):
        await svc.comment(1, "trader", 1, "x" * 1001)
    assert len(clean_comment("y" * 1000)) == 1000


def test_display_text_is_never_markup() -> None:
    raw = "[bold]hi[/bold] [link=http://x]click[/link]"
    console = Console(record=True, width=200)
    console.print(display_text(raw))
    assert console.export_text().strip() == raw
    assert Text.from_markup(display_text(raw)).plain == raw


def test_cli_like_comment_comments_leaderboard_recompute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    from oneclick_tui.cli import analytics_cmd, root

    # The lead adds `analytics_cmd.register(app)` to the real app; test the same commands here.
    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(root)
    analytics_cmd.register(app)
    monkeypatch.setenv("ONECLICK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'o.db'}")
    runner = CliRunner()
    result = runner.invoke(app, ["like", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["like", "1"])
    assert result.exit_code == 2 and "already like" in result.output
    result = runner.invoke(app, ["comment", "1", "[red]hello[/red]\x07"])
    assert result.exit_code == 0 and "posted" in result.output
    result = runner.invoke(app, ["comments", "1"])
    assert "[red]hello[/red]" in result.output and "1 likes" in result.output
    result = runner.invoke(app, ["comments", "1", "--json"])
    assert json.loads(result.output)["items"][0]["content"] == "[red]hello[/red]"
    result = runner.invoke(app, ["analytics", "recompute", "--since", "2026-11-01"])
    assert result.exit_code == 0 and "rebuilt" in result.output, result.output
    result = runner.invoke(app, ["leaderboard", "--period", "all_time", "--metric", "sharpe",
                                 "--json"])  # fmt: skip
    assert result.exit_code == 0 and json.loads(result.output) == []
    result = runner.invoke(app, ["analytics", "recompute", "--since", "yesterday"])
    assert result.exit_code == 2 and "--since" in result.output
