"""Filling the located form: mapped slots, selects, radios, checkboxes, fallbacks, and multi-step forms.

Rules that keep a probe honest (docs/probing.md, "Filling"): only visible, enabled, editable controls are
touched; honeypots never, whatever their label says; served values stay as served; `fill()` types with real
input events (React state sees them) and every value is read back, again after blur; required consent is
ticked, marketing never; no `force=True`, no JS value assignment.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Locator

from probes.classify import RoleDecision, assign_slots, button_role, checkbox_kind, decide_roles
from probes.dom import ControlInfo
from probes.locate import LocatedForm, refresh
from probes.scripts import page_function
from probes.types import Detail, FieldFill, FieldRole, ProbeResult, ProbeTarget, Slot
from probes.values import (
    choose_option,
    company_candidates,
    fit_length,
    form_is_hebrew,
    is_placeholder_option,
    neutral_candidates,
    phone_variants,
    slot_value,
    spellings,
    subject_candidates,
)
from probes.vocab import normalise, vocabulary

MAX_STEPS = 6
ACTION_TIMEOUT_MS = 10_000


@dataclass(slots=True)
class FillReport:
    """Where filling ended: the submit control to click, or the reason it cannot be clicked."""

    form: LocatedForm
    submit: ControlInfo | None = None
    failure: tuple[Detail, str] | None = None
    steps: int = 1
    notes: list[str] = field(default_factory=list)


class _FillStop(Exception):
    """Internal: stop filling with an outcome (never escapes this module)."""

    def __init__(self, detail: Detail, reason: str) -> None:
        super().__init__(reason)
        self.detail, self.reason = detail, reason


class FormFiller:
    def __init__(self, form: LocatedForm, target: ProbeTarget, result: ProbeResult) -> None:
        self.form = form
        self.target = target
        self.result = result
        self.filled: set[str] = set()  # selectors we typed into, selected or ticked
        self.slots: set[Slot] = set()
        self.honeypots: dict[str, str] = {}
        self.optins: dict[str, str] = {}
        self.notes: list[str] = []
        self.roles: dict[str, FieldRole] = {}  # every field seen, by selector, for the evidence

    @property
    def frame(self) -> Frame:
        return self.form.frame

    def _loc(self, control: ControlInfo) -> Locator:
        return self.frame.locator(control.selector)

    def _layer(self, control: ControlInfo) -> str:
        if control.explicit_slot or control.explicit_consent:
            return "explicit"
        return "vendor" if self.form.layer.startswith("vendor") else "heuristic"

    def _record(
        self, control: ControlInfo, slot: str, value: str, read_back: str | None, score: float
    ) -> None:
        self.filled.add(control.selector)
        self.result.fields.append(
            FieldFill(
                slot=slot,
                selector=control.selector,
                label=control.label_text[:200],
                value=value,
                read_back=read_back,
                score=score,
                frame_url=self.form.frame_url,
                layer=self._layer(control),
            )
        )

    # --- one step --------------------------------------------------------------------------------------

    async def run(self) -> FillReport:
        steps = 0
        try:
            for steps in range(1, MAX_STEPS + 1):
                if steps > 1:
                    self.form = await refresh(self.form, self.target.form)
                await self._fill_step()
                submit, next_button = self._buttons()
                if submit is None and next_button is not None and not self._has_later_step():
                    # A "Continue" that leads nowhere hidden is the send button: it must go through
                    # before_submit like any other, never be clicked as a harmless step.
                    submit, next_button = next_button, None
                    self.notes.append(
                        f"no hidden step follows: treating {submit.describe()} as the send button"
                    )
                if submit is not None:
                    submit = await self._ensure_enabled(submit)
                    return self._report(submit=submit, steps=steps)
                if next_button is None:
                    raise _FillStop(Detail.FILL_FAILED, "The form has no visible send or next button.")
                await self._next(next_button)
            raise _FillStop(Detail.NEEDS_HUMAN, f"The form still had no send button after {MAX_STEPS} steps.")
        except _FillStop as stop:
            return self._report(failure=(stop.detail, stop.reason), steps=steps)

    def _report(
        self, *, submit: ControlInfo | None = None, failure: tuple[Detail, str] | None = None, steps: int
    ) -> FillReport:
        self.result.skipped_honeypots = [v for k, v in self.honeypots.items() if k not in self.filled]
        self.result.unticked_optins = list(self.optins.values())
        self.result.roles = list(self.roles.values())
        return FillReport(self.form, submit=submit, failure=failure, steps=steps, notes=self.notes)

    async def _fill_step(self) -> None:
        controls = self.form.controls
        for control in controls:
            if control.kind == "field" and control.honeypot_reasons and control.selector not in self.filled:
                self.honeypots[control.selector] = (
                    f"{control.describe()}: {', '.join(control.honeypot_reasons)}"
                )
                self._set_role(
                    control, "honeypot", 1.0, "high", list(control.honeypot_reasons), action="skipped"
                )
        fresh = [c for c in controls if c.selector not in self.filled]
        chosen = assign_slots(fresh, taken=self.slots)
        for decision in decide_roles(fresh, chosen).values():
            self._role_of(decision)
        for slot, pick in chosen.items():
            control = pick.control
            if self._served_value(control):
                self.notes.append(f"left {control.describe()} as served ({control.value!r})")
                self._update_role(control, action="left as served", value=control.value)
                self.slots.add(slot)
                continue
            self.notes.append(
                f"{slot.value}: {control.describe()} <- {'; '.join(pick.evidence)} ({pick.score:g})"
            )
            if control.is_select:
                await self._select(control, slot.value, wanted=self.target.inquiry.topic, score=pick.score)
            else:
                candidates = self._candidates(slot, control)
                if candidates is None:
                    if not control.required:
                        self._update_role(control, note="the persona has no value for it; optional")
                        continue
                    candidates = company_candidates(control)
                await self._type(control, slot.value, candidates, pick.score, phone=slot is Slot.PHONE)
            self.slots.add(slot)
        for control in fresh:
            if control.kind != "field" or not control.usable or control.selector in self.filled:
                continue
            if control.is_checkbox:
                await self._checkbox(control)
            elif control.is_select and control.required:
                if not control.value or any(o.selected and is_placeholder_option(o) for o in control.options):
                    await self._select(control, "select", wanted=self.target.inquiry.topic, score=0.0)
            elif control.is_radio and control.required:
                await self._radio(control, controls)
            elif control.required and not control.value:
                await self._required_unmapped(control)

    # --- the evidence of each field's role --------------------------------------------------------------

    def _set_role(
        self,
        control: ControlInfo,
        role: str,
        value: float,
        level: str,
        why: list[str],
        *,
        action: str = "left empty",
    ) -> None:
        self.roles[control.selector] = FieldRole(
            selector=control.selector,
            name=control.name or control.id,
            label=control.label_text[:200],
            role=role,
            confidence=value,
            level=level,
            why=why,
            required=control.required,
            action=action,
        )

    def _role_of(self, decision: RoleDecision) -> None:
        role = decision.slot.value if decision.slot is not None else "unknown"
        self._set_role(decision.control, role, decision.confidence, decision.level, list(decision.why))

    def _update_role(self, control: ControlInfo, **changes: object) -> None:
        entry = self.roles.get(control.selector)
        if entry is None:
            self._set_role(control, "unknown", 0.0, "low", [])
            entry = self.roles[control.selector]
        for key, value in changes.items():
            setattr(entry, key, value)

    def _candidates(self, slot: Slot, control: ControlInfo) -> list[str] | None:
        """The persona's or the inquiry's answer for a slot, in the spellings worth trying, best first."""
        value = slot_value(slot, self.target.persona, self.target.inquiry)
        if value is None:
            return None
        if slot is Slot.PHONE:
            return phone_variants(value, control)
        if slot is Slot.SUBJECT:
            return subject_candidates(value, self.target.inquiry.message, control)
        if slot is Slot.MESSAGE:
            return [fit_length(value, control.maxlength)]
        if slot is Slot.EMAIL:
            return [value]
        return spellings([value], control)

    def _served_value(self, control: ControlInfo) -> bool:
        """A value the page put there itself (not a placeholder): leave it exactly as served."""
        return bool(control.value) and control.value == control.default_value and not control.is_select

    # --- typing and reading back ---------------------------------------------------------------------

    async def _fitting(self, control: ControlInfo, candidates: list[str]) -> tuple[list[str], str]:
        """The candidates the field accepts, in order, and why the others were refused."""
        if not control.has_constraints or not candidates:
            return candidates, ""
        raw = await self.frame.evaluate(
            page_function("fits"), {"selector": control.selector, "candidates": candidates}
        )
        reasons = [str(r) for r in raw.get("reasons") or ()]
        fitting = [c for c, why in zip(candidates, reasons, strict=False) if not why]
        refused = "; ".join(f"{c!r}: {why}" for c, why in zip(candidates, reasons, strict=False) if why)
        note = " | ".join(x for x in (str(raw.get("note") or ""), refused) if x)
        return fitting, note

    async def _type(
        self, control: ControlInfo, role: str, candidates: list[str], score: float, *, phone: bool = False
    ) -> None:
        fitting, note = await self._fitting(control, candidates)
        if not fitting:
            why = note or "nothing to type"
            self._update_role(control, action="no fitting value", note=why)
            if control.required:
                raise _FillStop(
                    Detail.NEEDS_HUMAN,
                    f"No value the persona can give fits the required field {control.describe()} ({why}).",
                )
            self.notes.append(f"{control.describe()}: left empty, no value fits ({why})")
            return
        loc = self._loc(control)
        read_back: str | None = None
        value = fitting[0]
        for attempt in fitting:
            await loc.fill(attempt, timeout=ACTION_TIMEOUT_MS)
            # Masks and validators rewrite values on blur; what counts is what stays, so read after it (one
            # read, not two: each is a round trip to the browser, and this runs for every field).
            await loc.blur(timeout=ACTION_TIMEOUT_MS)
            read_back = await loc.input_value(timeout=ACTION_TIMEOUT_MS)
            if read_back and (not phone or _same_digits(attempt, read_back)):
                value = attempt
                break
            self.notes.append(f"{control.describe()}: typed {attempt!r}, read back {read_back!r}")
        if not read_back:
            raise _FillStop(
                Detail.FILL_FAILED, f"The field {control.describe()} did not keep the typed value."
            )
        self._record(control, role, value, read_back, score)
        self._update_role(control, action="filled", value=value, note=note or None)

    async def _select(self, control: ControlInfo, slot: str, *, wanted: str | None, score: float) -> None:
        option = choose_option(control.options, wanted)
        if option is None:
            if control.required:
                raise _FillStop(
                    Detail.NEEDS_HUMAN, f"The required list {control.describe()} offers no option."
                )
            return
        loc = self._loc(control)
        await loc.select_option(value=option.value, timeout=ACTION_TIMEOUT_MS)
        read_back = await loc.input_value(timeout=ACTION_TIMEOUT_MS)
        self._record(control, slot, option.label, read_back, score)
        if slot == "select":
            self._update_role(control, role="select", why=["required list with no role: a general option"])
        self._update_role(control, action="filled", value=option.label)

    async def _radio(self, control: ControlInfo, controls: list[ControlInfo]) -> None:
        group = [c for c in controls if c.is_radio and c.name == control.name and c.usable]
        if any(c.checked or c.selector in self.filled for c in group):
            return
        wanted = normalise(self.target.inquiry.topic or "")
        fallback = vocabulary().topic_fallback
        ranked = sorted(
            group,
            key=lambda c: (
                not (wanted and normalise(c.label_text) == wanted),
                not fallback.search(c.label_text),
                c.index,
            ),
        )
        choice = ranked[0]
        await self._tick(choice)
        for c in group:
            self.filled.add(c.selector)
        self._record(choice, "select", choice.label_text, "checked", 0.0)
        self._update_role(
            choice, role="select", why=["required choice with no role"], action="filled", value="checked"
        )

    async def _required_unmapped(self, control: ControlInfo) -> None:
        asks = vocabulary().needs_human.search(f"{control.all_text} {control.identifier_text}")
        if asks:
            self._update_role(control, role="needs_human", note=f"asks for {asks}")
            raise _FillStop(
                Detail.NEEDS_HUMAN,
                f"The form requires {control.describe()} ({asks}), which the persona lacks.",
            )
        persona = self.target.persona
        if control.type == "email":
            candidates = [persona.email]  # a second address box is a confirmation of the first
        elif control.type == "tel":
            candidates = phone_variants(persona.phone, control)
        elif control.is_text or control.type == "date":
            candidates = neutral_candidates(control)
        else:
            candidates = []
        if not candidates:
            self._update_role(control, action="no fitting value", note="no neutral answer for this type")
            raise _FillStop(
                Detail.NEEDS_HUMAN, f"The form requires {control.describe()}, which we cannot answer."
            )
        language = "Hebrew" if form_is_hebrew(control) else "English"
        entry = self.roles.get(control.selector)
        why = [*(entry.why if entry else []), f"required, no role: a neutral answer ({language})"]
        self._update_role(control, role="neutral", why=why)
        await self._type(control, "neutral", candidates, 0.0, phone=control.type == "tel")

    # --- checkboxes -----------------------------------------------------------------------------------

    async def _checkbox(self, control: ControlInfo) -> None:
        kind = checkbox_kind(control)
        label = control.label_text or control.describe()
        self._update_role(
            control,
            role={"marketing": "optin"}.get(kind, kind),
            confidence=0.8 if kind != "other" else 0.3,
            level="high" if kind != "other" else "low",
            why=[f"checkbox words: {kind}"],
            action="left unticked" if not control.checked else "left as served",
        )
        if kind == "marketing":
            if control.checked:
                # Pre-ticked opt-in: a careful person unticks it; we never subscribe the persona.
                await self._untick(control)
                self.optins[control.selector] = f"{label} (was pre-ticked; unticked)"
                self._update_role(control, action="unticked")
            else:
                self.optins[control.selector] = label
            if control.required:
                raise _FillStop(Detail.NEEDS_HUMAN, f"The form requires the marketing opt-in {label!r}.")
            return
        if control.checked:
            return
        if control.explicit_consent or control.required:
            await self._tick(control)
            self._record(control, "consent", "checked", "checked", 0.0)
            self._update_role(control, action="ticked", value="checked")

    async def _tick(self, control: ControlInfo) -> None:
        loc = self._loc(control)
        if control.styled_toggle:
            # The real input is hidden behind a styled label: click the label, as a person would.
            await self._label_of(control).click(timeout=ACTION_TIMEOUT_MS)
        else:
            await loc.check(timeout=ACTION_TIMEOUT_MS)
        if not await loc.is_checked(timeout=ACTION_TIMEOUT_MS):
            raise _FillStop(Detail.FILL_FAILED, f"The box {control.describe()} did not stay ticked.")

    def _label_of(self, control: ControlInfo) -> Locator:
        wrapping = self._loc(control).locator("xpath=ancestor::label[1]")
        if not control.id:
            return wrapping.first
        return self.frame.locator(f"label[for={_css_string(control.id)}]").or_(wrapping).first

    async def _untick(self, control: ControlInfo) -> None:
        loc = self._loc(control)
        if control.styled_toggle:
            await self._label_of(control).click(timeout=ACTION_TIMEOUT_MS)
        else:
            await loc.uncheck(timeout=ACTION_TIMEOUT_MS)

    # --- buttons and steps ----------------------------------------------------------------------------

    def _buttons(self) -> tuple[ControlInfo | None, ControlInfo | None]:
        in_form = self.form.group.kind == "form"
        best: dict[str, tuple[float, ControlInfo]] = {}
        for control in self.form.controls:
            if control.kind != "button" or not control.shown:
                continue
            role, score = button_role(control, in_form=in_form)
            if role in ("submit", "next") and score > best.get(role, (-1.0, control))[0]:
                best[role] = (score, control)
        submit = best.get("submit")
        following = best.get("next")
        return (submit[1] if submit else None), (following[1] if following else None)

    def _has_later_step(self) -> bool:
        """Hidden sections of fields, or a hidden send button, mean a "next" button really is a step."""
        in_form = self.form.group.kind == "form"
        for control in self.form.controls:
            if control.kind == "field" and control.section_hidden:
                return True
            if (
                control.kind == "button"
                and not control.shown
                and button_role(control, in_form=in_form)[0] == "submit"
            ):
                return True
        return False

    async def _ensure_enabled(self, submit: ControlInfo) -> ControlInfo:
        """A disabled send button usually waits for a consent box (CF7's acceptance): tick consent only."""
        if not submit.disabled:
            return submit
        self.form = await refresh(self.form, self.target.form)
        for control in self.form.controls:
            if (
                control.is_checkbox
                and control.usable
                and not control.checked
                and checkbox_kind(control) == "consent"
            ):
                await self._tick(control)
                self._record(control, "consent", "checked", "checked", 0.0)
        await asyncio.sleep(0.2)
        self.form = await refresh(self.form, self.target.form)
        again, _ = self._buttons()
        if again is None or again.disabled:
            raise _FillStop(Detail.FILL_FAILED, "The send button stayed disabled after filling the form.")
        return again

    async def _next(self, button: ControlInfo) -> None:
        before = {c.selector for c in self.form.controls if c.kind == "field" and c.usable}
        await self._loc(button).click(timeout=ACTION_TIMEOUT_MS)
        self.notes.append(f"clicked next: {button.text or button.describe()}")
        deadline = time.monotonic() + 6.0
        while time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            try:
                fresh = await refresh(self.form, self.target.form)
            except PlaywrightError:
                continue  # the step may navigate (non-AJAX multi-page forms)
            now = {c.selector for c in fresh.controls if c.kind == "field" and c.usable}
            if now - before - self.filled:
                self.form = fresh
                return
        raise _FillStop(Detail.FILL_FAILED, "Clicking the next button showed no new fields.")


def _css_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _same_digits(a: str, b: str) -> bool:
    """Phone read-back check: masks add spaces, dashes and prefixes; the trailing digits must survive."""
    da, db = "".join(ch for ch in a if ch.isdigit()), "".join(ch for ch in b if ch.isdigit())
    return bool(db) and da[-7:] == db[-7:]


async def fill_form(form: LocatedForm, target: ProbeTarget, result: ProbeResult) -> FillReport:
    """Fill the form (all steps) and return the send button to click, or why not."""
    return await FormFiller(form, target, result).run()
