from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from audit.tokens import (
    CROCKFORD,
    compose_message,
    compose_subject,
    is_valid_token,
    new_ref_code,
    new_token,
    reply_address,
)


def test_tokens_are_unique_lowercase_and_checked() -> None:
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    assert all(is_valid_token(token) and token == token.lower() for token in tokens)


@given(st.data())
def test_any_single_character_change_is_caught(data: st.DataObject) -> None:
    token = new_token()
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from([c for c in CROCKFORD if c != token[position]]))
    assert not is_valid_token(token[:position] + replacement + token[position + 1 :])


def test_invalid_shapes() -> None:
    assert not is_valid_token("short")
    assert not is_valid_token("ilou00000")  # look-alike letters are not in the alphabet


def test_ref_code_shape() -> None:
    code = new_ref_code()
    assert len(code) == 7 and code[4] == "-" and code == code.upper()


def test_reply_address_and_message() -> None:
    assert reply_address("shopper+{token}@r.example.org", "abc") == "shopper+abc@r.example.org"
    text = compose_message("Hi {company}!", ref="K7Q2-9F", company="Acme", first_name="D", last_name="L")
    assert text == "Hi Acme!\n\nRef: K7Q2-9F"
    placed = compose_message(
        "Ref {ref} for {company}", ref="K7Q2-9F", company="Acme", first_name="D", last_name="L"
    )
    assert placed == "Ref K7Q2-9F for Acme"


def test_subject_placeholders_are_filled_and_no_reference_line_is_added() -> None:
    names = {"ref": "K7Q2-9F", "company": "Acme", "first_name": "Dana", "last_name": "Levi"}
    assert compose_subject("Question for {company}", **names) == "Question for Acme"
    assert compose_subject("{first_name} {last_name} asks ({ref})", **names) == "Dana Levi asks (K7Q2-9F)"
    assert compose_subject("A question", **names) == "A question"  # the reference goes in the message only
    assert compose_subject("{unknown} {Company} {{company}}", **names) == "{unknown} {Company} {Acme}"


@given(st.text(alphabet="{}refcompanyst_ ", max_size=30))
def test_filled_in_values_are_never_read_as_placeholders(name: str) -> None:
    # One pass over the template: a company named "{ref}" stays so, in the subject and in the message.
    names = {"ref": "K7Q2-9F", "company": name, "first_name": "Dana", "last_name": "Levi"}
    assert compose_subject("To {company}:", **names) == f"To {name}:"
    assert compose_message("To {company}. Ref {ref}", **names) == f"To {name}. Ref K7Q2-9F"
