"""Batched style embeddings: images in, L2-normalised vectors out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import torch
from PIL import Image

from classifier.backbone import BACKBONE_NAME, EMBEDDING_DIM, load_backbone
from classifier.errors import InvalidImageError
from classifier.images import load_image
from classifier.preprocess import Preprocessing
from classifier.runtime import feature_extractor, resolve_runtime

__all__ = [
    "PRECISIONS",
    "BatchEmbedder",
    "EmbeddedBatch",
    "ImageEmbedder",
    "has_native_bf16",
    "prefetched_batches",
    "resolve_precision",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# "bf16" runs the forward pass under bfloat16 autocast, which pays off on CPUs
# with AMX or AVX512-BF16 and on recent GPUs.
PRECISIONS = ("fp32", "bf16")
# CPU flags of native bfloat16 arithmetic. Without them torch emulates bf16:
# on a 2-core AMD EPYC with only AVX2 the forward pass ran at 4.0 images/s
# in bf16 against 18.4 in fp32 (batch 32, 224 px).
_BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
_CPUINFO = Path("/proc/cpuinfo")


def has_native_bf16(device: str | torch.device | None = None) -> bool:
    """Return whether `device` (default: cuda when present, else cpu) computes bf16 natively.

    On CPUs this reads the flags in /proc/cpuinfo. Where that file does not
    exist it returns False, so the caller stays with fp32.
    """
    resolved = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if resolved.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if resolved.type != "cpu":
        return False
    try:
        text = _CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return not _BF16_CPU_FLAGS.isdisjoint(line.split(":", 1)[-1].split())
    return False


def resolve_precision(precision: str, device: str | torch.device | None = None) -> str:
    """Return `precision`, with "auto" replaced by "bf16" or "fp32" for `device`.

    Raises:
        ValueError: `precision` is neither "auto" nor one of PRECISIONS.
    """
    if precision == "auto":
        return "bf16" if has_native_bf16(device) else "fp32"
    if precision not in PRECISIONS:
        raise ValueError(
            f"invalid precision {precision!r}: use auto or one of {', '.join(PRECISIONS)}"
        )
    return precision


@dataclass
class EmbeddedBatch:
    """The result of one batch of files.

    Attributes:
        paths: the files that decoded, in input order.
        vectors: float32 array (len(paths), dim), each row L2-normalised.
        failures: (path, reason) for every file of the batch that failed.
    """

    paths: list[Path]
    vectors: np.ndarray
    failures: list[tuple[Path, str]] = field(default_factory=list)


def prefetched_batches(
    paths: Sequence[Path],
    batch_size: int,
    threads: int,
    prepare: Callable[[Path], T | str],
) -> Iterator[tuple[list[tuple[Path, T]], list[tuple[Path, str]]]]:
    """Yield the prepared files and the failures of each batch of `paths`, in input order.

    `prepare` returns a file's network input, or the reason it failed as a
    string. The next batch is prepared in a pool of `threads` threads while
    the caller works on the current one. Each failure is logged.

    Yields:
        ([(path, prepared)], [(path, reason)]) for each batch.
    """
    batches = [
        list(paths[start : start + batch_size]) for start in range(0, len(paths), batch_size)
    ]
    if not batches:
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:

        def submit(batch: list[Path]) -> list[Future[T | str]]:
            return [pool.submit(prepare, path) for path in batch]

        pending = submit(batches[0])
        for index, batch in enumerate(batches):
            results = [future.result() for future in pending]
            if index + 1 < len(batches):
                pending = submit(batches[index + 1])
            good: list[tuple[Path, T]] = []
            failures: list[tuple[Path, str]] = []
            for path, result in zip(batch, results, strict=True):
                if isinstance(result, str):
                    logger.warning("skipping image %s: %s", path, result)
                    failures.append((path, result))
                else:
                    good.append((path, result))
            yield good, failures


class BatchEmbedder(Protocol):
    """The interface the indexing job needs from an embedder, local or distributed.

    `ImageEmbedder`, the trained classifier and the Ray engine all provide it.
    """

    model_version: str

    def embed_files(self, paths: Sequence[Path]) -> Iterator[EmbeddedBatch]:
        """Yield one `EmbeddedBatch` per batch of `paths`, in input order."""
        ...


class ImageEmbedder:
    """EfficientNet-Lite0 pooled features as a style embedding.

    The embedding is the backbone's 1280-d average-pooled activation,
    L2-normalised so that inner product equals cosine similarity.
    `model_version` names the backbone, the weights digest and the
    preprocessing; every stored embedding carries it, so vectors from
    different models are never mixed.
    """

    def __init__(
        self,
        *,
        weights_path: Path | None = None,
        preprocessing: Preprocessing | None = None,
        device: str | None = None,
        batch_size: int = 32,
        decode_threads: int = 2,
        precision: str = "fp32",
        runtime: str = "torch",
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"invalid precision {precision!r}: use one of {', '.join(PRECISIONS)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if decode_threads < 1:
            raise ValueError(f"decode_threads must be at least 1, got {decode_threads}")
        self.preprocessing = preprocessing or Preprocessing()
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.batch_size = batch_size
        self.decode_threads = decode_threads
        self.precision = precision
        self.dim = EMBEDDING_DIM

        # ONNX Runtime computes the same fp32 features as torch (cosine 1.0000
        # in tests/classifier/test_runtime.py), so the model version does not name it.
        self.runtime = resolve_runtime(runtime, self.device, precision)
        network, digest = load_backbone(weights_path)
        if self.runtime == "torch":
            network = network.to(self.device).to(memory_format=torch.channels_last)
        self._network = feature_extractor(
            network, runtime=self.runtime, size=self.preprocessing.size
        )
        self.model_version = f"{BACKBONE_NAME}-imagenet-{digest}-pad{self.preprocessing.size}"
        # bf16 vectors differ slightly from fp32 ones (cosine >= 0.99 on H&M
        # photos in benchmarks/indexing_throughput.py), so they get their own version.
        if precision != "fp32":
            self.model_version += f"-{precision}"

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Embed decoded images.

        Returns:
            float32 array (len(images), dim), rows L2-normalised; an empty
            (0, dim) array for an empty input.
        """
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        arrays = [self.preprocessing.to_array(image) for image in images]
        return self._forward(np.stack(arrays))

    def embed_files(self, paths: Sequence[Path]) -> Iterator[EmbeddedBatch]:
        """Decode and embed files batch by batch, in input order.

        Decoding of the next batch runs in a thread pool while the current
        batch is in the network. A file that cannot be decoded is reported in
        its batch's `failures` and never stops the others.
        """
        for good, failures in prefetched_batches(
            paths, self.batch_size, self.decode_threads, self._decode
        ):
            if good:
                vectors = self._forward(np.stack([array for _, array in good]))
            else:
                vectors = np.zeros((0, self.dim), dtype=np.float32)
            yield EmbeddedBatch(
                paths=[path for path, _ in good], vectors=vectors, failures=failures
            )

    def _decode(self, path: Path) -> np.ndarray | str:
        try:
            image = load_image(path, draft_size=self.preprocessing.size)
        except InvalidImageError as error:
            return str(error)
        return self.preprocessing.to_array(image)

    @torch.inference_mode()
    def _forward(self, batch: np.ndarray) -> np.ndarray:
        pixels = torch.from_numpy(batch)
        inputs = self.preprocessing.normalise(pixels).to(self.device)
        if self.runtime == "torch":
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        with torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"
        ):
            features = self._network(inputs)
        features = features.float()
        features = torch.nn.functional.normalize(features, dim=1)
        return features.cpu().numpy().astype(np.float32, copy=False)
