"""The Ray engine gives the same catalog and index as the local engine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from catalog.indexing import load_item_embeddings
from catalog.ray_engine import RayEmbedder, ray_available
from catalog.settings import Settings
from classifier.embedder import ImageEmbedder
from recsys.jobs import run_indexing
from recsys.similarity import SimilarityIndex
from tests.catalog.test_indexing import import_into, make_catalog

_IMAGES = 24
_BATCH_SIZE = 4


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray cluster with 2 CPUs that listens on loopback only."""
    if not ray_available():
        message = "ray is not installed: pip install -e '.[ray]'"
        if os.environ.get("MILLINER_REQUIRE_RAY") == "1":
            pytest.fail(message)
        pytest.skip(message)
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        logging_level="WARNING",
        log_to_driver=False,
    )
    yield
    ray.shutdown()


def _settings(home: Path) -> Settings:
    return Settings(home=home, database_url=f"sqlite:///{home / 'milliner.db'}")


@pytest.mark.slow
def test_ray_engine_matches_local_engine(local_ray: None, hm_slice: Path, tmp_path: Path) -> None:
    catalog_dir = make_catalog(hm_slice, tmp_path / "catalog", _IMAGES, copy_images=False)
    local_settings = _settings(tmp_path / "local")
    ray_settings = _settings(tmp_path / "ray")
    local_engine = import_into(local_settings, catalog_dir)
    ray_engine = import_into(ray_settings, catalog_dir)

    local_summary, local_index = run_indexing(
        local_engine, local_settings, batch_size=_BATCH_SIZE, device="cpu", precision="fp32"
    )
    ray_summary, ray_index = run_indexing(
        ray_engine,
        ray_settings,
        batch_size=_BATCH_SIZE,
        device="cpu",
        precision="fp32",
        execution="ray",
    )
    local_ids, local_vectors = load_item_embeddings(local_engine, local_index.model_version)
    ray_ids, ray_vectors = load_item_embeddings(ray_engine, ray_index.model_version)
    published = SimilarityIndex.load(ray_settings.index_dir)

    assert ray_summary.processed == local_summary.processed == _IMAGES
    assert ray_index.model_version == local_index.model_version
    assert ray_ids == local_ids
    assert np.min(np.sum(ray_vectors * local_vectors, axis=1)) > 0.9999
    assert published.article_ids == local_index.article_ids
    ray_neighbours = published.search(local_vectors[:5], 5)
    local_neighbours = local_index.search(local_vectors[:5], 5)
    assert [[a for a, _ in row] for row in ray_neighbours] == [
        [a for a, _ in row] for row in local_neighbours
    ]
    for ray_row, local_row in zip(ray_neighbours, local_neighbours, strict=True):
        assert [s for _, s in ray_row] == pytest.approx([s for _, s in local_row], abs=1e-4)
    local_engine.dispose()
    ray_engine.dispose()


def test_ray_engine_lists_undecodable_files(local_ray: None, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    embedder = RayEmbedder(ImageEmbedder(batch_size=2, device="cpu"))

    batches = list(embedder.embed_files([broken]))

    assert [batch.paths for batch in batches] == [[]]
    assert [path for batch in batches for path, _ in batch.failures] == [broken]


def test_ray_engine_rejects_zero_workers() -> None:
    if not ray_available():
        pytest.skip("ray is not installed: pip install -e '.[ray]'")
    with pytest.raises(ValueError, match="workers must be at least 1"):
        RayEmbedder(ImageEmbedder(device="cpu"), workers=0)
