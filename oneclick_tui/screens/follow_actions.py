"""The follow flows (follow, edit, pause/resume, unfollow), shared by screens and the palette.

Each flow is a coroutine run inside a worker: it awaits the modal answers, calls the service,
and turns a `StoreError` into a notification instead of a crash. After a change it asks the
visible console screen to reload, which updates its rows by key.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App

from oneclick_tui.messages import Booted, CopyActivity
from oneclick_tui.screens.base import ConsoleScreen
from oneclick_tui.services.follows import FollowRow
from oneclick_tui.services.trader_view import TraderViewService
from oneclick_tui.stores.errors import StoreError
from oneclick_tui.widgets.modals import ConfirmModal, FollowModal, FollowTerms, check_copy_pct

if TYPE_CHECKING:
    from oneclick_tui.app import ConsoleContext

DEFAULT_COPY_PCT = Decimal(25)


def console_ctx(app: App[Any]) -> ConsoleContext | None:
    """The app's opened services; a notification says so while the console is starting."""
    ctx: ConsoleContext | None = getattr(app, "ctx", None)
    if ctx is None:
        app.notify("the console is still starting; try again in a moment", severity="warning")
    return ctx


def _reload_visible(app: App[Any]) -> None:
    """Ask the visible console screen to reload (its rows update by key)."""
    if isinstance(app.screen, ConsoleScreen):
        app.screen.refresh_data()


async def _attempt(app: App[Any], done: str, change: Any) -> bool:
    """Await the service call; a refusal is a notification, success a confirmation."""
    try:
        await change
    except StoreError as exc:
        app.notify(str(exc), title="Refused", severity="error", timeout=8)
        return False
    app.notify(done, title="Done")
    _reload_visible(app)
    return True


async def follow_flow(
    app: App[Any], trader: str, *, copy_pct_text: str | None = None, ask_terms: bool = True
) -> bool:
    """Follow a trader: the form (unless terms came from the palette), then a confirmation."""
    ctx = console_ctx(app)
    if ctx is None:
        return False
    text = copy_pct_text or f"{DEFAULT_COPY_PCT}"
    terms: FollowTerms | None
    if ask_terms or check_copy_pct(text) is not None:
        terms = await app.push_screen_wait(FollowModal(trader, copy_pct_text=text))
    else:
        terms = FollowTerms(Decimal(text.strip()))
    if terms is None or not await _confirm_follow(app, trader, terms):
        return False
    change = ctx.follows.follow(trader, terms.copy_pct, **terms.service_kwargs())
    return await _attempt(app, f"following {trader}: {terms.summary()}", change)


async def _confirm_follow(app: App[Any], trader: str, terms: FollowTerms) -> bool:
    """With auto-copy on, following moves money: ask. Without it, nothing is copied yet."""
    if not terms.auto_copy:
        return True
    body = (
        f"{terms.summary()}.\n\nEvery trade {trader} makes from now on will be copied "
        "into your wallet, within your risk limits."
    )
    answer: bool = await app.push_screen_wait(ConfirmModal(f"Follow {trader}?", body, "Follow"))
    return answer


async def edit_flow(app: App[Any], row: FollowRow) -> bool:
    """Change a follow's terms: the form prefilled with the current terms, then confirm."""
    ctx = console_ctx(app)
    if ctx is None:
        return False
    current = FollowTerms(
        row.copy_pct, row.sizing_mode, row.fixed_quote_amount, row.copy_side, row.auto_copy
    )
    terms = await app.push_screen_wait(FollowModal(row.trader, current, editing=True))
    if terms is None or terms == current or not await _confirm_follow(app, row.trader, terms):
        return False
    change = TraderViewService(ctx.services).change_terms(
        row.trader, terms.copy_pct, **terms.service_kwargs()
    )
    return await _attempt(app, f"{row.trader}: {terms.summary()}", change)


async def unfollow_flow(app: App[Any], trader: str) -> bool:
    """Stop following after a confirmation; the ended follow stays in history."""
    ctx = console_ctx(app)
    if ctx is None:
        return False
    body = f"No more trades of {trader} will be copied. Positions you hold stay as they are."
    if not await app.push_screen_wait(ConfirmModal(f"Unfollow {trader}?", body, "Unfollow")):
        return False
    return await _attempt(app, f"unfollowed {trader}", ctx.follows.unfollow(trader))


async def pause_flow(app: App[Any], trader: str, status: str | None) -> bool:
    """Pause an active follow or resume a paused one; nothing to confirm, no money moves."""
    ctx = console_ctx(app)
    if ctx is None:
        return False
    if status is None:
        app.notify(f"you do not follow {trader}; press f to follow", severity="warning")
        return False
    if status == "paused":
        return await _attempt(app, f"resumed copying {trader}", ctx.follows.resume(trader))
    return await _attempt(app, f"paused copying {trader}", ctx.follows.pause(trader))


class LiveThrottle:
    """Coalesces bursts of live events into at most one reload per interval.

    An event only marks the view dirty; a timer reloads when it is dirty and no reload is
    running, so reloads never pile up behind a fast simulator (memray/Dolphie style).
    """

    def __init__(self, reload: Callable[[], None]) -> None:
        self.reload = reload
        self.dirty = False
        self.loading = False

    def mark(self) -> None:
        self.dirty = True

    def tick(self) -> None:
        if self.dirty and not self.loading:
            self.dirty = False
            self.reload()


class FlowScreen(ConsoleScreen):
    """A console screen that runs follow flows and reloads on copy activity, throttled."""

    RELOAD_EVERY = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.acting = False
        self.live = LiveThrottle(self.refresh_data)

    def on_mount(self) -> None:
        self.set_interval(self.RELOAD_EVERY, self.live.tick)

    def on_booted(self, message: Booted) -> None:
        message.stop()  # handed to us by the app; never let it bubble back up to it
        self.refresh_data()

    def on_copy_activity(self, _: CopyActivity) -> None:
        self.live.mark()

    def run_flow(self, flow: Coroutine[Any, Any, bool]) -> None:
        """One follow flow at a time: a key pressed while one runs is refused, not queued."""
        if self.acting:
            flow.close()
            self.notify("still working on the last change", severity="warning")
            return
        self.acting = True
        self._act(flow)

    @work(exclusive=True, group="flow", exit_on_error=False)
    async def _act(self, flow: Coroutine[Any, Any, bool]) -> None:
        """The flow reloads the screen itself when it changed something."""
        try:
            await flow
        finally:
            self.acting = False
