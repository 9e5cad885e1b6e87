"""Finding the contact form: explicit selectors, vendor adapters, then scored heuristics over every frame.

A page may hold a search box, a newsletter signup and the contact form, in any frame (HubSpot, Zoho and
Google Forms sit in cross-origin iframes) and sometimes without a <form> element at all. Every group is
scored; the best one above the threshold wins, and the layer that found it is recorded.
"""

from __future__ import annotations

import asyncio
import time
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


def score_group(snap: FrameSnapshot, group: GroupInfo) -> tuple[float, list[str]]:
    """How much a group looks like a contact form (and why)."""
    vocab = vocabulary()
    controls = snap.controls_of(group)
    fields = [c for c in controls if c.kind == "field" and c.usable]
    buttons = [c for c in controls if c.kind == "button" and c.shown]
    score, why = 0.0, []
    if any(c.explicit_slot or c.explicit_submit for c in controls):
        score += 100.0
        why.append("explicit selectors match")
    if group.vendor in KNOWN_VENDORS:
        score += 10.0
        why.append(f"vendor {group.vendor}")
    best: dict[Slot, float] = {}
    for control in fields:
        for s in score_control(control):
            best[s.slot] = max(best.get(s.slot, 0.0), s.score)
    if any(c.tag == "textarea" for c in fields):
        score += 4.0
        why.append("textarea")
    if best.get(Slot.EMAIL, 0.0) >= 6.0:
        score += 3.0
        why.append("email field")
    if best.get(Slot.PHONE, 0.0) >= 6.0:
        score += 1.0
    if max(best.get(Slot.FULL_NAME, 0.0), best.get(Slot.FIRST_NAME, 0.0)) >= 6.0:
        score += 1.0
    roles = [button_role(b, in_form=group.kind == "form") for b in buttons]
    if any(role == "submit" and s >= 6.0 for role, s in roles):
        score += 3.0
        why.append("send-like button")
    elif any(role in ("submit", "next") for role, _ in roles):
        score += 1.0
    text_fields = [c for c in fields if c.is_text]
    button_text = normalise(" ".join(b.text for b in buttons))
    if group.is_search or (
        len(text_fields) == 1 and vocab.search.search(f"{button_text} {text_fields[0].all_text}")
    ):
        score -= 20.0
        why.append("search box")
    if group.has_password:
        score -= 20.0
        why.append("password field")
    subscribe = vocab.subscribe.search(button_text, normalised=True)
    if subscribe and not any(c.tag == "textarea" for c in fields):
        score -= 8.0
        why.append(f"signup button {subscribe!r}")
    if len(text_fields) <= 1 and not any(c.tag == "textarea" for c in fields):
        score -= 5.0
        why.append("a single field")
    if not text_fields and not any(c.explicit_slot for c in controls):
        score -= 10.0
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
