"""Which control asks for what: scored evidence per slot, then one global greedy assignment.

Weights follow form-probing.md section 3: autocomplete 10, input type or tag 8, label 6, name/id 5,
placeholder/title/description 4, nearby text 2. A negative keyword in the same piece of evidence cancels it
(Chromium's NAME_IGNORED idea: "Company name" is not a person's name).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from probes.dom import ControlInfo
from probes.types import Slot
from probes.vocab import PhraseSet, normalise, vocabulary

MIN_SCORE = 4.0
EXPLICIT_SCORE = 100.0

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
    return [
        ("label", 6.0, normalise(labels)),
        ("name/id", 5.0, control.identifier_text),
        ("placeholder/title", 4.0, normalise(described)),
        ("nearby", nearby_weight, normalise(control.nearby)),
    ]


def score_control(control: ControlInfo) -> list[SlotScore]:
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
    return [
        SlotScore(control, slot, score, tuple(notes[slot])) for slot, score in scores.items() if score > 0
    ]


def assign_slots(controls: Iterable[ControlInfo], *, taken: Iterable[Slot] = ()) -> dict[Slot, SlotScore]:
    """Greedy global assignment: the highest-scoring (control, slot) pair first, one field per slot."""
    candidates = [s for c in controls if c.usable and c.kind == "field" for s in score_control(c)]
    candidates.sort(key=lambda s: (-s.score, s.control.index))
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
