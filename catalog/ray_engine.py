"""Spread the decoding and the network of an indexing job over a Ray cluster.

`RayEmbedder` wraps any local embedder (`ImageEmbedder` or the trained
classifier) and ships a copy of it to one Ray actor per worker CPU. Each
actor gets one batch of file paths at a time, and the batches come back in
input order. `catalog.indexing.index_images` therefore writes the results on
the driver exactly as it writes those of the local engine.

The cluster is the one `RAY_ADDRESS` names (for example
`ray://head-node:10001`). Without it, a local cluster that listens on
127.0.0.1 runs for the duration of the job. When Ray is already initialised
in this process, that connection is used and left open. Every worker must
see the photos at the same paths as the driver (a shared file system or an
object store mount).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from classifier.embedder import BatchEmbedder, EmbeddedBatch

__all__ = ["RayEmbedder", "ray_available"]

logger = logging.getLogger(__name__)


def ray_available() -> bool:
    """Return whether the `ray` package can be imported (the `milliner[ray]` extra)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


class _EmbedWorker:
    """A Ray actor with its own copy of the embedder; each call embeds one batch."""

    def __init__(self, embedder: BatchEmbedder, torch_threads: int) -> None:
        import torch

        torch.set_num_threads(torch_threads)
        self._embedder = embedder

    def embed(self, paths: list[Path]) -> list[EmbeddedBatch]:
        return list(self._embedder.embed_files(paths))


class RayEmbedder:
    """An embedder that runs a local embedder's `embed_files` on Ray actors.

    Attributes:
        model_version: that of the wrapped embedder, so the catalog cannot
            tell (and need not know) which engine made a vector.
    """

    def __init__(
        self,
        embedder: BatchEmbedder,
        *,
        workers: int | None = None,
        batch_size: int | None = None,
        cpus_per_worker: int = 1,
    ) -> None:
        """Wrap `embedder`; Ray starts only when `embed_files` runs.

        Args:
            embedder: pickled once and copied to every actor. Its torch device
                must exist on the workers (build it with device "cpu" for a
                CPU-only cluster).
            workers: number of actors (default: the cluster's CPUs divided by
                `cpus_per_worker`).
            batch_size: files per actor call (default: the embedder's batch size, else 32).
            cpus_per_worker: CPUs each actor reserves; torch uses as many threads.

        Raises:
            ImportError: Ray is not installed; install `milliner[ray]`.
            ValueError: a count below 1.
        """
        if not ray_available():
            raise ImportError(
                "the ray execution needs the ray package: pip install 'milliner[ray]'"
            )
        for name, value in (("workers", workers), ("batch_size", batch_size)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if cpus_per_worker < 1:
            raise ValueError(f"cpus_per_worker must be at least 1, got {cpus_per_worker}")
        self._embedder = embedder
        self.model_version = embedder.model_version
        self._workers = workers
        self._batch_size = batch_size or int(getattr(embedder, "batch_size", 32))
        self._cpus_per_worker = cpus_per_worker

    def embed_files(self, paths: Sequence[Path]) -> Iterator[EmbeddedBatch]:
        """Embed `paths` on the cluster, one batch per actor call, yielded in input order.

        At most one batch per actor is in flight, so driver memory stays
        bounded by the number of workers. A file that cannot be decoded is
        listed in its batch's `failures`, as in the local engine.

        Raises:
            ray.exceptions.RayError: an actor died or the cluster went away;
                the batches yielded before are complete, so rerunning the job
                finishes the rest.
        """
        import ray
        from ray.util.actor_pool import ActorPool

        batches = [
            list(paths[start : start + self._batch_size])
            for start in range(0, len(paths), self._batch_size)
        ]
        if not batches:
            return

        started_here = not ray.is_initialized()
        if started_here:
            _init_ray(ray)
        try:
            worker_class: Any = ray.remote(num_cpus=self._cpus_per_worker)(_EmbedWorker)
            count = self._workers or max(
                1, int(ray.cluster_resources().get("CPU", 1)) // self._cpus_per_worker
            )
            count = min(count, len(batches))
            embedder_ref = ray.put(self._embedder)
            actors = [
                worker_class.remote(embedder_ref, self._cpus_per_worker) for _ in range(count)
            ]
            logger.info(
                "embedding %d files in %d batches on %d Ray workers",
                len(paths),
                len(batches),
                count,
            )
            try:
                pool = ActorPool(actors)
                for results in pool.map(lambda actor, batch: actor.embed.remote(batch), batches):
                    yield from results
            finally:
                for actor in actors:
                    ray.kill(actor)
        finally:
            if started_here:
                ray.shutdown()


def _init_ray(ray: Any) -> None:
    """Connect to `RAY_ADDRESS`, or start a local cluster that listens on loopback only."""
    address = os.environ.get("RAY_ADDRESS")
    if address:
        logger.info("connecting to the Ray cluster at %s", address)
        ray.init(address=address, logging_level=logging.WARNING)
        return
    logger.info("RAY_ADDRESS is not set: starting a local Ray cluster on 127.0.0.1")
    ray.init(
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        logging_level=logging.WARNING,
    )
