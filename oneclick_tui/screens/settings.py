"""Settings: the user's risk limits as a form, checked as typed, saved with ctrl+s.

Every field is checked on each change with the rules the store applies, and the reason is
shown under the field; Save refuses the whole form while any field is bad, so a half-valid
form never reaches the database. A save writes an audit row (before/after).
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from oneclick_tui.messages import Booted
from oneclick_tui.screens.base import ConsoleScreen
from oneclick_tui.services.settings_service import (
    FIELDS,
    RISK_TOLERANCES,
    FormErrors,
    SettingsService,
    form_values,
)


class SettingsScreen(ConsoleScreen):
    """Mode 8: what the copy engine may do with the user's money."""

    DEFAULT_CSS = """
    SettingsScreen #settings-form { padding: 1 2; height: 1fr; }
    SettingsScreen .field-label { margin-top: 1; text-style: bold; }
    SettingsScreen .field-hint { color: $text-muted; }
    SettingsScreen .field-error { color: $error; height: auto; }
    SettingsScreen Input, SettingsScreen Select { width: 60; }
    SettingsScreen #settings-buttons { height: auto; margin-top: 1; }
    SettingsScreen #settings-buttons Button { margin-right: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+s",
            "save",
            "Save",
            priority=True,
            id="settings.save",
            tooltip="Check every field and save the preferences",
        ),
        Binding(
            "ctrl+r", "revert", "Revert", id="settings.revert", tooltip="Discard unsaved edits"
        ),
        Binding(
            "escape",
            "leave_field",
            "Leave field",
            show=False,
            id="settings.leave",
            tooltip="Stop editing so the mode keys (1-9) work again",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.saved: dict[str, str] | None = None
        """The form as last loaded or saved; edits are compared against it."""
        self._service: SettingsService | None = None

    def body(self) -> ComposeResult:
        with VerticalScroll(id="settings-form"):
            for name, spec in FIELDS.items():
                yield Label(spec.label, classes="field-label")
                if name == "risk_tolerance":
                    yield Select(
                        [(r, r) for r in RISK_TOLERANCES], allow_blank=False, id=f"pref-{name}"
                    )
                else:
                    yield Input(placeholder=spec.hint, id=f"pref-{name}")
                yield Static(spec.hint, classes="field-hint")
                yield Static("", id=f"err-{name}", classes="field-error")
            with Horizontal(id="settings-buttons"):
                yield Button("Save (ctrl+s)", id="settings-save", variant="primary")
                yield Button("Revert (ctrl+r)", id="settings-revert")

    @property
    def service(self) -> SettingsService | None:
        if self._service is None and self.ctx is not None:
            self._service = SettingsService(self.ctx.services)
        return self._service

    def on_booted(self, _: Booted) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        """Load the stored preferences unless the user has unsaved edits."""
        if self.service is not None and (self.saved is None or self.form() == self.saved):
            self._load()

    @work(exclusive=True, group="settings-load")
    async def _load(self) -> None:
        service = self.service
        if service is None:
            return
        self._fill(form_values(await service.load()))

    def _fill(self, values: dict[str, str]) -> None:
        self.saved = dict(values)
        for name, value in values.items():
            if name == "risk_tolerance":
                self.query_one(f"#pref-{name}", Select).value = value
            else:
                self.query_one(f"#pref-{name}", Input).value = value
            self.mark(name, None)

    def form(self) -> dict[str, str]:
        """The form's current text, by field name."""
        values: dict[str, str] = {}
        for name in FIELDS:
            if name == "risk_tolerance":
                values[name] = str(self.query_one(f"#pref-{name}", Select).value)
            else:
                values[name] = self.query_one(f"#pref-{name}", Input).value
        return values

    def mark(self, name: str, error: str | None) -> None:
        """Show (or clear) why a field is not acceptable, at the field."""
        self.query_one(f"#err-{name}", Static).update(error or "")
        widget = self.query_one(f"#pref-{name}")
        widget.set_class(error is not None, "-invalid")

    @on(Input.Changed)
    def _field_changed(self, event: Input.Changed) -> None:
        name = (event.input.id or "").removeprefix("pref-")
        if name in FIELDS and self.service is not None:
            self.mark(name, self.service.check(name, event.value))

    @on(Button.Pressed, "#settings-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#settings-revert")
    def _revert_pressed(self) -> None:
        self.action_revert()

    def action_leave_field(self) -> None:
        self.set_focus(None)

    def action_revert(self) -> None:
        if self.saved is not None:
            self._fill(self.saved)

    def action_save(self) -> None:
        if self.service is None:
            self.notify("still starting; try again in a moment", severity="warning")
            return
        self._save(self.form())

    @work(exclusive=True, group="settings-save", exit_on_error=False)
    async def _save(self, values: dict[str, str]) -> None:
        service = self.service
        if service is None:
            return
        try:
            result = await service.save(values)
        except FormErrors as exc:
            for name in FIELDS:
                self.mark(name, exc.errors.get(name))
            count = len(exc.errors)
            self.notify(f"not saved: {count} field{'s' * (count > 1)} to fix", severity="error")
            return
        self._fill(form_values(result.preferences))
        if result.changed:
            changed = ", ".join(FIELDS[n].label for n in result.changed)
            self.notify(f"saved: {changed}", title="Preferences")
        else:
            self.notify("nothing changed", title="Preferences")
