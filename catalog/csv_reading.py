"""Reading CSV files from outside: encoding, byte order mark, delimiter and header.

Catalog files come from spreadsheets and exports as often as from scripts,
so the reader accepts what those write: a UTF-8 byte order mark, quoted
header names, CRLF line endings, and `;`, tab or `|` in place of `,`. The
delimiter is detected from the header line (the candidate that yields the
required columns wins), with `csv.Sniffer` on a sample as the fallback.
Bytes that are invalid in the file's encoding never raise. The row that
contains them is reported with its line number and the `--encoding` option.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import logging
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from catalog.errors import ImportFileError

__all__ = [
    "DEFAULT_ENCODING",
    "CsvLayout",
    "CsvRow",
    "CsvTable",
    "read_csv",
    "write_rejected_rows",
]

logger = logging.getLogger(__name__)

DEFAULT_ENCODING = "utf-8"

_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SAMPLE_CHARS = 64 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# `surrogateescape` decodes each invalid byte to one code point in this range.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class CsvLayout:
    """The layout of a CSV file, as detected when it was read.

    Attributes:
        encoding: the codec the file was decoded with.
        bom: the file starts with a UTF-8 byte order mark.
        delimiter: the field separator.
        line_ending: "CRLF", "LF" or "CR", from the first line.
        detected_by: "header" when the delimiter was chosen by finding the
            required columns in the header line, "sniffer" when
            `csv.Sniffer` chose it.
    """

    encoding: str
    bom: bool
    delimiter: str
    line_ending: str
    detected_by: str

    def describe(self) -> str:
        """Return a one-line description, e.g. "utf-8 with BOM, semicolon-separated, CRLF"."""
        encoding = f"{self.encoding} with BOM" if self.bom else self.encoding
        delimiter = _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))
        return (
            f"{encoding}, {delimiter}-separated (from the {self.detected_by}), {self.line_ending}"
        )


@dataclass(frozen=True)
class CsvRow:
    """One record of a CSV file.

    Attributes:
        line: line number where the record starts; the header is line 1.
        values: stripped values by lower-case column name.
        fields: the record as read, for the rejected-rows file.
        problem: why the record cannot be used at all (invalid bytes, a
            wrong number of fields), or None.
    """

    line: int
    values: dict[str, str]
    fields: list[str]
    problem: str | None = None


@dataclass(frozen=True)
class CsvTable:
    """A whole CSV file: its layout, header (lower case, stripped) and records."""

    path: Path
    layout: CsvLayout
    header: list[str]
    rows: list[CsvRow]


def _decode(path: Path, encoding: str) -> tuple[str, bool]:
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise ImportFileError(
            f"unknown encoding {encoding!r}: pass a Python codec name to --encoding, "
            "e.g. utf-8, cp1252 or latin-1"
        ) from None
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(f"file not found: {path}") from None
    except OSError as error:
        raise ImportFileError(f"failed to read {path}: {error.strerror or error}") from None

    if codec.name == "utf-8" and data.startswith(_UTF16_BOMS):
        raise ImportFileError(
            f"{path} starts with a UTF-16 byte order mark: pass --encoding utf-16"
        )
    bom = codec.name == "utf-8" and data.startswith(_UTF8_BOM)
    if bom:
        data = data[len(_UTF8_BOM) :]
    return data.decode(codec.name, errors="surrogateescape"), bom


def _line_ending(text: str) -> str:
    position = text.find("\n")
    if position > 0 and text[position - 1] == "\r":
        return "CRLF"
    if position >= 0:
        return "LF"
    return "CR" if "\r" in text else "LF"


def _first_record(text: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(text[:_SAMPLE_CHARS]), delimiter=delimiter), [])
    except csv.Error:
        return []


def _normalise_header(fields: Sequence[str]) -> list[str]:
    return [field.replace("\ufeff", "").strip().lower() for field in fields]


def _choose_delimiter(text: str, required: Sequence[str]) -> tuple[str, str]:
    def score(delimiter: str) -> tuple[int, int]:
        header = _normalise_header(_first_record(text, delimiter))
        return sum(column in header for column in required), len(header)

    scores = {delimiter: score(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: scores[delimiter])
    if scores[best][0] == len(required) or scores[best][1] > 1:
        return best, "header"
    try:
        sniffed = csv.Sniffer().sniff(text[:_SAMPLE_CHARS], delimiters="".join(_DELIMITERS))
    except csv.Error:
        return best, "header"
    return sniffed.delimiter, "sniffer"


def read_csv(path: Path, required: Sequence[str], *, encoding: str = DEFAULT_ENCODING) -> CsvTable:
    """Read every record of `path`; column names are matched in lower case.

    Records with invalid bytes or the wrong number of fields come back with
    `problem` set instead of raising, so the caller can report each one.

    Raises:
        ImportFileError: the file is missing or unreadable, the encoding is
            unknown, the header has invalid bytes or repeated names, a
            required column is missing, or the CSV syntax breaks (e.g. a
            field over the `csv` module's size limit); the message names the
            file, the line and the fix.
    """
    # NOTE: the whole file is decoded in memory, because date and decimal
    # detection need every row before any is parsed. A file of several GB
    # (the full H&M transactions) would need a two-pass streaming reader.
    text, bom = _decode(path, encoding)
    delimiter, detected_by = _choose_delimiter(text, required)
    layout = CsvLayout(
        encoding=codecs.lookup(encoding).name,
        bom=bom,
        delimiter=delimiter,
        line_ending=_line_ending(text[:_SAMPLE_CHARS]),
        detected_by=detected_by,
    )

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[tuple[int, list[str]]] = []
    end_of_previous = 0
    try:
        for fields in reader:
            records.append((end_of_previous + 1, fields))
            end_of_previous = reader.line_num
    except csv.Error as error:
        raise ImportFileError(
            f"{path} line {end_of_previous + 1}: invalid CSV ({error}); check the quoting"
        ) from None

    if not records:
        raise ImportFileError(f"{path} is empty: it needs a header line")
    header = _normalise_header(records[0][1])
    if any(_UNDECODABLE.search(name) for name in header):
        raise ImportFileError(
            f"{path}: the header is not valid {layout.encoding}; re-save the file as UTF-8 "
            "or pass its encoding with --encoding (e.g. cp1252)"
        )
    named = [name for name in header if name]
    repeated = sorted({name for name in named if named.count(name) > 1})
    if repeated:
        raise ImportFileError(f"{path}: the header repeats the column(s) {', '.join(repeated)}")
    missing = [column for column in required if column not in header]
    if missing:
        raise ImportFileError(
            f"{path} lacks the column(s) {', '.join(missing)}; its header is: "
            f"{', '.join(header) or '(empty)'} (read as {layout.describe()})"
        )

    rows = [
        _make_row(line, fields, header, layout.encoding)
        for line, fields in records[1:]
        if any(field.strip() for field in fields)
    ]
    return CsvTable(path=path, layout=layout, header=header, rows=rows)


def _make_row(line: int, fields: list[str], header: list[str], encoding: str) -> CsvRow:
    values = {name: field.strip() for name, field in zip(header, fields, strict=False) if name}
    problem: str | None = None
    if len(fields) != len(header):
        problem = (
            f"has {len(fields)} fields but the header has {len(header)}: "
            "check the delimiter and the quoting of this line"
        )
    else:
        bad_columns = [name for name, value in values.items() if _UNDECODABLE.search(value)]
        if bad_columns:
            problem = (
                f"invalid {encoding} bytes in {', '.join(bad_columns)}: re-save the file as "
                "UTF-8 or pass its encoding with --encoding (e.g. cp1252)"
            )
    return CsvRow(line=line, values=values, fields=fields, problem=problem)


def _writable(directory: Path) -> bool:
    # Mode bits count as well as access rights: root may write anywhere, but
    # a directory without write bits (shared read-only data) is left alone.
    return os.access(directory, os.W_OK) and bool(directory.stat().st_mode & 0o222)


def write_rejected_rows(
    source: Path,
    header: Sequence[str],
    rejected: Sequence[tuple[int, str, Sequence[str]]],
    *,
    fallback_dir: Path | None,
) -> Path | None:
    """Write `(line, reason, fields)` rows to `<name>.rejected.csv` beside `source`.

    The file is comma-separated UTF-8 with the columns `line`, `reason` and
    then the source's own columns. Invalid bytes are written as `\\udcXX`
    escapes. When the source directory is not writable (read-only shared
    data), the file goes to `fallback_dir` instead. A stale file from an
    earlier import is removed when nothing is rejected.

    Returns:
        the path written, or None when nothing was rejected or no directory
        was writable (logged as a warning). A directory without write
        permission bits counts as read-only even for root.
    """
    name = f"{source.stem}.rejected.csv"
    candidates = [source.parent] + ([fallback_dir] if fallback_dir is not None else [])
    if not rejected:
        stale = source.parent / name
        if stale.is_file() and _writable(source.parent):
            try:
                stale.unlink()
            except OSError:
                logger.warning("failed to remove the stale %s", stale)
        return None

    for directory in candidates:
        if directory.exists() and not _writable(directory):
            logger.info("%s is read-only; trying the next directory", directory)
            continue
        target = directory / name
        temporary = directory / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with temporary.open(
                "w", newline="", encoding="utf-8", errors="backslashreplace"
            ) as handle:
                writer = csv.writer(handle)
                writer.writerow(["line", "reason", *header])
                for line, reason, fields in rejected:
                    writer.writerow([line, reason, *fields])
            os.replace(temporary, target)
        except OSError as error:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            logger.info("failed to write %s (%s); trying the next directory", target, error)
            continue
        return target
    logger.warning(
        "%d rejected rows of %s were not written: no writable directory among %s",
        len(rejected),
        source,
        ", ".join(str(directory) for directory in candidates),
    )
    return None
