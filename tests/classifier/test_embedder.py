"""Style embeddings from the shipped EfficientNet-Lite0 weights, on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from classifier import embedder as embedder_module
from classifier.backbone import EMBEDDING_DIM, default_weights_path, load_backbone
from classifier.embedder import ImageEmbedder, has_native_bf16, resolve_precision
from classifier.errors import ModelLoadError
from classifier.preprocess import Preprocessing


@pytest.fixture(scope="module")
def embedder() -> ImageEmbedder:
    torch.manual_seed(0)
    return ImageEmbedder(batch_size=4, device="cpu")


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "hm-week" / "images").glob("*.jpg"))[:6]


def test_embeddings_are_unit_vectors(embedder: ImageEmbedder, photos: list[Path]) -> None:
    batches = list(embedder.embed_files(photos))
    vectors = np.vstack([batch.vectors for batch in batches])

    assert vectors.shape == (len(photos), EMBEDDING_DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_batches_keep_input_order(embedder: ImageEmbedder, photos: list[Path]) -> None:
    batches = list(embedder.embed_files(photos))

    assert [len(batch.paths) for batch in batches] == [4, 2]
    assert [path for batch in batches for path in batch.paths] == photos


def test_batch_equals_single(embedder: ImageEmbedder, photos: list[Path]) -> None:
    images = [Image.open(path).convert("RGB") for path in photos[:3]]
    together = embedder.embed(images)
    alone = np.vstack([embedder.embed([image]) for image in images])

    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_same_photo_is_its_own_nearest(embedder: ImageEmbedder, photos: list[Path]) -> None:
    vectors = np.vstack([batch.vectors for batch in embedder.embed_files(photos)])
    query = embedder.embed([Image.open(photos[2]).convert("RGB")])[0]

    assert int(np.argmax(vectors @ query)) == 2


def test_unreadable_file_is_a_failure(
    embedder: ImageEmbedder, photos: list[Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    batches = list(embedder.embed_files([photos[0], broken, photos[1]]))

    assert [path for batch in batches for path in batch.paths] == [photos[0], photos[1]]
    assert [path for batch in batches for path, _ in batch.failures] == [broken]


def test_model_version_names_weights(embedder: ImageEmbedder) -> None:
    assert embedder.model_version.startswith("efficientnet-lite0-imagenet-")
    assert embedder.model_version.endswith("-pad224")


def test_wrong_weights_file_raises(tmp_path: Path) -> None:
    weights = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, weights)

    with pytest.raises(ModelLoadError, match="do not fit"):
        load_backbone(weights)


def test_missing_weights_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        load_backbone(tmp_path / "missing.pth")


def test_shipped_weights_are_found() -> None:
    assert default_weights_path().is_file()


def test_letterbox_keeps_aspect_ratio() -> None:
    preprocessing = Preprocessing(size=32)
    portrait = Image.new("RGB", (20, 40), (0, 0, 0))
    array = preprocessing.to_array(portrait)

    assert array.shape == (32, 32, 3)
    assert (array[:, :8] == 255).all()
    assert (array[:, 8:24] == 0).all()


def test_preprocessing_round_trips() -> None:
    preprocessing = Preprocessing(size=240, mean=(0.5, 0.4, 0.3), std=(0.2, 0.2, 0.2))

    assert Preprocessing.from_dict(preprocessing.to_dict()) == preprocessing


def test_preprocessing_rejects_tiny_size() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        Preprocessing(size=4)


_CPUINFO_AVX2 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
_CPUINFO_AMX = "processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_tile amx_bf16\n"


@pytest.mark.parametrize(("cpuinfo", "expected"), [(_CPUINFO_AVX2, "fp32"), (_CPUINFO_AMX, "bf16")])
def test_auto_precision_follows_cpu_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpuinfo: str, expected: str
) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo, encoding="utf-8")
    monkeypatch.setattr(embedder_module, "_CPUINFO", path)
    assert resolve_precision("auto", "cpu") == expected
    assert has_native_bf16("cpu") is (expected == "bf16")


def test_auto_precision_without_cpuinfo_is_fp32(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedder_module, "_CPUINFO", tmp_path / "missing")
    assert resolve_precision("auto", "cpu") == "fp32"


def test_explicit_precision_is_kept_and_unknown_is_refused() -> None:
    assert resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("fp32", "cpu") == "fp32"
    with pytest.raises(ValueError, match="fp16"):
        resolve_precision("fp16", "cpu")
