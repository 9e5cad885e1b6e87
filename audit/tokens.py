"""Reply-address tokens and reference codes (docs/collection.md, "Reply addresses and reference codes").

A token is 9 lower-case Crockford base32 characters (no i, l, o, u look-alikes): 8 random ones (40 bits, from
`secrets`) and a check character, so a collector can drop mistyped or invented addresses early. A reference
code is a short upper-case code such as `K7Q2-9F`, appended to the message because help desks quote it back.
"""

from __future__ import annotations

import re
import secrets

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_TOKEN_RANDOM = 8


def _check_char(body: str) -> str:
    # Odd weights are coprime to 32, so any single changed character changes the sum mod 32: every
    # one-character typo is caught (and most transpositions).
    total = sum((2 * position + 1) * CROCKFORD.index(char) for position, char in enumerate(body))
    return CROCKFORD[total % len(CROCKFORD)]


def new_token() -> str:
    body = "".join(secrets.choice(CROCKFORD) for _ in range(_TOKEN_RANDOM))
    return body + _check_char(body)


def is_valid_token(token: str) -> bool:
    token = token.lower()
    if len(token) != _TOKEN_RANDOM + 1 or any(char not in CROCKFORD for char in token):
        return False
    return _check_char(token[:-1]) == token[-1]


def new_ref_code() -> str:
    chars = "".join(secrets.choice(CROCKFORD) for _ in range(6)).upper()
    return f"{chars[:4]}-{chars[4:]}"


def reply_address(template: str, token: str) -> str:
    return template.replace("{token}", token)


_PLACEHOLDER = re.compile(r"\{(company|first_name|last_name|ref)\}")


def fill_placeholders(template: str, *, ref: str, company: str, first_name: str, last_name: str) -> str:
    """`{company}`, `{first_name}`, `{last_name}` and `{ref}` filled in; nothing added.

    In one pass over the template: a value is never read again, so a company named "{ref} Ltd" stays so
    (chained `str.replace` calls would fill placeholders inside the values filled in before them).
    """
    values = {"company": company, "first_name": first_name, "last_name": last_name, "ref": ref}
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def compose_message(template: str, *, ref: str, company: str, first_name: str, last_name: str) -> str:
    """The inquiry text for one probe: placeholders filled, and the reference line added if not placed."""
    placed = "{ref}" in template
    text = fill_placeholders(template, ref=ref, company=company, first_name=first_name, last_name=last_name)
    return text if placed else f"{text.rstrip()}\n\nRef: {ref}"


def compose_subject(template: str, *, ref: str, company: str, first_name: str, last_name: str) -> str:
    """The inquiry's subject for one probe: the same placeholders as the message, no reference line added
    (it is in the message; a subject has no room for it unless placed)."""
    return fill_placeholders(template, ref=ref, company=company, first_name=first_name, last_name=last_name)
