"""The command palette (ctrl+p): find traders and pairs, and act on follows by typing.

"follow BraveLynx at 25%" parses the trader and the percentage and still asks for
confirmation; "pause", "resume", "unfollow" and "edit" name a trader; a trader's or pair's
name alone jumps to it. The actions run the same flows as the screens' keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen
from textual.style import Style

from oneclick_tui.screens.follow_actions import (
    DEFAULT_COPY_PCT,
    edit_flow,
    follow_flow,
    pause_flow,
    unfollow_flow,
)
from oneclick_tui.services.follows import FollowRow, TraderRow
from oneclick_tui.stores.errors import StoreError

VERBS = ("follow", "unfollow", "pause", "resume", "edit")
_PCT = re.compile(r"(?:\s+at)?\s+(\S+?)\s*%?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Intent:
    """What the user typed: an optional verb, the rest, and a percentage if one was given."""

    verb: str | None
    target: str
    pct_text: str | None


def parse(query: str) -> Intent:
    """Split "follow brave at 25%" into verb, target and "25"; any of them may be missing."""
    words = query.strip().split(maxsplit=1)
    verb = words[0].lower() if words and words[0].lower() in VERBS else None
    rest = (words[1] if len(words) > 1 else "") if verb else query.strip()
    pct = None
    if (
        verb == "follow"
        and (match := _PCT.search(" " + rest))
        and ("%" in rest or " at " in f" {rest.lower()}" or match.group(1)[:1].isdigit())
    ):
        pct, rest = match.group(1), (" " + rest)[: match.start()].strip()
    return Intent(verb, rest, pct)


class OneClickCommands(Provider):
    """Traders, pairs and follow actions for Textual's command palette."""

    def __init__(self, screen: Screen[Any], match_style: Style | None = None) -> None:
        super().__init__(screen, match_style)
        self.traders: list[TraderRow] = []
        self.follows: dict[str, FollowRow] = {}
        self.pairs: list[str] = []

    async def startup(self) -> None:
        """Read traders, follows and pairs once per palette opening."""
        ctx = getattr(self.app, "ctx", None)
        if ctx is None:
            return
        try:
            self.traders = await ctx.follows.traders()
            self.follows = {f.trader.lower(): f for f in await ctx.follows.follows()}
        except StoreError as exc:
            self.app.notify(str(exc), title="Palette", severity="error")
        self.pairs = list(ctx.pairs)

    async def discover(self) -> Hits:
        yield DiscoveryHit(
            "Traders",
            partial(self.app.switch_mode, "traders"),
            help="All lead traders; f follows the highlighted one",
        )
        yield DiscoveryHit(
            "Following",
            partial(self.app.switch_mode, "following"),
            help="Your follows; e edits, p pauses, u unfollows",
        )
        yield DiscoveryHit(
            "Follow a trader…",
            partial(self.app.switch_mode, "traders"),
            help="Type: follow <trader> at 25%",
        )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._candidates(parse(query)):
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)

    def _candidates(self, intent: Intent) -> list[tuple[str, Callable[[], Any], str]]:
        """Every command the query could mean; the fuzzy matcher ranks them."""
        out: list[tuple[str, Callable[[], Any], str]] = []
        for trader in self.traders:
            out.extend(self._trader_commands(trader, intent))
        if intent.verb is None:
            for pair in self.pairs:
                out.append(
                    (
                        f"Market {pair}",
                        partial(self._show_pair, pair),
                        "Open the pair on the Markets screen",
                    )
                )
        return out

    def _trader_commands(
        self, trader: TraderRow, intent: Intent
    ) -> list[tuple[str, Callable[[], Any], str]]:
        name, follow = trader.name, self.follows.get(trader.name.lower())
        pct = intent.pct_text or f"{DEFAULT_COPY_PCT}"
        out: list[tuple[str, Callable[[], Any], str]] = []
        if follow is None:
            ask = intent.pct_text is None
            label = f"Follow {name}…" if ask else f"Follow {name} at {pct}%"
            out.append(
                (
                    label,
                    partial(self._flow, follow_flow, name, copy_pct_text=pct, ask_terms=ask),
                    "Asks for confirmation before copying",
                )
            )
        else:
            verb = "Resume" if follow.status == "paused" else "Pause"
            out += [
                (
                    f"{verb} {name}",
                    partial(self._flow, pause_flow, name, follow.status),
                    f"Following {name}: {follow.status}",
                ),
                (f"Edit {name}", partial(self._flow, edit_flow, follow), "Change the terms"),
                (f"Unfollow {name}", partial(self._flow, unfollow_flow, name), "Asks first"),
            ]
        if intent.verb is None:
            out.append(
                (
                    f"Trader {name}",
                    partial(self._show_trader, name),
                    f"{trader.risk_category} risk, {trader.style or 'no style'}",
                )
            )
        return [c for c in out if intent.verb is None or c[0].lower().startswith(intent.verb)]

    def _flow(self, flow: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run a follow flow in an app worker (modals need one to wait for their answer)."""
        app: App[Any] = self.app
        app.run_worker(flow(app, *args, **kwargs), group="palette-flow", exit_on_error=False)

    async def _show_trader(self, name: str) -> None:
        from oneclick_tui.screens.traders import TradersScreen

        await self.app.switch_mode("traders")
        if isinstance(self.app.screen, TradersScreen):
            self.app.screen.show_trader(name)

    async def _show_pair(self, pair: str) -> None:
        """Switch to Markets and select the pair if the screen offers `show_pair`."""
        await self.app.switch_mode("markets")
        show = getattr(self.app.screen, "show_pair", None)
        if callable(show):
            show(pair)
