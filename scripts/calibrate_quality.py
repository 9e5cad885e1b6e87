"""Choose audit.quality.good and .adequate from the hand-labelled replies in tests/data/rubric/.

Every labelled reply is scored by the rubric (as tests/test_rubric_agreement.py does); each pair of thresholds
on a 0.05 grid (adequate <= good) puts each reply in a tier: warm (quality >= good), cold (adequate <= quality
< good) or poor. The pair that places the most replies in the tier the human gave wins; among equals, the one
whose worst tier is placed best, then the one with the widest margins (mid-points between the scores that
decide). Prints the chosen values, rounded to 0.05 as audit/config.py keeps them, and the confusion matrix.

    python3 scripts/calibrate_quality.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audit.config import QualityThresholds
from tests.test_rubric_agreement import TIER_TARGETS, confusion_table, labelled, tier_confusion

GRID = [round(step * 0.05, 2) for step in range(21)]


def placed(matrix: dict[str, dict[str, int]]) -> tuple[int, float]:
    """Replies placed in their human tier, and the share placed for the worst-placed tier."""
    shares = [row[tier] / max(1, sum(row.values())) for tier, row in matrix.items()]
    return sum(matrix[tier][tier] for tier in matrix), min(shares)


def margin(good: float, adequate: float, qualities: list[float]) -> float:
    """How far the thresholds sit from the nearest reply score (wider is steadier on new replies)."""
    return sum(min(abs(quality - threshold) for quality in qualities) for threshold in (good, adequate))


def calibrate() -> tuple[QualityThresholds, dict[str, dict[str, int]]]:
    qualities = [item.code.quality for item in labelled()]
    best: tuple[tuple[int, float, float], QualityThresholds] | None = None
    for adequate in GRID:
        for good in GRID:
            if adequate > good:
                continue
            thresholds = QualityThresholds(good=good, adequate=adequate)
            key = (*placed(tier_confusion(thresholds)), margin(good, adequate, qualities))
            if best is None or key > best[0]:
                best = (key, thresholds)
    assert best is not None
    return best[1], tier_confusion(best[1])


def main() -> None:
    thresholds, matrix = calibrate()
    lines = [
        f"replies: {len(labelled())}",
        f"audit.quality.good = {thresholds.good:.2f}",
        f"audit.quality.adequate = {thresholds.adequate:.2f}",
        confusion_table(matrix),
    ]
    for tier in TIER_TARGETS:
        total = sum(matrix[tier].values())
        lines.append(
            f"{tier}: {matrix[tier][tier]}/{total} placed ({matrix[tier][tier] / max(1, total):.0%})"
        )
    sys.stdout.write("\n".join(lines) + "\n")  # a script's output (ruff's T20 bans print in the project)


if __name__ == "__main__":
    main()
