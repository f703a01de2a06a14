"""Importing CSV files as spreadsheets and exports write them: every row gets a defined outcome."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from catalog import db
from catalog.csv_dates import AmbiguousDatesError
from catalog.errors import ImportFileError
from catalog.importer import ImportOptions, import_articles, import_purchases
from catalog.tables import Item, ItemImage, Purchase
from recsys.cli import EXIT_INVALID_INPUT, main

HEADER = "t_dat,customer_id,article_id,price,sales_channel_id\n"


@pytest.fixture
def engine(tmp_path: Path, hm_slice: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    db.upgrade(url)
    engine = db.create_db_engine(url)
    import_articles(engine, hm_slice / "articles.csv", hm_slice / "images")
    yield engine
    engine.dispose()


@pytest.fixture
def article_ids(hm_slice: Path) -> list[str]:
    with (hm_slice / "articles.csv").open(newline="", encoding="utf-8") as handle:
        return [row["article_id"] for row in csv.DictReader(handle)]


def _purchases(engine: Engine) -> list[tuple[str, str, dt.date, float | None]]:
    with db.session_scope(engine) as session:
        rows = session.execute(
            select(
                Purchase.customer_id, Purchase.article_id, Purchase.purchased_on, Purchase.price
            ).order_by(Purchase.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def _write(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_semicolon_bom_crlf_decimal_comma(
    engine: Engine, article_ids: list[str], tmp_path: Path
) -> None:
    first, second = article_ids[:2]
    text = (
        '"t_dat";"customer_id";"article_id";"price";"sales_channel_id"\r\n'
        f"2020-09-16;shopper1;{first};0,0135;2\r\n"
        f'2020-09-17;shopper1;"{second}";1,5;1\r\n'
    )
    path = tmp_path / "transactions.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    summary = import_purchases(engine, path)

    assert summary.rejected == []
    assert summary.imported == 2
    assert "with BOM" in summary.layout["file"]
    assert "semicolon" in summary.layout["file"]
    assert "CRLF" in summary.layout["file"]
    assert summary.layout["decimal"] == "comma"
    assert [row[3] for row in _purchases(engine)] == [pytest.approx(0.0135), pytest.approx(1.5)]


def test_exact_duplicates_kept_as_repeats(
    engine: Engine, article_ids: list[str], tmp_path: Path
) -> None:
    row = f"2020-09-16,shopper1,{article_ids[0]},0.01,2\n"
    path = _write(
        tmp_path / "transactions.csv",
        HEADER + row * 3 + f"2020-09-16,shopper2,{article_ids[0]},0.01,2\n",
    )
    summary = import_purchases(engine, path)

    assert summary.imported == 4
    assert summary.details["repeat_rows"] == 2
    assert len(_purchases(engine)) == 4


def test_day_first_detected_from_column(
    engine: Engine, article_ids: list[str], tmp_path: Path
) -> None:
    known = article_ids[0]
    path = _write(
        tmp_path / "transactions.csv",
        HEADER + f"03/04/2020,a,{known},,\n" + f"25/04/2020,a,{known},,\n",
    )
    summary = import_purchases(engine, path)

    assert summary.layout["dates"].startswith("%d/%m/%Y")
    assert [row[2] for row in _purchases(engine)] == [dt.date(2020, 4, 3), dt.date(2020, 4, 25)]


def test_month_first_detected_from_column(
    engine: Engine, article_ids: list[str], tmp_path: Path
) -> None:
    known = article_ids[0]
    path = _write(
        tmp_path / "transactions.csv",
        HEADER + f"03/04/2020,a,{known},,\n" + f"12/25/2020,a,{known},,\n",
    )
    import_purchases(engine, path)

    assert [row[2] for row in _purchases(engine)] == [dt.date(2020, 3, 4), dt.date(2020, 12, 25)]


def test_ambiguous_dates_rejected(engine: Engine, article_ids: list[str], tmp_path: Path) -> None:
    known = article_ids[0]
    path = _write(
        tmp_path / "transactions.csv",
        HEADER + f"03/04/2020,a,{known},,\n" + f"05/06/2020,a,{known},,\n",
    )

    with pytest.raises(AmbiguousDatesError, match="--date-format"):
        import_purchases(engine, path)
    assert _purchases(engine) == []


def test_date_format_option_settles_ambiguity(
    engine: Engine, article_ids: list[str], tmp_path: Path
) -> None:
    known = article_ids[0]
    path = _write(tmp_path / "transactions.csv", HEADER + f"03/04/2020,a,{known},,\n")
    summary = import_purchases(engine, path, options=ImportOptions(date_format="%m/%d/%Y"))

    assert summary.layout["dates"] == "%m/%d/%Y (from --date-format)"
    assert _purchases(engine)[0][2] == dt.date(2020, 3, 4)


def test_date_in_other_format_rejected(
    engine: Engine, article_ids: list[str], tmp_path: Path
) -> None:
    known = article_ids[0]
    path = _write(
        tmp_path / "transactions.csv",
        HEADER + f"2020-09-16,a,{known},,\n2020-09-17,a,{known},,\n17/09/2020,a,{known},,\n",
    )
    summary = import_purchases(engine, path)

    assert summary.imported == 2
    assert [row.line for row in summary.rejected] == [4]
    assert "%Y-%m-%d" in summary.rejected[0].reason


def test_lost_leading_zeros_padded(engine: Engine, article_ids: list[str], tmp_path: Path) -> None:
    padded = next(article_id for article_id in article_ids if article_id.startswith("0"))
    path = _write(tmp_path / "transactions.csv", HEADER + f"2020-09-16,a,{padded.lstrip('0')},,\n")
    summary = import_purchases(engine, path)

    assert summary.details["zero_padded_ids"] == 1
    assert _purchases(engine)[0][1] == padded


def test_padding_matching_several_rejected(engine: Engine, tmp_path: Path) -> None:
    with db.session_scope(engine) as session:
        session.add_all([Item(article_id="0777"), Item(article_id="00777")])
    path = _write(tmp_path / "transactions.csv", HEADER + "2020-09-16,a,777,,\n")
    summary = import_purchases(engine, path)

    assert summary.imported == 0
    assert "0777" in summary.rejected[0].reason
    assert "00777" in summary.rejected[0].reason


def test_missing_values_rejected_with_reason(
    engine: Engine, article_ids: list[str], tmp_path: Path
) -> None:
    known = article_ids[0]
    path = _write(
        tmp_path / "transactions.csv",
        HEADER
        + f"2020-09-16,,{known},,\n"
        + "2020-09-16,a,,,\n"
        + f",a,{known},,\n"
        + f"2020-09-16,a,{known},abc,\n"
        + f"2020-09-16,a,{known},nan,\n"
        + f"2020-09-16,a,{known},0.1\n"
        + f"2020-09-16,a,{known},0.1,1\n",
    )
    summary = import_purchases(engine, path)
    reasons = {row.line: row.reason for row in summary.rejected}

    assert summary.imported == 1
    assert reasons[2] == "missing customer_id"
    assert reasons[3] == "missing article_id"
    assert reasons[4] == "missing t_dat"
    assert "invalid price 'abc'" in reasons[5]
    assert "invalid price 'nan'" in reasons[6]
    assert "has 4 fields but the header has 5" in reasons[7]


def test_invalid_utf8_row_rejected(engine: Engine, article_ids: list[str], tmp_path: Path) -> None:
    known = article_ids[0]
    path = tmp_path / "transactions.csv"
    path.write_bytes(
        (HEADER + f"2020-09-16,a,{known},,\n").encode()
        + f"2020-09-16,caf\xe9,{known},,\n".encode("cp1252")
    )
    summary = import_purchases(engine, path)

    assert summary.imported == 1
    assert summary.rejected[0].line == 3
    assert "--encoding" in summary.rejected[0].reason


def test_encoding_option_reads_cp1252(engine: Engine, hm_slice: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "articles.csv", "article_id,prod_name\nX1,Béret\n", encoding="cp1252")
    default = import_articles(engine, path, tmp_path)
    assert [row.line for row in default.rejected] == [2]

    summary = import_articles(engine, path, tmp_path, options=ImportOptions(encoding="cp1252"))
    assert summary.rejected == []
    with db.session_scope(engine) as session:
        assert session.get(Item, "X1").name == "Béret"  # type: ignore[union-attr]


def test_unknown_encoding_raises(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path / "articles.csv", "article_id\nX1\n")

    with pytest.raises(ImportFileError, match="unknown encoding 'klingon'"):
        import_articles(engine, path, tmp_path, options=ImportOptions(encoding="klingon"))


def test_utf16_file_raises(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path / "articles.csv", "article_id\nX1\n", encoding="utf-16")

    with pytest.raises(ImportFileError, match="--encoding utf-16"):
        import_articles(engine, path, tmp_path)


def test_rejected_rows_written_beside_input(
    engine: Engine, article_ids: list[str], tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "transactions.csv",
        HEADER + f"2020-09-16,a,{article_ids[0]},,\n2020-09-16,a,9999999999,,\n",
    )
    summary = import_purchases(engine, path)

    assert summary.rejected_file == tmp_path / "transactions.rejected.csv"
    with summary.rejected_file.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["line"] for row in rows] == ["3"]
    assert rows[0]["article_id"] == "9999999999"
    assert "unknown article_id" in rows[0]["reason"]


def test_rejected_rows_go_home_when_read_only(
    engine: Engine, article_ids: list[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = _write(data / "transactions.csv", HEADER + "2020-09-16,a,9999999999,,\n")
    fallback = tmp_path / "home" / "rejected"
    data.chmod(0o555)
    try:
        summary = import_purchases(engine, path, options=ImportOptions(rejected_dir=fallback))
    finally:
        data.chmod(0o755)

    assert summary.rejected_file == fallback / "transactions.rejected.csv"
    assert not (data / "transactions.rejected.csv").exists()


def test_stale_rejected_file_removed(
    engine: Engine, article_ids: list[str], tmp_path: Path
) -> None:
    path = _write(tmp_path / "transactions.csv", HEADER + "2020-09-16,a,9999999999,,\n")
    import_purchases(engine, path)
    _write(path, HEADER + f"2020-09-16,a,{article_ids[0]},,\n")
    summary = import_purchases(engine, path)

    assert summary.rejected_file is None
    assert not (tmp_path / "transactions.rejected.csv").exists()


def _image_catalog(tmp_path: Path, hm_slice: Path) -> Path:
    catalog = tmp_path / "catalog"
    (catalog / "photos").mkdir(parents=True)
    source = next((hm_slice / "images").iterdir()).resolve()
    (catalog / "photos" / "hat.jpg").write_bytes(source.read_bytes())
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(source.read_bytes())
    (catalog / "photos" / "escape.jpg").symlink_to(outside)
    return catalog


@pytest.mark.parametrize(
    ("image_path", "reason"),
    [
        ("../outside.jpg", "'..' is not allowed"),
        ("photos/../../outside.jpg", "'..' is not allowed"),
        ("/etc/passwd.jpg", "relative to the catalog directory"),
        ("C:\\photos\\hat.jpg", "relative to the catalog directory"),
        ("photos/escape.jpg", "links outside the catalog directory"),
        ("photos/hat.txt", "use a .jpg"),
        ("photos/missing.jpg", "not found"),
    ],
)
def test_unsafe_image_path_rejected(
    engine: Engine, hm_slice: Path, tmp_path: Path, image_path: str, reason: str
) -> None:
    catalog = _image_catalog(tmp_path, hm_slice)
    path = _write(catalog / "articles.csv", f"article_id,image_path\nX1,{image_path}\n")
    summary = import_articles(engine, path, catalog / "images")

    assert summary.imported == 0
    assert reason in summary.rejected[0].reason


def test_image_path_inside_catalog_used(engine: Engine, hm_slice: Path, tmp_path: Path) -> None:
    catalog = _image_catalog(tmp_path, hm_slice)
    path = _write(catalog / "articles.csv", "article_id,image_path\nX1,photos/hat.jpg\n")
    summary = import_articles(engine, path, catalog / "images")

    assert summary.rejected == []
    with db.session_scope(engine) as session:
        stored = session.scalar(select(ItemImage.path).where(ItemImage.article_id == "X1"))
    assert stored == str((catalog / "photos" / "hat.jpg").resolve())


def test_overlong_value_rejected(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path / "articles.csv", f"article_id,product_type_name\nX1,{'a' * 200}\n")
    summary = import_articles(engine, path, tmp_path)

    assert "the maximum is 128" in summary.rejected[0].reason


def test_cli_import_prints_counts(
    hm_slice: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "articles.csv").symlink_to(hm_slice / "articles.csv")
    (catalog / "images").symlink_to(hm_slice / "images")
    known = next(iter(csv.DictReader((hm_slice / "articles.csv").open(encoding="utf-8"))))
    _write(
        catalog / "transactions.csv",
        "t_dat;customer_id;article_id;price\n"
        f"16/09/2020;a;{known['article_id']};0,5\n"
        "16/09/2020;a;9999999999;0,5\n",
    )
    home = tmp_path / "home"
    assert main(["--home", str(home), "--no-progress", "db", "upgrade"]) == 0
    code = main(["--home", str(home), "--no-progress", "import", "--data", str(catalog)])
    output = capsys.readouterr().out

    assert code == 0
    assert "purchases: 1 imported, 1 rejected" in output
    assert "semicolon-separated" in output
    assert "%d/%m/%Y (detected from the whole column)" in output
    assert str(catalog / "transactions.rejected.csv") in output


def test_cli_ambiguous_dates_exit_code(
    hm_slice: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "articles.csv").symlink_to(hm_slice / "articles.csv")
    (catalog / "images").symlink_to(hm_slice / "images")
    _write(catalog / "transactions.csv", "t_dat,customer_id,article_id\n01/02/2020,a,x\n")
    home = tmp_path / "home"
    assert main(["--home", str(home), "--no-progress", "db", "upgrade"]) == 0
    code = main(["--home", str(home), "--no-progress", "import", "--data", str(catalog)])

    assert code == EXIT_INVALID_INPUT
    assert "--date-format" in caplog.text


def test_purchases_file_is_one_transaction(
    engine: Engine, article_ids: list[str], tmp_path: Path
) -> None:
    path = _write(tmp_path / "transactions.csv", HEADER + f"2020-09-16,a,{article_ids[0]},,\n")
    import_purchases(engine, path)
    _write(path, HEADER + "03/04/2020,a,x,,\n05/06/2020,a,x,,\n")

    with pytest.raises(AmbiguousDatesError):
        import_purchases(engine, path)
    with db.session_scope(engine) as session:
        assert session.scalar(select(func.count(Purchase.id))) == 1


def test_custom_date_format_option(engine: Engine, article_ids: list[str], tmp_path: Path) -> None:
    known = article_ids[0]
    path = _write(tmp_path / "transactions.csv", HEADER + f"16 Sep 2020,a,{known},,\n")
    summary = import_purchases(engine, path, options=ImportOptions(date_format="%d %b %Y"))

    assert summary.rejected == []
    assert _purchases(engine)[0][2] == dt.date(2020, 9, 16)


def test_date_format_without_year_raises(engine: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path / "transactions.csv", HEADER + "16/09,a,x,,\n")

    with pytest.raises(ImportFileError, match="lacks the year"):
        import_purchases(engine, path, options=ImportOptions(date_format="%d/%m"))
