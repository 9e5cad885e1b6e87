"""The rubric against a careful human grader: the hand-labelled replies in tests/data/rubric/.

Each labelled reply (labelled_en.yaml, labelled_he.yaml) answers one inquiry of contexts.yaml and carries a
person's score on every criterion and a tier (warm, cold, poor). The code scores the same text the way the
grader does (audit/grading/wave.py); per criterion and language we measure exact agreement and the
quadratic-weighted Cohen's kappa, and check that the quality thresholds in audit/config.py put each tier where
the person did. How the set was written and the current figures: tests/data/rubric/README.md.
Run with `pytest -s` for the table; scripts/calibrate_quality.py chooses the thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from audit.collect.quotes import reply_part
from audit.config import AuditConfig, QualityThresholds, parse_config
from audit.grading.rubric import MAX_SCORES, ReplyScore, RubricContext, reply_text_of, score_reply

DATA = Path(__file__).parent / "data" / "rubric"
CRITERIA = tuple(MAX_SCORES)  # A, P1, P2, Q, V, E, M
LANGUAGES = ("en", "he")
MIN_EXACT = 0.90
TIER_TARGETS = {
    "warm": 0.90,
    "cold": 0.85,
    "poor": 0.85,
}  # share of each human tier the thresholds must place


@dataclass(frozen=True)
class Labelled:
    id: str
    language: str  # the inquiry's (the context's) language
    human_quality: str  # warm | cold | poor
    human: dict[str, int]
    reasons: dict[str, str]
    code: ReplyScore

    def code_scores(self) -> dict[str, int]:
        return {item.criterion: item.score for item in self.code.criteria}

    def evidence(self, criterion: str) -> str:
        item = next(item for item in self.code.criteria if item.criterion == criterion)
        found = "; ".join(f"{e.rule}: {e.quote}" for e in item.evidence) or "no evidence"
        return f"{found}" + (f" ({item.note})" if item.note else "")


@cache
def contexts() -> dict[str, tuple[AuditConfig, RubricContext, str, str]]:
    raw: dict[str, dict[str, str]] = yaml.safe_load((DATA / "contexts.yaml").read_text(encoding="utf-8"))
    out = {}
    for name, context in raw.items():
        config = parse_config(context["config"])
        out[name] = (
            config,
            RubricContext.from_config(config),
            context["company_domain"],
            context["company_name"],
        )
    return out


def score_text(context_name: str, text: str, channel: str) -> ReplyScore:
    """As tests/test_grading_rubric.py and the grader do: the collector's reply part for mail, a typed note
    (audit/collect/manual.py) whole."""
    _config, rubric, domain, company = contexts()[context_name]
    reply = reply_text_of(text, reply_part(text) if channel == "email" else text, channel)
    return score_reply(reply, rubric, company_domain=domain, company_name=company)


@cache
def labelled() -> tuple[Labelled, ...]:
    found: list[Labelled] = []
    for path in sorted(DATA.glob("labelled_*.yaml")):
        document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in document.get("replies") or ():
            config = contexts()[item["context"]][0]
            found.append(
                Labelled(
                    id=str(item["id"]),
                    language=config.inquiry.language or config.audit.language,
                    human_quality=str(item["human_quality"]),
                    human={key: int(value) for key, value in item["scores"].items()},
                    reasons={key: str(value) for key, value in (item.get("reasons") or {}).items()},
                    code=score_text(item["context"], item["text"], item.get("channel", "email")),
                )
            )
    return tuple(found)


def quadratic_kappa(first: Sequence[int], second: Sequence[int], categories: int) -> float:
    """Cohen's kappa with quadratic weights: 1 - sum(w * observed) / sum(w * expected), w = (i-j)^2/(k-1)^2.

    Written out because it is five lines and scikit-learn (cohen_kappa_score) is not a dependency. When both
    raters use one category only, the expected disagreement is 0 and kappa is undefined: 1.0 if they agree.
    """
    n = len(first)
    if n == 0:
        return float("nan")
    observed = [[0.0] * categories for _ in range(categories)]
    for a, b in zip(first, second, strict=True):
        observed[a][b] += 1
    rows = [sum(row) for row in observed]
    columns = [sum(observed[i][j] for i in range(categories)) for j in range(categories)]
    weight = [[(i - j) ** 2 / (categories - 1) ** 2 for j in range(categories)] for i in range(categories)]
    disagreement = sum(weight[i][j] * observed[i][j] for i in range(categories) for j in range(categories))
    expected = sum(
        weight[i][j] * rows[i] * columns[j] / n for i in range(categories) for j in range(categories)
    )
    if expected == 0:
        return 1.0 if disagreement == 0 else 0.0
    return 1 - disagreement / expected


@dataclass(frozen=True)
class Agreement:
    language: str
    criterion: str
    n: int
    exact: float
    kappa: float
    disagreeing: tuple[Labelled, ...]


def agreement() -> list[Agreement]:
    rows = []
    for language in LANGUAGES:
        items = [item for item in labelled() if item.language == language]
        for criterion in CRITERIA:
            human = [item.human[criterion] for item in items]
            code = [item.code_scores()[criterion] for item in items]
            same = sum(1 for a, b in zip(human, code, strict=True) if a == b)
            rows.append(
                Agreement(
                    language=language,
                    criterion=criterion,
                    n=len(items),
                    exact=same / len(items) if items else float("nan"),
                    kappa=quadratic_kappa(human, code, MAX_SCORES[criterion] + 1),
                    disagreeing=tuple(
                        item for item in items if item.human[criterion] != item.code_scores()[criterion]
                    ),
                )
            )
    return rows


def agreement_table(rows: Sequence[Agreement]) -> str:
    lines = ["| criterion | " + " | ".join(f"{lang} exact | {lang} kappa" for lang in LANGUAGES) + " |"]
    lines.append("|---" * (1 + 2 * len(LANGUAGES)) + "|")
    for criterion in CRITERIA:
        cells = []
        for language in LANGUAGES:
            row = next(r for r in rows if r.criterion == criterion and r.language == language)
            cells += [f"{row.exact:.0%}", f"{row.kappa:.2f}"]
        lines.append(f"| {criterion} | " + " | ".join(cells) + " |")
    counts = ", ".join(f"{lang}: {next(r.n for r in rows if r.language == lang)}" for lang in LANGUAGES)
    lines.append(f"(replies {counts})")
    return "\n".join(lines)


def disagreements(row: Agreement) -> str:
    return "\n".join(
        f"  {item.id}: human {item.human[row.criterion]}, code {item.code_scores()[row.criterion]}\n"
        f"    code: {item.evidence(row.criterion)}\n    human: {item.reasons.get(row.criterion, '')}"
        for item in row.disagreeing
    )


def tier_of(quality: float, thresholds: QualityThresholds) -> str:
    if quality >= thresholds.good:
        return "warm"
    return "cold" if quality >= thresholds.adequate else "poor"


def tier_confusion(thresholds: QualityThresholds) -> dict[str, dict[str, int]]:
    """human tier -> code tier -> count, over both languages."""
    matrix = {human: dict.fromkeys(TIER_TARGETS, 0) for human in TIER_TARGETS}
    for item in labelled():
        matrix[item.human_quality][tier_of(item.code.quality, thresholds)] += 1
    return matrix


def confusion_table(matrix: dict[str, dict[str, int]]) -> str:
    lines = ["| human \\ code | " + " | ".join(TIER_TARGETS) + " |", "|---" * (1 + len(TIER_TARGETS)) + "|"]
    lines += [
        f"| {human} | " + " | ".join(str(row[code]) for code in TIER_TARGETS) + " |"
        for human, row in matrix.items()
    ]
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------------- tests


def require_labels() -> None:
    for language in LANGUAGES:
        if sum(1 for item in labelled() if item.language == language) < 60:
            pytest.fail(f"tests/data/rubric/labelled_{language}.yaml holds fewer than 60 replies")


def test_the_labelled_set_is_well_formed() -> None:
    require_labels()
    ids = [item.id for item in labelled()]
    assert len(ids) == len(set(ids))
    for item in labelled():
        assert set(item.human) == set(CRITERIA), item.id
        assert all(0 <= item.human[c] <= MAX_SCORES[c] for c in CRITERIA), item.id
        assert item.human_quality in TIER_TARGETS, item.id


def test_kappa_formula() -> None:
    assert quadratic_kappa([0, 1, 2, 2], [0, 1, 2, 2], 3) == pytest.approx(1.0)
    # Complete reversal on a 3-point scale is worse than chance.
    assert quadratic_kappa([0, 0, 2, 2], [2, 2, 0, 0], 3) < 0
    # By hand: one (0, 1) disagreement weighs 1/4; expected 1/4 * (2*2 + 1*1) / 3 = 5/12; 1 - 3/5 = 0.4.
    assert quadratic_kappa([0, 0, 1], [0, 1, 1], 3) == pytest.approx(0.4)


def test_every_criterion_agrees_with_the_human_grader_in_both_languages() -> None:
    require_labels()
    rows = agreement()
    print("\n" + agreement_table(rows))
    failing = [row for row in rows if row.exact < MIN_EXACT]
    report = "\n".join(
        f"{row.language} {row.criterion}: {row.exact:.0%} exact\n{disagreements(row)}" for row in failing
    )
    assert not failing, f"below {MIN_EXACT:.0%} exact agreement:\n{report}"


def test_the_quality_thresholds_put_each_tier_where_the_human_does() -> None:
    require_labels()
    thresholds = QualityThresholds()  # the defaults in audit/config.py
    matrix = tier_confusion(thresholds)
    print(f"\ngood={thresholds.good}, adequate={thresholds.adequate}\n" + confusion_table(matrix))
    for human, target in TIER_TARGETS.items():
        total = sum(matrix[human].values())
        share = matrix[human][human] / total if total else 0.0
        wrong = [
            f"{item.id} ({item.code.quality:.2f})"
            for item in labelled()
            if item.human_quality == human and tier_of(item.code.quality, thresholds) != human
        ]
        assert share >= target, f"{human}: {share:.0%} placed, want {target:.0%}; misplaced: {wrong}"
