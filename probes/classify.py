"""Which control asks for what: scored evidence per slot, then one global greedy assignment.

Weights follow docs/probing.md, "Classifying fields": autocomplete 10, input type or tag 8, label 6, name/id
5, placeholder/title/description 4, nearby text 2. A negative keyword in the same piece of evidence cancels it
(Chromium's NAME_IGNORED idea: "Company name" is not a person's name). On top of the words: ticket systems'
field names (`ticket[subject]`, `helpdesk_ticket[subject]`, `request[subject]`, `z_subject`, `summary`) 7,
the fieldset legend or heading above the control 2, and the position of a single-line field right before the
message box 3 (+2 when it is required): ticket systems and site builders name the subject field in words no
list knows, but they put it just above the message.

Every field gets a role decision with a confidence in 0..1 (how strong the winning evidence is, and by how
much it beats the runner-up) and the signals that decided, for the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from probes.dom import ControlInfo
from probes.types import Slot
from probes.vocab import PhraseSet, normalise, vocabulary

MIN_SCORE = 4.0
EXPLICIT_SCORE = 100.0
TICKET_NAME_WEIGHT = 7.0
HEADING_WEIGHT = 2.0
NEIGHBOUR_WEIGHT = 3.0
NEIGHBOUR_REQUIRED_WEIGHT = 2.0
# Ticket systems' documented field names: Zendesk `request[subject]` / `request[description]`, Freshdesk
# `helpdesk_ticket[subject]` / `helpdesk_ticket[description]`, Zoho Desk web forms `z_subject`, Request
# Tracker `Subject` / `Content`, Jira Service Management `summary`, osTicket's `summary`-type fields.
_TICKET_SUBJECT = re.compile(
    r"^(?:(?:helpdesk_)?tickets?|request|issue|case|support|contact)\[(?:subject|title|summary|topic)\]$"
    r"|^z_?subject$|^(?:ticket|issue|case|request)?[_-]?(?:subject|summary|title)$",
    re.IGNORECASE,
)
_TICKET_MESSAGE = re.compile(
    r"\[(?:description(?:_html)?|comment|body|content|message)\]$|^z_?description$|^(?:content|description)$",
    re.IGNORECASE,
)
# "Title" on a list of Mr/Mrs/Ms is a salutation, not the subject of the inquiry.
_SALUTATION = re.compile(r"^(?:mr|mrs|ms|miss|mx|dr|prof)\.?$|^(?:מר|גב'|גברת|ד\"ר)$", re.IGNORECASE)

_AUTOCOMPLETE: dict[str, Slot] = {
    "name": Slot.FULL_NAME,
    "given-name": Slot.FIRST_NAME,
    "family-name": Slot.LAST_NAME,
    "email": Slot.EMAIL,
    "tel": Slot.PHONE,
    "tel-national": Slot.PHONE,
    "organization": Slot.COMPANY,
}
_TEXT_SLOTS = frozenset(
    {
        Slot.FULL_NAME,
        Slot.FIRST_NAME,
        Slot.LAST_NAME,
        Slot.EMAIL,
        Slot.PHONE,
        Slot.COMPANY,
        Slot.SUBJECT,
        Slot.MESSAGE,
    }
)


@cache
def _CANCEL_WORDS() -> PhraseSet:
    return PhraseSet.of(["reset", "cancel", "back", "previous", "clear", "ביטול", "חזרה", "נקה", "הקודם"])


@dataclass(frozen=True, slots=True)
class SlotScore:
    control: ControlInfo
    slot: Slot
    score: float
    evidence: tuple[str, ...]


def compatible_slots(control: ControlInfo) -> frozenset[Slot]:
    """Slots a control can hold at all, by its kind."""
    if control.tag == "textarea":
        return frozenset({Slot.MESSAGE})
    if control.is_select:
        if any(_SALUTATION.match(normalise(o.label)) for o in control.options):
            return frozenset()
        return frozenset({Slot.TOPIC, Slot.SUBJECT})
    if control.tag != "input":
        return frozenset()
    if control.type == "email":
        return frozenset({Slot.EMAIL})
    if control.type == "tel":
        return frozenset({Slot.PHONE})
    if control.type in ("text", "search", ""):
        return _TEXT_SLOTS
    return frozenset()


def _evidence(control: ControlInfo) -> list[tuple[str, float, str]]:
    """(source, weight, normalised text) for each piece of textual evidence."""
    labels = " ".join((*control.labels, control.aria_label))
    described = " ".join((control.placeholder, control.title, control.described_by))
    # With no label of any kind, the preceding text is the label (Chromium's InferLabelFromPrevious).
    nearby_weight = 2.0 if labels.strip() or control.placeholder.strip() else 5.0
    nearby = normalise(control.nearby)
    if nearby and nearby in (normalise(labels), normalise(control.placeholder)):
        nearby = ""  # the preceding text is the label itself: one signal, not two
    return [
        ("label", 6.0, normalise(labels)),
        ("name/id", 5.0, control.identifier_text),
        ("placeholder/title", 4.0, normalise(described)),
        ("nearby", nearby_weight, nearby),
        ("heading", HEADING_WEIGHT, normalise(control.heading)),
    ]


def neighbour_bonus(controls: Iterable[ControlInfo]) -> dict[int, tuple[tuple[Slot, float, str], ...]]:
    """The single-line field right before the message box (or right after it, when none is before).

    Forms put the subject there (Zendesk, Freshdesk, osTicket, RT, most themes); it is evidence for the
    subject, weak alone, enough when the field is also required.
    """
    fields = [c for c in controls if c.kind == "field" and c.usable and not (c.is_checkbox or c.is_radio)]
    out: dict[int, tuple[tuple[Slot, float, str], ...]] = {}
    for pos, box in enumerate(fields):
        if box.tag != "textarea":
            continue
        before = fields[pos - 1] if pos > 0 else None
        after = fields[pos + 1] if pos + 1 < len(fields) else None
        near = before if before is not None and before.single_line else None
        if (
            near is None
            and after is not None
            and after.single_line
            and (before is None or not before.is_text)
        ):
            near = after
        if near is None or near.index in out:
            continue
        where = "above" if near.top <= box.top else "next to"
        weight = NEIGHBOUR_WEIGHT + (NEIGHBOUR_REQUIRED_WEIGHT if near.required else 0.0)
        why = f"single-line field {where} the message" + (" (required)" if near.required else "")
        out[near.index] = ((Slot.SUBJECT, weight, why),)
        break  # one message box: the first textarea is the message
    return out


Bonus = Mapping[int, tuple[tuple[Slot, float, str], ...]]
"""Evidence that needs the whole form (position), per control index: (slot, weight, why)."""


def score_control(control: ControlInfo, bonus: Bonus | None = None) -> list[SlotScore]:
    """Every compatible slot with a positive score for this control."""
    slots = compatible_slots(control)
    if control.explicit_slot is not None:
        return [SlotScore(control, control.explicit_slot, EXPLICIT_SCORE, ("explicit selector",))]
    if not slots:
        return []
    vocab = vocabulary()
    scores: dict[Slot, float] = dict.fromkeys(slots, 0.0)
    notes: dict[Slot, list[str]] = {slot: [] for slot in slots}

    for token in control.autocomplete.split():
        slot = _AUTOCOMPLETE.get(token)
        if slot in scores:
            scores[slot] += 10.0
            notes[slot].append(f"autocomplete={token}")
    type_slot = {"email": Slot.EMAIL, "tel": Slot.PHONE}.get(control.type) if control.tag == "input" else None
    if control.tag == "textarea":
        type_slot = Slot.MESSAGE
    if type_slot is not None:
        scores[type_slot] += 8.0
        notes[type_slot].append(
            f"{control.tag}[type={control.type}]" if control.tag == "input" else control.tag
        )
    if control.is_select:
        scores[Slot.TOPIC] += 1.0  # a select is a topic only if its words say so

    for source, weight, text in _evidence(control):
        if not text:
            continue
        for slot in slots:
            hit = vocab.slots[slot].search(text, normalised=True)
            if hit and not vocab.negative[slot].search(text, normalised=True):
                scores[slot] += weight
                notes[slot].append(f"{source} {hit!r}")
    # The name, else the id (Zendesk's id `request_subject` repeats its name: one signal, counted once).
    for slot, convention in ((Slot.SUBJECT, _TICKET_SUBJECT.match), (Slot.MESSAGE, _TICKET_MESSAGE.search)):
        named = next((n for n in (control.name, control.id) if n and convention(n)), None)
        if slot in scores and named is not None:
            scores[slot] += TICKET_NAME_WEIGHT
            notes[slot].append(f"name={named}")
    for slot, weight, why in (bonus or {}).get(control.index, ()):
        if slot in scores:
            scores[slot] += weight
            notes[slot].append(why)
    return [
        SlotScore(control, slot, score, tuple(notes[slot])) for slot, score in scores.items() if score > 0
    ]


def assign_slots(controls: Iterable[ControlInfo], *, taken: Iterable[Slot] = ()) -> dict[Slot, SlotScore]:
    """Greedy global assignment: the highest-scoring (control, slot) pair first, one field per slot."""
    controls = list(controls)
    bonus = neighbour_bonus(controls)
    candidates = [s for c in controls if c.usable and c.kind == "field" for s in score_control(c, bonus)]
    if any(c.usable and c.tag == "textarea" for c in controls):
        # With a message box on the form, a one-line box is never the message, whatever its words say.
        candidates = [s for s in candidates if s.slot is not Slot.MESSAGE or s.control.tag == "textarea"]
    order = {slot: n for n, slot in enumerate(Slot)}
    # Ties go to the earlier control, then the earlier slot: the same page always gets the same answer.
    candidates.sort(key=lambda s: (-s.score, s.control.index, order[s.slot]))
    used_before = set(taken)
    used_slots = set(used_before)
    used_controls: set[int] = set()
    chosen: dict[Slot, SlotScore] = {}
    for cand in candidates:
        if cand.score < MIN_SCORE or cand.slot in used_slots or cand.control.index in used_controls:
            continue
        chosen[cand.slot] = cand
        used_slots.add(cand.slot)
        used_controls.add(cand.control.index)
    # A full-name field means the name goes there; first/last only when there is none.
    if Slot.FULL_NAME in chosen or Slot.FULL_NAME in used_before:
        for slot in (Slot.FIRST_NAME, Slot.LAST_NAME):
            if slot in chosen and chosen[slot].score < EXPLICIT_SCORE:
                del chosen[slot]
    return chosen


@dataclass(frozen=True, slots=True)
class RoleDecision:
    """What one field was taken to be: the slot it got (None: no role), how sure, and why."""

    control: ControlInfo
    slot: Slot | None
    score: float
    runner_up: float
    why: tuple[str, ...]
    confidence: float
    level: str


def confidence(best: float, runner_up: float) -> tuple[float, str]:
    """0..1 from the winning score's strength (12 points, a label plus a name, is full strength) and its
    margin over the next-best slot; high from 0.75, medium from 0.45."""
    if best <= 0:
        return 0.0, "low"
    if best >= EXPLICIT_SCORE:
        return 1.0, "high"
    strength = min(1.0, best / 12.0)
    margin = max(0.0, best - max(runner_up, 0.0)) / best
    value = round(strength * (0.5 + 0.5 * margin), 2)
    return value, "high" if value >= 0.75 else "medium" if value >= 0.45 else "low"


def decide_roles(
    controls: Iterable[ControlInfo], chosen: Mapping[Slot, SlotScore]
) -> dict[int, RoleDecision]:
    """A decision for every usable field: its assigned slot, else its best unassigned guess as `None`."""
    controls = list(controls)
    bonus = neighbour_bonus(controls)
    by_control = {pick.control.index: pick for pick in chosen.values()}

    def rival(score: SlotScore) -> bool:
        # A slot that another field won with more evidence is no rival for this one.
        winner = chosen.get(score.slot)
        return winner is None or winner.score < score.score

    out: dict[int, RoleDecision] = {}
    for control in controls:
        if control.kind != "field" or not control.usable:
            continue
        scores = sorted(score_control(control, bonus), key=lambda s: -s.score)
        pick = by_control.get(control.index)
        if pick is not None:
            runner_up = max((x.score for x in scores if x.slot is not pick.slot and rival(x)), default=0.0)
            value, level = confidence(pick.score, runner_up)
            out[control.index] = RoleDecision(
                control, pick.slot, pick.score, runner_up, pick.evidence, value, level
            )
            continue
        best = scores[0] if scores else None
        why = best.evidence if best is not None else ()
        guess = f"best guess {best.slot.value} ({best.score:g}), not assigned" if best is not None else ""
        out[control.index] = RoleDecision(
            control,
            None,
            best.score if best else 0.0,
            scores[1].score if len(scores) > 1 else 0.0,
            (*why, guess) if guess else ("no keyword, name, type or position evidence",),
            0.0,
            "low",
        )
    return out


def checkbox_kind(control: ControlInfo) -> str:
    """`marketing` (never tick), `consent` (tick only if required) or `other`."""
    vocab = vocabulary()
    text = f"{control.all_text} {control.identifier_text}"
    if control.explicit_consent:
        return "consent"
    if vocab.marketing.search(text, normalised=True):
        return "marketing"
    if vocab.consent.search(text, normalised=True):
        return "consent"
    return "other"


def button_role(control: ControlInfo, *, in_form: bool) -> tuple[str, float]:
    """(`submit` | `next` | `other`, score) for a button, from its type, words and classes."""
    vocab = vocabulary()
    if control.explicit_submit:
        return "submit", EXPLICIT_SCORE
    text = normalise(" ".join((control.text, control.aria_label, control.title)))
    ident = f"{control.identifier_text} {normalise(control.classes)}"
    if control.type == "reset" or _CANCEL_WORDS().search(text, normalised=True):
        return "other", 0.0
    if vocab.next.search(text, normalised=True) or "next button" in ident or "gform next" in ident:
        return "next", 6.0
    if vocab.search.search(text, normalised=True) or vocab.subscribe.search(text, normalised=True):
        return "other", 0.0
    score = 0.0
    if vocab.submit.search(text, normalised=True):
        score += 6.0
    if control.type == "submit" or (control.tag == "button" and control.type in ("", "submit") and in_form):
        score += 4.0
    if "submit" in ident or "send" in ident:
        score += 2.0
    return ("submit", score) if score >= 4.0 else ("other", score)
