"""companies.yaml validation: every problem as FILE:LINE: key.path: message, and nothing runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.config import load_config, parse_config, parse_duration
from audit.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent

GOOD = """\
audit:
  name: "Test audit"
  timezone: Asia/Jerusalem
  language: he
  deadline: 7d
  thresholds: {fast: 4h, reasonable: 48h}
mailbox:
  address: "shopper+{token}@replies.example.org"
  imap: {host: imap.example.org, username: u, password_env: AUDIT_IMAP_PASSWORD, folders: [INBOX, Junk]}
persona: {first_name: Dana, last_name: Levi, phone: "050-1234567"}
inquiry: {subject: "Hello", message: "Do you offer a monthly plan?"}
companies:
  - id: mizrahi
    name: Bank Mizrahi-Tefahot
    sector: banking
    contact_url: https://www.example.co.il/contact
  - id: clal
    name: Clal Insurance
    contact_url: https://www.example.com/contact
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="companies.yaml")
    return info.value.problems


def test_a_good_file_loads_with_its_values() -> None:
    config = parse_config(GOOD)
    assert config.audit.deadline == timedelta(days=7)
    assert config.audit.thresholds.fast == timedelta(hours=4)
    assert [c.id for c in config.companies] == ["mizrahi", "clal"]
    assert config.mailbox.imap is not None and config.mailbox.imap.folders == ("INBOX", "Junk")


def test_the_shipped_example_is_valid() -> None:
    config = load_config(REPO / "companies.yaml")
    assert config.audit.language == "he"
    assert any(company.form is not None for company in config.companies)


def test_the_demo_config_is_valid() -> None:
    from audit.demo.run import demo_config_text

    config = parse_config(demo_config_text(9))
    assert all(
        c.contact_url == f"http://{c.id}.localhost:9/{c.contact_url.split('/', 3)[3]}"
        for c in config.companies
    )
    assert config.audit.allow_private_targets


def test_unknown_key_is_reported_with_its_line() -> None:
    text = GOOD.replace("    sector: banking\n", "    sector: banking\n    contct_url: oops\n")
    assert problems(text) == [
        "companies.yaml:16: companies.0.contct_url: "
        "unknown key (misspelt? see the README's configuration reference)"
    ]


def test_missing_key_points_at_its_parent() -> None:
    text = GOOD.replace("    name: Clal Insurance\n", "")
    assert problems(text) == ["companies.yaml:17: companies.1.name: required key is missing"]


def test_a_company_needs_a_way_to_reach_it() -> None:
    text = GOOD.replace("    contact_url: https://www.example.com/contact\n", "")
    assert problems(text) == ["companies.yaml:17: companies.1: needs a contact_url, a website or an email"]


def test_channels_need_what_they_send_through() -> None:
    bank = "    contact_url: https://www.example.co.il/contact\n"
    assert problems(GOOD.replace(bank, bank + "    channels: [form, email]\n")) == [
        "companies.yaml:13: companies.0: channels includes email: give the company's email"
    ]
    assert problems(GOOD.replace(bank, "    email: service@example.co.il\n")) == [
        "companies.yaml:1: (top level): company 'mizrahi' is written to by email: set mailbox.smtp (host, from_address, ...)"
    ]
    assert problems(GOOD.replace(bank, bank + "    email: not-an-address\n")) == [
        "companies.yaml:17: companies.0.email: must be one email address, such as service@example.com"
    ]
    smtp = '  smtp: {host: smtp.example.org, from_address: "shopper@replies.example.org"}\n'
    emailed = GOOD.replace(bank, "    email: service@example.co.il\n    email_fallback: true\n").replace(
        "persona:", smtp + "persona:"
    )
    assert problems(emailed) == [
        "companies.yaml:14: companies.0: email_fallback needs a contact_url or a website to fall back from"
    ]
    both = GOOD.replace(bank, bank + "    email: service@example.co.il\n    channels: [email, form]\n")
    config = parse_config(both.replace("persona:", smtp + "persona:"))
    assert config.companies[0].inquiry_channels == ("form", "email")
    assert config.companies[1].inquiry_channels == ("form",)
    emailed_only = parse_config(
        GOOD.replace(bank, "    email: service@example.co.il\n").replace("persona:", smtp + "persona:")
    )
    assert emailed_only.companies[0].inquiry_channels == ("email",)


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD.replace("deadline: 7d", "deadline: seven days").replace("Asia/Jerusalem", "Mars/Olympus")
    found = problems(text)
    assert len(found) == 2
    assert found[0].startswith("companies.yaml:3: audit.timezone: unknown time zone 'Mars/Olympus'")
    assert found[1].startswith("companies.yaml:5: audit.deadline: 'seven days' is not a duration")


def test_reply_address_needs_a_token() -> None:
    text = GOOD.replace("shopper+{token}@replies.example.org", "shopper@replies.example.org")
    assert problems(text) == [
        "companies.yaml:8: mailbox.address: must contain {token} exactly once, "
        "e.g. 'shopper+{token}@replies.example.org'"
    ]


def test_duplicate_company_ids_are_refused() -> None:
    text = GOOD.replace("id: clal", "id: mizrahi")
    assert problems(text) == ["companies.yaml:12: companies: company id 'mizrahi' is used twice"]


def test_bad_url_and_bad_id() -> None:
    text = GOOD.replace("https://www.example.com/contact", "ftp://x").replace("id: clal", "id: Clal Ins")
    found = problems(text)
    assert found[0].startswith("companies.yaml:17: companies.1.id: String should match pattern")
    assert found[1] == "companies.yaml:19: companies.1.contact_url: must be an http:// or https:// URL"


def test_yaml_syntax_error_has_a_line() -> None:
    text = GOOD.replace("  language: he\n", "  language: [he\n")
    found = problems(text)
    assert len(found) == 1 and found[0].startswith("companies.yaml:5: YAML syntax:")


def test_secrets_are_named_not_written() -> None:
    text = GOOD.replace("password_env: AUDIT_IMAP_PASSWORD", "password_env: hunter2 is my password")
    assert problems(text)[0].startswith("companies.yaml:9: mailbox.imap.password_env: String should match")
    text = GOOD.replace("password_env: AUDIT_IMAP_PASSWORD", "password: hunter2")
    assert problems(text)[0].startswith("companies.yaml:9: mailbox.imap.password: unknown key")


def test_unknown_message_placeholder() -> None:
    text = GOOD.replace("Do you offer a monthly plan?", "Hi {compnay}")
    assert problems(text) == [
        "companies.yaml:11: inquiry.message: unknown placeholder {compnay}; use {company} or {ref}"
    ]


def test_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    assert problems("- just\n- a list\n") == [
        "companies.yaml:1: expected a mapping with audit, mailbox, persona, inquiry, companies"
    ]
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7d", timedelta(days=7)), ("4h", timedelta(hours=4)), ("1h30m", timedelta(minutes=90)),
     ("45s", timedelta(seconds=45)), ("2w", timedelta(days=14)), (90, timedelta(seconds=90))],
)  # fmt: skip
def test_durations(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "seven", "7x", "-4h", "0h", "4h and more"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=23),
       st.integers(min_value=0, max_value=59))  # fmt: skip
def test_duration_parts_add_up(days: int, hours: int, minutes: int) -> None:
    text = "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n)
    if not text:
        return
    assert parse_duration(text) == timedelta(days=days, hours=hours, minutes=minutes)


def test_an_unknown_language_is_one_clear_line_naming_the_report_languages(tmp_path: Path) -> None:
    path = tmp_path / "companies.yaml"
    path.write_text(
        GOOD.replace("  language: he\n", "  language: fr\n").replace(
            'inquiry: {subject: "Hello"', 'inquiry: {language: de, subject: "Hello"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [
        f"{path}:4: audit.language: 'fr' is not a report language; choose en or he",
        f"{path}:11: inquiry.language: 'de' is not a report language; choose en or he",
    ]


def test_the_language_fields_take_the_report_languages() -> None:
    english_inquiry = 'inquiry: {language: en, subject: "Hello"'
    config = parse_config(GOOD.replace('inquiry: {subject: "Hello"', english_inquiry))
    assert (config.audit.language, config.inquiry.language) == ("he", "en")
    assert parse_config(GOOD.replace("  language: he\n", "")).audit.language == "en"
