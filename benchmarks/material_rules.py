"""Measure the material rules against hand-labelled H&M descriptions.

For each material label, the report prints how many sample articles carry it by hand
(``expected``), how many the rules give it (``predicted``) and how many of those agree
(``correct``). From these it derives precision, recall and coverage (predicted / sample
size). The articles where rules and hand labels disagree follow the table.

Run from the repository root:

    .venv/bin/python -m benchmarks.material_rules

``--draw N --data-dir DIR --output FILE`` writes a fresh random sample of N
head-attire articles for hand labelling, with an empty ``expected_material`` column.
The committed sample was drawn with ``--draw 160 --seed 20240917``.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from classifier.materials import (
    TRUST_MIN_PRECISION,
    TRUST_MIN_PREDICTED,
    TRUSTED_MATERIALS,
    material_from_description,
)
from classifier.taxonomy import MATERIAL, TYPE, type_from_product_type

DEFAULT_SAMPLE = (
    Path(__file__).resolve().parents[1] / "tests" / "classifier" / "data" / "material_sample.csv"
)
HM_SUBSETS = ("hm-week", "hm-2y")


@dataclass(frozen=True)
class LabelScore:
    """Agreement of the rules with the hand labels for one material label."""

    label: str
    expected: int
    predicted: int
    correct: int
    sample_size: int

    @property
    def precision(self) -> float | None:
        """Share of rule predictions that match the hand label, or None if never predicted."""
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        """Share of hand-labelled articles that the rules found, or None if never expected."""
        return self.correct / self.expected if self.expected else None

    @property
    def coverage(self) -> float:
        """Share of the whole sample that the rules give this label."""
        return self.predicted / self.sample_size

    @property
    def meets_trust_bar(self) -> bool:
        """Whether this measurement qualifies the label for `TRUSTED_MATERIALS`."""
        return (
            self.label != MATERIAL.fallback
            and self.predicted >= TRUST_MIN_PREDICTED
            and self.correct / self.predicted >= TRUST_MIN_PRECISION
        )


def read_sample(path: Path) -> pd.DataFrame:
    """Read a hand-labelled sample, keeping ``article_id`` a string with its leading zero.

    Raises ValueError if a column is missing or an ``expected_material`` is not a
    material label.
    """
    sample = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"article_id", "detail_desc", "expected_material"} - set(sample.columns)
    if missing:
        raise ValueError(f"sample {path} is missing columns: {', '.join(sorted(missing))}")
    invalid = sorted(set(sample["expected_material"]) - set(MATERIAL.names))
    if invalid:
        raise ValueError(
            f"sample {path} has expected_material values that are not material labels: "
            f"{', '.join(invalid)}. Expected one of {', '.join(MATERIAL.names)}"
        )
    return sample


def score_rules(
    descriptions: Sequence[str], expected: Sequence[str]
) -> tuple[list[str], list[LabelScore]]:
    """Apply the rules to each description and score them against ``expected``.

    Returns the predicted labels in input order and one score per material label in
    `MATERIAL` order.
    """
    if len(descriptions) != len(expected):
        raise ValueError(
            f"got {len(descriptions)} descriptions but {len(expected)} expected labels"
        )
    predicted = [material_from_description(text).material for text in descriptions]
    scores = [
        LabelScore(
            label=label,
            expected=sum(1 for truth in expected if truth == label),
            predicted=sum(1 for guess in predicted if guess == label),
            correct=sum(
                1
                for truth, guess in zip(expected, predicted, strict=True)
                if truth == guess == label
            ),
            sample_size=len(expected),
        )
        for label in MATERIAL.names
    ]
    return predicted, scores


def draw_sample(data_dir: Path, *, size: int, seed: int) -> pd.DataFrame:
    """Draw ``size`` head-attire articles at random from the H&M articles under ``data_dir``.

    Articles of both subsets are pooled and deduplicated by ``article_id`` before the
    draw, and the same seed gives the same sample. Raises ValueError if fewer than
    ``size`` head-attire articles exist.
    """
    frames = [
        pd.read_csv(data_dir / subset / "articles.csv", dtype={"article_id": str})
        for subset in HM_SUBSETS
    ]
    articles = pd.concat(frames).drop_duplicates("article_id").sort_values("article_id")
    types = articles["product_type_name"].map(type_from_product_type)
    head_attire = articles[types != TYPE.fallback]
    if len(head_attire) < size:
        raise ValueError(
            f"only {len(head_attire)} head-attire articles under {data_dir}, cannot draw {size}"
        )
    sample = head_attire.sample(n=size, random_state=seed).sort_values("article_id")
    sample = sample[["article_id", "detail_desc"]].copy()
    sample["expected_material"] = ""
    return sample


def _format_share(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_report(sample: pd.DataFrame, predicted: list[str], scores: list[LabelScore]) -> None:
    """Print the per-label table, the totals and the disagreements."""
    print(f"material rules against {len(sample)} hand-labelled articles")
    print()
    header = (
        "label",
        "expected",
        "predicted",
        "correct",
        "precision",
        "recall",
        "coverage",
        "trusted",
    )
    print("{:<10} {:>8} {:>9} {:>7} {:>9} {:>6} {:>8}  {}".format(*header))
    for score in scores:
        trusted = "yes" if score.label in TRUSTED_MATERIALS else "no"
        print(
            f"{score.label:<10} {score.expected:>8} {score.predicted:>9} {score.correct:>7} "
            f"{_format_share(score.precision):>9} {_format_share(score.recall):>6} "
            f"{score.coverage:>8.2f}  {trusted}"
        )
    qualified = {score.label for score in scores if score.meets_trust_bar}
    print(f"trust bar: precision >= {TRUST_MIN_PRECISION} on >= {TRUST_MIN_PREDICTED} predictions")
    if qualified != TRUSTED_MATERIALS:
        print(
            "WARNING: TRUSTED_MATERIALS does not match this measurement. Labels that meet "
            f"the bar: {', '.join(sorted(qualified)) or 'none'}. Update classifier/materials.py."
        )

    expected = list(sample["expected_material"])
    agree = sum(1 for truth, guess in zip(expected, predicted, strict=True) if truth == guess)
    labelled = sum(1 for guess in predicted if guess != MATERIAL.fallback)
    print()
    print(f"agreement over all labels: {agree}/{len(expected)} = {agree / len(expected):.2f}")
    print(f"articles given a material: {labelled}/{len(expected)} = {labelled / len(expected):.2f}")

    disagreements = [
        (row.article_id, row.expected_material, guess, row.detail_desc)
        for row, guess in zip(sample.itertuples(), predicted, strict=True)
        if row.expected_material != guess
    ]
    print()
    print(f"disagreements ({len(disagreements)}): article_id expected -> predicted: description")
    for article_id, truth, guess, text in disagreements:
        print(f"  {article_id} {truth} -> {guess}: {text}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sample",
        type=Path,
        default=DEFAULT_SAMPLE,
        help="hand-labelled CSV to score (default: the committed sample)",
    )
    parser.add_argument(
        "--draw",
        type=int,
        metavar="N",
        help="instead of scoring, draw N head-attire articles for hand labelling",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="directory that contains hm-week/ and hm-2y/ (required with --draw)",
    )
    parser.add_argument("--seed", type=int, default=20240917, help="random seed for --draw")
    parser.add_argument("--output", type=Path, help="CSV file that --draw writes")
    args = parser.parse_args(argv)

    if args.draw is not None:
        if args.data_dir is None or args.output is None:
            parser.error("--draw needs --data-dir and --output")
        drawn = draw_sample(args.data_dir, size=args.draw, seed=args.seed)
        drawn.to_csv(args.output, index=False, quoting=csv.QUOTE_MINIMAL)
        print(f"wrote {len(drawn)} articles to {args.output}. Fill in expected_material by hand.")
        return

    sample = read_sample(args.sample)
    predicted, scores = score_rules(list(sample["detail_desc"]), list(sample["expected_material"]))
    print_report(sample, predicted, scores)


if __name__ == "__main__":
    main()
