"""Labelled training images from catalog directories, and the split by product.

A catalog directory has the H&M layout: `articles.csv` and `images/<article_id>.jpg`.
Every article becomes one `LabelledImage` whose four labels come from the catalog
fields through the maps in `classifier.taxonomy` and `classifier.materials`.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from classifier.materials import TRUSTED_MATERIALS, material_from_description
from classifier.taxonomy import (
    MATERIAL,
    TYPE,
    colour_from_hm,
    pattern_from_hm,
    type_from_product_type,
)

__all__ = ["LabelledImage", "load_catalog_samples", "split_by_product"]

logger = logging.getLogger(__name__)

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class LabelledImage:
    """One product photo with its catalog labels.

    ``material`` is ``unknown`` unless the description rules gave a label in
    `TRUSTED_MATERIALS`, so untrusted rule output never becomes a training target.
    ``source`` is the name of the catalog directory the article came from.
    """

    article_id: str
    product_code: str
    path: Path
    source: str
    type: str
    colour: str
    pattern: str
    material: str

    def label(self, task: str) -> str:
        """Return the label name of ``task`` ("type", "colour", "pattern" or "material")."""
        if task not in ("type", "colour", "pattern", "material"):
            raise ValueError(f"unknown task {task!r}: expected type, colour, pattern or material")
        return str(getattr(self, task))


def _photo(images_dir: Path, article_id: str) -> Path | None:
    for suffix in _IMAGE_SUFFIXES:
        candidate = images_dir / f"{article_id}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _trusted_material(description: object) -> str:
    material = material_from_description(description if isinstance(description, str) else None)
    return material.material if material.material in TRUSTED_MATERIALS else MATERIAL.fallback


def load_catalog_samples(
    catalog_dirs: Sequence[Path],
    *,
    other_per_catalog: int = 500,
    seed: int = 0,
) -> list[LabelledImage]:
    """Read labelled photos from catalog directories.

    Every head-attire article with a photo is kept. Articles of other product
    types (type ``none``) are drawn at random from each catalog, because the
    catalogs hold far more clothes than head attire, in two draws of up to
    `other_per_catalog` each:

    - look-alikes: other articles of the product groups (`product_group_name`)
      that the catalog's head attire belongs to, such as the bags, jewellery
      and hair clips beside the hats in H&M's Accessories;
    - the rest of the catalog.

    The look-alikes teach the type head what is not head attire among the
    articles that resemble it most. The draws depend on `seed` and the
    directory's name, not on where it lies. An article that appears in
    several catalogs is taken from the first one.

    Raises:
        FileNotFoundError: a directory has no `articles.csv`.
        ValueError: `articles.csv` has no `article_id` column.
    """
    if other_per_catalog < 0:
        raise ValueError(f"other_per_catalog must be at least 0, got {other_per_catalog}")
    samples: list[LabelledImage] = []
    seen: set[str] = set()
    for directory in catalog_dirs:
        articles_csv = Path(directory) / "articles.csv"
        if not articles_csv.is_file():
            raise FileNotFoundError(
                f"{articles_csv} not found: pass a catalog directory in the H&M layout"
            )
        table = pd.read_csv(articles_csv, dtype=str, keep_default_na=False)
        if "article_id" not in table.columns:
            raise ValueError(f"{articles_csv} has no article_id column")
        head: list[LabelledImage] = []
        other: list[tuple[LabelledImage, str]] = []
        head_groups: set[str] = set()
        taken_earlier = 0
        for row in table.to_dict("records"):
            article_id = row["article_id"].strip()
            group = str(row.get("product_group_name") or "").strip()
            article_type = type_from_product_type(row.get("product_type_name"))
            is_head_attire = article_type != TYPE.fallback
            if is_head_attire and group:
                # Counted before the checks below, so that head attire already
                # taken from an earlier catalog still names its group here.
                head_groups.add(group)
            if not article_id or article_id in seen:
                if article_id and is_head_attire:
                    taken_earlier += 1
                continue
            path = _photo(Path(directory) / "images", article_id)
            if path is None:
                continue
            seen.add(article_id)
            sample = LabelledImage(
                article_id=article_id,
                product_code=row.get("product_code") or article_id,
                path=path,
                source=Path(directory).name,
                type=article_type,
                colour=colour_from_hm(row.get("perceived_colour_master_name")),
                pattern=pattern_from_hm(row.get("graphical_appearance_name")),
                material=_trusted_material(row.get("detail_desc")),
            )
            if is_head_attire:
                head.append(sample)
            else:
                other.append((sample, group))
        look_alikes = [sample for sample, group in other if group in head_groups]
        rest = [sample for sample, group in other if group not in head_groups]
        # Seeded by the directory's name, not by the path given, so that
        # "../shared/data/hm-week", its absolute path and "." draw the same photos.
        draw = random.Random(f"{seed}:{Path(directory).resolve().name}")
        drawn_look_alikes = draw.sample(look_alikes, min(other_per_catalog, len(look_alikes)))
        drawn_rest = draw.sample(rest, min(other_per_catalog, len(rest)))
        logger.info(
            "%s: %d head-attire articles (and %d already taken from an earlier catalog), "
            "%d of %d others in their product groups (%s) and %d of %d others elsewhere",
            directory,
            len(head),
            taken_earlier,
            len(drawn_look_alikes),
            len(look_alikes),
            ", ".join(sorted(head_groups)) or "none",
            len(drawn_rest),
            len(rest),
        )
        samples.extend(head)
        samples.extend(drawn_look_alikes)
        samples.extend(drawn_rest)
    return samples


def _product_fraction(product_code: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{product_code}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_by_product(
    samples: Sequence[LabelledImage], *, validation_fraction: float = 0.2, seed: int = 0
) -> tuple[list[LabelledImage], list[LabelledImage]]:
    """Split samples into training and validation by `product_code`.

    Colour variants of one product share a product code and look alike apart
    from their colour, so all of them land on the same side. The side of a
    product depends only on its code and `seed`, so adding articles never moves
    an existing product to the other side.

    Raises:
        ValueError: `validation_fraction` is not strictly between 0 and 1.
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
    training: list[LabelledImage] = []
    validation: list[LabelledImage] = []
    for sample in samples:
        side = (
            validation
            if _product_fraction(sample.product_code, seed) < validation_fraction
            else training
        )
        side.append(sample)
    return training, validation
