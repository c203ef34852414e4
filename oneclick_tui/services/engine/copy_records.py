"""The rows a fan-out writes, and the per-follower decisions they come from.

Pure functions shared by the copy engine's two ways of writing a fan-out (the session path
in `copy_engine` and the one-connection paper path in `paper_fanout`), so both write the same
copy, skip, audit and position rows. Nothing here reads or writes the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from oneclick_tui.domain import positions as pos
from oneclick_tui.domain.copy_rules import (
    BookDepth,
    CopyOrder,
    CopySide,
    FollowerState,
    FollowTerms,
    LeadFill,
    Preferences,
    SizingMode,
    Skip,
    SkipReason,
    decide_copy,
)
from oneclick_tui.domain.market_events import LeadTrade, Side
from oneclick_tui.domain.orderbook import OrderBook
from oneclick_tui.services.engine.catalog import PairInfo
from oneclick_tui.services.engine.signer import CopyToSign
from oneclick_tui.services.execution.base import Outcome
from oneclick_tui.services.wallet.signing import SignedTx
from oneclick_tui.stores import copy_store as cs

if TYPE_CHECKING:
    from oneclick_tui.services.engine.copy_engine import Handoff

BOOK_LEVELS_FOR_GATE = 200


@dataclass
class FanOut:
    """What one lead trade produced."""

    lead_trade_id: int | None
    copies: int = 0
    skips: dict[str, int] = field(default_factory=dict)
    completed: int = 0
    failed: int = 0
    ignored: str | None = None
    handoff: Handoff | None = field(default=None, repr=False)
    """What the execute step needs, kept from the decide step (see `Handoff`)."""


class Contended(Exception):
    """Some decided rows already existed: redo the fan-out on the two-step path."""


def utc_day_start(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class LeaderTotals:
    """Each lead's base position per pair, summed from his recorded trades up to a chain
    version, so a sell reads only the lead trades recorded since the last one.

    Why: the fraction a follower sells is the fraction of his position the lead sold, and
    re-summing the lead's whole history on every sell grew with it for as long as the engine
    ran. Exact as long as lead trades are recorded in chain order (the simulator and the
    chain watcher both are): a trade recorded later with a version below the last one summed
    is not seen until the engine restarts (a sell older than the sum is summed afresh).
    """

    def __init__(self) -> None:
        self._sums: dict[tuple[int, int], tuple[int, Decimal]] = {}

    def since(self, trader_id: int, pair_id: int, version: int) -> int | None:
        """The version to read from for a sell at `version` (None: the whole history)."""
        cached = self._sums.get((trader_id, pair_id))
        return cached[0] if cached is not None and cached[0] <= version else None

    def position_before(
        self, trader_id: int, pair_id: int, lead: LeadTrade, since: int | None, read: Decimal
    ) -> Decimal:
        """The lead's position before `lead`, given what was `read` from `since`; remembered.

        Holdings from before we watched him are unknown: then the sell is treated as his
        whole exit (never less than what he sold)."""
        key = (trader_id, pair_id)
        cached = self._sums.get(key)
        total = cached[1] + read if since is not None and cached is not None else read
        if lead.version is not None and (cached is None or cached[0] <= lead.version):
            self._sums[key] = (lead.version, total)
        return max(total, lead.amount)


@dataclass
class Decisions:
    """Every follower's decision for one lead trade, as rows to write and copies to sign."""

    trades: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)
    to_sign: list[tuple[int, CopyToSign]] = field(default_factory=list)
    """(index of the decision's audit row, the copy as a swap to sign)."""


@dataclass(frozen=True, slots=True)
class LeadContext:
    """The lead trade and its trader as every follower's decision sees them."""

    lead: LeadTrade
    lead_id: int
    trader_id: int
    risk_category: str
    leader_equity: Decimal | None
    pair: PairInfo
    leader_before: Decimal | None
    too_old: str | None
    """Why the lead is too old to copy (live networks), or None."""


def decide_followers(
    ctx: LeadContext,
    state: cs.FanOutState,
    today: dict[int, Decimal],
    book: OrderBook | None,
    result: FanOut,
    can_sign: Callable[[int], bool] | None,
) -> Decisions:
    """Decide for every follow of `state`: a copy or a skip row, its audit row, and (for a
    follower `can_sign` accepts) the swap to sign. Counts go into `result`."""
    lead, spec = ctx.lead, ctx.pair.spec
    mid = book.mid() if book is not None else None
    levels = BookDepth(book_side(book, lead.side))
    fill = LeadFill(
        lead.side, lead.amount, lead.price, ctx.risk_category, ctx.leader_equity,
        ctx.leader_before,
    )  # fmt: skip
    rules = ctx.pair.rules
    zero = Decimal(0)
    held, built = state.held, state.built
    out = Decisions()
    for follow in state.follows:
        user = follow.follower_id
        cash = held.get((user, spec.quote))
        base = held.get((user, spec.base))
        quote_balance = cash.quantity if cash is not None else zero
        follower = FollowerState(
            quote_balance=quote_balance,
            base_held=base.quantity if base is not None else zero,
            base_from_lead=built.get(user, zero),
            equity=quote_balance,
            traded_today=today.get(user, zero),
        )
        decision: CopyOrder | Skip
        if ctx.too_old is not None:
            decision = Skip(SkipReason.LEAD_TOO_OLD, ctx.too_old)
        elif mid is None:
            decision = Skip(SkipReason.SLIPPAGE, "no live book for the pair")
        else:
            decision = decide_copy(
                follow_terms(follow), follow_prefs(follow), rules, fill, follower, levels, mid
            )
        out.trades.append(
            decision_row(decision, follow, ctx.trader_id, ctx.pair.id, ctx.lead_id, lead)
        )
        out.audits.append(decision_audit(decision, follow, ctx.lead_id, lead))
        if can_sign is not None and isinstance(decision, CopyOrder) and can_sign(user):
            order = CopyToSign(
                user, decision.side, decision.amount, decision.reference_price,
                follow.max_slippage_pct,
            )  # fmt: skip
            out.to_sign.append((len(out.audits) - 1, order))
        count_decision(result, decision)
    return out


def merge_outcome_audits(
    trades: list[dict[str, Any]], decided: list[dict[str, Any]], done: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Paper: ONE audit row per executed copy, its decision (and signed hash) and outcome
    together (`copy.completed` / `copy.failed` keyed by the copy's id), since both commit
    at once; a skip keeps its `copy.skipped` row."""
    outcome_of = {int(a["entity_id"]): a for a in done}
    merged: list[dict[str, Any]] = []
    for t, audit in zip(trades, decided, strict=True):
        outcome = outcome_of.pop(t["id"], None) if t["status"] != "skipped" else None
        if outcome is None:
            merged.append(audit)
            continue
        after = dict(audit["after"])
        after["decided_amount"] = after.pop("amount")
        after.update(outcome["after"])  # filled amount, price, fee, hash; or the reason
        merged.append({**outcome, "before": audit["before"], "after": after})
    merged.extend(outcome_of.values())
    return merged


def book_side(book: OrderBook | None, side: Side) -> list[tuple[Decimal, Decimal]]:
    if book is None:
        return []
    return book.asks(BOOK_LEVELS_FOR_GATE) if side is Side.BUY else book.bids(BOOK_LEVELS_FOR_GATE)


def follow_terms(f: cs.FollowRow) -> FollowTerms:
    return FollowTerms(
        status=f.status,
        auto_copy=f.auto_copy,
        copy_pct=f.copy_pct,
        sizing_mode=SizingMode(f.sizing_mode),
        fixed_quote_amount=f.fixed_quote_amount,
        copy_side=CopySide(f.copy_side),
    )


def follow_prefs(f: cs.FollowRow) -> Preferences:
    return Preferences(
        max_trade_amount=f.max_trade_amount,
        daily_limit=f.daily_limit,
        risk_tolerance=f.risk_tolerance,
        allowed_assets=frozenset(f.allowed_assets) if f.allowed_assets is not None else None,
        max_slippage_pct=f.max_slippage_pct,
    )


def decision_row(
    decision: CopyOrder | Skip,
    follow: cs.FollowRow,
    trader_id: int,
    pair_id: int,
    lead_id: int,
    lead: LeadTrade,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": "copy",
        "user_id": follow.follower_id,
        "trader_id": trader_id,
        "pair_id": pair_id,
        "copy_of_trade_id": lead_id,
        "trade_type": lead.side.value,
        "fees_paid": Decimal(0),
        "created_at": lead.at,
        "realized_pnl": None,
        "skip_reason": None,
        "failure_reason": None,
        "tx_hash": None,
        "chain_version": None,
        "executed_at": None,
    }
    if isinstance(decision, Skip):
        row.update(
            status="skipped",
            amount=Decimal(0),
            price=None,
            total_value=None,
            skip_reason=decision.reason.value,
            failure_reason=decision.detail,
        )
    else:
        row.update(
            status="pending",
            amount=decision.amount,
            price=decision.reference_price,
            total_value=decision.notional,
        )
    return row


def decision_audit(
    decision: CopyOrder | Skip, follow: cs.FollowRow, lead_id: int, lead: LeadTrade
) -> dict[str, Any]:
    after: dict[str, Any]
    if isinstance(decision, Skip):
        after = {"reason": decision.reason.value, "detail": decision.detail}
        action = "copy.skipped"
    else:
        after = {
            "side": decision.side.value,
            "amount": str(decision.amount),
            "reference_price": str(decision.reference_price),
            "worst_price": str(decision.worst_price),
            "notes": list(decision.notes),
        }
        action = "copy.decided"
    return audit_row(
        "engine",
        action,
        None,
        {"user_id": follow.follower_id, "lead_trade_id": lead_id},
        after,
        lead.at,
        entity_id=f"{follow.follower_id}:{lead_id}",
    )


def audit_row(
    actor: str,
    action: str,
    trade_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
    entity_id: str | None = None,
) -> dict[str, Any]:
    return {
        "occurred_at": at,
        "actor": actor,
        "action": action,
        "entity_type": "trade",
        "entity_id": entity_id or (str(trade_id) if trade_id is not None else None),
        "before": before,
        "after": after,
        "prev_hash": None,
        "row_hash": None,
    }


def put_signed(signed: list[tuple[int, SignedTx | None]], audits: list[dict[str, Any]]) -> None:
    """Put each signed copy's hash in its decision's audit row (paper never submits it)."""
    for index, tx in signed:
        if tx is not None:
            audits[index]["after"]["signed_tx"] = {
                "hash": tx.hash,
                "sender": tx.sender,
                "sequence_number": tx.sequence_number,
                "submitted": False,
            }


def count_decision(result: FanOut, decision: CopyOrder | Skip) -> None:
    if isinstance(decision, Skip):
        result.skips[decision.reason.value] = result.skips.get(decision.reason.value, 0) + 1
    else:
        result.copies += 1


def finish_row(
    trade_id: int,
    status: str,
    amount: Decimal,
    price: Decimal | None,
    total_value: Decimal | None,
    fee: Decimal,
    realized: Decimal | None,
    tx_hash: str | None,
    executed_at: datetime | None,
    reason: str | None,
    version: int | None = None,
) -> dict[str, Any]:
    return {
        "trade_id": trade_id,
        "v_status": status,
        "v_amount": amount,
        "v_price": price,
        "v_total_value": total_value,
        "v_fees_paid": fee,
        "v_realized_pnl": realized,
        "v_tx_hash": tx_hash,
        "v_chain_version": version,
        "v_executed_at": executed_at,
        "v_failure_reason": reason,
    }


def fail_copy(
    trade: cs.PendingCopy,
    reason: str,
    rows: list[dict[str, Any]],
    audits: list[dict[str, Any]],
    now: datetime,
    outcome: Outcome | None = None,
) -> bool:
    """Record a failed copy; a journaled one keeps its hash (and version, if it landed)."""
    tx_hash = outcome.tx_hash if outcome is not None else None
    version = outcome.version if outcome is not None else None
    rows.append(
        finish_row(
            trade.id,
            "failed",
            trade.amount,
            trade.price,
            trade.total_value,
            Decimal(0),
            None,
            tx_hash,
            None,
            reason,
            version,
        )
    )
    after: dict[str, Any] = {"reason": reason}
    if tx_hash is not None:
        after.update(tx_hash=tx_hash, version=version)
        if outcome is not None and outcome.vm_status:
            after["vm_status"] = outcome.vm_status
    audits.append(audit_row("engine", "copy.failed", trade.id, None, after, now))
    return False


def apply_fill(
    trade: cs.PendingCopy,
    pair: PairInfo,
    amount: Decimal,
    price: Decimal,
    fee: Decimal,
    positions: dict[tuple[int, str], cs.PositionState],
) -> Decimal | str:
    """Move base and quote balances for a fill: the realized PnL, or why it cannot apply."""
    fill = _Fill(amount, price, fee)
    spec = pair.spec
    base = position_of(positions, trade.user_id, spec.base, pair.id)
    cash = position_of(positions, trade.user_id, spec.quote, None)
    current = pos.Position.from_avg_cost(base.quantity, base.average_cost)
    if trade.side == "buy":
        cost = fill.notional + fill.fee
        if cash.quantity < cost:
            return f"insufficient_balance: needs {cost:.8f} {spec.quote}, has {cash.quantity}"
        outcome = pos.apply_buy(current, fill.amount, fill.price, fill.fee)
        cash.quantity -= cost
    else:
        try:
            outcome = pos.apply_sell(current, fill.amount, fill.price, fill.fee)
        except pos.OversellError as exc:
            return str(exc)
        cash.quantity += fill.notional - fill.fee
    base.quantity = outcome.position.quantity
    base.average_cost = outcome.position.avg_cost
    base.realized_pnl = (base.realized_pnl or Decimal(0)) + outcome.realized_pnl
    base.current_value = base.quantity * fill.price
    base.unrealized_pnl = base.quantity * (fill.price - base.average_cost)
    base.changed = cash.changed = True
    return outcome.realized_pnl


@dataclass(frozen=True, slots=True)
class _Fill:
    amount: Decimal
    price: Decimal
    fee: Decimal

    @property
    def notional(self) -> Decimal:
        return self.amount * self.price


def position_of(
    positions: dict[tuple[int, str], cs.PositionState],
    user_id: int,
    asset: str,
    pair_id: int | None,
) -> cs.PositionState:
    found = positions.get((user_id, asset))
    if found is None:
        zero = Decimal(0)
        found = cs.PositionState(user_id, asset, pair_id, zero, zero, zero)
        positions[(user_id, asset)] = found
    return found
