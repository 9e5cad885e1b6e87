"""What one `extract.js` pass reports about a frame, as typed values.

One `evaluate` per frame returns every control with its labels, attributes and honeypot signals, so the
classification in `probes.classify` is plain Python and needs no further round trips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Frame

from probes.scripts import page_function
from probes.types import FormSpec, Slot
from probes.vocab import normalise, split_identifier, vocabulary

TEXT_TYPES = frozenset({"text", "email", "tel", "url", "number", "search", ""})


def _str(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class Option:
    label: str
    value: str
    disabled: bool
    selected: bool


@dataclass(frozen=True, slots=True)
class ControlInfo:
    """One input, textarea, select or button as the page showed it."""

    index: int
    group: int
    kind: str  # field | button
    selector: str
    tag: str
    type: str
    name: str
    id: str
    classes: str
    autocomplete: str
    placeholder: str
    title: str
    aria_label: str
    labels: tuple[str, ...]
    described_by: str
    nearby: str
    text: str
    required: bool
    disabled: bool
    readonly: bool
    value: str
    default_value: str
    checked: bool
    shown: bool
    hidden_reasons: tuple[str, ...]
    section_hidden: bool
    container_text: str
    label_shown: bool
    maxlength: int | None
    pattern: str
    minlength: int | None
    min: str
    max: str
    step: str
    inputmode: str
    heading: str  # the fieldset's legend or the closest heading before the control in its group
    lang: str  # the nearest lang attribute (the page's language when nothing closer says)
    top: int  # page coordinates of the control's box, for "just above the message"
    left: int
    options: tuple[Option, ...]
    explicit_slot: Slot | None
    explicit_submit: bool
    explicit_consent: bool

    @classmethod
    def from_js(cls, raw: dict[str, Any]) -> ControlInfo:
        slot = raw.get("explicit_slot")
        maxlength = raw.get("maxlength")
        minlength = raw.get("minlength")
        return cls(
            index=int(raw["index"]),
            group=int(raw["group"]),
            kind=_str(raw, "kind"),
            selector=_str(raw, "selector"),
            tag=_str(raw, "tag"),
            type=_str(raw, "type"),
            name=_str(raw, "name"),
            id=_str(raw, "id"),
            classes=_str(raw, "classes"),
            autocomplete=_str(raw, "autocomplete"),
            placeholder=_str(raw, "placeholder"),
            title=_str(raw, "title"),
            aria_label=_str(raw, "aria_label"),
            labels=tuple(str(x) for x in raw.get("labels") or ()),
            described_by=_str(raw, "described_by"),
            nearby=_str(raw, "nearby"),
            text=_str(raw, "text"),
            required=bool(raw.get("required")),
            disabled=bool(raw.get("disabled")),
            readonly=bool(raw.get("readonly")),
            value=_str(raw, "value"),
            default_value=_str(raw, "default_value"),
            checked=bool(raw.get("checked")),
            shown=bool(raw.get("shown")),
            hidden_reasons=tuple(str(x) for x in raw.get("hidden_reasons") or ()),
            section_hidden=bool(raw.get("section_hidden")),
            container_text=_str(raw, "container_text"),
            label_shown=bool(raw.get("label_shown")),
            maxlength=int(maxlength) if isinstance(maxlength, int | float) else None,
            pattern=_str(raw, "pattern"),
            minlength=int(minlength) if isinstance(minlength, int | float) else None,
            min=_str(raw, "min"),
            max=_str(raw, "max"),
            step=_str(raw, "step"),
            inputmode=_str(raw, "inputmode"),
            heading=_str(raw, "heading"),
            lang=_str(raw, "lang"),
            top=int(raw.get("top") or 0),
            left=int(raw.get("left") or 0),
            options=tuple(
                Option(
                    str(o.get("label", "")),
                    str(o.get("value", "")),
                    bool(o.get("disabled")),
                    bool(o.get("selected")),
                )
                for o in raw.get("options") or ()
            ),
            explicit_slot=Slot(slot) if isinstance(slot, str) and slot in Slot._value2member_map_ else None,
            explicit_submit=bool(raw.get("explicit_submit")),
            explicit_consent=bool(raw.get("explicit_consent")),
        )

    # --- derived views -------------------------------------------------------------------------------

    @property
    def is_text(self) -> bool:
        return self.tag == "textarea" or (self.tag == "input" and self.type in TEXT_TYPES)

    @property
    def single_line(self) -> bool:
        """A one-line text box (what a subject or title is typed into)."""
        return self.tag == "input" and self.type in ("text", "search", "")

    @property
    def has_constraints(self) -> bool:
        """Anything the browser checks a typed value against, beyond `required`."""
        return bool(
            self.pattern
            or self.minlength
            or self.maxlength
            or self.min
            or self.max
            or self.step
            or self.type in ("email", "url", "number", "date", "tel")
        )

    @property
    def is_checkbox(self) -> bool:
        return self.tag == "input" and self.type == "checkbox"

    @property
    def is_radio(self) -> bool:
        return self.tag == "input" and self.type == "radio"

    @property
    def is_select(self) -> bool:
        return self.tag == "select"

    @property
    def label_text(self) -> str:
        """The best human description: label, aria-label, placeholder, title, nearby text."""
        for text in (
            *self.labels,
            self.aria_label,
            self.placeholder,
            self.title,
            self.nearby,
            self.name,
            self.id,
        ):
            if text.strip():
                return text.strip()[:200]
        return ""

    @property
    def all_text(self) -> str:
        """Everything said about the control, normalised, for keyword lists that are not slot-specific."""
        parts = (
            *self.labels,
            self.aria_label,
            self.placeholder,
            self.title,
            self.described_by,
            self.nearby,
            self.text,
        )
        return normalise(" ".join(p for p in parts if p))

    @property
    def identifier_text(self) -> str:
        return split_identifier(f"{self.name} {self.id}")

    @property
    def styled_toggle(self) -> bool:
        """A checkbox or radio hidden only cosmetically behind a visible label (click the label instead)."""
        cosmetic = {"opacity:0", "zero size", "clipped", "off-screen"}
        return (
            (self.is_checkbox or self.is_radio)
            and self.label_shown
            and bool(self.hidden_reasons)
            and all(r in cosmetic for r in self.hidden_reasons)
        )

    @property
    def honeypot_reasons(self) -> tuple[str, ...]:
        """Strong signals that this control is a trap for bots: it must never be filled."""
        if self.section_hidden or self.styled_toggle:
            return ()
        reasons = list(self.hidden_reasons)
        hp = vocabulary().honeypot
        if hp.search(
            " ".join((*self.labels, self.placeholder, self.described_by, self.nearby, self.container_text))
        ):
            reasons.append("leave-empty text")
        return tuple(reasons)

    @property
    def usable(self) -> bool:
        """Visible, enabled, editable, and no honeypot signal."""
        if self.disabled or self.readonly:
            return False
        if self.styled_toggle:
            return True
        return self.shown and not self.honeypot_reasons

    def describe(self) -> str:
        ident = self.name or self.id or self.selector
        return f"{self.text or self.label_text or ident} ({ident})"


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """A <form>, or a container of inputs outside any form that holds a button."""

    index: int
    kind: str  # form | formless
    selector: str
    action: str
    action_url: str
    method: str
    vendor: str | None
    is_search: bool
    has_password: bool
    hidden_inputs: int
    text: str
    shown: bool

    @classmethod
    def from_js(cls, raw: dict[str, Any]) -> GroupInfo:
        vendor = raw.get("vendor")
        return cls(
            index=int(raw["index"]),
            kind=_str(raw, "kind"),
            selector=_str(raw, "selector"),
            action=_str(raw, "action"),
            action_url=_str(raw, "action_url"),
            method=_str(raw, "method"),
            vendor=vendor if isinstance(vendor, str) else None,
            is_search=bool(raw.get("is_search")),
            has_password=bool(raw.get("has_password")),
            hidden_inputs=int(raw.get("hidden_inputs") or 0),
            text=_str(raw, "text"),
            shown=bool(raw.get("shown")),
        )


@dataclass(slots=True)
class FrameSnapshot:
    frame: Frame
    url: str
    title: str
    groups: list[GroupInfo]
    controls: list[ControlInfo] = field(default_factory=list)

    def controls_of(self, group: GroupInfo) -> list[ControlInfo]:
        return [c for c in self.controls if c.group == group.index]


def explicit_args(spec: FormSpec | None) -> dict[str, Any]:
    if spec is None:
        return {"fields": {}, "submit": None, "consent": []}
    return {
        "fields": {slot.value: selector for slot, selector in spec.fields.items()},
        "submit": spec.submit,
        "consent": list(spec.consent),
    }


async def snapshot(frame: Frame, spec: FormSpec | None = None) -> FrameSnapshot:
    """Describe every form-like group in the frame (one `evaluate`)."""
    raw: dict[str, Any] = await frame.evaluate(page_function("extract"), {"explicit": explicit_args(spec)})
    return FrameSnapshot(
        frame=frame,
        url=str(raw.get("url") or frame.url),
        title=str(raw.get("title") or ""),
        groups=[GroupInfo.from_js(g) for g in raw.get("groups") or ()],
        controls=[ControlInfo.from_js(c) for c in raw.get("controls") or ()],
    )
