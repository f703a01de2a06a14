"""Inference with a trained head-attire classifier: labels and style embeddings.

`HeadAttireClassifier` runs the frozen EfficientNet-Lite0 backbone and the
trained heads of one artifact. Product photos are classified whole. Photos of
people are first cut down to the head region found by `classifier.head`,
because a full-length street photo shows mostly the body.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from classifier.artifact import TRAIN_COMMAND, ClassifierArtifact, load_artifact
from classifier.backbone import Lite0Features, load_backbone
from classifier.colour import pixel_colour_features
from classifier.embedder import EmbeddedBatch, prefetched_batches
from classifier.errors import InvalidImageError, ModelLoadError
from classifier.hat_presence import fallback_head_box, hat_probabilities
from classifier.head import detect_head
from classifier.heads import TASKS
from classifier.images import load_image
from classifier.preprocess import Preprocessing
from classifier.runtime import feature_extractor, resolve_runtime
from classifier.taxonomy import LABEL_SETS, TYPE
from classifier.worn import worn_pixels

__all__ = [
    "ClassifiedBatch",
    "HeadAttire",
    "HeadAttireClassifier",
    "LabelPrediction",
    "PhotoAnalysis",
]

logger = logging.getLogger(__name__)

PhotoKind = Literal["product", "person", "auto"]
_HAT_TYPES = ("beanie", "cap", "brimmed_hat")
# A decoded photo ready for the network: its letterboxed uint8 (size, size, 3)
# array and its pixel colour features. A string is the reason decoding failed.
_Prepared = tuple[np.ndarray, np.ndarray] | str


@dataclass(frozen=True)
class LabelPrediction:
    """One task's label: the English label name (e.g. "beanie") and its probability, 0..1."""

    name: str
    confidence: float


@dataclass(frozen=True)
class HeadAttire:
    """The four labels of one piece of head attire."""

    type: LabelPrediction
    colour: LabelPrediction
    pattern: LabelPrediction
    material: LabelPrediction

    def to_dict(self) -> dict[str, str | float]:
        """Return the flat form used in JSON output: `type`, `type_confidence`, ..."""
        flat: dict[str, str | float] = {}
        for task in TASKS:
            prediction: LabelPrediction = getattr(self, task)
            flat[task] = prediction.name
            flat[f"{task}_confidence"] = round(prediction.confidence, 4)
        return flat


@dataclass(frozen=True)
class PhotoAnalysis:
    """The head attire found in one photo.

    Attributes:
        kind: "person" for a photo of a person, "product" for a product photo.
        head_box: (x0, y0, x1, y1) in pixels of the upright image, person photos only.
        attire: the labels, or None when nothing is worn (type "none") or no head was found.
        embedding: float32 (dim,), L2-normalised, in the space of the index built
            with this model. For a person it embeds the head region, or the whole
            photo when no head was found.
        labels: the labels even when `attire` is None (type "none" included).
        hat_probability: probability that a hat is worn, from the hat-presence
            head, for person photos when the artifact has that head.
    """

    kind: Literal["person", "product"]
    head_box: tuple[int, int, int, int] | None
    attire: HeadAttire | None
    embedding: np.ndarray
    labels: HeadAttire | None = None
    hat_probability: float | None = None

    def to_dict(self) -> dict[str, object]:
        """Return the JSON form of the analysis, as `milliner classify` prints it.

        It contains `kind` and the labels, and for a person `head_box` and
        `hat_probability`.

        On a person with nothing worn (type "none"), colour, pattern and
        material are None: they would describe the hair or the street above
        the face, not something worn.
        """
        record: dict[str, object] = {"kind": self.kind}
        if self.labels is not None:
            record.update(self.labels.to_dict())
            if self.kind == "person" and self.attire is None:
                for task in TASKS:
                    if task != "type":
                        record[task] = None
                        record[f"{task}_confidence"] = None
        if self.kind == "person":
            record["head_box"] = list(self.head_box) if self.head_box else None
            record["hat_probability"] = (
                round(self.hat_probability, 4) if self.hat_probability is not None else None
            )
        return record


@dataclass
class ClassifiedBatch(EmbeddedBatch):
    """An `EmbeddedBatch` with the labels of each decoded file, in the order of `paths`."""

    attire: list[HeadAttire] = field(default_factory=list)


class HeadAttireClassifier:
    """A loaded classifier artifact with its backbone.

    Attributes:
        model_version: identifies the artifact; stored with every embedding and label.
        dim: size of the style embedding.
        runtime: where the backbone runs, "torch" or "onnxruntime" (see `classifier.runtime`).
    """

    def __init__(
        self,
        artifact: ClassifierArtifact,
        network: Lite0Features,
        *,
        device: str | None = None,
        batch_size: int = 32,
        decode_threads: int = 2,
        runtime: str = "torch",
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if decode_threads < 1:
            raise ValueError(f"decode_threads must be at least 1, got {decode_threads}")
        self.artifact = artifact
        self.preprocessing = artifact.preprocessing
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.batch_size = batch_size
        self.decode_threads = decode_threads
        self.runtime = resolve_runtime(runtime, self.device, "fp32")
        self._features = feature_extractor(
            network, runtime=self.runtime, size=self.preprocessing.size
        )
        # The torch module stays for what needs its layers (saliency pictures).
        self.network = network.to(self.device).eval()
        self._heads = artifact.heads.to(self.device).eval()
        self.model_version = artifact.model_version
        self.dim = artifact.heads.embedding_dim

    @classmethod
    def load(
        cls,
        directory: Path,
        *,
        weights_path: Path | None = None,
        device: str | None = None,
        batch_size: int = 32,
        runtime: str = "torch",
    ) -> HeadAttireClassifier:
        """Load the current version under `directory` (the `models/classifier` root).

        `runtime` is "torch", "onnxruntime" or "auto" (see `classifier.runtime`).

        Raises:
            ModelLoadError: no artifact, an unreadable one, label lists that differ
                from `classifier.taxonomy`, or backbone weights other than those the
                heads were trained on. The message names `milliner train classifier`.
        """
        artifact = load_artifact(Path(directory))
        network, digest = load_backbone(weights_path)
        if digest != artifact.backbone_digest:
            raise ModelLoadError(
                f"the classifier was trained on backbone weights {artifact.backbone_digest}, "
                f"but the weights loaded are {digest}: pass the same weights file or run "
                f"`{TRAIN_COMMAND}` again"
            )
        return cls(artifact, network, device=device, batch_size=batch_size, runtime=runtime)

    # -- products ---------------------------------------------------------

    @torch.inference_mode()
    def _infer(
        self, images: Sequence[Image.Image]
    ) -> tuple[list[HeadAttire], np.ndarray, np.ndarray, np.ndarray]:
        """Return labels, embeddings (N, dim), backbone features (N, 1280), type probabilities."""
        return self._infer_prepared([_prepare_image(image, self.preprocessing) for image in images])

    @torch.inference_mode()
    def _infer_prepared(
        self, prepared: Sequence[tuple[np.ndarray, np.ndarray]]
    ) -> tuple[list[HeadAttire], np.ndarray, np.ndarray, np.ndarray]:
        pixels = torch.from_numpy(np.stack([array for array, _ in prepared]))
        colour = torch.from_numpy(np.stack([features for _, features in prepared]))
        features = self._features(self.preprocessing.normalise(pixels).to(self.device))
        logits, embedding = self._heads(features.to(self.device), colour.to(self.device))
        probabilities = {
            task: torch.softmax(values, 1).cpu().numpy() for task, values in logits.items()
        }
        attire = []
        for row in range(len(prepared)):
            predictions = {}
            for task in TASKS:
                best = int(probabilities[task][row].argmax())
                predictions[task] = LabelPrediction(
                    LABEL_SETS[task].names[best], float(probabilities[task][row, best])
                )
            attire.append(HeadAttire(**predictions))
        return (
            attire,
            embedding.cpu().numpy().astype(np.float32),
            features.cpu().numpy(),
            probabilities["type"],
        )

    def classify(self, images: Sequence[Image.Image]) -> tuple[list[HeadAttire], np.ndarray]:
        """Classify and embed whole RGB images (product photos or crops).

        Returns:
            The labels of each image, and float32 embeddings (N, dim), rows
            L2-normalised; ([], (0, dim)) for no images.
        """
        if not images:
            return [], np.zeros((0, self.dim), dtype=np.float32)
        attire, embedding, _, _ = self._infer(images)
        return attire, embedding

    def embed_files(self, paths: Sequence[Path]) -> Iterator[ClassifiedBatch]:
        """Decode, classify and embed files batch by batch, in input order.

        The next batch is decoded, letterboxed and measured for colour in a
        thread pool while the current one is in the network. A file that
        cannot be decoded is reported in its batch's `failures` and never
        stops the others.
        """
        for good, failures in prefetched_batches(
            paths,
            self.batch_size,
            self.decode_threads,
            lambda path: _prepare_file(path, self.preprocessing),
        ):
            if not good:
                yield ClassifiedBatch(
                    paths=[], vectors=np.zeros((0, self.dim), dtype=np.float32), failures=failures
                )
                continue
            attire, vectors, _, _ = self._infer_prepared([result for _, result in good])
            yield ClassifiedBatch(
                paths=[path for path, _ in good],
                vectors=vectors,
                failures=failures,
                attire=attire,
            )

    # -- photos of any kind -------------------------------------------------

    def analyse(self, image: Image.Image, *, kind: PhotoKind = "auto") -> PhotoAnalysis:
        """Say what is worn on the head in a product photo or a photo of a person.

        With kind "auto" a photo counts as a person photo when a face is found
        in it. In a person photo the head region is classified; when no face is
        found in a photo passed as "person", the top-centre region of the photo
        is used, because the head of a full-length photo is usually there. When the
        artifact has a hat-presence head, it decides hat or no hat there.

        Raises:
            ValueError: `kind` is not "product", "person" or "auto".
        """
        if kind not in ("product", "person", "auto"):
            raise ValueError(f"invalid photo kind {kind!r}: use product, person or auto")
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        detection = None if kind == "product" else detect_head(rgb)
        if kind == "auto":
            kind = "person" if detection is not None else "product"
        if kind == "product":
            attire, embedding, _, _ = self._infer([rgb])
            labels = attire[0]
            worn = labels if labels.type.name != TYPE.fallback else None
            return PhotoAnalysis("product", None, worn, embedding[0], labels=labels)

        if detection is not None:
            head_box = detection.box
            crop = rgb.crop(head_box)
            # The colour is read from what is worn on top of the head, cut out of
            # the street around it (classifier.worn).
            colour_pixels = worn_pixels(rgb, head_box, detection.face_box)
        else:
            logger.debug("no face in a person photo: classifying the top-centre region")
            head_box = fallback_head_box(rgb)
            crop = rgb.crop(head_box)
            colour_pixels = np.asarray(crop)
        prepared = (self.preprocessing.to_array(crop), pixel_colour_features(colour_pixels))
        attire, embedding, features, type_probabilities = self._infer_prepared([prepared])
        labels = attire[0]
        hat_probability = None
        if self.artifact.hat_presence is not None:
            hat_probability = float(hat_probabilities(self.artifact.hat_presence, features[:1])[0])
            labels = _with_hat_decision(labels, type_probabilities[0], hat_probability)
        worn = labels if labels.type.name != TYPE.fallback else None
        return PhotoAnalysis(
            "person", head_box, worn, embedding[0], labels=labels, hat_probability=hat_probability
        )


def _with_hat_decision(
    labels: HeadAttire, type_probabilities: np.ndarray, hat_probability: float
) -> HeadAttire:
    """Let the hat-presence head decide hat or no hat on a person's head crop.

    The type head was trained on product photos and the hat-presence head on
    head crops of street photos, which it judges better. When it detects a hat,
    the type becomes the most likely hat type. When it detects none, a hat type
    becomes "none", and a scarf or hair band stays.
    """
    if hat_probability >= 0.5:
        if labels.type.name in _HAT_TYPES:
            return labels
        hat_type = max(_HAT_TYPES, key=lambda name: type_probabilities[TYPE.index(name)])
        return HeadAttire(
            LabelPrediction(hat_type, hat_probability),
            labels.colour,
            labels.pattern,
            labels.material,
        )
    if labels.type.name in _HAT_TYPES:
        return HeadAttire(
            LabelPrediction(TYPE.fallback, 1.0 - hat_probability),
            labels.colour,
            labels.pattern,
            labels.material,
        )
    return labels


def _prepare_image(
    image: Image.Image, preprocessing: Preprocessing
) -> tuple[np.ndarray, np.ndarray]:
    """Return the letterboxed network input of an RGB image and its pixel colour features."""
    return preprocessing.to_array(image), pixel_colour_features(np.asarray(image))


def _prepare_file(path: Path, preprocessing: Preprocessing) -> _Prepared:
    try:
        image = load_image(path)
    except (InvalidImageError, OSError) as error:
        return str(error)
    return _prepare_image(image, preprocessing)
