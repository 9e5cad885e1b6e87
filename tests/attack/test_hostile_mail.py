"""Hypothesis-generated hostile mail through the real collector (issue 11, part 2).

Each example is a message assembled from hostile pieces (encoded-word floods, long and many headers, deep
and wide MIME, nested markup, unclosed raw-text elements in foreign content, bad charsets and
transfer encodings, NUL and control bytes), written to a real Maildir and collected into a real SQLite
database twice. Whatever hypothesis builds, the outcome is asserted: one row per file, its raw bytes kept
whole and byte-exact, nothing stored twice by the second pass, a parse that ends within the time budget, and
every cut named in the defects. tests/attack/test_bounds.py measures the extreme cases one process each.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from audit.collect.maildir import collect_maildir_once
from audit.db import open_database
from audit.models import Message

PARSE_BUDGET_S = 10.0  # per pass of up to three messages; the unbounded parser took 10 s for one

HEAD = "From: Ruth <ruth@acme.example>\r\nTo: dana.k7q29fx@replies.example.org\r\n"


def _words(count: int) -> str:
    return " ".join(["=?utf-8?b?w6k=?="] * count)


def _nested_mime(depth: int, boundary: str) -> str:
    text = "Content-Type: text/plain\r\n\r\nThe innermost answer.\r\n"
    for level in range(depth):
        mark = f"{boundary}{level}"
        text = f'Content-Type: multipart/mixed; boundary="{mark}"\r\n\r\n--{mark}\r\n{text}\r\n--{mark}--\r\n'
    return text


header_piece = st.one_of(
    st.builds(lambda n: f"Subject: {_words(n)}\r\n", st.integers(0, 3000)),
    st.builds(lambda n: f"X-Long: {'a' * n}\r\n", st.integers(0, 200_000)),
    st.builds(lambda n: "".join(f"X-H{i}: v\r\n" for i in range(n)), st.integers(0, 3000)),
    st.just("Subject: =?x-unknown?q?caf=E9?=\r\n"),
    st.just("Date: Tue, 99 Foo 20261 25:61:61 +9999\r\n"),
    st.just("Message-ID: <\x00nul@acme.example>\r\n"),
    st.text(alphabet=st.characters(codec="latin-1"), max_size=200).map(lambda t: f"X-Odd: {t}\r\n"),
)

body_piece = st.one_of(
    st.builds(lambda n, b: _nested_mime(n, b), st.integers(0, 400), st.sampled_from(["b", "x" * 69, "=_"])),
    st.builds(
        lambda n: (
            "Content-Type: text/html\r\n\r\n" + "<div>" * n + "Our answer is yes." + "</div>" * (n // 2)
        ),
        st.integers(0, 60_000),
    ),
    st.builds(
        lambda tag, n: f"Content-Type: text/html\r\n\r\n<p>Hi</p><{tag}><style>x{{}}" + "<p>more</p>" * n,
        st.sampled_from(["math", "svg", "table", "select"]),
        st.integers(0, 2000),
    ),
    st.builds(
        lambda n: (
            "Content-Type: multipart/mixed; boundary=w\r\n\r\n"
            + "".join("--w\r\nContent-Type: text/plain\r\n\r\npart\r\n" for _ in range(n))
            + "--w--\r\n"
        ),
        st.integers(0, 5000),
    ),
    st.just(
        "Content-Type: text/plain; charset=x-nonsense\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@\r\n"
    ),
    st.just("Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n"),
    st.binary(max_size=2000).map(lambda b: "\r\n" + b.decode("latin-1")),
)

message = st.builds(
    lambda headers, body: (HEAD + "".join(headers) + body).encode("latin-1", "replace"),
    st.lists(header_piece, max_size=3),
    body_piece,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(st.lists(message, min_size=1, max_size=3))
def test_generated_hostile_mail_is_stored_raw_once_within_the_budget(messages: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        box = root / "Maildir"
        for sub in ("new", "cur", "tmp"):
            (box / sub).mkdir(parents=True)
        for index, raw in enumerate(messages):
            (box / "new" / f"m{index}").write_bytes(raw)
        engine = open_database(f"sqlite:///{(root / 'audit.db').as_posix()}")
        try:
            started = time.monotonic()
            stats = collect_maildir_once(engine, box, data_dir=root / "data")
            assert time.monotonic() - started < PARSE_BUDGET_S
            assert stats.errors == [] and stats.stored == len(messages)
            again = collect_maildir_once(engine, box, data_dir=root / "data")
            assert again.stored == 0  # the second pass finds every file stored
            with Session(engine) as session:
                rows = session.exec(select(Message)).all()
            assert len(rows) == len(messages)
            by_key = {row.delivery_key: row for row in rows}
            for index, raw in enumerate(messages):
                row = by_key[f"m{index}"]
                assert row.raw_path is not None and row.raw_size == len(raw)
                assert (root / "data" / row.raw_path).read_bytes() == raw
                if "limit:" in (row.parse_error or ""):
                    assert row.malformed  # a cut is never silent
        finally:
            engine.dispose()
