"""Likes, comments and shares on traders and comments (`community_interactions`).

A comment is stored as the user typed it minus control and bidi-override characters
(category Cc, plus the Cf format characters that reorder or hide text), trimmed, 1..1000
characters. It is text, never markup: `display_text` escapes it for Rich/Textual markup, and
every view must show comments through it (or as a plain `Text`).
A user likes a target once: the second like is a `DuplicateError` saying so (the partial
unique index `uq_community_interactions_like` backs the check against races).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from rich.markup import escape
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from oneclick_tui.stores.errors import DuplicateError, NotFoundError, ValidationError
from oneclick_tui.stores.models import CommunityInteraction, FollowRelationship, Trader, User

TargetType = Literal["trader", "comment"]
MAX_COMMENT = 1000


def clean_comment(raw: str) -> str:
    """The comment as stored: control/format characters removed, trimmed, 1..1000 chars."""
    kept = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in raw
        if ch in "\t\n\r" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    text = " ".join(kept.split())
    if not text:
        raise ValidationError("a comment needs 1 to 1000 characters of text")
    if len(text) > MAX_COMMENT:
        raise ValidationError(f"a comment is at most {MAX_COMMENT} characters, got {len(text)}")
    return text


def display_text(content: str) -> str:
    """The comment escaped for Rich/Textual markup: `[bold]` shows as typed, never styles."""
    return escape(content)


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    user_id: int
    author: str
    target_type: str
    target_id: int
    content: str
    created_at: datetime
    likes: int


@dataclass(frozen=True, slots=True)
class TraderCounts:
    trader_id: int
    likes: int
    comments: int
    shares: int
    followers: int


class CommunityService:
    """Social actions of a user on traders and comments."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def _target(self, session: AsyncSession, target_type: str, target_id: int) -> str:
        """Check the target exists; return a label for messages."""
        if target_type == "trader":
            name = await session.scalar(select(Trader.display_name).where(Trader.id == target_id))
            if name is None:
                raise NotFoundError(f"trader {target_id} not found")
            return f"trader {name}"
        if target_type == "comment":
            found = await session.scalar(
                select(CommunityInteraction.id).where(
                    CommunityInteraction.id == target_id,
                    CommunityInteraction.interaction_type == "comment",
                )
            )
            if found is None:
                raise NotFoundError(f"comment {target_id} not found")
            return f"comment {target_id}"
        raise ValidationError(f"cannot interact with a {target_type!r}; use trader or comment")

    async def _add(
        self,
        user_id: int,
        target_type: str,
        target_id: int,
        kind: str,
        content: str | None = None,
    ) -> int:
        try:
            async with self.sessions.begin() as session:
                if await session.get(User, user_id) is None:
                    raise NotFoundError(f"user {user_id} not found")
                label = await self._target(session, target_type, target_id)
                if kind == "like" and await session.scalar(
                    select(CommunityInteraction.id).where(
                        CommunityInteraction.user_id == user_id,
                        CommunityInteraction.target_type == target_type,
                        CommunityInteraction.target_id == target_id,
                        CommunityInteraction.interaction_type == "like",
                    )
                ):
                    raise DuplicateError(f"you already like {label}")
                row = CommunityInteraction(
                    user_id=user_id,
                    target_type=target_type,
                    target_id=target_id,
                    interaction_type=kind,
                    content=content,
                    created_at=datetime.now(UTC),
                )
                session.add(row)
                await session.flush()
                return int(row.id)
        except IntegrityError as exc:  # a concurrent like won the race
            if "uq_community_interactions_like" in str(exc.orig) or "UNIQUE" in str(exc.orig):
                raise DuplicateError(f"you already like this {target_type}") from exc
            raise

    async def like(self, user_id: int, target_type: TargetType, target_id: int) -> int:
        """Like a trader or a comment once; a second like raises DuplicateError."""
        return await self._add(user_id, target_type, target_id, "like")

    async def unlike(self, user_id: int, target_type: TargetType, target_id: int) -> bool:
        """Take a like back; False when there was none."""
        async with self.sessions.begin() as session:
            row = await session.scalar(
                select(CommunityInteraction).where(
                    CommunityInteraction.user_id == user_id,
                    CommunityInteraction.target_type == target_type,
                    CommunityInteraction.target_id == target_id,
                    CommunityInteraction.interaction_type == "like",
                )
            )
            if row is None:
                return False
            await session.delete(row)
            return True

    async def comment(
        self, user_id: int, target_type: TargetType, target_id: int, text: str
    ) -> int:
        """Comment on a trader or reply to a comment; returns the comment id."""
        return await self._add(user_id, target_type, target_id, "comment", clean_comment(text))

    async def share(self, user_id: int, target_type: TargetType, target_id: int) -> int:
        """Record a share (may repeat: each share is an event)."""
        return await self._add(user_id, target_type, target_id, "share")

    async def comments(
        self, target_type: TargetType, target_id: int, limit: int = 100
    ) -> list[Comment]:
        """Newest first, with their authors and like counts."""
        ci = CommunityInteraction
        likes = (
            select(ci.target_id, func.count().label("n"))
            .where(ci.target_type == "comment", ci.interaction_type == "like")
            .group_by(ci.target_id)
            .subquery()
        )
        query = (
            select(ci, User.display_name, likes.c.n)
            .join(User, User.id == ci.user_id)
            .outerjoin(likes, likes.c.target_id == ci.id)
            .where(
                ci.target_type == target_type,
                ci.target_id == target_id,
                ci.interaction_type == "comment",
            )
            .order_by(ci.created_at.desc(), ci.id.desc())
            .limit(limit)
        )
        async with self.sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            Comment(c.id, c.user_id, name or f"user {c.user_id}", c.target_type, c.target_id,
                    c.content or "", c.created_at, n or 0)
            for c, name, n in rows
        ]  # fmt: skip

    async def counts(self, trader_ids: list[int] | None = None) -> dict[int, TraderCounts]:
        """Likes, comments, shares and live followers per trader (for the trader list)."""
        ci, fr = CommunityInteraction, FollowRelationship
        inter = select(ci.target_id, ci.interaction_type, func.count()).where(
            ci.target_type == "trader"
        )
        follows = select(fr.trader_id, func.count()).where(fr.status != "ended")
        traders = select(Trader.id)
        if trader_ids is not None:
            inter = inter.where(ci.target_id.in_(trader_ids))
            follows = follows.where(fr.trader_id.in_(trader_ids))
            traders = traders.where(Trader.id.in_(trader_ids))
        async with self.sessions() as session:
            ids = list((await session.scalars(traders)).all())
            kinds = (await session.execute(inter.group_by(ci.target_id, ci.interaction_type))).all()
            followers = dict((await session.execute(follows.group_by(fr.trader_id))).all())
        out = {tid: TraderCounts(tid, 0, 0, 0, followers.get(tid, 0)) for tid in ids}
        tallies: dict[int, dict[str, int]] = {}
        for tid, kind, n in kinds:
            tallies.setdefault(tid, {})[kind] = n
        for tid, tally in tallies.items():
            if tid in out:
                out[tid] = TraderCounts(
                    tid, tally.get("like", 0), tally.get("comment", 0), tally.get("share", 0),
                    followers.get(tid, 0),
                )  # fmt: skip
        return out

    async def find_trader(self, ref: str) -> tuple[int, str]:
        """A trader by address (0x...), display name (case-insensitive) or id."""
        async with self.sessions() as session:
            query = select(Trader.id, Trader.display_name)
            if ref.startswith("0x"):
                row = (await session.execute(query.where(Trader.wallet_address == ref))).first()
            elif ref.isdigit():
                row = (await session.execute(query.where(Trader.id == int(ref)))).first()
            else:
                row = (
                    await session.execute(
                        query.where(func.lower(Trader.display_name) == ref.lower())
                    )
                ).first()
        if row is None:
            raise NotFoundError(f"no trader {ref!r}")
        return int(row[0]), str(row[1])
