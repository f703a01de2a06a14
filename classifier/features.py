"""Frozen backbone features of labelled photos, computed once and cached on disk.

Training the heads needs the backbone's pooled features of every photo and of
a few augmented views of it. On two CPU cores the backbone is by far the
slowest step, so the features are written to an `.npz` file keyed by
everything that changes them (backbone weights, preprocessing, photos, views,
seed) and read back by later runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from classifier.augment import AugmentationConfig, augment
from classifier.backbone import EMBEDDING_DIM
from classifier.colour import COLOUR_FEATURE_DIM, COLOUR_FEATURES_VERSION, pixel_colour_features
from classifier.errors import InvalidImageError
from classifier.images import load_image
from classifier.preprocess import Preprocessing
from classifier.runtime import FeatureExtractor
from classifier.samples import LabelledImage

__all__ = ["CachedFeatures", "backbone_features", "cached_features"]

logger = logging.getLogger(__name__)


@dataclass
class CachedFeatures:
    """Backbone and colour features of every view of every sample.

    Attributes:
        backbone: float32 (V, 1280), pooled backbone activations, not normalised.
        colour: float32 (V, COLOUR_FEATURE_DIM), see `pixel_colour_features`;
            an augmented view has the features of its photo, because cropping
            into the product moves the background estimate they rest on.
        sample: int64 (V,), the position of each view's photo in the sample list.
        view: int64 (V,), 0 for the photo itself, 1.. for augmented views.
    """

    backbone: np.ndarray
    colour: np.ndarray
    sample: np.ndarray
    view: np.ndarray

    def select(self, mask: np.ndarray) -> CachedFeatures:
        """Return the views where the boolean `mask` (V,) is true."""
        return CachedFeatures(
            self.backbone[mask], self.colour[mask], self.sample[mask], self.view[mask]
        )


@torch.inference_mode()
def backbone_features(
    network: FeatureExtractor, preprocessing: Preprocessing, images: Sequence[Image.Image]
) -> np.ndarray:
    """Return the pooled backbone features of RGB images, float32 (N, 1280).

    `network` is the torch backbone or what runs it elsewhere (`classifier.runtime`).
    """
    if not images:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    batch = torch.from_numpy(np.stack([preprocessing.to_array(image) for image in images]))
    inputs = preprocessing.normalise(batch)
    if isinstance(network, torch.nn.Module):
        inputs = inputs.to(next(network.parameters()).device)
    features = network(inputs)
    return features.cpu().numpy().astype(np.float32, copy=False)


def _cache_key(
    samples: Sequence[LabelledImage],
    *,
    weights_digest: str,
    preprocessing: Preprocessing,
    views: int,
    seed: int,
    augmentation: AugmentationConfig,
) -> str:
    digest = hashlib.sha256()
    header = {
        "colour_features": COLOUR_FEATURES_VERSION,
        # 2: augmented views carry the colour features of their photo.
        "format": 2,
        "weights": weights_digest,
        "preprocessing": preprocessing.to_dict(),
        "views": views,
        "seed": seed,
        "augmentation": augmentation.__dict__,
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for sample in samples:
        # The resolved path, so that a relative and an absolute catalog path share the cache.
        stat = sample.path.stat()
        digest.update(f"{sample.path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def cached_features(
    samples: Sequence[LabelledImage],
    network: FeatureExtractor,
    *,
    weights_digest: str,
    preprocessing: Preprocessing,
    cache_dir: Path | None,
    augmented_views: int = 1,
    seed: int = 0,
    augmentation: AugmentationConfig | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> CachedFeatures:
    """Compute (or read back) features of each sample and of its augmented views.

    A photo that cannot be decoded is logged and left out, so `sample` may skip
    positions. The augmentation of view v of sample i depends only on `seed`,
    i and v, so a cache hit equals a recomputation.

    Args:
        augmented_views: augmented copies per photo, besides the photo itself.
        cache_dir: where `.npz` cache files live; None computes without caching.
    """
    if augmented_views < 0:
        raise ValueError(f"augmented_views must be at least 0, got {augmented_views}")
    augmentation = augmentation or AugmentationConfig()
    key = _cache_key(
        samples,
        weights_digest=weights_digest,
        preprocessing=preprocessing,
        views=augmented_views,
        seed=seed,
        augmentation=augmentation,
    )
    cache_file = cache_dir / f"features-{key}.npz" if cache_dir is not None else None
    if cache_file is not None and cache_file.is_file():
        with np.load(cache_file) as stored:
            logger.info("read cached features of %d photos from %s", len(samples), cache_file)
            return CachedFeatures(
                stored["backbone"], stored["colour"], stored["sample"], stored["view"]
            )

    backbone: list[np.ndarray] = []
    colour: list[np.ndarray] = []
    sample_ids: list[int] = []
    view_ids: list[int] = []
    pending: list[Image.Image] = []

    def flush() -> None:
        backbone.append(backbone_features(network, preprocessing, pending))
        pending.clear()

    total = len(samples) * (1 + augmented_views)
    with tqdm(total=total, desc="features", unit="view", disable=not progress) as bar:
        for position, sample in enumerate(samples):
            try:
                photo = load_image(sample.path)
            except (InvalidImageError, OSError) as error:
                logger.warning(
                    "skipping %s (article %s): %s", sample.path, sample.article_id, error
                )
                bar.update(1 + augmented_views)
                continue
            photo_colour = pixel_colour_features(np.asarray(photo))
            for view in range(1 + augmented_views):
                if view == 0:
                    image = photo
                else:
                    image = augment(photo, random.Random(f"{seed}:{position}:{view}"), augmentation)
                colour.append(photo_colour)
                sample_ids.append(position)
                view_ids.append(view)
                pending.append(image)
                if len(pending) >= batch_size:
                    flush()
                bar.update(1)
        if pending:
            flush()

    features = CachedFeatures(
        backbone=np.concatenate(backbone) if backbone else np.zeros((0, EMBEDDING_DIM), np.float32),
        colour=np.stack(colour) if colour else np.zeros((0, COLOUR_FEATURE_DIM), np.float32),
        sample=np.asarray(sample_ids, dtype=np.int64),
        view=np.asarray(view_ids, dtype=np.int64),
    )
    if cache_file is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        temporary = cache_file.with_name(f".{cache_file.stem}.{secrets.token_hex(4)}.npz")
        np.savez(
            temporary,
            backbone=features.backbone,
            colour=features.colour,
            sample=features.sample,
            view=features.view,
        )
        os.replace(temporary, cache_file)
        logger.info("cached features of %d views at %s", len(features.sample), cache_file)
    return features
