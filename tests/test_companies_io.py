"""Company lists from spreadsheets, and companies.yaml edited in place.

Real files throughout: CSVs in the encodings Excel and LibreOffice write, an XLSX written by openpyxl, a
heavily commented companies.yaml edited by `audit.configfile` and compared with difflib line by line, and
the `audit companies` commands run through click's runner.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import os
import re
import tempfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.cli import cli
from audit.companies_io import (
    COLUMNS,
    ImportResult,
    company_id_from,
    export_companies,
    iter_issues,
    read_companies,
)
from audit.config import CompanySection, load_config, parse_config
from audit.configfile import append_companies, set_company_field
from audit.errors import ConfigError, UsageError

# A config written by hand: comments above, inside, beside and after entries, flow lists and mappings, both
# quote styles, Hebrew, a block scalar, four-space list indentation with three spaces after the dash, blank
# lines between entries, a commented-out entry and a section after the list.
HEAVY = """\
# Heavily commented companies.yaml: the round-trip tests edit a copy of it.
# שורת הערה בעברית: אל תשנו את הקובץ הזה.

audit:
  name: 'Round trip, "quoted"'   # single quotes kept
  timezone: Asia/Jerusalem
  language: he

mailbox:
  address: "dana.{token}@replies.example.org"
  maildir: /tmp/maildir     # a comment after a value

persona: {first_name: Dana, last_name: Levi, phone: "050-1234567"}   # a flow mapping

inquiry:
  subject: "שאלה לגבי תוכנית חודשית"
  message: |
    שלום,
    האם יש תוכנית חודשית?

companies:
    # the insurers first
    -   id: acme                      # hand-picked id
        name: "Acme Insurance"
        sector: insurance
        contact_url: https://www.acme.example.com/contact   # found by hand
        # a comment inside an entry
        notes: |
          Found by hand.

    -   id: globex
        name:   "גלובקס מובייל"
        sector: telecom   # mobile
        contact_url: 'https://www.globex.example.org/he/צור-קשר'
        form:
            consent: ["input[name='terms']", '#agree']
            success: {text: [פנייתך התקבלה, "תודה"]}
        # trailing comment of globex, indented under it
    # - id: initech        (commented out: a comment at the dash's column stays below new entries)
    #   name: Initech

# ---- the report ----
report:
  evidence_links: false   # the end
"""

SMTP = "  smtp: {host: 127.0.0.1, port: 2525, security: none, from_address: audit@example.org}\n"


def write(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def added_and_removed(old: str, new: str) -> tuple[list[str], list[str]]:
    """The lines difflib finds added to and removed from `old` (line endings included)."""
    before, after = old.splitlines(keepends=True), new.splitlines(keepends=True)
    added: list[str] = []
    removed: list[str] = []
    for tag, a_start, a_end, b_start, b_end in difflib.SequenceMatcher(
        None, before, after, False
    ).get_opcodes():
        if tag != "equal":
            removed += before[a_start:a_end]
            added += after[b_start:b_end]
    return added, removed


def without_added(old: str, new: str) -> str:
    """`new` less the lines difflib finds added to `old`: equal to `old` when nothing else changed."""
    before, after = old.splitlines(keepends=True), new.splitlines(keepends=True)
    opcodes = difflib.SequenceMatcher(None, before, after, False).get_opcodes()
    return "".join(line for tag, _, _, start, end in opcodes if tag != "insert" for line in after[start:end])


def issues(result: ImportResult) -> list[str]:
    return [str(issue) for issue in iter_issues(result)]


# ------------------------------------------------------------------------------------------- configfile


def test_appending_keeps_every_other_byte_of_a_heavily_commented_config(tmp_path: Path) -> None:
    path = write(tmp_path / "companies.yaml", HEAVY)
    append_companies(
        path,
        [
            {
                "id": "bnk-hpolim",
                "name": "בנק הפועלים",
                "sector": "banking",
                "website": "https://bankhapoalim.co.il",
            },
            {"id": "yes-co", "name": "yes", "contact_url": "https://yes.example.com/c", "region": "1:20"},
        ],
    )
    new = path.read_text(encoding="utf-8")
    added, removed = added_and_removed(HEAVY, new)
    assert removed == []
    assert without_added(HEAVY, new) == HEAVY
    # In the list's own style: four spaces, the dash, three spaces; a blank line between entries; quotes on
    # names as every name in the file has them; YAML 1.1's booleans and sexagesimals quoted.
    assert added == [
        "\n",
        "    -   id: bnk-hpolim\n",
        '        name: "בנק הפועלים"\n',
        "        sector: banking\n",
        "        website: https://bankhapoalim.co.il\n",
        "\n",
        "    -   id: yes-co\n",
        '        name: "yes"\n',
        "        contact_url: https://yes.example.com/c\n",
        '        region: "1:20"\n',
    ]
    # after globex's own trailing comment, before the commented-out entry at the dash's column
    assert new.index("yes-co") < new.index("# - id: initech") and new.index("indented under it") < new.index(
        "bnk-hpolim"
    )
    config = load_config(path)
    assert [c.id for c in config.companies] == ["acme", "globex", "bnk-hpolim", "yes-co"]
    assert config.company("yes-co").name == "yes" and config.company("yes-co").region == "1:20"


def test_appending_to_a_crlf_file_writes_crlf_lines_and_nothing_else(tmp_path: Path) -> None:
    original = HEAVY.replace("\n", "\r\n")
    path = write(tmp_path / "companies.yaml", original)
    append_companies(path, [{"id": "new-co", "name": "New Co", "website": "https://new.example.com"}])
    new = path.read_bytes().decode("utf-8")
    added, removed = added_and_removed(original, new)
    assert removed == []
    assert without_added(original, new) == original
    assert added and all(line.endswith("\r\n") for line in added)
    assert new.count("\n") == new.count("\r\n")  # no bare line feed anywhere
    assert load_config(path).company("new-co").website == "https://new.example.com"


def test_appending_follows_a_list_written_flush_left_in_a_file_without_a_last_line_break(
    tmp_path: Path,
) -> None:
    text = parse_ready(
        "companies:\n- id: a\n  name: A\n  contact_url: https://a.example.com\n- id: b\n  name: B\n"
        "  contact_url: https://b.example.com  # last line, no line break after it"
    )
    path = write(tmp_path / "companies.yaml", text)
    append_companies(path, [{"id": "c", "name": "C", "email": "info@c.example.com", "channels": ["email"]}])
    new = path.read_text(encoding="utf-8")
    assert new.startswith(text + "\n")
    assert new[len(text) + 1 :] == "- id: c\n  name: C\n  email: info@c.example.com\n  channels: [email]\n"
    assert load_config(path).company("c").inquiry_channels == ("email",)


def parse_ready(companies: str) -> str:
    """A small valid config (with mailbox.smtp, so email-only companies are allowed) ending in `companies`."""
    text = (
        "audit: {name: Small}\n"
        'mailbox:\n  address: "{token}@replies.example.org"\n'
        + SMTP
        + "persona: {first_name: D, last_name: L, phone: '050'}\n"
        "inquiry: {subject: S, message: M}\n" + companies
    )
    parse_config(text)
    return text


def test_setting_a_key_changes_that_line_only_and_keeps_its_quotes_and_comment(tmp_path: Path) -> None:
    path = write(tmp_path / "companies.yaml", HEAVY)
    set_company_field(path, "acme", "contact_url", "https://www.acme.example.com/he/contact")
    set_company_field(path, "globex", "contact_url", "https://www.globex.example.org/contact")
    new = path.read_text(encoding="utf-8")
    added, removed = added_and_removed(HEAVY, new)
    assert removed == [
        "        contact_url: https://www.acme.example.com/contact   # found by hand\n",
        "        contact_url: 'https://www.globex.example.org/he/צור-קשר'\n",
    ]
    assert added == [
        "        contact_url: https://www.acme.example.com/he/contact   # found by hand\n",
        "        contact_url: 'https://www.globex.example.org/contact'\n",
    ]
    assert load_config(path).company("globex").contact_url == "https://www.globex.example.org/contact"


def test_setting_a_new_key_adds_one_line_after_the_company_s_last_key(tmp_path: Path) -> None:
    path = write(tmp_path / "companies.yaml", HEAVY)
    set_company_field(path, "globex", "website", "https://www.globex.example.org")
    new = path.read_text(encoding="utf-8")
    added, removed = added_and_removed(HEAVY, new)
    assert (added, removed) == (["        website: https://www.globex.example.org\n"], [])
    assert without_added(HEAVY, new) == HEAVY
    assert new.index("success: {text:") < new.index("website:") < new.index("indented under it")
    assert load_config(path).company("globex").website == "https://www.globex.example.org"


def test_an_edit_that_would_make_the_config_invalid_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = write(tmp_path / "companies.yaml", HEAVY)
    before = path.read_bytes()
    # An email-only company needs mailbox.smtp, which this config lacks.
    with pytest.raises(ConfigError) as info:
        append_companies(path, [{"id": "mail-only", "name": "Mail Only", "email": "info@mail.example.com"}])
    assert any("set mailbox.smtp" in problem for problem in info.value.problems)
    assert info.value.problems[-1].startswith(f"{path}: left as it was")
    with pytest.raises(ConfigError):
        set_company_field(path, "acme", "contact_url", "not a url")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["companies.yaml"]  # no temporary file left


def test_a_failed_rename_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "companies.yaml", HEAVY)

    def full_disk(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(ConfigError, match="cannot be written: No space left on device; left as it was"):
        set_company_field(path, "acme", "sector", "banking")
    assert path.read_text(encoding="utf-8") == HEAVY
    assert sorted(p.name for p in tmp_path.iterdir()) == ["companies.yaml"]


def test_an_unknown_company_and_a_one_line_list_are_clear_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "companies.yaml", HEAVY)
    with pytest.raises(UsageError, match="no company with id 'initech'"):
        set_company_field(path, "initech", "contact_url", "https://initech.example.com")
    flow = write(
        tmp_path / "flow.yaml",
        parse_ready("companies: [{id: a, name: A, contact_url: 'https://a.example.com'}]\n"),
    )
    with pytest.raises(ConfigError, match=r"flow.yaml:7: companies: written as \[\.\.\.\]"):
        append_companies(flow, [{"id": "b", "name": "B", "website": "https://b.example.com"}])
    with pytest.raises(ConfigError, match=r"flow.yaml:7: companies.0: written as \{\.\.\.\}"):
        set_company_field(flow, "a", "sector", "banking")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(min_size=1, max_size=40).filter(str.strip), notes=st.text(max_size=60))
def test_any_text_appended_or_set_reads_back_as_the_same_text(name: str, notes: str) -> None:
    text = parse_ready("companies:\n  - id: a\n    name: A\n    contact_url: https://a.example.com\n")
    entry = {"id": "b", "name": name, "website": "https://b.example.com", "notes": notes}
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "companies.yaml", text)
        append_companies(path, [entry])
        set_company_field(path, "a", "notes", notes)
        config = load_config(path)
        assert (config.company("b").name, config.company("b").notes) == (name, notes)
        assert config.company("a").notes == notes


# ------------------------------------------------------------------------------------------- reading


HEBREW_CSV = """\
שם חברה,אתר אינטרנט,דוא"ל,תחום,טלפון
בנק הפועלים,bankhapoalim.co.il,,בנקאות,03-1234567
שופרסל,https://www.shufersal.co.il,service@shufersal.co.il,קמעונאות,
"אל על, נתיבי אוויר",https://www.elal.com,,תעופה,
"""


@pytest.mark.parametrize(
    ("encoding", "bom", "described"),
    [
        ("utf-8", b"", "CSV, UTF-8, separated by ','"),
        ("utf-8", codecs.BOM_UTF8, "CSV, UTF-8 with BOM, separated by ','"),
        ("cp1255", b"", "CSV, Windows-1255, separated by ','"),
        ("utf-16", b"", "CSV, UTF-16, separated by ','"),
    ],
)
def test_a_hebrew_csv_is_read_in_each_encoding_excel_writes(
    tmp_path: Path, encoding: str, bom: bytes, described: str
) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(bom + HEBREW_CSV.encode(encoding))
    result = read_companies(path, source="list.csv")
    assert result.described == described
    assert [(c.company.id, c.company.name, c.company.sector) for c in result.companies] == [
        ("bnk-hpolim", "בנק הפועלים", "בנקאות"),
        ("shoprsl", "שופרסל", "קמעונאות"),
        ("al-al-ntibi-avir", "אל על, נתיבי אוויר", "תעופה"),
    ]
    assert result.companies[1].company.email == "service@shufersal.co.il"
    assert issues(result) == [
        "list.csv:1: columns not imported: 'טלפון' (known: id, name, website, contact_url, email, sector, region, "
        "notes)",
        "list.csv:2: website: no http:// or https://; imported as https://bankhapoalim.co.il",
    ]
    assert result.problems == () and result.rows == 3


@pytest.mark.parametrize(("delimiter", "shown"), [(";", "';'"), ("\t", "tabs")])
def test_semicolons_and_tabs_are_found_and_columns_may_come_in_any_order(
    tmp_path: Path, delimiter: str, shown: str
) -> None:
    rows = [
        ["Notes", "E-Mail", "Contact URL", "COMPANY NAME", "Region", "Sector"],
        ["call first; ask for Dana", "", "https://acme.example.com/contact", "Acme", "north", "insurance"],
        ["", "info@globex.example.com", "", "Globex", "", ""],
    ]
    path = tmp_path / "list.csv"
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    result = read_companies(path, source="list.csv")
    assert result.described == f"CSV, UTF-8, separated by {shown}"
    acme, globex = (imported.company for imported in result.companies)
    assert (acme.id, acme.contact_url, acme.region, acme.sector, acme.notes) == (
        "acme",
        "https://acme.example.com/contact",
        "north",
        "insurance",
        "call first; ask for Dana",
    )
    assert (globex.email, globex.sector, globex.inquiry_channels) == (
        "info@globex.example.com",
        "other",
        ("email",),
    )
    assert issues(result) == []


def test_an_xlsx_sheet_is_read_below_its_title_row_with_the_sheet_s_row_numbers(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "חברות"
    sheet.append(["רשימת חברות לבדיקה, חורף 2026"])  # a title row above the header
    sheet.append([])
    sheet.append(["הערות", "אתר", "שם", "מייל", "ענף", "אזור"])
    sheet.append(["", "https://www.migdal.co.il", "מגדל", None, "ביטוח", "מרכז"])
    sheet.append([None, None, None, None, None, None])  # an empty row is passed over
    sheet.append(["", "", "כאל", "info@cal", "אשראי", ""])
    sheet.append([12.0, "www.cellcom.co.il/he/contact", "סלקום", "", "תקשורת", ""])
    workbook.create_sheet("other")
    workbook.save(tmp_path / "list.xlsx")
    result = read_companies(tmp_path / "list.xlsx", source="list.xlsx")
    assert result.described == "XLSX, sheet 'חברות' (the first of 2)"
    assert [(c.row, c.company.id, c.company.website, c.company.notes) for c in result.companies] == [
        (4, "mgdl", "https://www.migdal.co.il", None),
        (7, "slkom", "https://www.cellcom.co.il/he/contact", "12"),
    ]
    assert result.companies[0].company.region == "מרכז"
    assert issues(result) == [
        "list.xlsx:6: email: not an email address ('info@cal')",
        "list.xlsx:7: website: no http:// or https://; imported as https://www.cellcom.co.il/he/contact",
    ]


def test_every_bad_row_is_one_line_and_the_good_rows_are_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path / "companies.csv",
        "name,website,email,contact url\n"
        "Good Co,goodco.co.il,,\n"
        ",https://noname.example.com,,\n"
        "Bare,www.example,,\n"
        "Mail,,info@,\n"
        "Nothing,,,\n"
        "Files,ftp://files.example.com,,\n"
        "Spaced,https://www.exa mple.com,,\n"
        "Two mails,,a@x.example.com; b@x.example.com,\n"
        "Mixed up,info@mixed.example.com,,\n"
        "Contact,,,https://contact.example.com/form\n",
    )
    result = read_companies(path, source="companies.csv")
    assert issues(result) == [
        "companies.csv:2: website: no http:// or https://; imported as https://goodco.co.il",
        "companies.csv:3: name: empty: every company needs a name",
        "companies.csv:4: website: not a URL ('www.example' -> did you mean https://www.example?)",
        "companies.csv:5: email: not an email address ('info@')",
        "companies.csv:6: website: no website, contact URL or email: a company needs one of them",
        "companies.csv:7: website: not an http:// or https:// address ('ftp://files.example.com')",
        "companies.csv:8: website: not a URL ('https://www.exa mple.com')",
        "companies.csv:9: email: more than one address ('a@x.example.com; b@x.example.com'); give one (the others "
        "can go in notes)",
        "companies.csv:10: website: 'info@mixed.example.com' is an email address, not a web address (put it in the "
        "email column)",
    ]
    assert [c.company.id for c in result.companies] == ["good-co", "contact"]
    assert result.bad_rows == 8


def test_a_file_without_a_name_column_or_unreadable_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(
        UsageError, match=r"^list.csv:1: no column of company names \(the header row has 'Firma', 'Web'\)"
    ):
        read_companies(write(tmp_path / "a.csv", "Firma,Web\nAcme,acme.com\n"), source="list.csv")
    with pytest.raises(UsageError, match=r"^list.csv:1: no website, contact_url or email column"):
        read_companies(write(tmp_path / "b.csv", "name,notes\nAcme,x\n"), source="list.csv")
    with pytest.raises(UsageError, match=r"^list.xlsx: not a readable XLSX workbook"):
        read_companies(write(tmp_path / "c.xlsx", "name,website\n"), source="list.xlsx")
    (tmp_path / "d.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    with pytest.raises(UsageError, match=r"^list.xls: an Excel 97-2003 \(.xls\) file; save it as .xlsx"):
        read_companies(tmp_path / "d.xls", source="list.xls")
    (tmp_path / "e.csv").write_bytes(b"name,website\n\x81\x8a,x.com\n")
    with pytest.raises(UsageError, match=r"^list.csv: line 2: byte 0x81 is neither UTF-8 nor Windows-1255"):
        read_companies(tmp_path / "e.csv", source="list.csv")


@pytest.mark.parametrize(
    ("name", "company_id"),
    [
        ("בנק הפועלים", "bnk-hpolim"),
        ('שופרסל בע"מ', "shoprsl-bm"),
        ("צ׳יפס", "chips"),
        ("אל על", "al-al"),
        ("מכבי שירותי בריאות", "mkbi-shiroti-briot"),
        ("Café Müller & Söhne", "cafe-muller-sohne"),
        ("Яндекс", "yandeks"),
        ("!!!", "company"),
    ],
)
def test_ids_are_readable_ascii_made_from_names(name: str, company_id: str) -> None:
    assert company_id_from(name) == company_id
    CompanySection(id=company_id, name=name, website="https://x.example.com")  # a valid id


def test_ids_that_collide_get_a_number_and_never_take_one_of_the_config(tmp_path: Path) -> None:
    config = parse_config(
        parse_ready(
            "companies:\n  - id: acme\n    name: Acme Insurance\n    contact_url: https://acme.example.com\n"
        )
    )
    path = write(
        tmp_path / "list.csv",
        "name,website\nAcme!,https://acme-two.co.il\nÁcme,https://acme3.co.il\n"
        "Café Noir,https://noir-cafe.co.il\nCafe Noir,https://cafenoir.co.il\n",
    )
    result = read_companies(path, existing=config.companies)
    assert [c.company.id for c in result.companies] == ["acme-2", "acme-3", "cafe-noir", "cafe-noir-2"]
    assert (result.problems, result.duplicates) == ((), ())


def test_companies_already_in_the_config_or_earlier_in_the_file_are_skipped_as_duplicates(
    tmp_path: Path,
) -> None:
    config = parse_config(
        parse_ready(
            "companies:\n"
            "  - id: acme\n    name: Acme Insurance\n    contact_url: https://www.acme.co.il/contact\n"
            "  - id: mail\n    name: Mail Co\n    email: Info@mail.example.com\n"
        )
    )
    path = write(
        tmp_path / "list.csv",
        "name,website,email\n"
        "Acme Ltd,acme.co.il,\n"
        "acme  insurance,https://other.example.com,\n"
        "Post,,info@mail.example.com\n"
        "Fresh,https://fresh.example.com,\n"
        "Fresh Again,https://www.fresh.example.com/he,\n",
    )
    result = read_companies(path, existing=config.companies, source="list.csv")
    assert [str(issue) for issue in result.duplicates] == [
        "list.csv:2: website: same site (acme.co.il) as in the config as 'acme'; skipped",
        "list.csv:3: name: 'acme insurance' is already in the config as 'acme'; skipped",
        "list.csv:4: email: info@mail.example.com is already in the config as 'mail'; skipped",
        "list.csv:6: website: same site (example.com) as in row 5; skipped",
    ]
    assert [c.company.id for c in result.companies] == ["fresh"]
    assert result.problems == ()


def test_an_email_only_company_is_a_problem_when_the_config_cannot_send_email(tmp_path: Path) -> None:
    path = write(tmp_path / "list.csv", "name,email\nPost,info@post.example.com\n")
    result = read_companies(path, email_channel=False, source="list.csv")
    assert issues(result) == [
        "list.csv:2: email: only an email address, and the config has no mailbox.smtp to send from: set it or give "
        "a website"
    ]
    assert read_companies(path, email_channel=True).companies[0].company.email == "info@post.example.com"


# Arbitrary cells, bidi marks, control characters, formulas, surrogate-free Unicode of every kind.
_CELLS = st.text(max_size=30) | st.sampled_from(
    [
        "",
        "=1+1",
        "'=x",
        "\u200fאתר.co.il",
        "www.example",
        "a@b",
        "mailto:x@y.co.il",
        "http://",
        "https://[::1",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_CELLS, min_size=0, max_size=6), max_size=8))
def test_arbitrary_cells_never_crash_the_importer_only_give_clear_problems(rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "website", "email", "contact_url", "notes", "id"])
    writer.writerows(rows)
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "list.csv", out.getvalue())
        result = read_companies(path, source="list.csv")
    for issue in issues(result):
        assert re.match(r"^list\.csv:\d+: ", issue) and "\n" not in issue, issue
    for imported in result.companies:
        assert CompanySection.model_validate(imported.entry) == imported.company
    assert len({c.company.id for c in result.companies}) == len(result.companies)


# ------------------------------------------------------------------------------------------- export


ROUND_TRIP = parse_ready(
    "companies:\n"
    "  - id: bank-leumi\n    name: בנק לאומי\n    sector: בנקאות\n    website: https://www.leumi.co.il\n"
    '    region: מרכז\n    notes: "line one\\nline two, with a comma"\n'
    '  - id: formula\n    name: "=HYPERLINK(1)"\n    contact_url: https://formula.example.com/c\n'
    '  - id: mail-only\n    name: "Mail, Only"\n    email: info@mail.example.com\n    notes: "-5 stars"\n'
)


def test_export_then_import_gives_the_same_companies(tmp_path: Path) -> None:
    config = parse_config(ROUND_TRIP)
    text = export_companies(config)
    assert text.startswith("\ufeffid,name,website,contact_url,email,sector,region,notes\r\n")
    assert "'=HYPERLINK(1)" in text and "'-5 stars" in text  # no spreadsheet runs a formula from the config
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode("utf-8"))
    result = read_companies(path)
    assert issues(result) == []
    assert [imported.company for imported in result.companies] == list(config.companies)
    assert list(result.companies[0].entry) == ["id", "name", "sector", "website", "region", "notes"]
    assert set(COLUMNS) == {*result.companies[0].entry, "contact_url", "email"}


# ------------------------------------------------------------------------------------------- the commands


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_import_previews_then_writes_and_the_config_keeps_its_comments(tmp_path: Path) -> None:
    config_path = write(tmp_path / "companies.yaml", HEAVY)
    sheet = write(
        tmp_path / "list.csv",
        "שם;אתר;הערות\nבנק הפועלים;bankhapoalim.co.il;\nAcme Insurance;https://acme.example.net;dup\n"
        "Bad;www.example;\n",
    )
    code, out, err = run("companies", "import", str(sheet), "--config", str(config_path))
    assert code == 0, err
    assert "bnk-hpolim" in out and "https://bankhapoalim.co.il" in out
    assert "1 to add, 1 bad row(s) and 1 duplicate(s) skipped. Nothing written: add --write" in out
    assert f"{sheet}:4: website: not a URL ('www.example' -> did you mean https://www.example?)" in err
    assert f"{sheet}:3: name: 'Acme Insurance' is already in the config as 'acme'; skipped" in err
    assert config_path.read_text(encoding="utf-8") == HEAVY

    code, out, err = run("companies", "import", str(sheet), "--write", "--config", str(config_path))
    assert code == 0, err
    assert f"Added 1 company to {config_path}" in out
    new = config_path.read_text(encoding="utf-8")
    added, removed = added_and_removed(HEAVY, new)
    assert removed == [] and without_added(HEAVY, new) == HEAVY
    assert "    -   id: bnk-hpolim\n" in added
    assert load_config(config_path).company("bnk-hpolim").website == "https://bankhapoalim.co.il"

    code, out, _ = run("companies", "import", str(sheet), "--write", "--config", str(config_path))
    assert "Nothing to add: 1 bad row(s) and 2 duplicate(s) skipped." in out
    assert code == 1  # a bad row, and nothing added
    assert config_path.read_text(encoding="utf-8") == new


def test_import_exits_1_when_every_row_is_bad_and_writes_nothing(tmp_path: Path) -> None:
    config_path = write(tmp_path / "companies.yaml", HEAVY)
    sheet = write(tmp_path / "list.csv", "name,website\n,https://x.example.com\nBad,www.example\n")
    code, _, err = run("companies", "import", str(sheet), "--write", "--config", str(config_path))
    assert code == 1
    assert f"{sheet}:2: name: empty: every company needs a name" in err
    assert config_path.read_text(encoding="utf-8") == HEAVY
    code, _, err = run("companies", "import", str(tmp_path / "missing.csv"), "--config", str(config_path))
    assert code == 1 and f"{tmp_path / 'missing.csv'}: no such file" in err and "Traceback" not in err


def test_export_writes_the_csv_to_stdout_or_a_file(tmp_path: Path) -> None:
    config_path = write(tmp_path / "companies.yaml", ROUND_TRIP)
    result = CliRunner().invoke(cli, ["companies", "export", "--config", str(config_path)])
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(codecs.BOM_UTF8 + b"id,name,")
    assert "בנק לאומי".encode() in result.stdout_bytes
    code, out, _ = run(
        "companies", "export", "--config", str(config_path), "--out", str(tmp_path / "out.csv")
    )
    assert code == 0 and "Wrote 3 companies to" in out
    assert (tmp_path / "out.csv").read_bytes() == result.stdout_bytes
