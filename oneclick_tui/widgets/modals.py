"""Modal dialogs: a yes/no confirmation, and the follow form with inline validation.

Both are `ModalScreen`s that dismiss with their result, so a flow can `await
app.push_screen_wait(...)` inside a worker and read the answer in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

INVALID = "field-invalid"
"""Our own mark, so Input's built-in validation (which owns `-invalid`) cannot clear it."""

SIZING_CHOICES: list[tuple[str, str]] = [
    ("copy % of the lead's size", "copy_pct"),
    ("fixed quote amount per copy", "fixed_quote"),
    ("lead's equity ratio", "equity_ratio"),
]
SIDE_CHOICES: list[tuple[str, str]] = [
    ("buys and sells", "all"),
    ("entries only (buys)", "entries_only"),
    ("exits only (sells)", "exits_only"),
]

SIDE_LABELS = {value: label for label, value in SIDE_CHOICES}


@dataclass(frozen=True)
class FollowTerms:
    """The terms of a follow as the user chose them; Decimal, never float."""

    copy_pct: Decimal
    sizing_mode: str = "copy_pct"
    fixed_quote_amount: Decimal | None = None
    copy_side: str = "all"
    auto_copy: bool = True

    def service_kwargs(self) -> dict[str, object]:
        """Keyword arguments for `FollowService.follow` after the percentage."""
        return {
            "sizing_mode": self.sizing_mode,
            "fixed_quote_amount": self.fixed_quote_amount,
            "copy_side": self.copy_side,
            "auto_copy_enabled": self.auto_copy,
        }

    def summary(self) -> str:
        """One line a confirmation can show."""
        pct = f"{self.copy_pct.normalize():f}%"
        size = {
            "fixed_quote": f"{self.fixed_quote_amount or 0:f} quote per copy",
            "equity_ratio": f"{pct} of the lead's equity ratio",
        }.get(self.sizing_mode, f"{pct} of each lead trade")
        copying = "auto-copy ON" if self.auto_copy else "auto-copy off"
        return f"{size}, {SIDE_LABELS[self.copy_side]}, {copying}"


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def check_copy_pct(text: str) -> str | None:
    """Why the copy percentage is not acceptable, or None."""
    value = _number(text)
    if not text.strip():
        return "required: a percentage above 0 and at most 100"
    if value is None:
        return f"{text.strip()!r} is not a number"
    if not 0 < value <= 100:
        return f"must be above 0 and at most 100, got {value.normalize():f}"
    return None


def check_fixed_quote(text: str, sizing_mode: str) -> str | None:
    """Why the fixed quote amount is not acceptable, or None (only checked when it is used)."""
    if sizing_mode != "fixed_quote":
        return None
    value = _number(text)
    if not text.strip():
        return "required when sizing is a fixed quote amount"
    if value is None:
        return f"{text.strip()!r} is not a number"
    if value <= 0:
        return "must be greater than 0"
    return None


def parse_terms(
    copy_pct: str, sizing_mode: str, fixed_quote: str, copy_side: str, auto_copy: bool
) -> tuple[FollowTerms | None, dict[str, str]]:
    """The terms, or None and why per field id; the form and tests share this."""
    errors = {
        name: why
        for name, why in (
            ("copy-pct", check_copy_pct(copy_pct)),
            ("fixed-quote", check_fixed_quote(fixed_quote, sizing_mode)),
        )
        if why is not None
    }
    if errors:
        return None, errors
    fixed = _number(fixed_quote) if sizing_mode == "fixed_quote" else None
    return FollowTerms(Decimal(copy_pct.strip()), sizing_mode, fixed, copy_side, auto_copy), {}


class ConfirmModal(ModalScreen[bool]):
    """Ask before something that moves money or ends a follow; Cancel has the focus."""

    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal > Vertical {
        width: 64; height: auto; border: thick $warning; background: $surface; padding: 1 2;
    }
    ConfirmModal #confirm-title { text-style: bold; margin-bottom: 1; }
    ConfirmModal Horizontal { height: auto; margin-top: 1; align-horizontal: right; }
    ConfirmModal Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, body: str, confirm_label: str = "Confirm") -> None:
        super().__init__()
        self._title, self._body, self._confirm_label = title, body, confirm_label

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, id="confirm-title")
            yield Static(self._body, id="confirm-body")
            with Horizontal():
                yield Button(f"{self._confirm_label} (y)", variant="warning", id="confirm-yes")
                yield Button("Cancel (n)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class FollowModal(ModalScreen[FollowTerms | None]):
    """The follow form; each bad field is marked and says why, and nothing is returned."""

    DEFAULT_CSS = """
    FollowModal { align: center middle; }
    FollowModal > Vertical {
        width: 72; height: auto; border: thick $primary; background: $surface; padding: 1 2;
    }
    FollowModal #follow-title { text-style: bold; margin-bottom: 1; }
    FollowModal .field-label { margin-top: 1; color: $text-muted; }
    FollowModal .field-error { color: $error; height: auto; }
    FollowModal Input.field-invalid, FollowModal Input.field-invalid:focus { border: tall $error; }
    FollowModal Horizontal { height: auto; margin-top: 1; align-horizontal: right; }
    FollowModal Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="follow_form.cancel"),
        Binding("ctrl+s", "submit", "Save", id="follow_form.submit"),
    ]

    def __init__(
        self,
        trader: str,
        terms: FollowTerms | None = None,
        *,
        copy_pct_text: str | None = None,
        editing: bool = False,
    ) -> None:
        super().__init__()
        self.trader, self.editing = trader, editing
        self.initial = terms or FollowTerms(Decimal(25))
        self._pct_text = copy_pct_text or f"{self.initial.copy_pct.normalize():f}"

    def compose(self) -> ComposeResult:
        t = self.initial
        fixed = "" if t.fixed_quote_amount is None else f"{t.fixed_quote_amount.normalize():f}"
        with Vertical():
            yield Label(
                f"{'Change terms for' if self.editing else 'Follow'} {self.trader}",
                id="follow-title",
            )
            yield Label("Copy % of the lead's trade size", classes="field-label")
            yield Input(self._pct_text, id="copy-pct", placeholder="25")
            yield Label("", id="copy-pct-error", classes="field-error")
            yield Label("Sizing", classes="field-label")
            yield Select(SIZING_CHOICES, value=t.sizing_mode, allow_blank=False, id="sizing")
            yield Label("Fixed quote amount per copy", classes="field-label")
            yield Input(
                fixed,
                id="fixed-quote",
                placeholder="e.g. 50",
                disabled=t.sizing_mode != "fixed_quote",
            )
            yield Label("", id="fixed-quote-error", classes="field-error")
            yield Label("Copy side", classes="field-label")
            yield Select(SIDE_CHOICES, value=t.copy_side, allow_blank=False, id="copy-side")
            yield Checkbox(
                "Auto-copy: trades are copied into your wallet", t.auto_copy, id="auto-copy"
            )
            with Horizontal():
                yield Button("Save" if self.editing else "Follow", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#copy-pct", Input).focus()
        if self._pct_text != f"{self.initial.copy_pct.normalize():f}":
            self._show_errors(self._read()[1])

    def _read(self) -> tuple[FollowTerms | None, dict[str, str]]:
        return parse_terms(
            self.query_one("#copy-pct", Input).value,
            str(self.query_one("#sizing", Select).value),
            self.query_one("#fixed-quote", Input).value,
            str(self.query_one("#copy-side", Select).value),
            self.query_one("#auto-copy", Checkbox).value,
        )

    def _show_errors(self, errors: dict[str, str]) -> None:
        """Mark each bad field and say why under it; clear the good ones."""
        for field in ("copy-pct", "fixed-quote"):
            self._mark(field, errors.get(field))

    def _mark(self, field: str, why: str | None) -> None:
        self.query_one(f"#{field}", Input).set_class(why is not None, INVALID)
        self.query_one(f"#{field}-error", Label).update(why or "")

    @on(Input.Changed)
    def _revalidate(self, event: Input.Changed) -> None:
        """A marked field is re-checked as the user types; unmarked ones wait for submit."""
        field = event.input.id or ""
        if event.input.has_class(INVALID):
            self._mark(field, self._read()[1].get(field))

    @on(Select.Changed, "#sizing")
    def _sizing_changed(self, event: Select.Changed) -> None:
        """The fixed amount is only asked for (and checked) when it is the sizing."""
        self.query_one("#fixed-quote", Input).disabled = event.value != "fixed_quote"
        self._mark("fixed-quote", None)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        terms, errors = self._read()
        self._show_errors(errors)
        if terms is not None:
            self.dismiss(terms)
        else:
            self.query_one(f"#{next(iter(errors))}", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
