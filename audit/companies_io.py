"""The company list as a spreadsheet: read CSV and XLSX files into companies, write the config's list as CSV.

An audit usually starts from a spreadsheet of names and websites, in English or in Hebrew, saved by Excel,
LibreOffice or Google Sheets. The reader accepts what those write: header names in either language in any
order and case, UTF-8 with or without a BOM, UTF-16 ("Unicode text") and Windows-1255, commas, semicolons
or tabs. It never guesses silently: every bad cell is a `FILE:ROW: column: problem` line and its row is
skipped; every change it makes to a value (a bare domain given https://) is a note on the same form; every
column it does not know is named once. A company already in the config (same site domain, same name or
same email) is a duplicate and is skipped, so importing the same file twice adds nothing.

Ids are made from names: lower-case ASCII, Hebrew transliterated, `-2`, `-3` on a collision with the config
or with an earlier row. Each imported company is validated as a `CompanySection` before it is offered.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import openpyxl
import tldextract
from anyascii import anyascii
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from audit.config import AuditConfig, CompanySection
from audit.domains import site_domain
from audit.errors import UsageError

COLUMNS = ("id", "name", "website", "contact_url", "email", "sector", "region", "notes")
"""The columns read and written, in the order the export writes them. `id` is optional on import (made from
the name when absent); it is exported so that a list edited in a spreadsheet keeps its ids."""
CONFIG_ORDER = ("id", "name", "sector", "website", "contact_url", "email", "region", "notes")
"""The order of an imported company's keys in companies.yaml (that of the example config)."""

# Header names as they are normalized by `_header_key` (case folded, quotes dropped, `_ - . /` as spaces),
# so `Contact URL`, `contact_url` and `contact-url` are one, and so are `דוא"ל`, `דוא״ל` and `דואל`.
HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "id": ("id", "company id", "מזהה"),
    "name": (
        "name", "company", "company name", "organization", "organisation", "business", "brand",
        "שם", "שם חברה", "שם החברה", "חברה", "שם העסק", "עסק", "ארגון", "שם הארגון",
    ),
    "website": (
        "website", "web site", "site", "url", "homepage", "home page", "web", "domain",
        "אתר", "אתר אינטרנט", "כתובת אתר", "כתובת האתר", "אתר החברה", "אתר הבית", "דומיין",
    ),
    "contact_url": (
        "contact url", "contact page", "contact page url", "contact form", "contact form url", "form",
        "form url", "contact us page",
        "דף יצירת קשר", "דף צור קשר", "עמוד יצירת קשר", "עמוד צור קשר", "טופס", "טופס יצירת קשר",
        "טופס צור קשר", "קישור לטופס", "צור קשר", "יצירת קשר",
    ),
    "email": (
        "email", "e mail", "mail", "email address", "e mail address",
        "דואל", "דואר אלקטרוני", "אימייל", "אי מייל", "מייל", "כתובת מייל", "כתובת דואל", "כתובת אימייל",
    ),
    "sector": (
        "sector", "industry", "category", "field",
        "תחום", "ענף", "קטגוריה", "סקטור", "תחום פעילות",
    ),
    "region": ("region", "area", "location", "country", "אזור", "איזור", "מחוז", "מיקום", "מדינה"),
    "notes": ("notes", "note", "comments", "comment", "remarks", "הערות", "הערה"),
}  # fmt: skip

MAX_FILE_BYTES = 20_000_000
"""The largest file read. A 200-company list is about 50 KB as CSV and 100 KB as XLSX."""
MAX_XLSX_UNPACKED = 200_000_000
"""The most bytes the parts of an XLSX may unpack to (a zip file can unpack to a thousand times its size)."""
MAX_ROWS = 10_000
"""Rows read at most; the config itself holds about 3,000 companies before its size limit."""
MAX_CHARS = {
    "id": 63, "name": 200, "website": 2000, "contact_url": 2000, "email": 254, "sector": 100, "region": 100,
    "notes": 2000,
}  # fmt: skip
"""The longest value of each column; a longer one is a problem, never cut short silently."""
MAX_SLUG = 48
"""Ids made from names are cut to this, leaving room for a `-NN` suffix within the 63 characters an id has."""
HEADER_SEARCH_ROWS = 10
"""The header is the first of this many non-empty rows that names a column of company names (a title row
above it, as spreadsheets often have, is passed over)."""

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_EMAIL = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")
_HOST_LABEL = re.compile(r"^(?!-)[\w-]{1,63}(?<!-)$")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)
_NOT_WEB = ("mailto:", "tel:", "javascript:", "data:", "file:")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ------------------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Issue:
    """One line about one row (or the header): `FILE:ROW: column: message`."""

    source: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.row}"
        return f"{where}: {self.column}: {self.message}" if self.column else f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class ImportedCompany:
    row: int
    company: CompanySection
    entry: dict[str, str]
    """The keys to write into companies.yaml, in CONFIG_ORDER (the empty ones left out)."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    source: str
    described: str
    """How the file was read, e.g. "CSV, Windows-1255, separated by ';'"."""
    rows: int
    """Non-empty data rows read."""
    companies: tuple[ImportedCompany, ...]
    problems: tuple[Issue, ...]
    """Bad rows, each skipped (a row may have several)."""
    duplicates: tuple[Issue, ...]
    """Rows of companies already in the config or earlier in the file, skipped."""
    notes: tuple[Issue, ...]
    """What was changed in a kept row, and the columns not imported."""

    @property
    def bad_rows(self) -> int:
        return len({issue.row for issue in self.problems})


@dataclass(slots=True)
class _Table:
    described: str
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    """(row number as the spreadsheet shows it, cells)."""


class _CellProblem(Exception):
    pass


# ------------------------------------------------------------------------------------------- reading


def read_companies(
    path: Path,
    *,
    existing: Sequence[CompanySection] = (),
    email_channel: bool = True,
    source: str | None = None,
) -> ImportResult:
    """The companies of a CSV or XLSX file, checked against the `existing` ones of the config.

    `email_channel` False (the config has no mailbox.smtp) makes a row with only an email address a problem:
    such a company could not be written to. Raises UsageError when the file cannot be read at all."""
    name = source if source is not None else str(path)
    table = _read_table(path, name)
    return _companies_from(table, name, existing=existing, email_channel=email_channel)


def companies_for(path: Path, config: AuditConfig, *, source: str | None = None) -> ImportResult:
    """`read_companies` against a loaded config."""
    return read_companies(
        path, existing=config.companies, email_channel=config.mailbox.smtp is not None, source=source
    )


def _read_table(path: Path, source: str) -> _Table:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(f"{source}: {size:,} bytes, more than the {MAX_FILE_BYTES:,} read")
        with path.open("rb") as handle:
            start = handle.read(8)
    except FileNotFoundError:
        raise UsageError(f"{source}: no such file") from None
    except OSError as ex:
        raise UsageError(f"{source}: cannot be read: {ex.strerror or ex}") from ex
    suffix = path.suffix.lower()
    if suffix == ".xls" or start.startswith(b"\xd0\xcf\x11\xe0"):
        raise UsageError(f"{source}: an Excel 97-2003 (.xls) file; save it as .xlsx or as CSV UTF-8")
    if suffix in (".xlsx", ".xlsm") or start.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, source)
    if suffix in (".ods", ".numbers"):
        raise UsageError(f"{source}: save it as .xlsx or as CSV UTF-8 to import it")
    return _read_csv(path.read_bytes(), source)


def _decode(raw: bytes) -> tuple[str, str]:
    """The text and the name of its encoding: UTF-16 by its BOM, else UTF-8 (strictly), else Windows-1255."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "UTF-16"
    try:
        text = raw.decode("utf-8-sig")
        return text, "UTF-8 with BOM" if raw.startswith(codecs.BOM_UTF8) else "UTF-8"
    except UnicodeDecodeError as utf8_error:
        # Excel's plain "CSV" on a Hebrew Windows is Windows-1255; a UTF-8 file fails strict decoding almost
        # at once (its Hebrew letters are two-byte sequences), so trying UTF-8 first cannot misread one.
        try:
            return raw.decode("cp1255"), "Windows-1255"
        except UnicodeDecodeError:
            byte = raw[utf8_error.start]
            line = raw.count(b"\n", 0, utf8_error.start) + 1
            raise _CellProblem(
                f"line {line}: byte 0x{byte:02x} is neither UTF-8 nor Windows-1255; save it as CSV UTF-8"
            ) from None


def _read_csv(raw: bytes, source: str) -> _Table:
    try:
        text, encoding = _decode(raw)
    except _CellProblem as ex:
        raise UsageError(f"{source}: {ex}") from None
    lines = text.splitlines(keepends=True)
    skip = 0
    hint = re.fullmatch(r"sep=(.)\r?\n?", lines[0]) if lines else None  # Excel's own delimiter line
    if hint:
        delimiter, skip = hint.group(1), 1
    else:
        delimiter = _sniff_delimiter(lines[:5])
    shown = {",": "','", ";": "';'", "\t": "tabs"}.get(delimiter, repr(delimiter))
    table = _Table(f"CSV, {encoding}, separated by {shown}")
    reader = csv.reader(io.StringIO("".join(lines[skip:]), newline=""), delimiter=delimiter)
    try:
        while True:
            row_number = reader.line_num + 1 + skip
            try:
                cells = next(reader)
            except StopIteration:
                break
            table.rows.append((row_number, cells))
            if len(table.rows) > MAX_ROWS + HEADER_SEARCH_ROWS:
                raise UsageError(f"{source}: more than {MAX_ROWS:,} rows; split the file")
    except csv.Error as ex:
        raise UsageError(f"{source}:{reader.line_num + skip}: not readable as CSV: {ex}") from ex
    return table


def _sniff_delimiter(lines: list[str]) -> str:
    """The one of `,` `;` tab that splits the first lines into the most columns (comma on a tie)."""
    best, best_count = ",", 1
    for candidate in (",", ";", "\t"):
        try:
            first = next(csv.reader(io.StringIO("".join(lines), newline=""), delimiter=candidate), [])
        except csv.Error:
            continue
        if len(first) > best_count:
            best, best_count = candidate, len(first)
    return best


def _read_xlsx(path: Path, source: str) -> _Table:
    # openpyxl reads in read-only mode (rows streamed, not a workbook in memory), and the zip's declared
    # sizes are checked first: openpyxl would unpack whatever the file says.
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_XLSX_UNPACKED:
            raise UsageError(f"{source}: unpacks to {unpacked:,} bytes, more than {MAX_XLSX_UNPACKED:,}")
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError, SyntaxError) as ex:
        raise UsageError(f"{source}: not a readable XLSX workbook ({ex})") from ex
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise UsageError(f"{source}: the workbook has no worksheet")
        sheet = sheets[0]
        described = f"XLSX, sheet '{sheet.title}'" + (
            f" (the first of {len(sheets)})" if len(sheets) > 1 else ""
        )
        table = _Table(described)
        try:
            for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
                table.rows.append((number, [_cell_text(value) for value in values]))
                if number > MAX_ROWS + HEADER_SEARCH_ROWS:
                    raise UsageError(f"{source}: more than {MAX_ROWS:,} rows; split the file")
        except (KeyError, ValueError, TypeError, SyntaxError, zipfile.BadZipFile) as ex:
            raise UsageError(f"{source}: not a readable XLSX workbook ({ex})") from ex
        return table
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


# ------------------------------------------------------------------------------------------- the header


def _header_key(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = re.sub("[\"'`\u05f3\u05f4\u2018\u2019\u201c\u201d]", "", folded)
    return re.sub(r"[\s_\-./:()]+", " ", folded).strip()


@cache
def _header_lookup() -> dict[str, str]:
    return {_header_key(name): column for column, names in HEADER_NAMES.items() for name in names}


def _find_header(table: _Table, source: str) -> tuple[int, dict[str, int], list[Issue]]:
    """(index of the header in table.rows, column -> cell index, notes about the header)."""
    lookup = _header_lookup()
    non_empty = [i for i, (_, cells) in enumerate(table.rows) if any(_clean(c) for c in cells)]
    if not non_empty:
        raise UsageError(f"{source}: no rows; the first row should name the columns (name, website, ...)")
    names_companies = [
        i
        for i in non_empty[:HEADER_SEARCH_ROWS]
        if "name" in {lookup.get(_header_key(c)) for c in table.rows[i][1]}
    ]
    header_at = names_companies[0] if names_companies else non_empty[0]
    row_number, cells = table.rows[header_at]
    columns: dict[str, int] = {}
    unknown: list[str] = []
    notes: list[Issue] = []
    for index, cell in enumerate(cells):
        title = _clean(cell)
        if not title:
            continue
        column = lookup.get(_header_key(title))
        if column is None:
            unknown.append(title)
        elif column in columns:
            first = _clean(cells[columns[column]])
            both = f"columns '{first}' and '{title}' both name it; '{first}' is read"
            notes.append(Issue(source, row_number, column, both))
        else:
            columns[column] = index
    shown = ", ".join(f"'{title}'" for title in [_clean(c) for c in cells] if title) or "nothing"
    if "name" not in columns:
        raise UsageError(
            f"{source}:{row_number}: no column of company names (the header row has {shown}); "
            "name it 'name' or 'שם'"
        )
    if not {"website", "contact_url", "email"} & columns.keys():
        raise UsageError(
            f"{source}:{row_number}: no website, contact_url or email column (the header row has {shown})"
        )
    if unknown:
        listed = ", ".join(f"'{title}'" for title in unknown)
        notes.append(
            Issue(source, row_number, "", f"columns not imported: {listed} (known: {', '.join(COLUMNS)})")
        )
    return header_at, columns, notes


# ------------------------------------------------------------------------------------------- rows


def _companies_from(
    table: _Table, source: str, *, existing: Sequence[CompanySection], email_channel: bool
) -> ImportResult:
    header_at, columns, notes = _find_header(table, source)
    seen = _Seen.of(existing)
    taken_ids = {company.id for company in existing}
    companies: list[ImportedCompany] = []
    problems: list[Issue] = []
    duplicates: list[Issue] = []
    rows = 0
    for row_number, cells in table.rows[header_at + 1 :]:
        if not any(_clean(cell) for cell in cells):
            continue
        rows += 1
        if rows > MAX_ROWS:
            raise UsageError(f"{source}: more than {MAX_ROWS:,} rows; split the file")
        values = {
            column: _clean(cells[index], keep_lines=column == "notes") if index < len(cells) else ""
            for column, index in columns.items()
        }
        row_problems, row_notes, entry = _check_row(source, row_number, values, email_channel=email_channel)
        if row_problems:
            problems.extend(row_problems)
            continue
        duplicate = seen.duplicate(entry)
        if duplicate is not None:
            duplicates.append(Issue(source, row_number, duplicate[0], duplicate[1] + "; skipped"))
            continue
        given_id = entry.pop("id", "")
        if given_id and given_id in taken_ids:
            problems.append(Issue(source, row_number, "id", f"'{given_id}' is taken by another company"))
            continue
        company_id = given_id or unique_id(company_id_from(entry["name"]), taken_ids)
        entry["id"] = company_id
        entry = {key: entry[key] for key in CONFIG_ORDER if key in entry}
        try:
            company = CompanySection.model_validate(entry)
        except ValidationError as ex:
            problems.extend(_validation_issues(source, row_number, ex))
            continue
        taken_ids.add(company_id)
        seen.add(entry, f"row {row_number}")
        companies.append(ImportedCompany(row_number, company, entry))
        notes.extend(row_notes)
    return ImportResult(
        source=source,
        described=table.described,
        rows=rows,
        companies=tuple(companies),
        problems=tuple(problems),
        duplicates=tuple(duplicates),
        notes=tuple(notes),
    )


def _check_row(
    source: str, row: int, values: dict[str, str], *, email_channel: bool
) -> tuple[list[Issue], list[Issue], dict[str, str]]:
    """(problems, notes, the entry in COLUMNS order) of one row."""
    problems: list[Issue] = []
    notes: list[Issue] = []
    entry: dict[str, str] = {}
    for column in COLUMNS:
        value = _unguarded(values.get(column, ""))
        if not value:
            continue
        if len(value) > MAX_CHARS[column]:
            problems.append(
                Issue(source, row, column, f"{len(value):,} characters, more than {MAX_CHARS[column]}")
            )
            continue
        try:
            if column in ("website", "contact_url"):
                value, note = normalize_url(value)
                if note:
                    notes.append(Issue(source, row, column, note))
            elif column == "email":
                value = normalize_email(value)
            elif column == "id" and not _ID.match(value):
                raise _CellProblem(
                    f"'{value}' is not an id: lower-case letters, digits, - and _ (e.g. acme-bank)"
                )
        except _CellProblem as ex:
            problems.append(Issue(source, row, column, str(ex)))
            continue
        entry[column] = value
    if not values.get("name"):
        problems.append(Issue(source, row, "name", "empty: every company needs a name"))
    reachable = {"website", "contact_url", "email"} & {column for column, value in values.items() if value}
    if not reachable:
        problems.append(
            Issue(source, row, "website", "no website, contact URL or email: a company needs one of them")
        )
    elif not problems and reachable == {"email"} and not email_channel:
        why = (
            "only an email address, and the config has no mailbox.smtp to send from: set it or give a website"
        )
        problems.append(Issue(source, row, "email", why))
    return problems, notes, entry


def _validation_issues(source: str, row: int, error: ValidationError) -> list[Issue]:
    issues = []
    for detail in error.errors():
        loc = [part for part in detail["loc"] if isinstance(part, str) and part in COLUMNS]
        message = detail["msg"].removeprefix("Value error, ")
        issues.append(Issue(source, row, loc[0] if loc else "row", message))
    return issues


def _clean(text: str, *, keep_lines: bool = False) -> str:
    """The cell's text without control and format characters (bidi marks, zero-width spaces, a BOM), its
    spaces collapsed (line breaks kept in notes), trimmed."""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in "\r\n" or category in ("Zl", "Zp"):
            kept.append("\n" if keep_lines else " ")
        elif char == "\t" or category == "Zs":
            kept.append(" ")
        elif category not in ("Cc", "Cf", "Cs", "Co", "Cn"):
            kept.append(char)
    cleaned = "".join(kept)
    if keep_lines:
        lines = [re.sub(r" +", " ", line).strip() for line in cleaned.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return re.sub(r" +", " ", cleaned).strip()


def _unguarded(value: str) -> str:
    """A value without the quote the export put before `=`, `+`, `-`, `@` (so no spreadsheet runs it)."""
    return value[1:] if value[:1] == "'" and value[1:2] in _FORMULA_START else value


# ------------------------------------------------------------------------------------------- values


@cache
def _suffixes() -> tldextract.TLDExtract:
    # As in audit/domains.py: the bundled public-suffix snapshot, never the network.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def normalize_url(text: str) -> tuple[str, str | None]:
    """(the http(s) URL, a note when it was changed); raises _CellProblem when it is not a web address."""
    if _EMAIL.match(text.removeprefix("mailto:")):
        raise _CellProblem(f"'{text}' is an email address, not a web address (put it in the email column)")
    if text.lower().startswith(_NOT_WEB):
        raise _CellProblem(f"not a web address ('{text}')")
    scheme = _SCHEME.match(text)
    if scheme:
        if scheme.group(1).lower() not in ("http", "https"):
            raise _CellProblem(f"not an http:// or https:// address ('{text}')")
        url = scheme.group(1).lower() + text[len(scheme.group(1)) :]
        if not _valid_host(url, public_suffix=False):
            raise _CellProblem(f"not a URL ('{text}')")
        return url, None
    url = "https://" + text.lstrip("/")
    if re.search(r"\s", text) or not _valid_host(url, public_suffix=False):
        raise _CellProblem(f"not a URL ('{text}')")
    if not _valid_host(url, public_suffix=True):
        raise _CellProblem(f"not a URL ('{text}' -> did you mean {url}?)")
    return url, f"no http:// or https://; imported as {url}"


def _valid_host(url: str, *, public_suffix: bool) -> bool:
    if re.search(r"\s", url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError on a port that is not a number
    except ValueError:
        return False
    labels = host.rstrip(".").split(".")
    if not host or not all(_HOST_LABEL.match(label) for label in labels):
        return False
    if public_suffix:
        found = _suffixes()(host)
        return bool(found.suffix and found.domain)
    return len(labels) > 1 or host == "localhost"


def normalize_email(text: str) -> str:
    """The address alone (without `mailto:` or `<...>`); raises _CellProblem when it is not one address."""
    address = text.removeprefix("mailto:").strip().strip("<>").strip()
    if address.count("@") > 1 or re.search(r"[,;]", address):
        raise _CellProblem(f"more than one address ('{text}'); give one (the others can go in notes)")
    domain = address.rpartition("@")[2]
    if not _EMAIL.match(address) or not all(_HOST_LABEL.match(label) for label in domain.split(".")):
        raise _CellProblem(f"not an email address ('{text}')")
    return address


# ------------------------------------------------------------------------------------------- duplicates


@dataclass(slots=True)
class _Seen:
    """The companies so far, by site domain, name and email, each with how to name it in a message."""

    domains: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, companies: Iterable[CompanySection]) -> _Seen:
        seen = cls()
        for company in companies:
            entry = {k: v for k, v in company.model_dump().items() if isinstance(v, str)}
            seen.add(entry, f"the config as '{company.id}'")
        return seen

    def add(self, entry: dict[str, str], where: str) -> None:
        for domain in _domains(entry):
            self.domains.setdefault(domain, where)
        self.names.setdefault(_name_key(entry["name"]), where)
        if entry.get("email"):
            self.emails.setdefault(entry["email"].casefold(), where)

    def duplicate(self, entry: dict[str, str]) -> tuple[str, str] | None:
        """(column, message) when the entry is a company already seen."""
        for domain in _domains(entry):
            if domain in self.domains:
                return "website", f"same site ({domain}) as in {self.domains[domain]}"
        name = entry.get("name", "")
        if _name_key(name) in self.names:
            return "name", f"'{name}' is already in {self.names[_name_key(name)]}"
        email = entry.get("email", "").casefold()
        if email and email in self.emails:
            return "email", f"{entry['email']} is already in {self.emails[email]}"
        return None


def _domains(entry: dict[str, str]) -> list[str]:
    return [site_domain(entry[key]) for key in ("website", "contact_url") if entry.get(key)]


def _name_key(name: str) -> str:
    return re.sub(r"\W+", " ", unicodedata.normalize("NFKC", name).casefold()).strip()


# ------------------------------------------------------------------------------------------- ids

# Hebrew letters to Latin, for ids. anyascii and Unidecode both read Hebrew letter by letter without its
# conventions (anyascii writes every ב as v and every ש as s, so בזק becomes "vzk"; Unidecode writes capitals
# and backticks, "SHvprsl"), so Hebrew has this table and the few contextual rules in `_hebrew`; anyascii
# does every other script (Arabic, Cyrillic, accented Latin).
_HEBREW: dict[str, str] = {
    "א": "", "ב": "b", "ג": "g", "ד": "d", "ה": "h", "ו": "o", "ז": "z", "ח": "ch", "ט": "t", "י": "i",
    "כ": "k", "ך": "ch", "ל": "l", "מ": "m", "ם": "m", "נ": "n", "ן": "n", "ס": "s", "ע": "", "פ": "p",
    "ף": "f", "צ": "tz", "ץ": "tz", "ק": "k", "ר": "r", "ש": "sh", "ת": "t",
}  # fmt: skip
_WITH_GERESH = {"ג": "j", "ז": "zh", "צ": "ch", "ץ": "ch", "ת": "th"}
_GERESH = "\u05f3'\u2019"
_MAQAF = "\u05be"


def _is_hebrew_letter(char: str) -> bool:
    return "\u05d0" <= char <= "\u05ea"


def _hebrew(text: str) -> str:
    """Hebrew letters in Latin; vowels are guessed from the letters that often stand for them (ו, י, and
    א, ע, ה at the ends of a word), which is enough for an id a person can recognize."""
    # Points (niqqud, cantillation) dropped; so are the gershayim of an acronym (בע"מ, צה״ל), which would
    # otherwise split one word of the id in two.
    text = re.sub("[\u0591-\u05bd\u05bf-\u05c7]", "", text)
    text = re.sub('(?<=[\u05d0-\u05ea])["\u05f4](?=[\u05d0-\u05ea])', "", text)
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        following = text[index + 1] if index + 1 < len(text) else ""
        if not _is_hebrew_letter(char):
            if char == _MAQAF:
                out.append("-")
            elif char not in _GERESH or index == 0 or not _is_hebrew_letter(text[index - 1]):
                out.append(char)
            index += 1
            continue
        before = text[index - 1] if index else ""
        starts_word = not (_is_hebrew_letter(before) or (before in _GERESH and index > 1))
        ends_word = not _is_hebrew_letter(following)
        if following and following in _GERESH and char in _WITH_GERESH:
            out.append(_WITH_GERESH[char])
            index += 2
            continue
        if char in "וי" and (starts_word or following == char):
            out.append("v" if char == "ו" else "y")
            index += 2 if following == char else 1
            continue
        if (char in "אע" and starts_word) or (char == "ה" and ends_word and not starts_word):
            out.append("a")
        else:
            out.append(_HEBREW[char])
        index += 1
    return "".join(out)


def company_id_from(name: str) -> str:
    """A readable id for a company name: lower-case ASCII letters and digits joined by '-'."""
    latin = anyascii(_hebrew(unicodedata.normalize("NFC", name)))
    slug = re.sub(r"[^a-z0-9]+", "-", latin.lower()).strip("-")
    return slug[:MAX_SLUG].rstrip("-") or "company"


def unique_id(base: str, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3`, ... : the first not in `taken`."""
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


# ------------------------------------------------------------------------------------------- export


def export_companies(config: AuditConfig) -> str:
    """The config's companies as CSV in COLUMNS order, starting with a UTF-8 BOM: without one, Excel reads a
    CSV in the machine's code page and shows Hebrew as gibberish. Lines end in CRLF, as Excel writes them."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for company in config.companies:
        writer.writerow([_guarded(getattr(company, column) or "") for column in COLUMNS])
    return out.getvalue()


def _guarded(text: str) -> str:
    # OWASP's CSV-injection advice, as audit/reporting/export.py follows it: a leading quote keeps a cell
    # starting with =, +, -, @ from being run as a formula. The importer takes the quote off again.
    return "'" + text if text[:1] in _FORMULA_START else text


def iter_issues(result: ImportResult) -> Iterator[Issue]:
    """Every line about the file, in row order: problems, duplicates and notes together."""
    yield from sorted((*result.problems, *result.duplicates, *result.notes), key=lambda issue: issue.row)
