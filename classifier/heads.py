"""The trainable part of the classifier: multi-task heads over frozen backbone features.

Input: the backbone's pooled features (N, 1280) and the colour features of the
product pixels (N, COLOUR_FEATURE_DIM). A shared layer feeds three classification
heads (type, pattern, material) and a projection to the style embedding. The
colour head reads the pixel colour features alone: the backbone was trained to
ignore colour shifts, and on held-out head attire a colour head that also read
the shared layer was less accurate (docs/classifier.md). Training fits the
colour head on its own (`classifier.colour_head`).
"""

from __future__ import annotations

import torch
from torch import nn

from classifier.backbone import EMBEDDING_DIM
from classifier.colour import COLOUR_FEATURE_DIM
from classifier.taxonomy import LABEL_SETS

__all__ = ["TASKS", "AttireHeads"]

TASKS: tuple[str, ...] = tuple(LABEL_SETS)


# Pixel colour features are standardised with a spread of at least
# _COLOUR_STD_FLOOR and then clipped to +-_COLOUR_CLIP standard deviations.
# Without these, a feature that barely varies on the catalog (the background
# colour, a rare histogram cell) reached 1,900 standard deviations on a photo
# unlike the catalog and decided its colour alone. Both values were checked on
# held-out head attire, where they left colour accuracy within two photos.
_COLOUR_STD_FLOOR = 0.05
_COLOUR_CLIP = 5.0


class AttireHeads(nn.Module):
    """Shared hidden layer, four classification heads and an embedding projection.

    `forward` returns (logits by task, embedding), where each logits tensor is
    (N, number of labels of the task) and the embedding is (N, embedding_dim),
    L2-normalised. The input statistics (`feature_mean`, `feature_std`,
    `colour_mean`, `colour_std`) are buffers, so they are saved with the weights.
    """

    def __init__(
        self,
        *,
        hidden_dim: int = 512,
        embedding_dim: int = 128,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.embedding_dim = embedding_dim
        self.feature_mean: torch.Tensor
        self.feature_std: torch.Tensor
        self.colour_mean: torch.Tensor
        self.colour_std: torch.Tensor
        self.register_buffer("feature_mean", torch.zeros(EMBEDDING_DIM))
        self.register_buffer("feature_std", torch.ones(EMBEDDING_DIM))
        self.register_buffer("colour_mean", torch.zeros(COLOUR_FEATURE_DIM))
        self.register_buffer("colour_std", torch.ones(COLOUR_FEATURE_DIM))
        self.shared = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(EMBEDDING_DIM, hidden_dim),
            nn.GELU(),
            nn.Dropout(dropout),
        )
        self.projection = nn.Linear(hidden_dim, embedding_dim)
        # ModuleDict keys become attributes, and nn.Module already has a `type` method.
        self.classifiers = nn.ModuleDict(
            {
                f"{task}_head": nn.Linear(
                    COLOUR_FEATURE_DIM if task == "colour" else hidden_dim, len(labels)
                )
                for task, labels in LABEL_SETS.items()
            }
        )

    def set_input_statistics(self, features: torch.Tensor, colour: torch.Tensor) -> None:
        """Store the per-dimension mean and standard deviation of the training inputs."""
        self.feature_mean.copy_(features.mean(0))
        self.feature_std.copy_(features.std(0).clamp_min(1e-6))
        self.colour_mean.copy_(colour.mean(0))
        self.colour_std.copy_(colour.std(0).clamp_min(_COLOUR_STD_FLOOR))

    def standardise_colour(self, colour: torch.Tensor) -> torch.Tensor:
        """Return pixel colour features (N, COLOUR_FEATURE_DIM) as the colour head reads them."""
        standardised = (colour - self.colour_mean) / self.colour_std
        return standardised.clamp(-_COLOUR_CLIP, _COLOUR_CLIP)

    def colour_logits(self, colour: torch.Tensor) -> torch.Tensor:
        """Return the colour head's logits (N, colours) for pixel colour features (N, D)."""
        head = self.classifiers["colour_head"]
        logits: torch.Tensor = head(self.standardise_colour(colour))
        return logits

    def forward(
        self, features: torch.Tensor, colour: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        hidden = self.shared((features - self.feature_mean) / self.feature_std)
        embedding = nn.functional.normalize(self.projection(hidden), dim=1)
        logits: dict[str, torch.Tensor] = {}
        for task in TASKS:
            if task == "colour":
                logits[task] = self.colour_logits(colour)
            else:
                logits[task] = self.classifiers[f"{task}_head"](hidden)
        return logits, embedding
