"""Import a catalog in the H&M layout: articles, product photos and purchases.

A catalog directory holds `articles.csv`, `images/<article_id>.jpg` and
`transactions.csv` (see the README for the columns). Every id is kept as a
string, so "0123173001" keeps its leading zero.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, delete, insert, select, update
from tqdm import tqdm

from catalog.db import session_scope
from catalog.errors import ImportFileError
from catalog.tables import Customer, Item, ItemImage, Purchase

__all__ = [
    "ARTICLE_COLUMNS",
    "PURCHASE_COLUMNS",
    "ImportSummary",
    "RejectedRow",
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

_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_CUSTOMER_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class RejectedRow:
    """A CSV row that was not imported; `line` counts the header as line 1."""

    line: int
    reason: str


@dataclass
class ImportSummary:
    """Counts of one import, and every rejected row with its reason."""

    path: Path
    imported: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    details: dict[str, int] = field(default_factory=dict)


def _read_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise ImportFileError(f"file not found: {path}")
    handle = path.open(newline="", encoding="utf-8-sig")
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [column for column in required if column not in header]
        if missing:
            raise ImportFileError(
                f"{path} lacks the column(s) {', '.join(missing)}; "
                f"its header is: {', '.join(header) or '(empty file)'}"
            )
        for row in reader:
            yield reader.line_num, {key: (value or "").strip() for key, value in row.items() if key}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _find_image(images_dir: Path, article_id: str) -> Path | None:
    for suffix in _IMAGE_SUFFIXES:
        candidate = images_dir / f"{article_id}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def import_articles(
    engine: Engine, articles_csv: Path, images_dir: Path, *, progress: bool = False
) -> ImportSummary:
    """Insert or update the items of `articles_csv` and register their photos.

    An article without a photo is imported all the same and counted in
    `details["without_image"]`; it gets no embedding until a photo appears.
    Rows with an invalid or repeated `article_id` are rejected.

    Raises:
        ImportFileError: the file is missing or has no `article_id` column.
    """
    summary = ImportSummary(path=articles_csv)
    rows: dict[str, dict[str, str]] = {}
    for line, row in _read_rows(articles_csv, ("article_id",)):
        article_id = row.get("article_id", "")
        if not _ID_PATTERN.match(article_id):
            summary.rejected.append(
                RejectedRow(line, f"invalid article_id {article_id!r}: use 1-64 letters or digits")
            )
            continue
        if article_id in rows:
            summary.rejected.append(RejectedRow(line, f"article_id {article_id} repeated"))
            continue
        values = {"article_id": article_id}
        for column, attribute in ARTICLE_COLUMNS.items():
            values[attribute] = row.get(column, "")
        values["product_code"] = values["product_code"] or None  # type: ignore[assignment]
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
        without_image = 0
        new_images: list[dict[str, object]] = []
        changed_images = 0
        for article_id in tqdm(rows, desc="photos", unit="img", disable=not progress):
            image_path = _find_image(images_dir, article_id)
            if image_path is None:
                without_image += 1
                continue
            key = (article_id, str(image_path.resolve()))
            digest = _sha256(image_path)
            known = known_images.get(key)
            if known is None:
                new_images.append(
                    {
                        "article_id": article_id,
                        "path": key[1],
                        "sha256": digest,
                        "size_bytes": image_path.stat().st_size,
                    }
                )
            elif known.sha256 != digest:
                known.sha256 = digest
                known.size_bytes = image_path.stat().st_size
                changed_images += 1
        if new_images:
            session.execute(insert(ItemImage), new_images)

    summary.imported = len(rows)
    summary.details = {
        "new": len(new_rows),
        "updated": len(changed_rows),
        "without_image": without_image,
        "new_images": len(new_images),
        "changed_images": changed_images,
    }
    _log_summary("articles", summary)
    return summary


def _parse_purchase(
    row: dict[str, str], known_items: set[str]
) -> tuple[dict[str, object] | None, str | None]:
    customer_id = row.get("customer_id", "")
    article_id = row.get("article_id", "")
    if not _CUSTOMER_PATTERN.match(customer_id):
        return None, f"invalid customer_id {customer_id!r}: use 1-128 letters or digits"
    if article_id not in known_items:
        return None, f"unknown article_id {article_id!r}: import it in articles.csv first"
    try:
        purchased_on = dt.date.fromisoformat(row.get("t_dat", ""))
    except ValueError:
        return None, f"invalid t_dat {row.get('t_dat')!r}: expected YYYY-MM-DD"
    price: float | None = None
    if row.get("price"):
        try:
            price = float(row["price"])
        except ValueError:
            return None, f"invalid price {row['price']!r}: expected a number"
    channel: int | None = None
    if row.get("sales_channel_id"):
        try:
            channel = int(row["sales_channel_id"])
        except ValueError:
            return None, f"invalid sales_channel_id {row['sales_channel_id']!r}"
    return {
        "customer_id": customer_id,
        "article_id": article_id,
        "purchased_on": purchased_on,
        "price": price,
        "sales_channel": channel,
    }, None


def import_purchases(engine: Engine, transactions_csv: Path) -> ImportSummary:
    """Import the purchases of `transactions_csv`, replacing an earlier import of it.

    Repeated rows are kept: they are real repeat purchases. A row naming an
    article that is not in the catalog is rejected. All rows of the file go
    in one transaction, so a failure leaves the previous import in place.

    Raises:
        ImportFileError: the file is missing or lacks a required column.
    """
    summary = ImportSummary(path=transactions_csv)
    source = str(transactions_csv.resolve())
    with session_scope(engine) as session:
        known_items = set(session.scalars(select(Item.article_id)))
        purchases: list[dict[str, object]] = []
        for line, row in _read_rows(transactions_csv, PURCHASE_COLUMNS):
            values, reason = _parse_purchase(row, known_items)
            if values is None:
                summary.rejected.append(RejectedRow(line, reason or "invalid row"))
                continue
            values["source"] = source
            purchases.append(values)

        known_customers = set(session.scalars(select(Customer.customer_id)))
        new_customers = sorted({str(p["customer_id"]) for p in purchases} - known_customers)
        if new_customers:
            session.execute(insert(Customer), [{"customer_id": c} for c in new_customers])
        deleted = session.execute(delete(Purchase).where(Purchase.source == source))
        replaced = cast(CursorResult[Any], deleted).rowcount
        if purchases:
            session.execute(insert(Purchase), purchases)

    summary.imported = len(purchases)
    summary.details = {"new_customers": len(new_customers), "replaced": int(replaced or 0)}
    _log_summary("purchases", summary)
    return summary


def import_catalog(
    engine: Engine, data_dir: Path, *, progress: bool = False
) -> tuple[ImportSummary, ImportSummary]:
    """Import `articles.csv`, `images/` and `transactions.csv` from `data_dir`.

    Raises:
        ImportFileError: the directory or one of its files is missing.
    """
    if not data_dir.is_dir():
        raise ImportFileError(f"catalog directory not found: {data_dir}")
    articles = import_articles(
        engine, data_dir / "articles.csv", data_dir / "images", progress=progress
    )
    purchases = import_purchases(engine, data_dir / "transactions.csv")
    return articles, purchases


def _log_summary(kind: str, summary: ImportSummary) -> None:
    logger.info(
        "imported %d %s from %s, rejected %d %s",
        summary.imported,
        kind,
        summary.path,
        len(summary.rejected),
        summary.details,
    )
    for rejected in summary.rejected[:20]:
        logger.warning("%s line %d rejected: %s", summary.path, rejected.line, rejected.reason)
    if len(summary.rejected) > 20:
        logger.warning("%s: %d more rejected rows", summary.path, len(summary.rejected) - 20)
