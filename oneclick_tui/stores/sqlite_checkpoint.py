"""WAL checkpoints on a thread of their own, not inside the engine's commits.

Why: with SQLite's default auto-checkpoint, the connection whose commit pushes the WAL past
1,000 pages copies the WAL back into the database file in that commit. A copy fan-out to
10,000 followers writes several MB, so one lead trade in a few paid ~100-250 ms for it, on
the event loop's critical path. Every connection of our engine therefore has auto-checkpoint
off, and one daemon thread per database file runs a PASSIVE checkpoint (never waits for
readers or writers, never blocks them) every `interval` seconds, and once more when the
engine is disposed. A crash loses nothing: SQLite replays the WAL at the next open.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_S = 1.0


class WalCheckpointer:
    """Checkpoints one SQLite database's WAL in the background until `stop()`."""

    def __init__(self, path: Path, interval: float = CHECKPOINT_EVERY_S) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0
        """Completed checkpoint calls (for tests and `oneclick doctor`-style checks)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start the thread if it is not running (a disposed engine may be used again)."""
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"wal-checkpoint:{self.path.name}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread after one last checkpoint."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None:
            thread.join(timeout=10)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=0, check_same_thread=True)
        except sqlite3.Error as exc:
            log.warning("WAL checkpoints off for %s: %s", self.path, exc)
            return
        try:
            while not self._stop.wait(self.interval):
                self._checkpoint(conn)
            self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error as exc:  # locked by a schema change, file removed: next time
            log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
