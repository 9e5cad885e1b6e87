"""Reply-address tokens and reference codes (email-collection.md section 2).

A token is 9 lower-case Crockford base32 characters (no i, l, o, u look-alikes): 8 random ones (40 bits, from
`secrets`) and a check character, so a collector can drop mistyped or invented addresses early. A reference
code is a short upper-case code such as `K7Q2-9F`, appended to the message because help desks quote it back.
"""

from __future__ import annotations

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


def compose_message(template: str, *, ref: str, company: str, first_name: str, last_name: str) -> str:
    """The inquiry text for one probe: placeholders filled, and the reference line added if not placed."""
    text = (
        template.replace("{company}", company)
        .replace("{first_name}", first_name)
        .replace("{last_name}", last_name)
    )
    if "{ref}" in text:
        return text.replace("{ref}", ref)
    return f"{text.rstrip()}\n\nRef: {ref}"
