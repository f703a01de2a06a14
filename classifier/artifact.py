"""Save and load the trained classifier: weights, preprocessing, labels, versions, metrics.

A version directory under `models/classifier/` holds:

- `heads.pt`: the state dict of `AttireHeads` (and of the optional hat-presence
  head), loaded with `weights_only=True`;
- `metadata.json`: the head sizes, the backbone name and weights digest, the
  preprocessing, each task's label names with their English and zh-CN display
  names, the label-set fingerprint, the training configuration and the
  validation metrics.

The backbone itself is not copied: it is the frozen EfficientNet-Lite0 whose
weights digest the metadata names, and loading checks that digest.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from classifier.colour import COLOUR_FEATURES_VERSION
from classifier.errors import ModelLoadError
from classifier.heads import AttireHeads
from classifier.preprocess import Preprocessing
from classifier.publish import current_version_dir, publish_version, write_json_atomic
from classifier.taxonomy import LABEL_SETS, label_sets_fingerprint

__all__ = [
    "FORMAT_VERSION",
    "TRAIN_COMMAND",
    "ClassifierArtifact",
    "load_artifact",
    "save_artifact",
]

logger = logging.getLogger(__name__)

# Format 2: the colour head reads the pixel colour features alone.
FORMAT_VERSION = 2
TRAIN_COMMAND = "milliner train classifier --data DIR"
_WEIGHTS = "heads.pt"
_METADATA = "metadata.json"


@dataclass
class ClassifierArtifact:
    """A trained classifier as it is stored.

    Attributes:
        heads: the trained heads, in eval mode.
        preprocessing: the transform the heads were trained with.
        backbone_name, backbone_digest: the frozen backbone and the first 12 hex
            digits of its weights file's SHA-256.
        version: the name of the version directory ("" before it is published).
        metadata: training configuration, split, validation metrics, timings.
        hat_presence: optional state dict of a linear hat / no-hat head over
            backbone features of head crops ("weight" (1, 1280), "bias" (1,),
            "mean" (1280,), "std" (1280,)).
    """

    heads: AttireHeads
    preprocessing: Preprocessing
    backbone_name: str
    backbone_digest: str
    version: str
    metadata: dict[str, Any] = field(default_factory=dict)
    hat_presence: dict[str, torch.Tensor] | None = None

    @property
    def model_version(self) -> str:
        """The identifier stored with every embedding and label this model makes."""
        return _model_version(self.backbone_name, self.backbone_digest, self.version)


def _model_version(backbone_name: str, backbone_digest: str, version: str) -> str:
    return f"attire-{backbone_name}-{backbone_digest}-{version}"


def _label_lists() -> dict[str, list[dict[str, str]]]:
    return {
        task: [
            {"name": label.name, "en": label.en, "zh-CN": label.zh_cn} for label in labels.labels
        ]
        for task, labels in LABEL_SETS.items()
    }


def save_artifact(artifact: ClassifierArtifact, root: Path) -> Path:
    """Publish the artifact as a new version under `root` and return its directory."""
    with publish_version(root) as (staging, version):
        state: dict[str, Any] = {"heads": artifact.heads.state_dict()}
        if artifact.hat_presence is not None:
            state["hat_presence"] = artifact.hat_presence
        torch.save(state, staging / _WEIGHTS)
        metadata = {
            "format_version": FORMAT_VERSION,
            "version": version,
            "model_version": _model_version(
                artifact.backbone_name, artifact.backbone_digest, version
            ),
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "backbone": {
                "name": artifact.backbone_name,
                "weights_sha256": artifact.backbone_digest,
            },
            "heads": {
                "hidden_dim": artifact.heads.hidden_dim,
                "embedding_dim": artifact.heads.embedding_dim,
                "colour_features_version": COLOUR_FEATURES_VERSION,
            },
            "preprocessing": artifact.preprocessing.to_dict(),
            "label_sets_fingerprint": label_sets_fingerprint(),
            "labels": _label_lists(),
            **artifact.metadata,
        }
        write_json_atomic(staging / _METADATA, metadata)
    return root / version


def load_artifact(root: Path, *, version: str | None = None) -> ClassifierArtifact:
    """Load the current (or the named) version under `root`.

    Raises:
        ModelLoadError: nothing was published, the files are unreadable, the
            format is unknown, metadata.json lacks a field or has one of the
            wrong type, the stored label lists differ from
            `label_sets_fingerprint()` (the class indices would mean other
            labels), or the colour features are of another version. Every
            message names `milliner train classifier`.
    """
    if version is None:
        directory = current_version_dir(root, produced_by=TRAIN_COMMAND)
    else:
        directory = root / version
        if not directory.is_dir():
            raise ModelLoadError(f"classifier version {directory} not found: run `{TRAIN_COMMAND}`")
    try:
        metadata = json.loads((directory / _METADATA).read_text(encoding="utf-8"))
        state = torch.load(directory / _WEIGHTS, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises unrelated types (UnpicklingError, EOFError)
        # Only the first line of the reason: torch's advice that follows it
        # (loading with weights_only=False) would run code from the file.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ModelLoadError(
            f"cannot read the classifier in {directory} ({type(error).__name__}: {reason}): "
            f"run `{TRAIN_COMMAND}` again"
        ) from error

    if not isinstance(metadata, dict) or not isinstance(state, dict):
        raise ModelLoadError(
            f"classifier files in {directory} are not a metadata object and a state "
            f"dictionary: run `{TRAIN_COMMAND}` again"
        )
    try:
        artifact = _artifact_from(directory, metadata, state)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        # A hand-edited or truncated metadata.json: a field is missing or has the wrong type.
        raise ModelLoadError(
            f"classifier metadata in {directory / _METADATA} is invalid ({error!r}): "
            f"run `{TRAIN_COMMAND}` again"
        ) from error
    logger.debug("loaded classifier %s from %s", artifact.model_version, directory)
    return artifact


def _artifact_from(
    directory: Path, metadata: dict[str, Any], state: dict[str, Any]
) -> ClassifierArtifact:
    """Check the metadata against this code and build the artifact.

    Raises:
        ModelLoadError: the format, label lists or colour features differ.
        KeyError, TypeError, AttributeError, ValueError: a field is missing or malformed.
    """
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(
            f"classifier in {directory} has format {metadata.get('format_version')!r}, "
            f"expected {FORMAT_VERSION}: run `{TRAIN_COMMAND}` again"
        )
    stored = metadata.get("label_sets_fingerprint")
    current = label_sets_fingerprint()
    if stored != current:
        changed = sorted(
            task
            for task in set(current) | set(stored or {})
            if (stored or {}).get(task) != current.get(task)
        )
        raise ModelLoadError(
            f"classifier in {directory} was trained on other label lists (tasks "
            f"{', '.join(changed)} differ from classifier.taxonomy): run `{TRAIN_COMMAND}` again"
        )

    sizes = metadata["heads"]
    if sizes.get("colour_features_version") != COLOUR_FEATURES_VERSION:
        raise ModelLoadError(
            f"classifier in {directory} was trained on colour features of version "
            f"{sizes.get('colour_features_version')!r}, and this code computes version "
            f"{COLOUR_FEATURES_VERSION}: run `{TRAIN_COMMAND}` again"
        )
    heads = AttireHeads(
        hidden_dim=int(sizes["hidden_dim"]),
        embedding_dim=int(sizes["embedding_dim"]),
    )
    try:
        heads.load_state_dict(state["heads"])
    except (KeyError, RuntimeError) as error:
        raise ModelLoadError(
            f"classifier weights in {directory} do not fit the heads ({error}): "
            f"run `{TRAIN_COMMAND}` again"
        ) from error
    reserved = {
        "format_version",
        "version",
        "model_version",
        "backbone",
        "heads",
        "preprocessing",
        "label_sets_fingerprint",
        "labels",
    }
    artifact = ClassifierArtifact(
        heads=heads.eval(),
        preprocessing=Preprocessing.from_dict(metadata["preprocessing"]),
        backbone_name=str(metadata["backbone"]["name"]),
        backbone_digest=str(metadata["backbone"]["weights_sha256"]),
        version=str(metadata["version"]),
        metadata={key: value for key, value in metadata.items() if key not in reserved},
        hat_presence=state.get("hat_presence"),
    )
    return artifact
