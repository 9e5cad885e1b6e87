"""Round-trip edits of companies.yaml: add companies, or set one key of one company, and change nothing else.

A companies.yaml is commented and laid out by hand. ruamel.yaml reads it with its comments, but dumping the
whole document again re-indents every list to one style and drops the quotes it finds unneeded (on the
example companies.yaml at the top of the repository: 28 lines changed for no edit at all). So an edit here is
a splice: ruamel.yaml's composer gives the exact position of every node, ruamel.yaml renders only the new
lines (in the file's own indentation), and every other character is copied as it was.

Before the file is replaced, the edit is checked: the new text must load (as `audit.config` loads it) into
exactly the old data plus the change, and must validate as a whole config (`parse_config`); the file must
still hold what was read (no other writer came in between). The replacement is atomic (a temporary file in
the same folder, fsynced, renamed over the old one, the folder fsynced), so a crash leaves the old file or
the new one, never half of one, and a refused edit leaves the file untouched.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from audit.config import parse_config
from audit.errors import ConfigError, UsageError

RENDER_WIDTH = 4096
"""Line width for rendered values: long enough that ruamel.yaml never folds a URL or a note over lines."""

_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True, slots=True)
class _Document:
    path: Path
    raw: bytes
    text: str
    newline: str
    root: MappingNode
    data: dict[str, Any]
    """What PyYAML (and so `audit.config`) reads from the text: the reference the edit is checked against."""


def append_companies(path: Path, companies: Sequence[Mapping[str, object]]) -> None:
    """Add `companies` at the end of the `companies:` list, in the list's own indentation, and nothing else.

    Raises ConfigError (the file is left as it was) when the file or the result is not a valid config."""
    if not companies:
        return
    doc = _read(path)
    sequence, _ = _companies_node(doc)
    if sequence.flow_style or not sequence.value:
        line = sequence.start_mark.line + 1
        layout = "written as [...]; write it as a list of '- id: ...' entries to let audit add to it"
        raise ConfigError([f"{path}:{line}: companies: {layout}"])
    items = list(sequence.value)
    last = items[-1]
    dash_col = _dash_column(doc.text, last)
    content_col = last.start_mark.column
    if content_col <= dash_col:  # '-' alone on its line, the entry below it: add in the common layout
        content_col = dash_col + 2
    rendered = _render(
        list(companies),
        indent=_mapping_indent(doc.root),
        sequence=content_col - dash_col,
        quoted=_quoted_keys(items),
    )
    separated = _entries_separated_by_blank_lines(doc.text, items)
    block = ""
    for entry_text in _split_entries(rendered):
        block += (doc.newline if separated else "") + _indent_lines(entry_text, " " * dash_col, doc.newline)
    at = _end_of_entry(doc.text, last, dash_col)
    new_text = _insert(doc.text, at, block, doc.newline)

    expected = copy.deepcopy(doc.data)
    expected["companies"].extend(_plain(dict(company)) for company in companies)
    _check_and_replace(doc, new_text, expected, what=f"adding {len(companies)} companies")


def set_company_field(path: Path, company_id: str, key: str, value: object) -> None:
    """Add or replace one key of one company (e.g. the contact_url `audit discover --write` found).

    A replaced value keeps its line's place, its quoting style and the comment after it; a new key is added
    as the company's last key. Raises UsageError for an unknown company and ConfigError (the file left as it
    was) when the file or the result is not a valid config."""
    doc = _read(path)
    sequence, _ = _companies_node(doc)
    found = [
        (position, item)
        for position, item in enumerate(sequence.value)
        if isinstance(item, MappingNode) and _scalar_value(item, "id") == company_id
    ]
    if not found:
        raise UsageError(f"{path}: no company with id '{company_id}'")
    position, item = found[0]
    if item.flow_style or sequence.flow_style:
        line = item.start_mark.line + 1
        layout = "written as {...}; write it as a block of 'key: value' lines to let audit change it"
        raise ConfigError([f"{path}:{line}: companies.{position}: {layout}"])
    key_col = item.value[0][0].start_mark.column
    existing = [(k, v) for k, v in item.value if isinstance(k, ScalarNode) and k.value == key]
    indent = _mapping_indent(doc.root)
    if existing:
        key_node, value_node = existing[0]
        style = value_node.style if isinstance(value_node, ScalarNode) else None
        quoted = {key: style} if style in ('"', "'") and isinstance(value, str) else {}
        rendered = _render({key: value}, indent=indent, sequence=2, quoted=quoted)
        start = key_node.start_mark.index
        end = _content_end(doc.text, key_node, value_node)
        replacement = _indent_lines(rendered, " " * key_col, doc.newline).removeprefix(" " * key_col)
        new_text = doc.text[:start] + replacement.removesuffix(doc.newline) + doc.text[end:]
    else:
        rendered = _render({key: value}, indent=indent, sequence=2, quoted={})
        at = _line_end(doc.text, _mapping_end(doc.text, item))
        new_text = _insert(doc.text, at, _indent_lines(rendered, " " * key_col, doc.newline), doc.newline)

    expected = copy.deepcopy(doc.data)
    target = next(c for c in expected["companies"] if isinstance(c, dict) and c.get("id") == company_id)
    target[key] = _plain(value)
    _check_and_replace(doc, new_text, expected, what=f"setting {key} of {company_id}")


# ------------------------------------------------------------------------------------------- reading


def _read(path: Path) -> _Document:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except OSError as ex:
        raise ConfigError([f"{path}: cannot be read: {ex.strerror or ex}"]) from ex
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as ex:
        raise ConfigError([f"{path}: not UTF-8 text ({ex.reason} at byte {ex.start})"]) from ex
    # Validated first: parse_config reads within limits (aliases, depth, size), so a hostile file is refused
    # before ruamel.yaml or PyYAML build anything from it unbounded.
    parse_config(text, source=str(path))
    try:
        root = YAML(typ="rt").compose(text)
    except RuamelYAMLError as ex:
        raise ConfigError([f"{path}: cannot be edited: {ex}"]) from ex
    data = yaml.safe_load(text)
    if not isinstance(root, MappingNode) or not isinstance(data, dict):
        raise ConfigError([f"{path}:1: expected a mapping with audit, mailbox, persona, inquiry, companies"])
    return _Document(path, raw, text, "\r\n" if "\r\n" in text else "\n", root, data)


def _companies_node(doc: _Document) -> tuple[SequenceNode, ScalarNode]:
    for key, value in doc.root.value:
        if isinstance(key, ScalarNode) and key.value == "companies" and isinstance(value, SequenceNode):
            return value, key
    raise ConfigError([f"{doc.path}:1: companies: no list of companies to edit"])


def _scalar_value(mapping: MappingNode, key: str) -> str | None:
    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.value == key and isinstance(v, ScalarNode):
            return str(v.value)
    return None


# ------------------------------------------------------------------------------------------- layout


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """The index just past the line break of the line holding `index` (the end of the text on the last)."""
    found = text.find("\n", index)
    return len(text) if found < 0 else found + 1


def _dash_column(text: str, item: Node) -> int:
    """The column of the '-' that starts a sequence entry (the entry's node starts after it)."""
    index = item.start_mark.index
    while index > 0:
        start = _line_start(text, index)
        before = text[start:index]
        if "-" in before:
            return before.rindex("-")
        index = start - 1  # '-' alone on an earlier line, the entry on the next
    return 0


def _content_end(text: str, *nodes: Node) -> int:
    """The index just past the last character the nodes themselves occupy (comments and blank lines after
    them excluded)."""
    end = 0
    for node in nodes:
        if isinstance(node, ScalarNode):
            if node.style is None and node.value == "":
                continue  # `key:` with nothing: the empty value's marks point at the next token
            stop = node.end_mark.index
            if node.style in ("|", ">"):  # a block scalar's end mark is past its trailing line breaks
                while stop > node.start_mark.index and text[stop - 1] in " \t\r\n":
                    stop -= 1
            end = max(end, stop)
        elif isinstance(node, CollectionNode) and node.flow_style:
            end = max(end, node.end_mark.index)
        elif isinstance(node, MappingNode):
            end = max(end, _mapping_end(text, node))
        elif isinstance(node, SequenceNode):
            end = max(end, _content_end(text, *node.value), node.start_mark.index + 1)
    return end


def _mapping_end(text: str, mapping: MappingNode) -> int:
    ends = [_content_end(text, k, v) for k, v in mapping.value]
    key_ends = [int(k.end_mark.index) + 1 for k, _ in mapping.value]  # `key:` itself, when its value is empty
    return max([*ends, *key_ends, int(mapping.start_mark.index)])


def _end_of_entry(text: str, item: Node, dash_col: int) -> int:
    """Where a new entry goes after `item`: past its last line, and past the comment lines indented under it
    (they are about it). A comment at the dash's column or left of it stays below the new entries: it heads
    what follows (a section comment, a commented-out entry)."""
    at = _line_end(text, _content_end(text, item))
    scan = at
    while scan < len(text):
        line_end = _line_end(text, scan)
        line = text[scan:line_end]
        stripped = line.strip()
        if not stripped:
            scan = line_end
            continue
        indent = len(line) - len(line.lstrip(" "))
        if stripped.startswith("#") and indent > dash_col:
            at = scan = line_end
            continue
        break
    return at


def _entries_separated_by_blank_lines(text: str, items: list[Node]) -> bool:
    """True when most entries of the list are set apart by a blank line: new ones are laid out alike."""
    if len(items) < 2:
        return False
    blank = 0
    for item in items[1:]:
        dash_line = _line_start(text, item.start_mark.index)
        previous = text[_line_start(text, max(dash_line - 1, 0)) : dash_line]
        blank += not previous.strip()
    return blank * 2 > len(items) - 1


def _mapping_indent(root: MappingNode) -> int:
    """The file's indentation step for nested mappings (that of the first one found), 2 if it has none."""
    stack: list[tuple[Node, int | None]] = [(root, None)]
    while stack:
        node, parent_col = stack.pop(0)
        if isinstance(node, MappingNode) and not node.flow_style and node.value:
            col = int(node.value[0][0].start_mark.column)
            if parent_col is not None and col > parent_col:
                return col - parent_col
            stack.extend((v, k.start_mark.column) for k, v in node.value)
    return 2


def _quoted_keys(items: list[Node]) -> dict[str, str]:
    """The keys whose every existing string value is quoted one way (`name: "Acme"`): new ones follow."""
    styles: dict[str, set[str]] = {}
    for item in items:
        if isinstance(item, MappingNode):
            for k, v in item.value:
                if isinstance(k, ScalarNode) and isinstance(v, ScalarNode):
                    styles.setdefault(str(k.value), set()).add(str(v.style or ""))
    return {key: found.pop() for key, found in styles.items() if found in ({'"'}, {"'"})}


def _insert(text: str, at: int, block: str, newline: str) -> str:
    if at == len(text) and text and not text.endswith("\n"):
        block = newline + block  # the file ends without a line break: its last line gets one
    return text[:at] + block + text[at:]


def _indent_lines(rendered: str, prefix: str, newline: str) -> str:
    # Split on "\n" only: a rendered value may hold a character that str.splitlines() would break at.
    return "".join(prefix + line + newline for line in rendered.removesuffix("\n").split("\n"))


def _split_entries(rendered: str) -> list[str]:
    """A rendered list split into its entries (each starts with '-' in column 0)."""
    entries: list[str] = []
    for line in rendered.removesuffix("\n").split("\n"):
        if line.startswith("-") or not entries:
            entries.append(line + "\n")
        else:
            entries[-1] += line + "\n"
    return entries


# ------------------------------------------------------------------------------------------- rendering


def _render(data: object, *, indent: int, sequence: int, quoted: Mapping[str, str]) -> str:
    dumper = YAML(typ="rt")
    dumper.indent(mapping=indent, sequence=max(sequence, 2), offset=0)
    dumper.width = RENDER_WIDTH
    dumper.allow_unicode = True
    prepared = (
        [_prepared(entry, quoted) for entry in data] if isinstance(data, list) else _prepared(data, quoted)
    )
    out = io.StringIO()
    dumper.dump(prepared, out)
    return out.getvalue()


def _prepared(value: object, quoted: Mapping[str, str], key: str | None = None) -> object:
    """The value as ruamel.yaml should write it: scalar lists inline (`channels: [form, email]`), mappings
    as blocks, and a string quoted when PyYAML would read it plain as something else."""
    if isinstance(value, Mapping):
        return CommentedMap(
            (str(k), _prepared(v, quoted if key is None else {}, str(k))) for k, v in value.items()
        )
    if isinstance(value, list | tuple):
        items = CommentedSeq(_prepared(v, {}) for v in value)
        if all(not isinstance(v, Mapping | list | tuple) for v in value):
            items.fa.set_flow_style()
        return items
    if isinstance(value, str):
        style = quoted.get(key or "")
        # ruamel.yaml writes YAML 1.2, where `yes`, `on` and `1:20` are strings; audit.config reads with
        # PyYAML (YAML 1.1), where they are a bool and a number. Such a string is quoted.
        # \x85, \u2028 and \u2029 are line breaks to PyYAML but text to ruamel.yaml, which may leave them
        # bare; in double quotes they are escaped.
        breaks = any(char in value for char in "\x85\u2028\u2029")
        if style == '"' or breaks or (style is None and not _reads_back_as_string(value)):
            return DoubleQuotedScalarString(value)
        if style == "'":
            return SingleQuotedScalarString(value)
    return value


def _reads_back_as_string(value: str) -> bool:
    tag = yaml.resolver.Resolver().resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return bool(tag == _STR_TAG)


def _plain(value: object) -> Any:
    """The value as PyYAML reads it back: tuples become lists, mappings dicts."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------- writing


def _check_and_replace(doc: _Document, new_text: str, expected: dict[str, Any], *, what: str) -> None:
    try:
        parse_config(new_text, source=str(doc.path))
    except ConfigError as ex:
        after = f"{doc.path}: left as it was: the problems above are in the file as it would be after {what}"
        raise ConfigError([*ex.problems, after]) from ex
    if yaml.safe_load(new_text) != expected:
        # The splice put something where it changes what another line means (a layout not foreseen here).
        problem = f"{what} would change other entries in this file's layout; left as it was (edit it by hand)"
        raise ConfigError([f"{doc.path}: {problem}"])
    _replace_atomically(doc.path, doc.raw, new_text.encode("utf-8"))


def _replace_atomically(path: Path, original: bytes, new: bytes) -> None:
    target = path.resolve()  # a symlinked config keeps its link; the file it points at is replaced
    try:
        if target.read_bytes() != original:
            raise ConfigError(
                [f"{path}: changed while it was being edited; left as it is, run the edit again"]
            )
        mode = target.stat().st_mode & 0o7777
    except OSError as ex:
        raise ConfigError([f"{path}: cannot be read again before writing: {ex.strerror or ex}"]) from ex
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            view = memoryview(new)
            while view:
                view = view[os.write(handle, view) :]
            os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(temporary, target)
        directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)  # the rename itself is durable only once the folder is
        finally:
            os.close(directory)
    except OSError as ex:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise ConfigError([f"{path}: cannot be written: {ex.strerror or ex}; left as it was"]) from ex
