"""Label sets and the H&M catalog maps, checked against the real articles files."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from classifier.taxonomy import (
    COLOUR,
    HM_COLOURS,
    HM_PATTERNS,
    HM_PRODUCT_TYPES,
    LABEL_SETS,
    LANGUAGES,
    MATERIAL,
    PATTERN,
    TYPE,
    Label,
    LabelSet,
    Language,
    ProductTypeMap,
    colour_from_hm,
    label_sets_fingerprint,
    pattern_from_hm,
    product_type_display,
    type_from_product_type,
)

HM_SUBSETS = ("hm-week", "hm-2y")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def hm_articles(shared_data: Path) -> pd.DataFrame:
    columns = [
        "article_id",
        "product_type_name",
        "perceived_colour_master_name",
        "graphical_appearance_name",
    ]
    frames = [
        pd.read_csv(shared_data / subset / "articles.csv", dtype=str, usecols=columns)
        for subset in HM_SUBSETS
    ]
    return pd.concat(frames, ignore_index=True)


# Label sets


def test_label_sets_cover_four_tasks() -> None:
    assert set(LABEL_SETS) == {"type", "colour", "pattern", "material"}
    assert LABEL_SETS["type"] is TYPE
    assert LABEL_SETS["colour"] is COLOUR
    assert LABEL_SETS["pattern"] is PATTERN
    assert LABEL_SETS["material"] is MATERIAL


def test_label_set_names_in_order() -> None:
    assert TYPE.names == ("beanie", "cap", "brimmed_hat", "hair_band", "scarf", "none")
    assert PATTERN.names == (
        "solid",
        "stripe",
        "check",
        "dots",
        "all_over_print",
        "melange",
        "placement_print",
        "other",
    )
    assert MATERIAL.names == (
        "knit",
        "wool",
        "cotton",
        "straw",
        "felt",
        "fleece",
        "leather",
        "synthetic",
        "unknown",
    )


@pytest.mark.parametrize("label_set", LABEL_SETS.values(), ids=list(LABEL_SETS))
def test_fallback_is_a_label(label_set: LabelSet) -> None:
    assert label_set.fallback in label_set


@pytest.mark.parametrize("label_set", LABEL_SETS.values(), ids=list(LABEL_SETS))
@pytest.mark.parametrize("language", LANGUAGES)
def test_display_name_every_label(label_set: LabelSet, language: str) -> None:
    for name in label_set.names:
        display_name = label_set.display(name, language)  # type: ignore[arg-type]
        where = f"{label_set.task}/{name}"
        assert display_name.strip(), f"{where} has a blank {language} name"
        if language == "zh-CN":
            assert CJK.search(display_name), f"{where} zh-CN name {display_name!r} has no Chinese"
        else:
            assert display_name.isascii(), f"{where} English name {display_name!r} is not ASCII"


@pytest.mark.parametrize("label_set", LABEL_SETS.values(), ids=list(LABEL_SETS))
def test_zh_cn_names_distinct(label_set: LabelSet) -> None:
    zh_names = [label.zh_cn for label in label_set.labels]
    assert len(set(zh_names)) == len(zh_names)


@pytest.mark.parametrize(
    ("label_set", "expected"),
    [
        (
            TYPE,
            {
                "beanie": "毛线帽",
                "cap": "鸭舌帽",
                "brimmed_hat": "宽檐帽",
                "hair_band": "发带",
                "scarf": "围巾",
                "none": "非头饰",
            },
        ),
        (
            PATTERN,
            {
                "solid": "纯色",
                "stripe": "条纹",
                "check": "格纹",
                "dots": "波点",
                "all_over_print": "满印",
                "melange": "混色",
                "placement_print": "定位印花",
                "other": "其他",
            },
        ),
        (
            MATERIAL,
            {
                "knit": "针织",
                "wool": "羊毛",
                "cotton": "棉",
                "straw": "草编",
                "felt": "毛毡",
                "fleece": "抓绒",
                "leather": "皮革",
                "synthetic": "合成纤维",
                "unknown": "未知",
            },
        ),
        (COLOUR, {"black": "黑色", "white": "白色", "blue": "蓝色", "unknown": "未知"}),
    ],
    ids=["type", "pattern", "material", "colour"],
)
def test_zh_cn_display_names(label_set: LabelSet, expected: dict[str, str]) -> None:
    for name, zh_name in expected.items():
        assert label_set.display(name, "zh-CN") == zh_name


def test_display_english_default() -> None:
    assert TYPE.display("brimmed_hat") == "Brimmed hat"


def test_index_follows_label_order() -> None:
    for label_set in LABEL_SETS.values():
        positions = [label_set.index(name) for name in label_set.names]
        assert positions == list(range(len(label_set)))


def test_index_unknown_name_raises() -> None:
    with pytest.raises(ValueError, match=r"unknown type label 'fedora'") as caught:
        TYPE.index("fedora")
    assert "beanie, cap, brimmed_hat, hair_band, scarf, none" in str(caught.value)


def test_index_raw_catalog_value_raises() -> None:
    # Raw H&M values must go through the maps first.
    with pytest.raises(ValueError, match=r"unknown colour label 'Black'"):
        COLOUR.index("Black")


def test_display_unknown_name_raises() -> None:
    with pytest.raises(ValueError, match=r"unknown material label 'silk'"):
        MATERIAL.display("silk", "zh-CN")


def test_display_unknown_language_raises() -> None:
    with pytest.raises(ValueError, match=r"unsupported display language 'zh-TW'"):
        TYPE.display("cap", "zh-TW")  # type: ignore[arg-type]


def test_label_set_duplicate_name_raises() -> None:
    labels = (Label("cap", "Cap", "鸭舌帽"), Label("cap", "Cap", "帽子"))
    with pytest.raises(ValueError, match=r"duplicate label name 'cap'"):
        LabelSet(task="type", labels=labels, fallback="cap")


def test_label_set_bad_name_raises() -> None:
    with pytest.raises(ValueError, match=r"invalid label name 'Brimmed hat'"):
        LabelSet(task="type", labels=(Label("Brimmed hat", "Brimmed hat", "宽檐帽"),), fallback="x")


def test_label_set_blank_display_raises() -> None:
    with pytest.raises(ValueError, match=r"needs both an English and a zh-CN"):
        LabelSet(task="type", labels=(Label("cap", "Cap", " "),), fallback="cap")


def test_label_set_missing_fallback_raises() -> None:
    with pytest.raises(ValueError, match=r"fallback 'none' of task 'type'"):
        LabelSet(task="type", labels=(Label("cap", "Cap", "鸭舌帽"),), fallback="none")


def test_fingerprint_lists_names() -> None:
    fingerprint = label_sets_fingerprint()
    assert fingerprint == {task: list(ls.names) for task, ls in LABEL_SETS.items()}


def test_fingerprint_returns_fresh_copy() -> None:
    label_sets_fingerprint()["type"].append("turban")
    assert "turban" not in label_sets_fingerprint()["type"]


# Catalog maps: product type


def test_product_types_in_data(hm_articles: pd.DataFrame) -> None:
    real_values = set(hm_articles["product_type_name"].dropna())
    mapped = {value: type_from_product_type(value) for value in real_values}
    head_attire = {value: label for value, label in mapped.items() if label != "none"}
    assert head_attire == {
        "Scarf": "scarf",
        "Hair/alice band": "hair_band",
        "Hairband": "hair_band",
        "Alice band": "hair_band",
        "Hat/beanie": "beanie",
        "Beanie": "beanie",
        "Cap/peaked": "cap",
        "Cap": "cap",
        "Hat/brim": "brimmed_hat",
        "Felt hat": "brimmed_hat",
        "Straw hat": "brimmed_hat",
        "Bucket hat": "brimmed_hat",
    }
    assert set(mapped.values()) <= set(TYPE.names)


def test_product_type_keys_exist_in_data(hm_articles: pd.DataFrame) -> None:
    # A misspelt key would silently map real head attire to `none`.
    real_values = set(hm_articles["product_type_name"].dropna())
    missing = set(HM_PRODUCT_TYPES.entries) - real_values
    assert not missing, f"map keys not found in the H&M data: {sorted(missing)}"


def test_product_type_counts_week(shared_data: Path) -> None:
    articles = pd.read_csv(shared_data / "hm-week" / "articles.csv", dtype=str)
    counts = articles["product_type_name"].map(type_from_product_type).value_counts().to_dict()
    assert counts["scarf"] == 174
    assert counts["hair_band"] == 166 + 2 + 1
    assert counts["beanie"] == 128 + 13
    assert counts["cap"] == 38 + 1
    assert counts["brimmed_hat"] == 38 + 8 + 2 + 1


@pytest.mark.parametrize("value", ["", "   ", None, float("nan"), "Trousers", "Hair clip"])
def test_product_type_fallback(value: object) -> None:
    assert type_from_product_type(value) == "none"  # type: ignore[arg-type]


def test_product_type_ignores_case_space() -> None:
    assert type_from_product_type("  hat/BEANIE ") == "beanie"
    assert type_from_product_type("Felt  hat") == "brimmed_hat"


def test_product_type_map_extended() -> None:
    shop_types = HM_PRODUCT_TYPES.extended({"Beret": "beanie", "Scarf": "none"})
    assert type_from_product_type("beret", mapping=shop_types) == "beanie"
    assert type_from_product_type("Scarf", mapping=shop_types) == "none"
    assert type_from_product_type("Cap", mapping=shop_types) == "cap"


def test_product_type_map_extend_copies() -> None:
    HM_PRODUCT_TYPES.extended({"Beret": "beanie"})
    assert type_from_product_type("Beret") == "none"


def test_product_type_map_caller_dict_copied() -> None:
    entries = {"Turban": "beanie"}
    mapping = ProductTypeMap(entries)
    entries["Turban"] = "scarf"
    assert mapping.type_of("Turban") == "beanie"


def test_product_type_map_bad_label_raises() -> None:
    with pytest.raises(ValueError, match=r"'Beret' maps to unknown type label 'beret'"):
        HM_PRODUCT_TYPES.extended({"Beret": "beret"})


# Catalog maps: colour


def test_colours_in_data_mapped(hm_articles: pd.DataFrame) -> None:
    real_values = set(hm_articles["perceived_colour_master_name"].dropna())
    unmapped = real_values - set(HM_COLOURS)
    assert not unmapped, f"colours without an explicit label: {sorted(unmapped)}"


def test_colours_in_data_known_label(hm_articles: pd.DataFrame) -> None:
    for value in set(hm_articles["perceived_colour_master_name"].dropna()):
        label = colour_from_hm(value)
        assert label in COLOUR, value
        if value not in {"Unknown", "undefined"}:
            assert label != "unknown", value


def test_colour_map_values_are_labels() -> None:
    assert set(HM_COLOURS.values()) == set(COLOUR.names)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Black", "black"),
        ("Khaki green", "khaki_green"),
        ("Lilac Purple", "lilac_purple"),
        ("yellowish green", "yellowish_green"),
        ("undefined", "unknown"),
        ("Unknown", "unknown"),
        ("Navy", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_colour_from_hm(value: str | None, expected: str) -> None:
    assert colour_from_hm(value) == expected


# Catalog maps: pattern


def test_patterns_in_data_mapped(hm_articles: pd.DataFrame) -> None:
    real_values = set(hm_articles["graphical_appearance_name"].dropna())
    unmapped = real_values - set(HM_PATTERNS)
    assert not unmapped, f"graphical appearances without an explicit label: {sorted(unmapped)}"


def test_patterns_in_data_known_label(hm_articles: pd.DataFrame) -> None:
    for value in set(hm_articles["graphical_appearance_name"].dropna()):
        assert pattern_from_hm(value) in PATTERN, value


def test_pattern_map_values_are_labels() -> None:
    assert set(HM_PATTERNS.values()) == set(PATTERN.names)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Solid", "solid"),
        ("Stripe", "stripe"),
        ("Check", "check"),
        ("Argyle", "check"),
        ("Dot", "dots"),
        ("All over pattern", "all_over_print"),
        ("Melange", "melange"),
        ("Placement print", "placement_print"),
        ("Embroidery", "placement_print"),
        ("Application/3D", "placement_print"),
        ("Front print", "placement_print"),
        ("Denim", "other"),
        ("Jacquard", "other"),
        ("Unknown", "other"),
        ("Houndstooth", "other"),
        (" solid ", "solid"),
        (None, "other"),
    ],
)
def test_pattern_from_hm(value: str | None, expected: str) -> None:
    assert pattern_from_hm(value) == expected


@pytest.mark.parametrize(
    ("product_type", "language", "expected"),
    [
        ("Trousers", "zh-CN", "长裤"),
        ("  underwear   BOTTOM ", "zh-CN", "内裤"),
        ("Hat/beanie", "zh-CN", TYPE.display("beanie", "zh-CN")),
        ("Trousers", "en", "Trousers"),
        ("Hoverboard", "zh-CN", "Hoverboard"),
    ],
)
def test_product_type_display(product_type: str, language: Language, expected: str) -> None:
    assert product_type_display(product_type, language) == expected
