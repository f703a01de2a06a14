"""A classifier trained in seconds on a few dozen real hm-week photos, for tests."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from classifier.samples import LabelledImage, load_catalog_samples
from classifier.training import ClassifierTrainingConfig, TrainingResult, train_classifier

PER_TYPE = 5


def tiny_samples(shared_data: Path) -> list[LabelledImage]:
    """Return PER_TYPE photos of each type label (none included), by ascending article id."""
    samples = load_catalog_samples([shared_data / "hm-week"], other_per_catalog=50, seed=0)
    by_type: dict[str, list[LabelledImage]] = defaultdict(list)
    for sample in sorted(samples, key=lambda s: s.article_id):
        if len(by_type[sample.type]) < PER_TYPE:
            by_type[sample.type].append(sample)
    return [sample for group in by_type.values() for sample in group]


def train_tiny_classifier(shared_data: Path, models_root: Path) -> TrainingResult:
    """Train for one epoch without augmentation and publish under `models_root`."""
    config = ClassifierTrainingConfig(epochs=1, augmented_views=0, batch_size=16, seed=0)
    return train_classifier(
        [shared_data / "hm-week"],
        models_root,
        config=config,
        samples=tiny_samples(shared_data),
    )
