"""What to type: persona and inquiry values per slot, phone formats, option choice, length limits."""

from __future__ import annotations

import re

from probes.dom import ControlInfo, Option
from probes.types import Inquiry, Persona, Slot
from probes.vocab import normalise, vocabulary

_HEBREW = re.compile("[\u05d0-\u05ea]")
_PLACEHOLDER_OPTION = re.compile(r"^\W*$|choose|select|pick|please|בחר|בחירה|--")


def is_hebrew(text: str) -> bool:
    return bool(_HEBREW.search(text))


def slot_value(slot: Slot, persona: Persona, inquiry: Inquiry) -> str | None:
    """The persona's answer for a slot; None when the persona has none (company)."""
    return {
        Slot.FULL_NAME: persona.full_name,
        Slot.FIRST_NAME: persona.first_name,
        Slot.LAST_NAME: persona.last_name,
        Slot.EMAIL: persona.email,
        Slot.PHONE: persona.phone,
        Slot.COMPANY: persona.company,
        Slot.SUBJECT: inquiry.subject,
        Slot.MESSAGE: inquiry.message,
        Slot.TOPIC: inquiry.topic or inquiry.subject,
    }[slot]


def fallback_text(control: ControlInfo) -> str:
    """A neutral answer for a required field nobody mapped (asked in the form's language)."""
    if control.type == "number":
        return "1"
    return "לא רלוונטי" if is_hebrew(control.label_text) else "N/A"


def fit_length(value: str, maxlength: int | None) -> str:
    """Respect maxlength; a long message keeps its last line (the reference line) when it can."""
    if maxlength is None or len(value) <= maxlength:
        return value
    lines = value.rstrip().splitlines()
    last = lines[-1] if lines else ""
    if 0 < len(last) < maxlength // 2:
        head = value[: maxlength - len(last) - 1].rstrip()
        return f"{head}\n{last}"
    return value[:maxlength]


def _shape(text: str) -> str:
    return re.sub(r"\d", "9", re.sub(r"\s+", " ", text.strip()))


def phone_variants(phone: str, control: ControlInfo) -> list[str]:
    """The persona's phone, then other spellings in the order the placeholder or pattern suggests.

    Israeli numbers are tried as +972 50 123 4567, 050-1234567 and 0501234567; masks that reject one
    spelling often take another.
    """
    digits = re.sub(r"\D", "", phone)
    variants = [phone, digits]
    if phone.strip().startswith("+") and digits.startswith("972"):
        local = "0" + digits[3:]
        variants += [local, f"{local[:3]}-{local[3:]}", f"+{digits}"]
    elif digits.startswith("0") and len(digits) >= 9:
        variants += [f"{digits[:3]}-{digits[3:]}", f"+972{digits[1:]}"]
    variants = list(dict.fromkeys(v for v in variants if v))
    hint = control.placeholder or control.title
    if control.pattern:
        try:
            fitting = [v for v in variants if re.fullmatch(control.pattern, v)]
        except re.error:
            fitting = []
        variants = fitting + [v for v in variants if v not in fitting]
    elif re.search(r"\d{3}", hint):
        shape = _shape(hint)
        variants.sort(key=lambda v: _shape(v) != shape)
    if control.maxlength:
        variants = [v for v in variants if len(v) <= control.maxlength] or variants
    return variants


def is_placeholder_option(option: Option) -> bool:
    return option.value == "" or bool(_PLACEHOLDER_OPTION.search(normalise(option.label)))


def choose_option(options: tuple[Option, ...], wanted: str | None) -> Option | None:
    """The inquiry's topic if offered, else a general-sounding one, else the first real option."""
    real = [o for o in options if not o.disabled and not is_placeholder_option(o)]
    if not real:
        return None
    if wanted:
        target = normalise(wanted)
        for option in real:
            if normalise(option.label) == target:
                return option
        for option in real:
            if target and (target in normalise(option.label) or normalise(option.label) in target):
                return option
    fallback = vocabulary().topic_fallback
    for option in real:
        if fallback.search(option.label):
            return option
    return real[0]
