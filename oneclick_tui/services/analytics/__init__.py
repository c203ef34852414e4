"""Trader performance, portfolio analytics and leaderboards (issue 7).

`AnalyticsService` is the entry point; `daily` builds the per-day book (SQL on PostgreSQL,
Python on SQLite), `performance` the period figures, `leaderboard` the rankings and their
cache, `portfolio` the users' daily snapshots.
"""

from __future__ import annotations

from oneclick_tui.domain.ranking import RankMetric
from oneclick_tui.services.analytics.leaderboard import LeaderboardEntry
from oneclick_tui.services.analytics.performance import Period
from oneclick_tui.services.analytics.service import AnalyticsService, Progress, default_since

__all__ = [
    "AnalyticsService",
    "LeaderboardEntry",
    "Period",
    "Progress",
    "RankMetric",
    "default_since",
]
