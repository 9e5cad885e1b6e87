"""Parsers without bounds (issue 11, part 2): hostile companies.yaml and hostile mail, each bounded.

The YAML cases run the real `audit check` in a process of its own (a clear FILE:LINE error, exit 1, no
traceback). Each hostile message is collected from a real Maildir into a real SQLite database by
tests/attack/bounds_worker.py in a process of its own, so its time and peak memory are its own; every case
asserts the bound (seconds, MB), that the message was stored once with its raw bytes whole, and that the cut
is named in its parse defects. The fuzzed Maildir mutates these messages with a fixed seed.
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from audit.collect import parse
from audit.collect.parse import parse_message

ROOT = Path(__file__).resolve().parents[2]
SECONDS = 10.0  # generous bounds: the unbounded parsers took 10 s to 240 s and 5.9 to 13.6 GB
PEAK_MB = 300.0  # the whole worker process at its peak, interpreter and imports included


def run_check(tmp_path: Path, text: str) -> tuple[subprocess.CompletedProcess[str], float]:
    config = tmp_path / "companies.yaml"
    config.write_text(text, encoding="utf-8")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "audit", "--data-dir", str(tmp_path / "data"), "check", "--config", str(config)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    return done, time.monotonic() - started


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 9):
        name, previous = chr(97 + level), chr(96 + level)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_yaml_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    text = billion_laughs()
    assert len(text) <= 350
    done, seconds = run_check(tmp_path, text)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert "companies.yaml:" in done.stdout + done.stderr
    assert "YAML limit: aliases expand to more than" in done.stdout + done.stderr
    assert seconds < SECONDS


def test_50000_deep_yaml_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    done, seconds = run_check(tmp_path, "audit: " + "[" * 50_000 + "]" * 50_000 + "\n")
    output = done.stdout + done.stderr
    assert done.returncode == 1
    assert "Traceback" not in output and "RecursionError" not in output
    assert f"YAML limit: nested more than {64} levels deep" in output
    assert seconds < SECONDS


def test_deep_block_yaml_names_its_line(tmp_path: Path) -> None:
    text = "".join("  " * depth + f"k{depth}:\n" for depth in range(100))
    done, _seconds = run_check(tmp_path, text)
    assert done.returncode == 1
    assert "companies.yaml:64: YAML limit: nested more than 64 levels deep" in done.stdout + done.stderr


def test_oversized_and_alias_heavy_yaml_are_refused(tmp_path: Path) -> None:
    done, _ = run_check(tmp_path, "audit:\n  name: x\n# " + "x" * 1_100_000 + "\n")
    assert done.returncode == 1 and "file limit" in done.stdout + done.stderr
    many = "a: &a 1\nb: [" + ",".join(["*a"] * 1_500) + "]\n"
    done, _ = run_check(tmp_path, many)
    assert done.returncode == 1 and "more than 1,000 aliases" in done.stdout + done.stderr


# --- mail -------------------------------------------------------------------------------------------------

HEAD = b"From: Ruth <ruth@acme.test>\r\nTo: dana.x@replies.example.org\r\nDate: Mon, 2 Mar 2026 10:00:00 +0200\r\n"


def subject_of_encoded_words(count: int = 20_000) -> bytes:
    word = "=?utf-8?b?" + base64.b64encode("שלום עולם, hello world".encode()).decode() + "?="  # 48 chars
    subject = " ".join([word] * count)
    return (
        HEAD
        + b"Subject: "
        + subject.encode()
        + b"\r\nMessage-ID: <ew@acme.test>\r\n\r\nThanks for asking.\r\n"
    )


def nested_divs(size: int = 1_000_000) -> bytes:
    depth = (size - 40) // 11
    html = "<div>" * depth + "Our answer is yes." + "</div>" * depth
    return HEAD + b"Subject: divs\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html.encode()


def deep_mime(depth: int = 5_000) -> bytes:
    opens = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth)
    )
    closes = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    inner = b"Content-Type: text/plain\r\n\r\nThe deep answer.\r\n"
    return HEAD + b"Subject: deep\r\nMIME-Version: 1.0\r\n" + opens + inner + closes


def many_parts(count: int = 60_000) -> bytes:
    head = (
        HEAD + b'Subject: many\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="zz"\r\n\r\n'
    )
    first = b"--zz\r\nContent-Type: text/plain\r\n\r\nThe first part answers.\r\n"
    return head + first + b"--zz\r\nContent-Type: text/plain\r\n\r\npart\r\n" * count + b"--zz--\r\n"


def big_attachment(megabytes: int = 25) -> bytes:
    data = base64.encodebytes(random.Random(1).randbytes(megabytes * 1024 * 1024 * 3 // 4 - 4096))
    head = (
        HEAD
        + b'Subject: the price list\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="zz"\r\n\r\n'
    )
    text = b"--zz\r\nContent-Type: text/plain\r\n\r\nThe price list is attached.\r\n"
    attachment = b"--zz\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    return head + text + attachment + data + b"--zz--\r\n"


def many_headers(count: int = 300_000) -> bytes:
    return HEAD + b"Subject: many headers\r\n" + b"X-Filler: v\r\n" * count + b"\r\nThe body is read.\r\n"


def collect(tmp_path: Path, messages: dict[str, bytes]) -> dict[str, Any]:
    box = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True, exist_ok=True)
    for name, raw in messages.items():
        (box / "new" / name).write_bytes(raw)
    url = f"sqlite:///{(tmp_path / 'audit.db').as_posix()}"
    done = subprocess.run(
        [sys.executable, "-m", "tests.attack.bounds_worker", str(box), str(tmp_path / "data"), url],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def assert_stored_raw_once(tmp_path: Path, report: dict[str, Any], messages: dict[str, bytes]) -> None:
    assert report["errors"] == []
    assert report["stored"] == len(messages)
    by_key = {row["delivery_key"]: row for row in report["rows"]}
    assert sorted(by_key) == sorted(messages)  # one row each, none twice
    for name, raw in messages.items():
        row = by_key[name]
        assert row["raw_size"] == len(raw)
        assert (tmp_path / "data" / row["raw_path"]).read_bytes() == raw


CASES = {
    "subject_20000_words": (subject_of_encoded_words, "encoded words", "Thanks for asking."),
    "nested_divs_1mb": (nested_divs, "HTML nested over", "Our answer is yes."),
    "deep_mime": (deep_mime, "MIME nested too deep", None),
    "many_parts": (many_parts, "MIME boundary lines", "The first part answers."),
    "attachment_25mb": (big_attachment, "parsed the first", "The price list is attached."),
    "many_headers": (many_headers, "header fields", "The body is read."),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_message_is_bounded_and_stored_raw_once(tmp_path: Path, case: str) -> None:
    build, defect, text = CASES[case]
    raw = build()
    report = collect(tmp_path, {case: raw})
    assert report["seconds"] < SECONDS, report["seconds"]
    assert report["peak_mb"] < PEAK_MB, report["peak_mb"]
    assert_stored_raw_once(tmp_path, report, {case: raw})
    row = report["rows"][0]
    assert row["malformed"] and "limit:" in row["parse_error"] and defect in row["parse_error"]
    if text is not None:  # classified from what could be read: the text before the cut is there
        assert text in row["text_head"]
    assert row["kind"] != "unknown" or text is None


def test_the_20000_word_subject_is_1_2_mb_and_its_first_words_decoded(tmp_path: Path) -> None:
    raw = subject_of_encoded_words()
    assert len(raw) > 1_000_000
    parsed = parse_message(raw)
    assert parsed.subject is not None and parsed.subject.startswith("שלום עולם, hello world")
    assert parsed.subject.count("hello world") == parse.MAX_ENCODED_WORDS
    assert parsed.message_id is None  # it came after the header section's limit: not read, and said so
    assert any("header section over" in defect for defect in parsed.defects)


def test_parsing_a_25_mb_message_takes_a_bounded_amount_of_memory() -> None:
    import tracemalloc

    from audit.collect.bounces import bounce_evidence, mime_tree

    raw = big_attachment()
    tracemalloc.start()
    try:
        parsed = parse_message(raw)
        bounce_evidence(parsed, mime_tree(raw, parsed))  # the classifier's second look at the MIME tree
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    assert peak_mb < 100, peak_mb  # 5 MB parsed, the rest of the 25 never copied
    assert "The price list is attached." in parsed.text
    assert any("parsed the first" in defect for defect in parsed.defects)


def test_html_past_the_limits_keeps_its_text_and_stays_sanitised() -> None:
    deep = "<div>" * 5_000 + "<script>alert(1)</script><b>kept text</b>" + "</div>" * 5_000
    raw = HEAD + b"Subject: x\r\nContent-Type: text/html\r\n\r\n" + deep.encode()
    started = time.monotonic()
    parsed = parse_message(raw)
    assert time.monotonic() - started < SECONDS
    assert "kept text" in parsed.text
    assert parsed.html_sanitized is not None and "kept text" in parsed.html_sanitized
    assert "<script" not in parsed.html_sanitized and "alert" not in parsed.html_sanitized
    assert parsed.html_sanitized.count("<div>") <= parse.MAX_HTML_DEPTH


def test_formatting_elements_left_open_are_not_reopened_everywhere() -> None:
    html = "".join(f"<p><b class=c{i}>x</p>" for i in range(20_000))  # 44 s in nh3 before the limit
    raw = HEAD + b"Subject: x\r\nContent-Type: text/html\r\n\r\n" + html.encode()
    started = time.monotonic()
    parsed = parse_message(raw)
    assert time.monotonic() - started < SECONDS
    assert parsed.html_sanitized is not None and len(parsed.html_sanitized) <= parse.MAX_HTML_CHARS
    assert any("open formatting" in defect for defect in parsed.defects)


def test_ordinary_html_is_untouched_by_the_limiter() -> None:
    html = "<table><tr><td><font color=red>a</td><td><p>b<p>c</td></tr></table><ul><li>1<li>2</ul>" * 200
    assert parse._bounded_html(html, defects := []) == html
    assert defects == []


def mutate(seed: int, raw: bytes) -> bytes:
    """A mutated copy of `raw`: flipped bytes, a duplicated or deleted slice, a spliced-in hostile piece."""
    rng = random.Random(seed)
    data = bytearray(raw[:2_000_000])
    for _ in range(rng.randint(1, 40)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    start = rng.randrange(len(data))
    piece = bytes(data[start : start + rng.randint(1, 50_000)])
    operation = rng.choice(("duplicate", "delete", "splice"))
    if operation == "duplicate":
        data[start:start] = piece * rng.randint(2, 20)
    elif operation == "delete":
        del data[start : start + len(piece)]
    else:
        hostile = rng.choice(
            (b"=?utf-8?q?a?= " * 5_000, b"<div>" * 20_000, b"\r\n--zz\r\n" * 5_000, b"\r\n\r\n")
        )
        data[start:start] = hostile
    return bytes(data)


def test_a_maildir_of_27_fuzzed_files_is_collected_within_bounds(tmp_path: Path) -> None:
    seeds = [
        subject_of_encoded_words(2_000), nested_divs(200_000), deep_mime(500), many_parts(5_000),
        many_headers(20_000), HEAD + b"Subject: plain\r\n\r\nA plain reply.\r\n",
        HEAD + b"Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/html\r\n\r\n<p>Hi <b>Dana</b></p>\r\n",
    ]  # fmt: skip
    messages = {f"fuzz{index:02d}": mutate(index, seeds[index % len(seeds)]) for index in range(27)}
    report = collect(tmp_path, messages)
    assert report["seconds"] < 60, report["seconds"]  # 241 s and 13.6 GB before the limits
    assert report["peak_mb"] < PEAK_MB, report["peak_mb"]
    assert_stored_raw_once(tmp_path, report, messages)
