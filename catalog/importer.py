"""Import a catalog in the H&M layout: articles, product photos and purchases.

A catalog directory contains `articles.csv`, `images/<article_id>.jpg` and
`transactions.csv` (see the README for the columns). Every id is kept as a
string, so "0123173001" keeps its leading zero.

Policies for inputs that are not clean:

- Layout: UTF-8 with or without a byte order mark (another encoding with
  `encoding=`), quoted headers, CRLF, and `,`, `;`, tab or `|` separators
  are detected (see `catalog.csv_reading`). With a non-comma separator,
  prices may use a decimal comma. The summary names what was detected.
- Dates: one format per file, detected from the whole `t_dat` column; a
  column where day-first and month-first are both valid for every value is
  rejected unless `date_format=` names the format (see `catalog.csv_dates`).
- Repeated purchase rows: kept. The H&M data has no transaction id, and
  identical rows are real repeat purchases of the same article on the same
  day, so they cannot be told apart from accidental copies. They are counted
  in `details["repeat_rows"]`; the ranker later collapses each
  (shopper, article) pair into one interaction.
- Repeated `article_id` in articles.csv: the first row wins, later rows are
  rejected.
- Article ids that lost their leading zeros (123173001 where the catalog
  has 0123173001, as a spreadsheet writes them): accepted when padding with
  zeros matches exactly one catalog article, counted in
  `details["zero_padded_ids"]`; rejected, naming the candidates, when it
  matches several.
- Unknown article ids, invalid or missing values, invalid bytes, rows with
  the wrong number of fields: rejected with their line number and reason.
- `image_path` (optional articles column): a photo path relative to the
  catalog directory. Absolute paths, `..` and symbolic links that resolve
  outside the catalog directory are rejected.

Rejected rows are written to `<name>.rejected.csv` beside the input, or
under `rejected_dir` when the input directory is read-only. Each file's
accepted rows go in one transaction.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, delete, insert, select, update
from tqdm import tqdm

from catalog.csv_dates import DateFormat, date_format_from_option, detect_date_format
from catalog.csv_purchase_rows import ArticleIdLookup, PurchaseRowParser, decimal_separator
from catalog.csv_reading import DEFAULT_ENCODING, CsvTable, read_csv, write_rejected_rows
from catalog.db import session_scope
from catalog.errors import ImportFileError
from catalog.tables import Customer, Item, ItemImage, Purchase

__all__ = [
    "ARTICLE_COLUMNS",
    "IMAGE_PATH_COLUMN",
    "PURCHASE_COLUMNS",
    "ImportOptions",
    "ImportSummary",
    "RejectedRow",
    "confined_image_path",
    "import_articles",
    "import_catalog",
    "import_purchases",
]

logger = logging.getLogger(__name__)

# H&M column -> Item attribute. Only `article_id` is required; the rest
# default to empty text when a catalog does not have them.
ARTICLE_COLUMNS = {
    "product_code": "product_code",
    "prod_name": "name",
    "product_type_name": "product_type",
    "product_group_name": "product_group",
    "graphical_appearance_name": "pattern",
    "perceived_colour_master_name": "colour",
    "department_name": "department",
    "section_name": "section",
    "garment_group_name": "garment_group",
    "detail_desc": "description",
}
PURCHASE_COLUMNS = ("t_dat", "customer_id", "article_id")
IMAGE_PATH_COLUMN = "image_path"

_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
# Image rows deleted per statement: under SQLite's default limit on bound
# parameters (32,766 since SQLite 3.32).
_DELETE_CHUNK = 10_000


@dataclass(frozen=True, kw_only=True)
class ImportOptions:
    """How to read the CSV files of one import.

    Attributes:
        encoding: codec of both files (`--encoding`, default utf-8; a UTF-8
            byte order mark is accepted and skipped).
        date_format: `strftime` format of `t_dat` (`--date-format`, e.g.
            "%d/%m/%Y"); detected from the column when None.
        rejected_dir: where `<name>.rejected.csv` goes when the input
            directory is not writable; with None those rows are only logged.
    """

    encoding: str = DEFAULT_ENCODING
    date_format: str | None = None
    rejected_dir: Path | None = None


@dataclass(frozen=True)
class RejectedRow:
    """A CSV row that was not imported; `line` counts the header as line 1."""

    line: int
    reason: str


@dataclass
class ImportSummary:
    """Counts of one import, every rejected row with its reason, and the detected layout.

    Attributes:
        path: the CSV file.
        imported: rows stored.
        rejected: rows not stored, in file order.
        details: further counts by name (see `import_articles` and
            `import_purchases`).
        layout: what was detected, by name: "file" (encoding, separator,
            line endings) and, where they apply, "decimal" and "dates".
        rejected_file: where the rejected rows were written, or None.
    """

    path: Path
    imported: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    details: dict[str, int] = field(default_factory=dict)
    layout: dict[str, str] = field(default_factory=dict)
    rejected_file: Path | None = None


class _Rejections:
    """Rejected rows of one file: the summary entries and the rows as read."""

    def __init__(self, summary: ImportSummary) -> None:
        self.summary = summary
        self.rows: list[tuple[int, str, Sequence[str]]] = []

    def add(self, line: int, reason: str, fields: Sequence[str]) -> None:
        self.summary.rejected.append(RejectedRow(line, reason))
        self.rows.append((line, reason, fields))

    def write(self, table: CsvTable, options: ImportOptions) -> None:
        self.summary.rejected_file = write_rejected_rows(
            table.path, table.header, self.rows, fallback_dir=options.rejected_dir
        )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _find_image(images_dir: Path, article_id: str) -> Path | None:
    for suffix in _IMAGE_SUFFIXES:
        candidate = images_dir / f"{article_id}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _max_length(attribute: str) -> int | None:
    return cast(int | None, getattr(Item.__table__.c[attribute].type, "length", None))


def confined_image_path(catalog_dir: Path, text: str) -> tuple[Path | None, str | None]:
    """Resolve an `image_path` value inside `catalog_dir`.

    Returns:
        `(path, None)` for a photo file inside the catalog directory, else
        `(None, reason)`. Absolute paths, `..` parts, symbolic links that
        resolve outside the directory, missing files and suffixes other than
        .jpg, .jpeg, .png and .webp are rejected, so a catalog file cannot
        make the importer read (or the API serve) files elsewhere.
    """
    if "\x00" in text:
        return None, "invalid image_path: it contains a NUL character"
    posix, windows = PurePosixPath(text), PureWindowsPath(text)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or text.startswith("\\"):
        return None, f"invalid image_path {text!r}: use a path relative to the catalog directory"
    if ".." in posix.parts or ".." in windows.parts:
        return None, f"invalid image_path {text!r}: '..' is not allowed"
    if posix.suffix.lower() not in _IMAGE_SUFFIXES:
        return None, f"invalid image_path {text!r}: use a .jpg, .jpeg, .png or .webp file"
    root = catalog_dir.resolve()
    resolved = (root / posix).resolve()
    if not resolved.is_relative_to(root):
        return None, f"invalid image_path {text!r}: it links outside the catalog directory"
    if not resolved.is_file():
        return None, f"image_path {text!r} not found in {catalog_dir}"
    return resolved, None


def _article_values(row: dict[str, str]) -> tuple[dict[str, Any] | None, str | None]:
    article_id = row.get("article_id", "")
    if not article_id:
        return None, "missing article_id"
    if not _ID_PATTERN.match(article_id):
        return None, f"invalid article_id {article_id!r}: use 1-64 letters, digits, _ . or -"
    values: dict[str, Any] = {"article_id": article_id}
    for column, attribute in ARTICLE_COLUMNS.items():
        text = row.get(column, "")
        limit = _max_length(attribute)
        if limit is not None and len(text) > limit:
            return None, f"{column} is {len(text)} characters long; the maximum is {limit}"
        values[attribute] = text
    values["product_code"] = values["product_code"] or None
    return values, None


def import_articles(
    engine: Engine,
    articles_csv: Path,
    images_dir: Path,
    *,
    progress: bool = False,
    options: ImportOptions | None = None,
) -> ImportSummary:
    """Insert or update the items of `articles_csv` and register their photos.

    The photo of an article is `image_path` when the file has that column
    and the value is not empty (relative to the directory of
    `articles_csv`, see `confined_image_path`), else
    `images_dir/<article_id>.jpg` (or .jpeg, .png, .webp). An article
    without a photo is imported all the same and counted in
    `details["without_image"]`; it gets no embedding until a photo appears.
    Rows with an invalid, missing or repeated `article_id`, an over-long
    value or an unsafe `image_path` are rejected.

    Raises:
        ImportFileError: the file is missing or unreadable, or has no
            `article_id` column.
    """
    options = options or ImportOptions()
    summary = ImportSummary(path=articles_csv)
    rejections = _Rejections(summary)
    table = read_csv(articles_csv, ("article_id",), encoding=options.encoding)
    summary.layout["file"] = table.layout.describe()
    catalog_dir = articles_csv.parent

    rows: dict[str, dict[str, Any]] = {}
    photo_paths: dict[str, Path] = {}
    for row in table.rows:
        if row.problem is not None:
            rejections.add(row.line, row.problem, row.fields)
            continue
        values, reason = _article_values(row.values)
        if values is None:
            rejections.add(row.line, reason or "invalid row", row.fields)
            continue
        article_id = values["article_id"]
        if article_id in rows:
            rejections.add(row.line, f"article_id {article_id} repeated", row.fields)
            continue
        image_text = row.values.get(IMAGE_PATH_COLUMN, "")
        if image_text:
            image_path, reason = confined_image_path(catalog_dir, image_text)
            if image_path is None:
                rejections.add(row.line, reason or "invalid image_path", row.fields)
                continue
            photo_paths[article_id] = image_path
        rows[article_id] = values

    with session_scope(engine) as session:
        existing = set(session.scalars(select(Item.article_id)))
        new_rows = [values for key, values in rows.items() if key not in existing]
        changed_rows = [values for key, values in rows.items() if key in existing]
        if new_rows:
            session.execute(insert(Item), new_rows)
        if changed_rows:
            session.execute(update(Item), changed_rows)

        known_images = {
            (image.article_id, image.path): image for image in session.scalars(select(ItemImage))
        }
        image_ids_by_article: dict[str, list[int]] = {}
        for (article_id, _), image in known_images.items():
            image_ids_by_article.setdefault(article_id, []).append(image.id)
        without_image = 0
        new_images: list[dict[str, object]] = []
        changed_images = 0
        replaced_images = 0
        removed_images = 0
        # Photos of imported articles that this import no longer names: their
        # rows go, with their embeddings and labels, so the index cannot keep
        # serving a replaced or deleted photo.
        stale_image_ids: list[int] = []
        for article_id in tqdm(rows, desc="photos", unit="img", disable=not progress):
            image_path = photo_paths.get(article_id) or _find_image(images_dir, article_id)
            if image_path is None:
                without_image += 1
                stale = image_ids_by_article.get(article_id, [])
                stale_image_ids.extend(stale)
                removed_images += len(stale)
                continue
            key = (article_id, str(image_path.resolve()))
            digest = _sha256(image_path)
            known = known_images.get(key)
            others = [
                image_id
                for image_id in image_ids_by_article.get(article_id, [])
                if known is None or image_id != known.id
            ]
            stale_image_ids.extend(others)
            if known is None:
                new_images.append(
                    {
                        "article_id": article_id,
                        "path": key[1],
                        "sha256": digest,
                        "size_bytes": image_path.stat().st_size,
                    }
                )
                if others:
                    replaced_images += 1
            elif known.sha256 != digest:
                known.sha256 = digest
                known.size_bytes = image_path.stat().st_size
                changed_images += 1
        for start in range(0, len(stale_image_ids), _DELETE_CHUNK):
            chunk = stale_image_ids[start : start + _DELETE_CHUNK]
            session.execute(delete(ItemImage).where(ItemImage.id.in_(chunk)))
        if new_images:
            session.execute(insert(ItemImage), new_images)

    rejections.write(table, options)
    summary.imported = len(rows)
    summary.details = {
        "new": len(new_rows),
        "updated": len(changed_rows),
        "without_image": without_image,
        "new_images": len(new_images) - replaced_images,
        "changed_images": changed_images + replaced_images,
        "removed_images": removed_images,
    }
    _log_summary("articles", summary)
    return summary


def _date_format(table: CsvTable, options: ImportOptions) -> tuple[DateFormat | None, str]:
    if options.date_format is not None:
        chosen = date_format_from_option(options.date_format)
        return chosen, f"{chosen.name} (from --date-format)"
    values = [row.values.get("t_dat", "") for row in table.rows if row.problem is None]
    detected = detect_date_format(values, column="t_dat", path=table.path)
    if detected is None:
        return None, "none detected"
    return detected, f"{detected.name} (detected from the whole column)"


def import_purchases(
    engine: Engine, transactions_csv: Path, *, options: ImportOptions | None = None
) -> ImportSummary:
    """Import the purchases of `transactions_csv`, replacing an earlier import of it.

    Identical rows are kept as repeat purchases (the data has no transaction
    id) and counted in `details["repeat_rows"]`. Article ids that only lost
    their leading zeros are mapped to the catalog id when exactly one
    matches (`details["zero_padded_ids"]`). Other unknown articles and
    invalid values are rejected. All rows of the file go in one transaction,
    so a failure leaves the previous import in place.

    Raises:
        ImportFileError: the file is missing or unreadable, lacks a required
            column, or its dates are ambiguous between day-first and
            month-first (`AmbiguousDatesError`, pass `date_format`).
    """
    options = options or ImportOptions()
    summary = ImportSummary(path=transactions_csv)
    rejections = _Rejections(summary)
    table = read_csv(transactions_csv, PURCHASE_COLUMNS, encoding=options.encoding)
    date_format, date_note = _date_format(table, options)
    decimal = decimal_separator(table, "price")
    summary.layout = {
        "file": table.layout.describe(),
        "dates": date_note,
        "decimal": "comma" if decimal == "," else "point",
    }
    source = str(transactions_csv.resolve())

    with session_scope(engine) as session:
        article_ids = ArticleIdLookup(set(session.scalars(select(Item.article_id))))
        parser = PurchaseRowParser(article_ids, date_format, decimal)
        purchases: list[dict[str, Any]] = []
        for row in table.rows:
            if row.problem is not None:
                rejections.add(row.line, row.problem, row.fields)
                continue
            values, reason = parser.parse(row.values)
            if values is None:
                rejections.add(row.line, reason or "invalid row", row.fields)
                continue
            values["source"] = source
            purchases.append(values)
        zero_padded = sum(bool(values.pop("zero_padded")) for values in purchases)
        copies = Counter(
            tuple(sorted(values.items(), key=lambda item: item[0])) for values in purchases
        )
        repeat_rows = sum(count - 1 for count in copies.values())

        known_customers = set(session.scalars(select(Customer.customer_id)))
        new_customers = sorted({str(p["customer_id"]) for p in purchases} - known_customers)
        if new_customers:
            session.execute(insert(Customer), [{"customer_id": c} for c in new_customers])
        deleted = session.execute(delete(Purchase).where(Purchase.source == source))
        replaced = cast(CursorResult[Any], deleted).rowcount
        if purchases:
            session.execute(insert(Purchase), purchases)

    rejections.write(table, options)
    summary.imported = len(purchases)
    summary.details = {
        "new_customers": len(new_customers),
        "replaced": int(replaced or 0),
        "repeat_rows": repeat_rows,
        "zero_padded_ids": zero_padded,
    }
    _log_summary("purchases", summary)
    return summary


def import_catalog(
    engine: Engine,
    data_dir: Path,
    *,
    progress: bool = False,
    options: ImportOptions | None = None,
) -> tuple[ImportSummary, ImportSummary]:
    """Import `articles.csv`, `images/` and `transactions.csv` from `data_dir`.

    Raises:
        ImportFileError: the directory or one of its files is missing or
            cannot be imported at all (see `import_articles` and
            `import_purchases`).
    """
    if not data_dir.is_dir():
        raise ImportFileError(f"catalog directory not found: {data_dir}")
    articles = import_articles(
        engine,
        data_dir / "articles.csv",
        data_dir / "images",
        progress=progress,
        options=options,
    )
    purchases = import_purchases(engine, data_dir / "transactions.csv", options=options)
    return articles, purchases


def _log_summary(kind: str, summary: ImportSummary) -> None:
    logger.info(
        "imported %d %s from %s, rejected %d %s; layout %s",
        summary.imported,
        kind,
        summary.path,
        len(summary.rejected),
        summary.details,
        summary.layout,
    )
    for rejected in summary.rejected[:20]:
        logger.warning("%s line %d rejected: %s", summary.path, rejected.line, rejected.reason)
    if len(summary.rejected) > 20:
        logger.warning("%s: %d more rejected rows", summary.path, len(summary.rejected) - 20)
    if summary.rejected_file is not None:
        logger.info("rejected rows of %s written to %s", summary.path, summary.rejected_file)
