"""The documentation keeps up with the code (as datasette's tests/test_docs.py does for its own).

- every `audit` command and subcommand has a row in one of the README's command tables, and every option of
  it appears in one of its rows;
- every key of companies.yaml (the pydantic models of `audit.config`, walked recursively) has a row in the
  README's configuration table, and every key that table names exists; every `AUDIT_*` setting is named;
- every relative link in README.md and docs/*.md, and every `docs/<file>.md, "Heading"` citation in them and
  in the code, points at a file and a heading that exist; no comment still cites the design notes that were
  never part of the repository (`method.md §3`, `form-probing.md section 10`, ...).

The checks are plain functions over text, so the tests at the end can show each one failing on bad input.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from audit.cli import cli
from audit.config import AuditConfig
from audit.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CODE_DIRS = ("audit", "probes", "tests", "bench", "scripts", "reports", "deploy")
TEXT_SUFFIXES = frozenset(
    {".py", ".js", ".yaml", ".yml", ".j2", ".md", ".sh", ".toml", ".service", ".env", ".in"}
)
THIS_FILE = Path(__file__).resolve()  # its own examples of bad citations are test data

_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")  # link text may wrap
_CITATION = re.compile(
    r"(?<![\w./-])docs/(?P<file>[\w-]+\.md)(?P<tail>(?:(?:,|\s+and|\s+or)\s*\"[^\"\n]+\")*)"
)
_QUOTED = re.compile(r"\"([^\"\n]+)\"")
# The design notes the code used to cite; they were never in the repository (issue 15, part 2).
_STALE = re.compile(r"(?<![\w/.-])(?:method|style|architecture|form-probing|email-collection)\.md|\bdesign §")


# ------------------------------------------------------------------------------------------- markdown


def table_rows(markdown: str) -> Iterator[list[str]]:
    """The cells of every table row (escaped `\\|` stays inside its cell); header and rule rows included."""
    for line in _FENCE.sub("", markdown).splitlines():
        line = line.strip()
        if line.startswith("|") and line.endswith("|"):
            yield [cell.strip() for cell in _CELL_SPLIT.split(line)[1:-1]]


def section(markdown: str, heading: str) -> str:
    """The text under a `## heading`, up to the next heading of the same or a higher level."""
    match = re.search(rf"^(#+)\s+{re.escape(heading)}\s*$", markdown, re.M)
    assert match is not None, f"no heading {heading!r}"
    level = len(match.group(1))
    rest = markdown[match.end() :]
    end = re.search(rf"^#{{1,{level}}}\s", rest, re.M)
    return rest[: end.start()] if end else rest


def headings(markdown: str) -> list[str]:
    return [match.group(2).strip() for match in _HEADING.finditer(_FENCE.sub("", markdown))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    seen: dict[str, int] = {}
    out: set[str] = set()
    for heading in headings(markdown):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


# ------------------------------------------------------------------------------------------- commands


def command_tree(group: click.Group = cli, prefix: str = "audit") -> Iterator[tuple[str, click.Command]]:
    """(path, command) for every command and subcommand, lazily registered ones included."""
    context = click.Context(group, info_name=prefix.rsplit(" ", 1)[-1])
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, f"{prefix} {name} is listed but cannot be loaded"
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from command_tree(command, path)


def command_rows(markdown: str, paths: list[str]) -> dict[str, list[str]]:
    """The first cells of the README's command rows (`| \\`audit ...\\` |`), by the longest command path
    each begins with."""
    rows: dict[str, list[str]] = {path: [] for path in paths}
    longest_first = sorted(paths, key=len, reverse=True)
    for cells in table_rows(markdown):
        if not cells or not cells[0].startswith("`audit"):
            continue
        usage = cells[0].strip("`").replace("\\|", "|")
        for path in longest_first:
            if usage == path or usage.startswith(path + " "):
                rows[path].append(usage)
                break
    return rows


def option_names(command: click.Command) -> list[str]:
    """Each option by its long name (`--as-of`); arguments are named in the usage, not checked."""
    out = []
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            longs = [opt for opt in param.opts if opt.startswith("--")]
            out.append(longs[0] if longs else param.opts[0])
    return out


def undocumented_commands(markdown: str) -> list[str]:
    """Commands without a row of their own, and options that none of their command's rows names."""
    tree = list(command_tree())
    rows = command_rows(markdown, [path for path, _ in tree])
    problems = []
    for path, command in tree:
        dispatch_only = isinstance(command, click.Group) and not command.invoke_without_command
        if not rows[path]:
            if not dispatch_only:
                problems.append(f"{path}: no row in the README's command tables")
            continue
        for option in option_names(command):
            if option == "--config":
                continue  # documented once for every command: "Every command takes `--config FILE`"
            if not any(re.search(rf"{re.escape(option)}(?![\w-])", usage) for usage in rows[path]):
                problems.append(f"{path}: option {option} is in no row of the command")
    return problems


# ------------------------------------------------------------------------------------------- config keys


def _nested_model(annotation: object) -> tuple[type[BaseModel], bool] | None:
    """The model inside `Model`, `Model | None` or `tuple[Model, ...]` (True: a list of them), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        found = [inner for arg in args if (inner := _nested_model(arg)) is not None]
        return found[0] if found else None
    if origin in (tuple, list) and args:
        inner = _nested_model(args[0])
        return (inner[0], True) if inner is not None else None
    return None


def config_keys(
    model: type[BaseModel] = AuditConfig, prefix: str = "", *, sections: bool = False
) -> list[str]:
    """Every leaf key of companies.yaml as the README writes it (`mailbox.imap.port`, `companies[].id`);
    with `sections`, the keys that hold other keys too (`mailbox.imap`, `companies[].form`)."""
    keys = []
    for name, field in model.model_fields.items():
        nested = _nested_model(field.annotation)
        if nested is None:
            keys.append(f"{prefix}{name}")
        else:
            inner, is_list = nested
            if sections:
                keys.append(f"{prefix}{name}")
            keys += config_keys(inner, f"{prefix}{name}{'[]' if is_list else ''}.", sections=sections)
    return keys


def documented_keys(markdown: str) -> set[str]:
    """The keys in the first cells of the configuration table; `.adequate` after `audit.quality.good` is
    `audit.quality.adequate` (the README's shorthand for a sibling)."""
    keys: set[str] = set()
    table = section(markdown, "Configuration")
    for cells in table_rows(table):
        if not cells or cells[0] in ("key", "---"):
            continue
        parent = ""
        for token in re.findall(r"`([^`]+)`", cells[0]):
            if token.startswith("."):
                keys.add(parent + token[1:])
            elif ("." in token or token in AuditConfig.model_fields) and re.fullmatch(
                r"[a-z_][a-z_\[\].]*", token
            ):
                keys.add(token)
                parent = token.rsplit(".", 1)[0] + "."
    return keys


def undocumented_keys(markdown: str) -> tuple[list[str], list[str]]:
    """(keys the README's configuration table lacks, keys it names that do not exist). Every leaf key needs
    a row; a row may also name a section (`companies[].form`) before the rows of its keys."""
    written = documented_keys(markdown)
    missing = set(config_keys()) - written
    unknown = written - set(config_keys(sections=True))
    return sorted(missing), sorted(unknown)


# ------------------------------------------------------------------------------------------- links, citations


def text_files() -> Iterator[Path]:
    """README.md, docs/*.md and every text file of the code folders."""
    yield README
    yield from sorted(DOCS.glob("*.md"))
    for folder in CODE_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            wanted = path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts
            if wanted and path.resolve() != THIS_FILE:
                yield path


def _where(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def bad_links(path: Path, text: str) -> list[str]:
    """Relative links of a markdown file whose file or heading does not exist."""
    problems = []
    for match in _LINK.finditer(_FENCE.sub("", text)):
        target = match.group(1)
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            problems.append(f"{_where(path)}: link to {target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text(encoding="utf-8")):
            problems.append(f"{_where(path)}: link to {target}: no such heading")
    return problems


def bad_citations(path: Path, text: str, docs: Path = DOCS) -> list[str]:
    """`docs/<file>.md, "Heading"` citations whose file or heading does not exist."""
    problems = []
    for match in _CITATION.finditer(text):
        cited = docs / match.group("file")
        line = text.count("\n", 0, match.start()) + 1
        if not cited.is_file():
            problems.append(f"{_where(path)}:{line}: cites docs/{match.group('file')}, which does not exist")
            continue
        known = set(headings(cited.read_text(encoding="utf-8")))
        for name in _QUOTED.findall(match.group("tail")):
            if name not in known:
                problems.append(f"{_where(path)}:{line}: docs/{match.group('file')} has no heading {name!r}")
    return problems


def stale_citations(path: Path, text: str) -> list[str]:
    return [
        f"{_where(path)}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)}"
        for match in _STALE.finditer(text)
    ]


# ------------------------------------------------------------------------------------------- the tests


def test_every_command_and_option_is_in_the_readme() -> None:
    problems = undocumented_commands(README.read_text(encoding="utf-8"))
    assert problems == [], "add them to the README's command tables:\n" + "\n".join(problems)


def test_the_global_options_are_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    missing = [option for option in option_names(cli) if option not in readme]
    assert missing == []
    assert "Every command takes `--config FILE`" in readme


def test_every_command_has_help() -> None:
    silent = [path for path, command in command_tree() if not (command.help or "").strip()]
    assert silent == []


def test_every_config_key_is_in_the_readme_and_every_documented_key_exists() -> None:
    missing, unknown = undocumented_keys(README.read_text(encoding="utf-8"))
    assert missing == [], "add rows to the README's configuration table: " + ", ".join(missing)
    assert unknown == [], "the README's configuration table names keys that do not exist: " + ", ".join(
        unknown
    )


def test_every_setting_is_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    prefix = str(Settings.model_config.get("env_prefix", ""))
    missing = [
        f"{prefix}{name}".upper() for name in Settings.model_fields if f"{prefix}{name}".upper() not in readme
    ]
    assert missing == []


def test_every_relative_link_points_at_a_file_and_heading() -> None:
    files = [README, *sorted(DOCS.glob("*.md"))]
    problems = [problem for path in files for problem in bad_links(path, path.read_text(encoding="utf-8"))]
    assert problems == []


def test_every_docs_citation_points_at_a_file_and_heading() -> None:
    problems = [
        problem
        for path in text_files()
        for problem in bad_citations(path, path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert problems == []


def test_nothing_cites_the_design_notes_that_are_not_in_the_repository() -> None:
    code = [path for path in text_files() if path.parent != DOCS]  # inside docs/, `method.md` is a real link
    problems = [
        problem
        for path in code
        for problem in stale_citations(path, path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert problems == [], 'cite docs/<file>.md, "Heading" instead:\n' + "\n".join(problems)


def test_the_docs_folder_has_the_pages_the_index_lists() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"\]\(([\w-]+\.md)\)", index))
    present = {path.name for path in DOCS.glob("*.md")} - {"README.md"}
    assert listed == present


# ------------------------------------------------------------------------------------------- the checks fail


_FAKE_README = """
## Use

| command | what it does |
|---|---|
| `audit check [--config F]` | Validates. |
| `audit run [--only ID] [--dry-run]` | Runs. |

## Configuration

| key | default | meaning |
|---|---|---|
| `audit.name` | required | Names the audit. |
| `audit.quality.good`, `.adequate` | `0.65`, `0.25` | Thresholds. |
| `report.smtp.host`, `.port` (587), `.security` (`starttls`) | none | SMTP. |
| `audit.colour` | none | Not a key. |

## Next
"""


def test_the_key_reader_expands_the_readmes_shorthand() -> None:
    keys = documented_keys(_FAKE_README)
    assert keys == {
        "audit.name",
        "audit.quality.good",
        "audit.quality.adequate",
        "report.smtp.host",
        "report.smtp.port",
        "report.smtp.security",
        "audit.colour",
    }


def test_missing_and_unknown_keys_are_found() -> None:
    missing, unknown = undocumented_keys(_FAKE_README)
    assert "mailbox.webhooks.max_bodies_in_flight" in missing
    assert "companies[].form.steps[].action" in missing
    assert "audit.quality.adequate" not in missing
    assert unknown == ["audit.colour"]


def test_missing_commands_and_options_are_found() -> None:
    problems = undocumented_commands(_FAKE_README)
    assert "audit run: option --concurrency is in no row of the command" in problems
    assert "audit grade set: no row in the README's command tables" in problems
    assert not any(problem.startswith("audit check") for problem in problems)
    assert not any(problem.startswith("audit reply:") for problem in problems)  # a group that only dispatches


def test_bad_citations_and_links_are_found(tmp_path: Path) -> None:
    (tmp_path / "method.md").write_text("# Method\n\n## Tiers\n\nText.\n", encoding="utf-8")
    source = tmp_path / "module.py"
    cited = "docs/" + "method.md"  # spelled in two parts: this file is scanned for citations too
    text = f'"""See {cited}, "Tiers" and "Ranks", and {"docs/" + "nowhere.md"}."""\n'
    assert bad_citations(source, text, docs=tmp_path) == [
        f"{source}:1: docs/method.md has no heading 'Ranks'",
        f"{source}:1: cites docs/nowhere.md, which does not exist",
    ]
    assert bad_citations(source, f'# {cited}, "Tiers"\n', docs=tmp_path) == []
    page = tmp_path / "page.md"
    links = "[a](method.md#tiers) [b](method.md#ranks) [c](gone.md) [d](https://example.org/x.md)"
    assert bad_links(page, links) == [
        f"{page}: link to method.md#ranks: no such heading",
        f"{page}: link to gone.md: no such file",
    ]
    stale = "method" + ".md §3"
    assert stale_citations(source, f"# {stale}\n") == [f"{source}:1: method.md"]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Running as a server (`audit serve`)", "running-as-a-server-audit-serve"),
        ("The model: TACK", "the-model-tack"),
        ("What the browser may reach", "what-the-browser-may-reach"),
    ],
)
def test_anchors_are_githubs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor
