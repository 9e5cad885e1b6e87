from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from audit.tokens import CROCKFORD, compose_message, is_valid_token, new_ref_code, new_token, reply_address


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
