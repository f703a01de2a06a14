"""Dates in CSV files: one format per file, detected from the whole column.

A column such as `03/04/2020` can mean 3 April (day first) or 4 March (month
first). Guessing per row would swap day and month silently, so the format is
chosen once from every value of the column: the format under which the most
values are valid wins. When the day-first and month-first readings are both
valid for every value, the column is ambiguous and the file is rejected
until the caller names the format (`milliner import --date-format`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from catalog.errors import ImportFileError

__all__ = [
    "DATE_FORMATS",
    "AmbiguousDatesError",
    "DateFormat",
    "date_format_from_option",
    "detect_date_format",
]

# An optional time of day after the date, dropped on parsing (the catalog
# keeps purchase days only).
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"


@dataclass(frozen=True)
class DateFormat:
    """A date layout: a strict pattern and the order of its three numbers.

    Attributes:
        name: the `strftime` spelling, shown in messages and accepted by
            `--date-format`.
        pattern: regular expression with three groups.
        order: which group is year, month and day, e.g. "dmy".
    """

    name: str
    pattern: re.Pattern[str]
    order: str

    def parse(self, text: str) -> dt.date | None:
        """Return the date that `text` spells in this format, or None if it is not one."""
        match = self.pattern.fullmatch(text)
        if match is None:
            return None
        parts = dict(zip(self.order, (int(group) for group in match.groups()), strict=True))
        try:
            return dt.date(parts["y"], parts["m"], parts["d"])
        except ValueError:
            return None


def _format(name: str, body: str, order: str) -> DateFormat:
    return DateFormat(name=name, pattern=re.compile(body + _TIME), order=order)


# Day-first and month-first formats share a pattern; `_SWAPPED` pairs them.
DATE_FORMATS: tuple[DateFormat, ...] = (
    _format("%Y-%m-%d", r"(\d{4})-(\d{1,2})-(\d{1,2})", "ymd"),
    _format("%Y/%m/%d", r"(\d{4})/(\d{1,2})/(\d{1,2})", "ymd"),
    _format("%Y.%m.%d", r"(\d{4})\.(\d{1,2})\.(\d{1,2})", "ymd"),
    _format("%Y%m%d", r"(\d{4})(\d{2})(\d{2})", "ymd"),
    _format("%d/%m/%Y", r"(\d{1,2})/(\d{1,2})/(\d{4})", "dmy"),
    _format("%m/%d/%Y", r"(\d{1,2})/(\d{1,2})/(\d{4})", "mdy"),
    _format("%d.%m.%Y", r"(\d{1,2})\.(\d{1,2})\.(\d{4})", "dmy"),
    _format("%m.%d.%Y", r"(\d{1,2})\.(\d{1,2})\.(\d{4})", "mdy"),
    _format("%d-%m-%Y", r"(\d{1,2})-(\d{1,2})-(\d{4})", "dmy"),
    _format("%m-%d-%Y", r"(\d{1,2})-(\d{1,2})-(\d{4})", "mdy"),
)
_SWAPPED = {
    first.name: second.name
    for first in DATE_FORMATS
    for second in DATE_FORMATS
    if first is not second and first.pattern.pattern == second.pattern.pattern
}


class AmbiguousDatesError(ImportFileError):
    """Every date of a column is valid both day-first and month-first."""


class _StrptimeFormat(DateFormat):
    """A format given by the caller, parsed with `datetime.strptime`."""

    def parse(self, text: str) -> dt.date | None:
        try:
            return dt.datetime.strptime(text, self.name).date()
        except ValueError:
            return None


def date_format_from_option(name: str) -> DateFormat:
    """Return the format for a `--date-format` value such as "%d/%m/%Y".

    Raises:
        ImportFileError: `name` has no day, month or year directive.
    """
    known = next((fmt for fmt in DATE_FORMATS if fmt.name == name), None)
    if known is not None:
        return known
    missing = [
        part
        for part, directives in (("day", ("%d",)), ("month", ("%m", "%b", "%B")), ("year", ("%Y",)))
        if not any(directive in name for directive in directives)
    ]
    if missing:
        raise ImportFileError(
            f"invalid date format {name!r}: it lacks the {', '.join(missing)}; "
            "write it in strftime notation, e.g. %d/%m/%Y"
        )
    return _StrptimeFormat(name=name, pattern=re.compile(""), order="")


def detect_date_format(values: Iterable[str], *, column: str, path: object) -> DateFormat | None:
    """Choose the one format of a date column from all its non-empty values.

    Returns:
        the format under which the most values are valid dates, or None when
        no value is a date in any known format.

    Raises:
        AmbiguousDatesError: day-first and month-first are equally valid for
            every value (e.g. only 03/04/2020 and 05/06/2020); the message
            names the `--date-format` option.
    """
    texts = [value for value in values if value]
    counts = {fmt.name: sum(fmt.parse(text) is not None for text in texts) for fmt in DATE_FORMATS}
    best = max(counts.values(), default=0)
    if best == 0:
        return None
    winners = [fmt for fmt in DATE_FORMATS if counts[fmt.name] == best]
    chosen = winners[0]
    swapped = _SWAPPED.get(chosen.name)
    if swapped is not None and counts[swapped] == best:
        raise AmbiguousDatesError(
            f"{path}: every {column} value is a valid date both as {chosen.name} and as "
            f"{swapped} (e.g. {texts[0]!r}), so day and month cannot be told apart; "
            f"name the format with --date-format {chosen.name!r} or {swapped!r}"
        )
    return chosen
