"""The user's preferences as a form: parse and check each field, save with an audit row.

The console checks every field as it is typed (so a bad value is marked where it is) with the
same rules the repository applies on save, and `save` refuses the whole form if any field is
bad: nothing is written unless everything is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from oneclick_tui.domain import entities as e
from oneclick_tui.services import audit
from oneclick_tui.services.runtime import Services
from oneclick_tui.stores.errors import ValidationError
from oneclick_tui.stores.repositories import validate as v
from oneclick_tui.stores.repositories.users import check_preferences


@dataclass(frozen=True)
class FieldSpec:
    label: str
    hint: str
    """What an empty value means, or what is expected."""
    optional: bool


FIELDS: dict[str, FieldSpec] = {
    "max_trade_amount": FieldSpec("Max trade amount (quote)", "empty = no limit", True),
    "daily_trading_limit": FieldSpec("Daily trading limit (quote)", "empty = no limit", True),
    "stop_loss_pct": FieldSpec("Stop-loss %", "0..100, empty = off", True),
    "risk_tolerance": FieldSpec("Risk tolerance", "traders above it are not copied", False),
    "allowed_assets": FieldSpec("Allowed assets", "comma list, empty = all", True),
    "max_slippage_pct": FieldSpec("Max slippage %", "0..100", False),
}
RISK_TOLERANCES = e.RISK_TOLERANCES


class FormErrors(Exception):
    """Some fields are invalid; `errors` maps field name to why. Nothing was saved."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {m}" for k, m in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class SaveResult:
    preferences: e.Preferences
    changed: dict[str, tuple[str, str]]
    """Field -> (before, after) as shown in the form; empty when nothing changed."""


def form_values(prefs: e.Preferences) -> dict[str, str]:
    """The preferences as the form shows them (empty text for "no limit" / "all")."""

    def text(value: Decimal | None) -> str:
        return "" if value is None else _plain(value)

    return {
        "max_trade_amount": text(prefs.max_trade_amount),
        "daily_trading_limit": text(prefs.daily_trading_limit),
        "stop_loss_pct": text(prefs.stop_loss_pct),
        "risk_tolerance": prefs.risk_tolerance,
        "allowed_assets": ", ".join(prefs.allowed_assets or ()),
        "max_slippage_pct": _plain(prefs.max_slippage_pct),
    }


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class SettingsService:
    """Loads, checks and saves the local user's preferences."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.user_id = services.user.id

    @property
    def known_assets(self) -> set[str]:
        specs = [p.spec for p in self.s.catalog.pairs.values()]
        return {s.base for s in specs} | {s.quote for s in specs}

    def parse(self, name: str, text: str) -> Any:
        """The field's value from its text, checked; ValidationError says why not."""
        raw = text.strip()
        spec = FIELDS[name]
        if name == "allowed_assets":
            return self._assets(raw)
        if not raw:
            if spec.optional:
                return None
            raise ValidationError("is required")
        value: Any = raw if name == "risk_tolerance" else v.decimal(spec.label, raw)
        return check_preferences({name: value})[name]

    def _assets(self, raw: str) -> list[str] | None:
        names = sorted({part.strip().upper() for part in raw.split(",") if part.strip()})
        if not names:
            return None
        known = self.known_assets
        unknown = [n for n in names if known and n not in known]
        if unknown:
            raise ValidationError(
                f"unknown asset {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return names

    def check(self, name: str, text: str) -> str | None:
        """Why the field's text is not acceptable, or None when it is."""
        try:
            self.parse(name, text)
        except ValidationError as exc:
            return _short(str(exc), FIELDS[name].label)
        return None

    async def load(self) -> e.Preferences:
        return await self.s.repos.users.preferences(self.user_id)

    async def save(self, form: dict[str, str]) -> SaveResult:
        """Check every field, then write the changed ones and one audit row (before/after)."""
        errors = {n: m for n in FIELDS if (m := self.check(n, form.get(n, ""))) is not None}
        if errors:
            raise FormErrors(errors)
        current = await self.load()
        shown = form_values(current)
        values = {n: self.parse(n, form.get(n, "")) for n in FIELDS}
        changed = {
            n: values[n] for n in FIELDS if _normal(values[n]) != _normal(self.parse(n, shown[n]))
        }
        if not changed:
            return SaveResult(current, {})
        prefs = await self.s.repos.users.update_preferences(self.user_id, **changed)
        after = form_values(prefs)
        diff = {n: (shown[n], after[n]) for n in changed}
        await audit.record(
            self.s.sessions,
            f"user:{self.user_id}",
            "preferences.updated",
            "user_preferences",
            str(self.user_id),
            {n: b for n, (b, _) in diff.items()},
            {n: a for n, (_, a) in diff.items()},
        )
        return SaveResult(prefs, diff)


def _normal(value: Any) -> Any:
    """Compare Decimals by value (1 == 1.00) and lists by content."""
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, list):
        return tuple(value)
    return value


def _short(message: str, label: str) -> str:
    """The repository's message without the field's own name (the form shows it already)."""
    lowered = message.lower()
    for prefix in (
        label.lower(),
        label.split(" (")[0].lower(),
        "stop loss %",
        "max slippage %",
        "max trade amount",
        "daily trading limit",
        "risk tolerance",
    ):
        if lowered.startswith(prefix + " "):
            return message[len(prefix) + 1 :]
    return message
