"""ONNX Runtime computes the same features, embeddings and labels as torch, on real photos."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from classifier.backbone import load_backbone
from classifier.embedder import ImageEmbedder
from classifier.images import load_image
from classifier.predict import HeadAttireClassifier
from classifier.preprocess import Preprocessing
from classifier.runtime import OnnxFeatures, resolve_runtime
from tests.classifier.tiny_model import train_tiny_classifier

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "hm-week" / "images").glob("*.jpg"))[:5]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


@pytest.mark.parametrize(
    ("runtime", "device", "precision", "expected"),
    [
        ("auto", "cpu", "fp32", "onnxruntime"),
        ("auto", "cpu", "bf16", "torch"),
        ("auto", "cuda", "fp32", "torch"),
        ("torch", "cpu", "fp32", "torch"),
        ("onnxruntime", "cpu", "fp32", "onnxruntime"),
    ],
)
def test_resolve_runtime(runtime: str, device: str, precision: str, expected: str) -> None:
    assert resolve_runtime(runtime, torch.device(device), precision) == expected


@pytest.mark.parametrize(("device", "precision"), [("cpu", "bf16"), ("cuda", "fp32")])
def test_onnxruntime_refuses_what_it_does_not_run(device: str, precision: str) -> None:
    with pytest.raises(ValueError, match="--runtime torch"):
        resolve_runtime("onnxruntime", torch.device(device), precision)


def test_unknown_runtime_is_named() -> None:
    with pytest.raises(ValueError, match="'tensorrt'"):
        resolve_runtime("tensorrt", CPU, "fp32")


def test_onnx_features_equal_torch(photos: list[Path]) -> None:
    preprocessing = Preprocessing()
    network, _ = load_backbone()
    onnx = OnnxFeatures(network, size=preprocessing.size)
    pixels = np.stack([preprocessing.to_array(load_image(path)) for path in photos])
    inputs = preprocessing.normalise(torch.from_numpy(pixels))

    with torch.inference_mode():
        expected = network(inputs).numpy()
    together = onnx(inputs).numpy()
    alone = np.vstack([onnx(inputs[i : i + 1]).numpy() for i in range(len(photos))])

    assert together.shape == expected.shape == (len(photos), 1280)
    assert _cosines(together, expected).min() > 0.9999
    np.testing.assert_allclose(alone, together, rtol=1e-3, atol=1e-4)


def test_onnx_features_survive_pickle(photos: list[Path]) -> None:
    """A Ray worker receives the runtime pickled, before or after its first call."""
    preprocessing = Preprocessing()
    network, _ = load_backbone()
    inputs = preprocessing.normalise(
        torch.from_numpy(preprocessing.to_array(load_image(photos[0])).copy())[None]
    )
    with torch.inference_mode():
        expected = network(inputs).numpy()
    unused = OnnxFeatures(network, size=preprocessing.size)

    copy_before_use = pickle.loads(pickle.dumps(unused))
    first = unused(inputs).numpy()
    copy_after_use = pickle.loads(pickle.dumps(unused))

    assert _cosines(first, expected).min() > 0.9999
    np.testing.assert_allclose(copy_before_use(inputs).numpy(), first, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(copy_after_use(inputs).numpy(), first, rtol=1e-5, atol=1e-6)


def test_embedder_runtimes_agree(photos: list[Path]) -> None:
    by_runtime = {}
    for runtime in ("torch", "onnxruntime"):
        embedder = ImageEmbedder(batch_size=3, device="cpu", runtime=runtime)
        assert embedder.runtime == runtime
        batches = list(embedder.embed_files(photos))
        by_runtime[runtime] = (embedder.model_version, np.vstack([b.vectors for b in batches]))

    assert by_runtime["torch"][0] == by_runtime["onnxruntime"][0]
    assert _cosines(by_runtime["torch"][1], by_runtime["onnxruntime"][1]).min() > 0.9999


def test_classifier_runtimes_agree(shared_data: Path, photos: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "classifier"
    train_tiny_classifier(shared_data, root)
    results = {}
    for runtime in ("torch", "onnxruntime"):
        classifier = HeadAttireClassifier.load(root, batch_size=2, device="cpu", runtime=runtime)
        assert classifier.runtime == runtime
        batches = list(classifier.embed_files(photos))
        assert [path for batch in batches for path in batch.paths] == photos
        results[runtime] = (
            [attire for batch in batches for attire in batch.attire],
            np.vstack([batch.vectors for batch in batches]),
        )

    torch_attire, torch_vectors = results["torch"]
    onnx_attire, onnx_vectors = results["onnxruntime"]
    assert [a.type.name for a in onnx_attire] == [a.type.name for a in torch_attire]
    assert [a.colour.name for a in onnx_attire] == [a.colour.name for a in torch_attire]
    assert [a.pattern.name for a in onnx_attire] == [a.pattern.name for a in torch_attire]
    assert _cosines(onnx_vectors, torch_vectors).min() > 0.9999
