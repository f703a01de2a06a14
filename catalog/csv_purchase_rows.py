"""Parsing the rows of a purchases file: ids, dates and prices from outside.

`ArticleIdLookup` maps article ids that lost their leading zeros (as a
spreadsheet writes 0123173001 when it reads it as a number) back to the
catalog id when exactly one article matches. `PurchaseRowParser` turns one
CSV row into the values of a `Purchase` row, or a reason to reject it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from catalog.csv_dates import DateFormat
from catalog.csv_reading import CsvTable

__all__ = ["ArticleIdLookup", "PurchaseRowParser", "decimal_separator", "parse_number"]

_CUSTOMER_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")
_DECIMAL_POINT = re.compile(r"^[+-]?\d*\.\d+$")


class ArticleIdLookup:
    """Catalog article ids, with lookup of ids that lost their leading zeros."""

    def __init__(self, article_ids: set[str]) -> None:
        self.known = article_ids
        self._by_stripped: dict[str, list[str]] = {}
        for article_id in article_ids:
            if article_id.isdigit() and article_id.startswith("0"):
                self._by_stripped.setdefault(article_id.lstrip("0"), []).append(article_id)

    def resolve(self, article_id: str) -> tuple[str | None, bool, str | None]:
        """Return `(catalog id, zero padded, reason when rejected)` for a purchase's id."""
        if article_id in self.known:
            return article_id, False, None
        candidates = []
        if article_id.isdigit():
            candidates = [
                candidate
                for candidate in self._by_stripped.get(article_id.lstrip("0"), [])
                if candidate.endswith(article_id)
            ]
        if len(candidates) == 1:
            return candidates[0], True, None
        if candidates:
            names = ", ".join(sorted(candidates)[:5])
            return (
                None,
                False,
                (
                    f"unknown article_id {article_id!r}: padding it with zeros matches several "
                    f"articles ({names}); write the id in full"
                ),
            )
        return None, False, f"unknown article_id {article_id!r}: import it in articles.csv first"


def decimal_separator(table: CsvTable, column: str) -> str:
    """Return "," when the column uses a decimal comma, else "."."""
    if table.layout.delimiter == ",":
        return "."
    values = [row.values.get(column, "") for row in table.rows]
    commas = sum(bool(_DECIMAL_COMMA.match(value)) for value in values)
    points = sum(bool(_DECIMAL_POINT.match(value)) for value in values)
    return "," if commas > points else "."


def parse_number(text: str, decimal: str) -> float:
    """Parse a finite number written with `decimal` ("." or ",") as its separator.

    Raises:
        ValueError: `text` is not such a number (thousands separators, NaN
            and infinities included).
    """
    if decimal == ",":
        if "." in text:
            raise ValueError(text)
        text = text.replace(",", ".")
    # float() also accepts "1_000"; no CSV writer means that.
    if "_" in text:
        raise ValueError(text)
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


@dataclass(frozen=True)
class PurchaseRowParser:
    """A parser of purchases rows, bound to the file's date format and decimal separator.

    `date_format` is None when no value of the file's date column is a date;
    every row is then rejected with a reason that names `--date-format`.
    """

    article_ids: ArticleIdLookup
    date_format: DateFormat | None
    decimal: str

    def parse(self, row: dict[str, str]) -> tuple[dict[str, Any] | None, str | None]:
        """Return `(values, None)` for a valid row, else `(None, reason)`.

        `values["zero_padded"]` is True when the article id was padded with zeros.
        """
        customer_id = row.get("customer_id", "")
        if not customer_id:
            return None, "missing customer_id"
        if not _CUSTOMER_PATTERN.match(customer_id):
            return None, f"invalid customer_id {customer_id!r}: use 1-128 letters or digits"
        raw_article = row.get("article_id", "")
        if not raw_article:
            return None, "missing article_id"
        article_id, padded, reason = self.article_ids.resolve(raw_article)
        if article_id is None:
            return None, reason

        text = row.get("t_dat", "")
        if not text:
            return None, "missing t_dat"
        if self.date_format is None:
            return None, (
                f"invalid t_dat {text!r}: no value of the column is a date in a known "
                "format; name the format with --date-format (e.g. %Y-%m-%d)"
            )
        purchased_on = self.date_format.parse(text)
        if purchased_on is None:
            return None, (
                f"invalid t_dat {text!r}: expected a date in the file's format "
                f"{self.date_format.name}"
            )

        price: float | None = None
        if row.get("price"):
            try:
                price = parse_number(row["price"], self.decimal)
            except ValueError:
                separator = "decimal comma" if self.decimal == "," else "decimal point"
                return None, f"invalid price {row['price']!r}: expected a number with a {separator}"
            if price < 0:
                return None, f"invalid price {row['price']!r}: it must not be negative"
        channel: int | None = None
        if row.get("sales_channel_id"):
            try:
                channel = int(row["sales_channel_id"])
            except ValueError:
                return (
                    None,
                    f"invalid sales_channel_id {row['sales_channel_id']!r}: expected an integer",
                )
        return {
            "customer_id": customer_id,
            "article_id": article_id,
            "purchased_on": purchased_on,
            "price": price,
            "sales_channel": channel,
            "zero_padded": padded,
        }, None
