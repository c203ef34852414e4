"""A bounded write buffer with retry and backoff, for backends behind a network.

Why: the copy engine must never block on a metrics server. Writes are accepted at once and
delivered by one background task. While the server is down they wait and are retried with
exponential backoff; the buffer is bounded so memory stays flat during a long outage.

Overflow policy: drop the OLDEST points. In a live console the newest data is the valuable
part (old candles are usually re-written by later candles anyway). Every drop is counted in
`dropped` and logged at WARNING with the running total; nothing is lost silently. A batch the
server rejects as malformed (HTTP 4xx other than 408/429) is never retried: it is counted in
`rejected` and logged at ERROR.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


class PermanentWriteError(Exception):
    """The server refused the batch for a reason a retry cannot fix."""


@dataclass(slots=True)
class BufferStats:
    pending: int
    delivered: int
    dropped: int
    rejected: int
    consecutive_failures: int
    last_error: str | None


class WriteBuffer:
    """Holds line-protocol lines until `send` accepts them."""

    def __init__(
        self,
        send: Callable[[list[str]], Awaitable[None]],
        *,
        max_points: int = 100_000,
        batch_size: int = 5_000,
        flush_interval: float = 0.1,
        backoff_initial: float = 0.2,
        backoff_max: float = 30.0,
        name: str = "timeseries",
    ) -> None:
        if batch_size > max_points:
            raise ValueError("batch_size must not exceed max_points")
        self._send = send
        self.max_points = max_points
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.name = name
        self._queue: deque[str] = deque()
        self._inflight = 0
        self.delivered = 0
        self.dropped = 0
        self.rejected = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def pending(self) -> int:
        return len(self._queue) + self._inflight

    def stats(self) -> BufferStats:
        return BufferStats(
            self.pending,
            self.delivered,
            self.dropped,
            self.rejected,
            self.consecutive_failures,
            self.last_error,
        )

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self.name}-flusher")

    def add(self, lines: Sequence[str]) -> None:
        """Queue lines without waiting; drop the oldest if the bound is exceeded."""
        if self._closing:
            raise RuntimeError(f"{self.name} buffer is closed")
        self._queue.extend(lines)
        excess = len(self._queue) + self._inflight - self.max_points
        if excess > 0:
            for _ in range(min(excess, len(self._queue))):
                self._queue.popleft()
            self._count_dropped(excess, "buffer full")
        if self._queue:
            self._idle.clear()
            self._wakeup.set()

    def _count_dropped(self, count: int, why: str) -> None:
        self.dropped += count
        log.warning(
            "%s: dropped %d oldest point(s) (%s); %d dropped in total, %d pending",
            self.name,
            count,
            why,
            self.dropped,
            self.pending,
        )

    async def flush(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until everything queued so far is delivered (or dropped/rejected)."""
        self._wakeup.set()
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def close(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Try to deliver for up to `timeout` s; whatever is left is counted as dropped."""
        with contextlib.suppress(TimeoutError):
            await self.flush(timeout)
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        left = self.pending
        if left:
            self._queue.clear()
            self._inflight = 0
            self._count_dropped(left, "closed before the server accepted them")
        self._idle.set()

    async def _run(self) -> None:
        backoff = self.backoff_initial
        while True:
            if not self._queue:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                if self.flush_interval and len(self._queue) < self.batch_size:
                    # Let a burst of small writes coalesce into one request.
                    await asyncio.sleep(self.flush_interval)
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            self._inflight = len(batch)
            try:
                await self._send(batch)
            except PermanentWriteError as exc:
                self._inflight = 0
                self.rejected += len(batch)
                self.last_error = str(exc)
                log.error(
                    "%s: server rejected %d point(s), not retrying: %s", self.name, len(batch), exc
                )
                continue
            except Exception as exc:
                self._inflight = 0
                self.consecutive_failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                # Put the batch back in front, then re-apply the bound (oldest go first).
                self._queue.extendleft(reversed(batch))
                excess = len(self._queue) - self.max_points
                if excess > 0:
                    for _ in range(excess):
                        self._queue.popleft()
                    self._count_dropped(excess, "buffer full while retrying")
                log.warning(
                    "%s: write of %d point(s) failed (attempt %d), retrying in %.2fs: %s",
                    self.name,
                    len(batch),
                    self.consecutive_failures,
                    backoff,
                    self.last_error,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max)
                continue
            self._inflight = 0
            self.delivered += len(batch)
            if self.consecutive_failures:
                log.info("%s: server accepts writes again", self.name)
            self.consecutive_failures = 0
            self.last_error = None
            backoff = self.backoff_initial
