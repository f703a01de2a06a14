"""Material rules: hand-written cases and precision on the hand-labelled H&M sample."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from classifier.materials import (
    MATERIAL_RULES,
    TRUST_MIN_PRECISION,
    TRUST_MIN_PREDICTED,
    TRUSTED_MATERIALS,
    main_phrase,
    material_from_description,
)
from classifier.taxonomy import MATERIAL, type_from_product_type

SAMPLE_PATH = Path(__file__).parent / "data" / "material_sample.csv"


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE_PATH, dtype=str, keep_default_na=False)
    frame["predicted"] = [material_from_description(text).material for text in frame["detail_desc"]]
    return frame


# Hand-written cases


@pytest.mark.parametrize(
    ("text", "material", "rule"),
    [
        ("Knitted hat in a soft wool blend.", "wool", "wool"),
        ("Cap in cotton twill with an adjustable strap at the back.", "cotton", "cotton"),
        ("Hat in paper straw. Width of brim 7 cm.", "straw", "straw"),
        ("Felted wool hat with a grosgrain band.", "felt", "felt"),
        ("Hat in faux leather with a metal buckle.", "leather", "leather"),
        ("Beanie in soft fleece.", "fleece", "fleece"),
        ("Bucket hat in soft faux shearling with a cotton lining.", "fleece", "faux_shearling"),
        ("Hat in shearling with a suede band.", "leather", "shearling"),
        ("Imitation suede cap with covered elastication at the back.", "leather", "leather"),
        ("Earmuffs in faux fur with an imitation leather headband.", "synthetic", "faux_fur"),
        ("Sports cap in a recycled polyester weave.", "synthetic", "synthetic_fibre"),
        ("Hat in a soft rib knit.", "knit", "knit"),
        ("Rib-knit hat in soft cashmere.", "wool", "wool"),
        ("Hat in a soft, rib-knit wool and nylon blend.", "wool", "wool"),
        ("Beret in fine-knit wool containing some nylon.", "wool", "wool"),
        ("Hat in a sturdy, rib-knit cotton blend with a turned-up hem.", "cotton", "cotton"),
        ("Scarf in an airy linen weave with fringes.", "unknown", "unlabelled_fibre"),
        (
            "Fine-knit hat in a soft blend of mulberry silk and cotton.",
            "unknown",
            "unlabelled_fibre",
        ),
        ("Hat in felted fabric containing some recycled wool.", "felt", "felt"),
        ("Baby Exclusive. Rib-knit hat in soft wool.", "wool", "wool"),
        ("Kangol x H&M. The classic hat in soft faux shearling.", "fleece", "faux_shearling"),
        ("Plastic Alice band covered with glittery imitation leather.", "leather", "leather"),
        ("Hat in a soft knit. Made from 100% merino wool.", "wool", "wool"),
        (
            "Scarf in a soft weave with fringes. The polyester content of the scarf is recycled.",
            "synthetic",
            "polyester_content_note",
        ),
        (
            "Hat in a soft jacquard knit. The polyester content of the hat is recycled.",
            "knit",
            "knit",
        ),
    ],
)
def test_material_from_description(text: str, material: str, rule: str) -> None:
    match = material_from_description(text)
    assert match.material == material
    assert match.rule == rule


@pytest.mark.parametrize(
    ("text", "material"),
    [
        # The main material is unnamed, and the named one belongs to a part.
        ("Hat in a soft knit with earflaps. Fleece lining.", "knit"),
        ("Cap with a sweatband in a cotton weave and a plastic fastener.", "unknown"),
        ("Bucket hat in woven fabric with eyelets and a cotton lining.", "unknown"),
        ("Cable-knit hat with a faux fur pompom.", "knit"),
        ("Cap in woven fabric with a cotton pocket and leather trim.", "unknown"),
        # Minor fibres after "containing" do not count.
        ("Hat in a soft rib knit containing some wool.", "knit"),
        ("Hat in braided straw containing glittery threads.", "straw"),
        # Imitations of a look are not the material.
        ("Hat in a knitted-look jersey.", "unknown"),
        ("Scarf in a wool-look weave.", "unknown"),
        ("Hat in a felt-like weave.", "unknown"),
        ("Cap in a leather-look weave.", "leather"),
        # Fabrics whose fibre is not named.
        ("Scarf in patterned satin.", "unknown"),
        ("Double-layered tube scarf in jersey.", "unknown"),
        ("Thin Alice band in metal with plastic beads.", "unknown"),
        # Words that contain a material word are not matches.
        ("Woolworths hat in a soft weave.", "unknown"),
        ("Cap in cottony woven fabric.", "unknown"),
    ],
)
def test_material_tricky_cases(text: str, material: str) -> None:
    assert material_from_description(text).material == material


def test_fabric_conflict_unknown() -> None:
    match = material_from_description("Hat in felt and braided straw.")
    assert match.material == "unknown"
    assert match.rule is None
    assert match.conflict
    assert set(match.fired) == {"felt", "straw"}


def test_fired_lists_text_order() -> None:
    match = material_from_description("Hat in felted wool.")
    assert match.fired == ("felt", "wool")
    assert not match.conflict


def test_case_insensitive() -> None:
    assert material_from_description("HAT IN BRAIDED PAPER STRAW.").material == "straw"


@pytest.mark.parametrize("text", [None, "", "   ", float("nan")])
def test_blank_description_unknown(text: object) -> None:
    match = material_from_description(text)  # type: ignore[arg-type]
    assert match.material == "unknown"
    assert match.rule is None
    assert match.fired == ()
    assert not match.conflict


def test_nothing_fired_not_conflict() -> None:
    match = material_from_description("Alice band with a decorative knot detail.")
    assert match.material == "unknown"
    assert not match.conflict


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("Cap in cotton twill with an adjustable strap.", "Cap in cotton twill"),
        ("Baby Exclusive. Hat in soft wool. Lined.", "Hat in soft wool"),
        ("Kangol x H&M. Scarf in a soft rib knit.", "Scarf in a soft rib knit"),
        ("Lined triangular scarves in cotton jersey.", "Lined triangular scarves in cotton jersey"),
        ("Alice band covered with satin.", "Alice band covered with satin"),
        ("Captain's cap. Lined.", "Captain's cap"),
        ("Beanie.", "Beanie"),
        ("", ""),
    ],
)
def test_main_phrase(text: str, phrase: str) -> None:
    assert main_phrase(text) == phrase


def test_rule_materials_are_labels() -> None:
    for rule in MATERIAL_RULES:
        assert rule.material is None or rule.material in MATERIAL, rule.name


def test_rule_names_unique() -> None:
    names = [rule.name for rule in MATERIAL_RULES]
    assert len(set(names)) == len(names)


# Hand-labelled sample


def test_sample_file_shape(sample: pd.DataFrame) -> None:
    assert list(sample.columns[:3]) == ["article_id", "detail_desc", "expected_material"]
    assert len(sample) >= 150
    assert sample["article_id"].is_unique
    assert sample["article_id"].str.fullmatch(r"\d{10}").all()
    assert set(sample["expected_material"]) <= set(MATERIAL.names)
    assert SAMPLE_PATH.stat().st_size < 100_000


def test_sample_matches_real_articles(sample: pd.DataFrame, shared_data: Path) -> None:
    frames = [
        pd.read_csv(
            shared_data / subset / "articles.csv",
            dtype=str,
            usecols=["article_id", "product_type_name", "detail_desc"],
        )
        for subset in ("hm-week", "hm-2y")
    ]
    articles = pd.concat(frames).drop_duplicates("article_id").set_index("article_id")
    missing = set(sample["article_id"]) - set(articles.index)
    assert not missing, f"sample articles not in the H&M data: {sorted(missing)}"

    real = articles.loc[sample["article_id"]]
    assert list(real["detail_desc"]) == list(sample["detail_desc"])
    types = real["product_type_name"].map(type_from_product_type)
    assert (types != "none").all()


@pytest.mark.parametrize("label", sorted(TRUSTED_MATERIALS))
def test_trusted_label_precision(sample: pd.DataFrame, label: str) -> None:
    predicted = sample[sample["predicted"] == label]
    correct = int((predicted["expected_material"] == label).sum())
    assert len(predicted) >= TRUST_MIN_PREDICTED
    assert correct / len(predicted) >= TRUST_MIN_PRECISION, (
        f"{label}: {correct}/{len(predicted)} correct; wrong on "
        f"{list(predicted.loc[predicted['expected_material'] != label, 'article_id'])}"
    )


def test_trusted_set_matches_sample(sample: pd.DataFrame) -> None:
    qualified = set()
    for label in MATERIAL.names:
        if label == MATERIAL.fallback:
            continue
        predicted = sample[sample["predicted"] == label]
        if len(predicted) < TRUST_MIN_PREDICTED:
            continue
        if (predicted["expected_material"] == label).mean() >= TRUST_MIN_PRECISION:
            qualified.add(label)
    assert qualified == TRUSTED_MATERIALS


def test_trusted_excludes_fallback() -> None:
    assert MATERIAL.fallback not in TRUSTED_MATERIALS
    assert TRUSTED_MATERIALS.issubset(MATERIAL.names)
