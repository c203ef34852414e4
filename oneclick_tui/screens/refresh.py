"""Coalesced reloads: live events ask for a reload; reloads run one at a time, never piled up.

Why not `@work(exclusive=True)` per event: at simulator speed copy events arrive faster than
a query finishes, and cancelling the running query for each new event means no query ever
finishes (and aiosqlite connections are torn down mid-read). Here a request only sets an
event; one worker loop waits for it, reloads, and rests `min_gap` seconds, so any number of
requests during a reload fold into one more reload.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from textual.dom import DOMNode
from textual.worker import Worker


class Coalescer:
    """Runs `reload` whenever requested, at most once at a time and once per `min_gap`."""

    def __init__(
        self,
        owner: DOMNode,
        reload: Callable[[], Awaitable[None]],
        *,
        group: str,
        min_gap: float = 0.25,
    ) -> None:
        self.owner = owner
        self.reload = reload
        self.group = group
        self.min_gap = min_gap
        self._wanted = asyncio.Event()
        self._worker: Worker[Any] | None = None

    def request(self) -> None:
        """Ask for a reload soon; starts the loop if it is not running."""
        self._wanted.set()
        if self._worker is None or self._worker.is_finished:
            self._worker = self.owner.run_worker(
                self._loop(), group=self.group, exclusive=True, exit_on_error=False
            )

    async def _loop(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            await self.reload()
            await asyncio.sleep(self.min_gap)
