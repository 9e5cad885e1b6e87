"""What to type: persona and inquiry values per slot, phone formats, option choice, length limits.

Each value comes as a list of spellings, best first; the filler keeps the first one the browser says the
field accepts (probes/js/fits.js: pattern with the `v` flag, minlength, maxlength, type, min/max/step), so
nothing is typed that the field refuses. A required field nobody could map gets a neutral answer in the
form's language, never "N/A".
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

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


NEUTRAL_EN = ("Not applicable", "None", "No preference", "No")
NEUTRAL_HE = ("לא רלוונטי", "אין", "ללא העדפה", "לא")
NO_COMPANY_EN = ("Private customer", "Private", "None")
NO_COMPANY_HE = ("לקוח פרטי", "פרטי", "אין")
NEVER_SEND = frozenset({"n/a", "na", "n.a.", "-", "."})


def form_is_hebrew(control: ControlInfo) -> bool:
    """The field speaks Hebrew: its own words, else the page's language."""
    words = f"{control.label_text} {control.heading}"
    if is_hebrew(words):
        return True
    return not re.search(r"[A-Za-z]{2,}", words) and control.lang.startswith(("he", "iw"))


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def number_candidates(control: ControlInfo) -> list[str]:
    """A small valid number: 1 (or the first step from min), inside min/max and on the step."""
    low, high, step = _decimal(control.min), _decimal(control.max), _decimal(control.step)
    base = low if low is not None else Decimal(0)
    if step is None or step <= 0 or control.step.strip().lower() == "any":
        step = Decimal(1)
    value = Decimal(1)
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    # Snap to the step grid counted from min (the spec's step base), rounding up inside the range.
    steps = ((value - base) / step).to_integral_value(rounding="ROUND_CEILING")
    snapped = base + steps * step
    if high is not None and snapped > high:
        snapped = base + ((high - base) / step).to_integral_value(rounding="ROUND_FLOOR") * step
    out = [snapped, low if low is not None else snapped]
    return list(dict.fromkeys(format(v.normalize(), "f") for v in out))


def date_candidates(control: ControlInfo, today: date) -> list[str]:
    """Today, moved inside min/max when the field limits it."""
    value = today.isoformat()
    if control.min and value < control.min:
        value = control.min
    if control.max and value > control.max:
        value = control.max
    return [value]


def neutral_candidates(control: ControlInfo, *, today: date | None = None) -> list[str]:
    """Neutral answers for a required field with no role: by type, else a phrase in the form's language."""
    if control.type == "number":
        return number_candidates(control)
    if control.type == "date":
        return date_candidates(control, today or date.today())
    if control.type in ("url", "email", "tel", "month", "week", "time", "datetime-local", "color"):
        return []  # the persona has no neutral web address, and email/tel are mapped by type
    phrases = list(NEUTRAL_HE if form_is_hebrew(control) else NEUTRAL_EN)
    if control.inputmode in ("numeric", "decimal"):
        phrases = ["1", "0", *phrases]  # a text box that asks for digits: the smallest plain count
    return spellings(phrases, control, cut=False)  # a cut phrase ("Not appl") says nothing


def company_candidates(control: ControlInfo) -> list[str]:
    """A required company field when the persona has none: a private customer, said so."""
    return spellings(list(NO_COMPANY_HE if form_is_hebrew(control) else NO_COMPANY_EN), control, cut=False)


def _cut_words(value: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary when one is near."""
    if len(value) <= limit:
        return value
    head = value[:limit]
    space = head.rfind(" ")
    return head[:space].rstrip(" ,.;:-") if space >= limit // 2 else head.rstrip()


def spellings(values: list[str], control: ControlInfo, *, longer: str = "", cut: bool = True) -> list[str]:
    """Each value, then forms of it that fit more fields: without punctuation, Latin letters only, cut to
    maxlength at a word (`cut`), lengthened with `longer` to minlength, and, when a pattern may limit the
    length, shorter cuts at a word. Best first, no duplicates, never "N/A"."""
    out: list[str] = []
    for value in values:
        plain = re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", value)).strip()
        ascii_only = re.sub(r"\s+", " ", re.sub(r"[^A-Za-z0-9 ]", " ", value)).strip()
        for form in (value, plain, ascii_only):
            if not form:
                continue
            if control.minlength and len(form) < control.minlength and longer:
                form = f"{form}: {longer}".strip()
            if cut and control.maxlength:
                form = _cut_words(form, control.maxlength)
            out.append(form)
            if cut and control.pattern:
                out += [_cut_words(form, limit) for limit in (40, 30, 20) if len(form) > limit]
    return [v for v in dict.fromkeys(out) if v and v.strip().lower() not in NEVER_SEND]


def subject_candidates(subject: str, message: str, control: ControlInfo) -> list[str]:
    """The inquiry's subject, then spellings of it that fit a pattern or a length limit."""
    first_line = next((line.strip() for line in message.splitlines() if line.strip()), "")
    return spellings([subject], control, longer=first_line)


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
