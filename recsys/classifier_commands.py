"""The classifier sub-commands of `milliner`: train classifier, evaluate classifier, classify."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from catalog.settings import Settings
from classifier.images import load_image

__all__ = ["run_classifier_command"]

logger = logging.getLogger(__name__)

_EXIT_OK = 0
# The exit code of argparse's own usage errors: a missing or invalid option.
_EXIT_USAGE = 2
_EXIT_INVALID_INPUT = 3


def run_classifier_command(args: argparse.Namespace, settings: Settings, *, progress: bool) -> int:
    """Run `train classifier`, `evaluate classifier` or `classify`; return the exit code.

    Raises:
        ArtifactMissingError: no classifier was published (evaluate, classify).
        ClassifierError, ValueError: invalid input data or artifact.
    """
    if args.command == "train":
        return _train(args, settings, progress=progress)
    if args.command == "evaluate":
        return _evaluate(settings, args.data, progress=progress)
    return _classify(settings, args.images, args.kind)


def _train(args: argparse.Namespace, settings: Settings, *, progress: bool) -> int:
    from classifier.training import ClassifierTrainingConfig
    from recsys.jobs import run_classifier_training

    if not args.data:
        logger.error("train classifier needs at least one catalog: pass --data DIR")
        return _EXIT_USAGE
    if args.views < 0:
        logger.error("--views must be at least 0, got %d", args.views)
        return _EXIT_USAGE
    if args.other_photos < 1:
        logger.error(
            "--other-photos must be at least 1, got %d: without photos of other products "
            "the classifier never learns the type none",
            args.other_photos,
        )
        return _EXIT_USAGE
    if _report_missing_catalogs(args.data):
        return _EXIT_INVALID_INPUT
    config = ClassifierTrainingConfig(
        seed=args.seed,
        deterministic=args.deterministic,
        other_per_catalog=args.other_photos,
        augmented_views=args.views,
        threads=args.threads,
    )
    result = run_classifier_training(
        settings, args.data, street_photos=args.street_photos, config=config, progress=progress
    )
    metrics = result.metrics
    print(f"published {result.artifact.model_version} in {result.seconds:.0f} s")
    for task in ("type", "colour", "pattern", "material"):
        accuracy = metrics[task]["accuracy"]
        print(
            f"  {task:<8} accuracy {accuracy['value']:.3f} "
            f"[{accuracy['low']:.3f}, {accuracy['high']:.3f}] on {metrics[task]['samples']} "
            f"held-out photos ({metrics[task]['scope']})"
        )
    hat = metrics.get("hat_presence")
    if hat:
        accuracy = hat["accuracy"]
        print(
            f"  hat presence accuracy {accuracy['value']:.3f} "
            f"[{accuracy['low']:.3f}, {accuracy['high']:.3f}] on {hat['photos']} street photos"
        )
    print("run `milliner index` to embed and label the catalog with it")
    return _EXIT_OK


def _report_missing_catalogs(directories: list[Path]) -> bool:
    """Log each directory that is not found or has no articles.csv; return whether there was one."""
    missing = [d for d in directories if not (d / "articles.csv").is_file()]
    for directory in missing:
        problem = "has no articles.csv" if directory.is_dir() else "not found"
        logger.error(
            "catalog directory %s %s: pass a catalog directory in the H&M layout "
            "(articles.csv, images/)",
            directory,
            problem,
        )
    return bool(missing)


def _evaluate(settings: Settings, catalogs: list[Path] | None, *, progress: bool) -> int:
    from recsys.jobs import run_classifier_evaluation

    metrics, html_path, json_path = run_classifier_evaluation(settings, catalogs, progress=progress)
    for task, values in metrics["tasks"].items():
        accuracy = values["accuracy"]
        f1 = values["macro_f1"]
        print(
            f"{task:<8} accuracy {accuracy['value']:.3f} [{accuracy['low']:.3f}, "
            f"{accuracy['high']:.3f}], macro-F1 {f1['value']:.3f} [{f1['low']:.3f}, "
            f"{f1['high']:.3f}] on {values['samples']} photos ({values['scope']})"
        )
    print(f"report: {html_path}\ndata:   {json_path}")
    return _EXIT_OK


def _classify(settings: Settings, images: list[Path], kind: str) -> int:
    from classifier.errors import InvalidImageError
    from recsys.jobs import load_classifier

    classifier = load_classifier(settings)
    failed = 0
    for path in images:
        try:
            image = load_image(path)
        except (InvalidImageError, OSError) as error:
            logger.error("failed to classify %s: %s", path, error)
            failed += 1
            continue
        analysis = classifier.analyse(image, kind=kind)  # type: ignore[arg-type]
        record: dict[str, object] = {"path": str(path), **analysis.to_dict()}
        record["model_version"] = classifier.model_version
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    return _EXIT_INVALID_INPUT if failed else _EXIT_OK
