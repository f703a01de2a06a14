"""Training, publishing, loading and running the head-attire classifier on real photos."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from classifier.artifact import load_artifact
from classifier.colour import COLOUR_FEATURES_VERSION, pixel_colour_features
from classifier.errors import ModelLoadError
from classifier.head import detect_head
from classifier.images import load_image
from classifier.predict import HeadAttire, HeadAttireClassifier, LabelPrediction, PhotoAnalysis
from classifier.taxonomy import COLOUR, LABEL_SETS
from classifier.training import TrainingResult
from classifier.worn import worn_pixels
from tests.classifier.tiny_model import train_tiny_classifier

CCP_HAT_PHOTO = "0004"


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home") / "models" / "classifier"


@pytest.fixture(scope="module")
def trained(shared_data: Path, models_root: Path) -> TrainingResult:
    return train_tiny_classifier(shared_data, models_root)


@pytest.fixture(scope="module")
def loaded(trained: TrainingResult, models_root: Path) -> HeadAttireClassifier:
    return HeadAttireClassifier.load(models_root)


def test_training_publishes_current_version(trained: TrainingResult, models_root: Path) -> None:
    current = (models_root / "CURRENT").read_text(encoding="utf-8").strip()
    assert current == trained.directory.name
    assert (trained.directory / "heads.pt").is_file()
    assert (trained.directory / "metadata.json").is_file()


def test_training_reports_validation_metrics(trained: TrainingResult) -> None:
    for task in LABEL_SETS:
        accuracy = trained.metrics[task]["accuracy"]
        if trained.metrics[task]["samples"]:
            assert 0.0 <= accuracy["value"] <= 1.0
            assert accuracy["low"] <= accuracy["value"] <= accuracy["high"]


def test_metadata_stores_labels_and_display_names(trained: TrainingResult) -> None:
    metadata = json.loads((trained.directory / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["labels"]["type"][0] == {"name": "beanie", "en": "Beanie", "zh-CN": "毛线帽"}
    assert metadata["preprocessing"]["size"] == 224
    assert metadata["split"]["by"] == "product_code"


def test_metadata_records_colour_fit(trained: TrainingResult) -> None:
    metadata = json.loads((trained.directory / "metadata.json").read_text(encoding="utf-8"))
    colour_head = metadata["validation_metrics"]["colour_head"]
    assert colour_head["penalty"] in (0.0015, 0.005, 0.015)
    assert set(colour_head["cross_validation_accuracy"]) == {"0.0015", "0.005", "0.015"}
    assert metadata["heads"]["colour_features_version"] == COLOUR_FEATURES_VERSION


def test_artifact_round_trip(trained: TrainingResult, models_root: Path) -> None:
    artifact = load_artifact(models_root)
    assert artifact.model_version == trained.artifact.model_version
    for name, tensor in trained.artifact.heads.state_dict().items():
        assert np.array_equal(tensor.numpy(), artifact.heads.state_dict()[name].numpy()), name


def _copy_with_metadata(
    trained: TrainingResult, tmp_path: Path, change: Callable[[dict[str, Any]], None]
) -> Path:
    """Copy the trained version under tmp_path, apply `change` to its metadata, return the root."""
    root = tmp_path / "classifier"
    shutil.copytree(trained.directory, root / trained.directory.name)
    (root / "CURRENT").write_text(trained.directory.name + "\n", encoding="utf-8")
    metadata_path = root / trained.directory.name / "metadata.json"
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    change(metadata)
    metadata_path.write_text(json.dumps(metadata), encoding="utf-8")
    return root


def test_load_rejects_changed_label_lists(trained: TrainingResult, tmp_path: Path) -> None:
    def change(metadata: dict[str, Any]) -> None:
        metadata["label_sets_fingerprint"]["colour"] = ["black", "white"]

    root = _copy_with_metadata(trained, tmp_path, change)

    with pytest.raises(ModelLoadError, match="colour") as error:
        load_artifact(root)
    assert "milliner train classifier" in str(error.value)


def test_load_rejects_other_colour_features(trained: TrainingResult, tmp_path: Path) -> None:
    def change(metadata: dict[str, Any]) -> None:
        metadata["heads"]["colour_features_version"] = COLOUR_FEATURES_VERSION - 1

    root = _copy_with_metadata(trained, tmp_path, change)

    with pytest.raises(ModelLoadError, match="colour features of version") as error:
        load_artifact(root)
    assert "milliner train classifier" in str(error.value)


def test_classify_with_old_artifact_exits_4(
    trained: TrainingResult, tmp_path: Path, shared_data: Path
) -> None:
    from recsys.cli import EXIT_MISSING_ARTIFACT, main

    def change(metadata: dict[str, Any]) -> None:
        metadata["heads"]["colour_features_version"] = COLOUR_FEATURES_VERSION - 1

    # The CLI reads the classifier from HOME/models/classifier.
    _copy_with_metadata(trained, tmp_path / "home" / "models", change)
    photo = sorted((shared_data / "hm-week" / "images").glob("*.jpg"))[0]

    code = main(["--home", str(tmp_path / "home"), "classify", str(photo)])

    assert code == EXIT_MISSING_ARTIFACT


def test_load_without_artifact_names_train_command(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="milliner train classifier"):
        HeadAttireClassifier.load(tmp_path / "classifier")


def test_analyse_product_photo(loaded: HeadAttireClassifier, shared_data: Path) -> None:
    photo = sorted((shared_data / "hm-week" / "images").glob("*.jpg"))[0]
    analysis = loaded.analyse(load_image(photo), kind="product")
    assert analysis.kind == "product"
    assert analysis.head_box is None
    assert analysis.labels is not None
    for task, label_set in LABEL_SETS.items():
        prediction = getattr(analysis.labels, task)
        assert prediction.name in label_set
        assert 0.0 <= prediction.confidence <= 1.0
    assert analysis.embedding.dtype == np.float32
    assert analysis.embedding.shape == (loaded.dim,)
    assert np.linalg.norm(analysis.embedding) == pytest.approx(1.0, abs=1e-5)


def test_analyse_person_photo_finds_head(loaded: HeadAttireClassifier, shared_data: Path) -> None:
    image = load_image(shared_data / "ccp" / "photos" / f"{CCP_HAT_PHOTO}.jpg")
    analysis = loaded.analyse(image, kind="auto")
    assert analysis.kind == "person"
    assert analysis.head_box is not None
    x0, y0, x1, y1 = analysis.head_box
    assert 0 <= x0 < x1 <= image.width
    assert 0 <= y0 < y1 <= image.height
    # The head of a standing person is in the upper half of a full-length photo.
    assert y1 <= image.height / 2


def test_person_colour_from_worn_pixels(loaded: HeadAttireClassifier, shared_data: Path) -> None:
    image = load_image(shared_data / "ccp" / "photos" / f"{CCP_HAT_PHOTO}.jpg")
    detection = detect_head(image)
    assert detection is not None

    analysis = loaded.analyse(image, kind="person")

    features = pixel_colour_features(worn_pixels(image, detection.box, detection.face_box))
    with torch.inference_mode():
        logits = loaded.artifact.heads.colour_logits(torch.from_numpy(features[None]))
    probabilities = torch.softmax(logits, 1)[0]
    assert analysis.labels is not None
    assert analysis.labels.colour.name == COLOUR.names[int(probabilities.argmax())]
    assert analysis.labels.colour.confidence == pytest.approx(float(probabilities.max()), abs=1e-5)


def test_analyse_rejects_unknown_kind(loaded: HeadAttireClassifier, shared_data: Path) -> None:
    photo = sorted((shared_data / "hm-week" / "images").glob("*.jpg"))[0]
    with pytest.raises(ValueError, match="invalid photo kind"):
        loaded.analyse(load_image(photo), kind="selfie")  # type: ignore[arg-type]


def test_embed_files_reports_broken_file(
    loaded: HeadAttireClassifier, shared_data: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    photo = sorted((shared_data / "hm-week" / "images").glob("*.jpg"))[0]
    batches = list(loaded.embed_files([photo, broken]))
    assert [b.paths for b in batches] == [[photo]]
    assert [path for path, _ in batches[0].failures] == [broken]
    assert len(batches[0].attire) == 1
    assert batches[0].vectors.shape == (1, loaded.dim)


def test_classify_command_prints_json_lines(
    loaded: HeadAttireClassifier,
    models_root: Path,
    shared_data: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from recsys.cli import main

    product = sorted((shared_data / "hm-week" / "images").glob("*.jpg"))[0]
    person = shared_data / "ccp" / "photos" / f"{CCP_HAT_PHOTO}.jpg"
    home = models_root.parent.parent

    code = main(["--home", str(home), "--no-progress", "classify", str(product), str(person)])

    assert code == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [record["path"] for record in records] == [str(product), str(person)]
    for record in records:
        for key in ("type", "type_confidence", "colour", "pattern", "material"):
            assert key in record, key
        assert record["type"] in LABEL_SETS["type"]
    assert records[0]["kind"] == "product"
    assert "head_box" not in records[0]
    assert records[1]["kind"] == "person"
    assert len(records[1]["head_box"]) == 4


def test_classify_command_without_classifier_exits_4(tmp_path: Path, shared_data: Path) -> None:
    from recsys.cli import main

    product = sorted((shared_data / "hm-week" / "images").glob("*.jpg"))[0]
    assert main(["--home", str(tmp_path), "classify", str(product)]) == 4


@pytest.mark.parametrize(
    ("field", "value"),
    [("heads", None), ("preprocessing", None), ("heads", "text"), ("hidden_dim", "abc")],
)
def test_load_rejects_malformed_metadata(
    trained: TrainingResult, tmp_path: Path, field: str, value: object
) -> None:
    def change(metadata: dict[str, Any]) -> None:
        if field == "hidden_dim":
            metadata["heads"]["hidden_dim"] = value
        elif value is None:
            del metadata[field]
        else:
            metadata[field] = value

    root = _copy_with_metadata(trained, tmp_path, change)
    with pytest.raises(ModelLoadError, match=r"metadata\.json is invalid") as error:
        load_artifact(root)
    assert "milliner train classifier" in str(error.value)


def test_load_rejects_non_object_metadata(trained: TrainingResult, tmp_path: Path) -> None:
    root = _copy_with_metadata(trained, tmp_path, lambda metadata: None)
    (root / trained.directory.name / "metadata.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="not a metadata object"):
        load_artifact(root)


def test_evaluate_classifier_names_missing_catalog(
    trained: TrainingResult, models_root: Path, tmp_path: Path
) -> None:
    from recsys.cli import EXIT_INVALID_INPUT, EXIT_USAGE, main

    home = models_root.parent.parent
    missing = tmp_path / "moved-catalog"
    code = main(["--home", str(home), "evaluate", "classifier", "--data", str(missing)])
    assert code == EXIT_INVALID_INPUT
    assert main(["--home", str(home), "evaluate", "ranking", "--data", str(missing)]) == EXIT_USAGE
    assert main(["--home", str(home), "train", "classifier", "--data", str(missing)]) == (
        EXIT_INVALID_INPUT
    )


def test_saliency_rejects_colour(loaded: HeadAttireClassifier, shared_data: Path) -> None:
    from classifier.saliency import grad_cam

    image = load_image(sorted((shared_data / "hm-week" / "images").glob("*.jpg"))[0])
    heads, preprocessing = loaded.artifact.heads, loaded.preprocessing
    heat, label = grad_cam(loaded.network, heads, preprocessing, image, task="type")
    assert heat.shape == (preprocessing.size, preprocessing.size)
    assert heat.min() >= 0.0
    assert heat.max() <= 1.0
    assert 0 <= label < len(LABEL_SETS["type"])
    with pytest.raises(ValueError, match="colour head reads pixel colour features"):
        grad_cam(loaded.network, heads, preprocessing, image, task="colour")


def test_held_out_photos_read_in_training_order(
    loaded: HeadAttireClassifier, shared_data: Path
) -> None:
    from classifier.evaluation import held_out_samples

    recorded = held_out_samples(loaded)
    # hm-2y repeats hm-week's head attire at a lower resolution: given first, it
    # must still not replace the photos the classifier was measured on.
    swapped = held_out_samples(loaded, [shared_data / "hm-2y", shared_data / "hm-week"])
    assert [s.article_id for s in swapped] == [s.article_id for s in recorded]
    assert {s.source for s in swapped} == {"hm-week"}
    hm_2y = set(pd.read_csv(shared_data / "hm-2y" / "articles.csv", dtype=str)["article_id"])
    assert hm_2y & {s.article_id for s in recorded}


def test_preprocessing_rejects_wrong_channel_count() -> None:
    from classifier.preprocess import Preprocessing

    with pytest.raises(ValueError, match="mean needs 3 values"):
        Preprocessing(mean=(0.5,))  # type: ignore[arg-type]


def _analysis(kind: str, type_name: str) -> PhotoAnalysis:
    labels = HeadAttire(
        LabelPrediction(type_name, 0.9),
        LabelPrediction("black", 0.8),
        LabelPrediction("solid", 0.7),
        LabelPrediction("wool", 0.6),
    )
    worn = labels if type_name != "none" else None
    box = (1, 2, 30, 40) if kind == "person" else None
    hat = 0.123456 if kind == "person" else None
    return PhotoAnalysis(kind, box, worn, np.zeros(4, np.float32), labels, hat)  # type: ignore[arg-type]


def test_record_of_bare_head_has_no_colour() -> None:
    record = _analysis("person", "none").to_dict()
    assert record["type"] == "none"
    assert record["colour"] is None
    assert record["pattern"] is None
    assert record["material_confidence"] is None
    assert record["head_box"] == [1, 2, 30, 40]
    assert record["hat_probability"] == 0.1235


def test_record_of_worn_hat_keeps_labels() -> None:
    record = _analysis("person", "beanie").to_dict()
    assert record["colour"] == "black"
    assert record["colour_confidence"] == 0.8


def test_record_of_other_product_keeps_colour() -> None:
    record = _analysis("product", "none").to_dict()
    assert record["colour"] == "black"
    assert "head_box" not in record


@pytest.mark.parametrize("content", [b"", b"garbage"])
def test_load_rejects_damaged_weights(
    trained: TrainingResult, tmp_path: Path, content: bytes
) -> None:
    root = _copy_with_metadata(trained, tmp_path, lambda metadata: None)
    (root / trained.directory.name / "heads.pt").write_bytes(content)

    with pytest.raises(ModelLoadError, match="cannot read the classifier") as error:
        load_artifact(root)
    assert "weights_only=False" not in str(error.value)
