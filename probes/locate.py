"""Finding the contact form: explicit selectors, vendor adapters, then scored heuristics over every frame.

A page may hold a search box, a newsletter signup and the contact form, in any frame (HubSpot, Zoho and
Google Forms sit in cross-origin iframes) and sometimes without a <form> element at all. Every group is
scored by the table of rules `SCORING_RULES` (docs/probing.md, "Finding the form"); the best one above the
threshold wins, and the layer that found it is recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Page

from probes.classify import button_role, score_control
from probes.dom import ControlInfo, FrameSnapshot, GroupInfo, snapshot
from probes.types import FormSpec, Slot
from probes.vocab import normalise, vocabulary

MIN_GROUP_SCORE = 5.0
KNOWN_VENDORS = frozenset({"cf7", "gravity", "wpforms", "elementor", "hubspot", "salesforce", "zoho"})


@dataclass(slots=True)
class LocatedForm:
    """The chosen group, where it lives and why it was chosen."""

    frame: Frame
    snap: FrameSnapshot
    group: GroupInfo
    layer: str  # explicit | vendor:<name> | heuristic
    score: float
    reasons: list[str] = field(default_factory=list)

    @property
    def controls(self) -> list[ControlInfo]:
        return self.snap.controls_of(self.group)

    @property
    def frame_url(self) -> str:
        return self.snap.url


STRONG_SIGNAL = 6.0
"""A slot or button score this high is a signal of its own: what a keyword in a field's label earns
(probes.classify), or a send word on a button."""


@dataclass(frozen=True, slots=True)
class GroupFeatures:
    """What the scoring rules look at, computed once per group so each rule is a one-line predicate.

    Every field has a default, so a test can build the features of a group that was never on a page.
    """

    vendor: str | None = None
    is_search: bool = False
    has_password: bool = False
    explicit_match: bool = False  # a control matches an explicit field or submit selector of the config
    explicit_slot: bool = False  # a control matches an explicit field selector
    fields: tuple[ControlInfo, ...] = ()  # usable fields
    buttons: tuple[ControlInfo, ...] = ()  # shown buttons
    text_fields: tuple[ControlInfo, ...] = ()  # the usable fields a person types text into
    has_textarea: bool = False
    best: Mapping[Slot, float] = field(default_factory=dict)  # the best score of each slot over the fields
    roles: tuple[tuple[str, float], ...] = ()  # probes.classify.button_role of each button
    button_text: str = ""  # every button's words, normalised
    search_phrase: str | None = None  # a search word by the group's only text field
    subscribe_phrase: str | None = None  # a signup word on a button

    def slot(self, *slots: Slot) -> float:
        """The best score any of these slots got (0 when no field fits them)."""
        return max((self.best.get(slot, 0.0) for slot in slots), default=0.0)

    @property
    def send_button(self) -> bool:
        return any(role == "submit" and score >= STRONG_SIGNAL for role, score in self.roles)


def group_features(snap: FrameSnapshot, group: GroupInfo) -> GroupFeatures:
    vocab = vocabulary()
    controls = snap.controls_of(group)
    fields = tuple(c for c in controls if c.kind == "field" and c.usable)
    buttons = tuple(c for c in controls if c.kind == "button" and c.shown)
    text_fields = tuple(c for c in fields if c.is_text)
    best: dict[Slot, float] = {}
    for control in fields:
        for s in score_control(control):
            best[s.slot] = max(best.get(s.slot, 0.0), s.score)
    button_text = normalise(" ".join(b.text for b in buttons))
    lone_text = text_fields[0].all_text if len(text_fields) == 1 else None
    return GroupFeatures(
        vendor=group.vendor,
        is_search=group.is_search,
        has_password=group.has_password,
        explicit_match=any(c.explicit_slot or c.explicit_submit for c in controls),
        explicit_slot=any(c.explicit_slot for c in controls),
        fields=fields,
        buttons=buttons,
        text_fields=text_fields,
        has_textarea=any(c.tag == "textarea" for c in fields),
        best=best,
        roles=tuple(button_role(b, in_form=group.kind == "form") for b in buttons),
        button_text=button_text,
        search_phrase=None if lone_text is None else vocab.search.search(f"{button_text} {lone_text}"),
        subscribe_phrase=vocab.subscribe.search(button_text, normalised=True),
    )


@dataclass(frozen=True, slots=True)
class ScoringRule:
    """One signal: when `applies`, the group's score moves by `weight` and `reason` (if any) says why.

    `reason` is a `str.format` template over the features as `f` ("vendor {f.vendor}").
    """

    name: str
    weight: float
    reason: str | None
    applies: Callable[[GroupFeatures], bool]


# In the order they are added up: the sum and the reasons come out in this order. Adding a signal is adding
# an entry here and a test (tests/test_locate_rules.py).
SCORING_RULES: tuple[ScoringRule, ...] = (
    ScoringRule("explicit", 100.0, "explicit selectors match", lambda f: f.explicit_match),
    ScoringRule("vendor", 10.0, "vendor {f.vendor}", lambda f: f.vendor in KNOWN_VENDORS),
    ScoringRule("textarea", 4.0, "textarea", lambda f: f.has_textarea),
    ScoringRule("email", 3.0, "email field", lambda f: f.slot(Slot.EMAIL) >= STRONG_SIGNAL),
    ScoringRule("phone", 1.0, None, lambda f: f.slot(Slot.PHONE) >= STRONG_SIGNAL),
    ScoringRule("name", 1.0, None, lambda f: f.slot(Slot.FULL_NAME, Slot.FIRST_NAME) >= STRONG_SIGNAL),
    ScoringRule("send button", 3.0, "send-like button", lambda f: f.send_button),
    ScoringRule(
        "submit or next button",
        1.0,
        None,
        lambda f: not f.send_button and any(role in ("submit", "next") for role, _ in f.roles),
    ),
    ScoringRule("search", -20.0, "search box", lambda f: f.is_search or bool(f.search_phrase)),
    ScoringRule("password", -20.0, "password field", lambda f: f.has_password),
    ScoringRule(
        "signup",
        -8.0,
        "signup button {f.subscribe_phrase!r}",
        lambda f: bool(f.subscribe_phrase) and not f.has_textarea,
    ),
    ScoringRule(
        "single field", -5.0, "a single field", lambda f: len(f.text_fields) <= 1 and not f.has_textarea
    ),
    ScoringRule("no text field", -10.0, None, lambda f: not f.text_fields and not f.explicit_slot),
)


def score_group(snap: FrameSnapshot, group: GroupInfo) -> tuple[float, list[str]]:
    """How much a group looks like a contact form (and why): the sum of the SCORING_RULES that apply."""
    features = group_features(snap, group)
    score, why = 0.0, []
    for rule in SCORING_RULES:
        if rule.applies(features):
            score += rule.weight
            if rule.reason is not None:
                why.append(rule.reason.format(f=features))
    return score, why


def _layer(group: GroupInfo, controls: list[ControlInfo]) -> str:
    if any(c.explicit_slot or c.explicit_submit for c in controls):
        return "explicit"
    if group.vendor in KNOWN_VENDORS:
        return f"vendor:{group.vendor}"
    return "heuristic"


async def _explicit_frame(page: Page, spec: FormSpec) -> Frame | None:
    assert spec.frame is not None
    handle = await page.locator(spec.frame).first.element_handle()
    return await handle.content_frame() if handle else None


async def scan_frames(page: Page, spec: FormSpec | None) -> list[LocatedForm]:
    """Every candidate group in every frame, best first."""
    frames: list[Frame]
    if spec is not None and spec.frame:
        found = await _explicit_frame(page, spec)
        frames = [found] if found else []
    else:
        frames = list(page.frames)
    out: list[LocatedForm] = []
    for frame in frames:
        if frame.is_detached() or (frame.url in ("", "about:blank") and frame is not page.main_frame):
            continue
        try:
            snap = await snapshot(frame, spec)
        except PlaywrightError:
            continue  # a frame navigating or detached mid-scan; the next poll sees it again
        for group in snap.groups:
            score, why = score_group(snap, group)
            controls = snap.controls_of(group)
            out.append(LocatedForm(frame, snap, group, _layer(group, controls), score, why))
    out.sort(key=lambda f: -f.score)
    return out


async def find_form(
    page: Page, spec: FormSpec | None, *, wait_s: float
) -> tuple[LocatedForm | None, list[str]]:
    """Poll for a contact form for up to `wait_s` seconds (JS-rendered forms appear late).

    Returns the form (or None) and a short summary of the candidates seen, for the evidence.
    """
    deadline = time.monotonic() + wait_s
    seen: list[str] = []
    while True:
        candidates = await scan_frames(page, spec)
        seen = [
            f"{c.group.kind} {c.group.selector} in {c.frame_url}: {c.score:g} ({', '.join(c.reasons) or '-'})"
            for c in candidates[:8]
        ]
        if candidates and candidates[0].score >= MIN_GROUP_SCORE:
            return candidates[0], seen
        if time.monotonic() >= deadline:
            return None, seen
        await asyncio.sleep(0.4)


async def refresh(form: LocatedForm, spec: FormSpec | None) -> LocatedForm:
    """Re-read the chosen group (after a step, a fill or a re-render), matched by its selector."""
    snap = await snapshot(form.frame, spec)
    same = [g for g in snap.groups if g.selector == form.group.selector]
    if not same:
        scored = sorted(((score_group(snap, g)[0], g) for g in snap.groups), key=lambda x: -x[0])
        if not scored:
            return LocatedForm(form.frame, snap, form.group, form.layer, form.score, form.reasons)
        same = [scored[0][1]]
    return LocatedForm(form.frame, snap, same[0], form.layer, form.score, form.reasons)
