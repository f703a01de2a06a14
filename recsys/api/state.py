"""Artifacts the API serves from: loaded once at start-up, replaced whole when republished.

A request takes one `ServingState` reference when it starts and uses only
that, so it never mixes two versions of the index or the ranker. A newer
version is loaded completely before `StateHolder.swap` makes it current.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from catalog.db import create_db_engine
from catalog.settings import Settings
from classifier.embedder import ImageEmbedder
from classifier.errors import ModelLoadError
from recsys.api.live_index import LiveIndex
from recsys.artifacts import current_version_dir
from recsys.blending import blend_weights_from_metadata
from recsys.data import load_items, load_purchases
from recsys.errors import ArtifactMissingError
from recsys.ranker import RankerModel
from recsys.recommend import Recommender
from recsys.similarity import SimilarityIndex

if TYPE_CHECKING:
    from classifier.predict import HeadAttireClassifier

# The indexing job marks embeddings made under bfloat16 autocast with this
# suffix on the model version; the server embeds uploads the same way.
_BF16_SUFFIX = "-bf16"

__all__ = [
    "ServingState",
    "StateHolder",
    "apply_changes",
    "load_classifier",
    "load_published_changes",
    "load_state",
    "published_versions",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingState:
    """One consistent set of artifacts; requests read it, never mix two.

    Attributes:
        index: the published similarity index, without items added through the API.
        live: `index` plus the items added through the API; search this one.
        recommender: the served blend over `ranker` and `index`, with the
            catalog and the purchases as they were when it was built.
        embedder: the image model that embeds uploads, loaded once.
        classifier: the trained head-attire classifier, or None when none is
            published or the published one cannot be loaded.
        ranker_version, classifier_version: directory names of the loaded versions.
        classifier_error: why the newest published classifier cannot be loaded,
            or None. Recommendations and search go on without it.
        failed_classifier_version: the version that `classifier_error` is about.
            It is not tried again until another version is published.
    """

    settings: Settings
    engine: Engine
    index: SimilarityIndex
    live: LiveIndex
    ranker: RankerModel
    ranker_version: str
    recommender: Recommender
    embedder: ImageEmbedder
    classifier: HeadAttireClassifier | None = None
    classifier_version: str | None = None
    classifier_error: str | None = None
    failed_classifier_version: str | None = None

    @property
    def index_version(self) -> str:
        return self.live.version


def _classifier_root(settings: Settings) -> Path:
    return settings.models_dir / "classifier"


def published_versions(settings: Settings) -> tuple[str | None, str | None, str | None]:
    """Return the version names in the index, ranker and classifier `CURRENT` files.

    A missing or empty pointer gives None.
    """
    roots = (settings.index_dir, settings.models_dir / "ranker", _classifier_root(settings))
    versions: list[str | None] = []
    for root in roots:
        try:
            versions.append((root / "CURRENT").read_text(encoding="utf-8").strip() or None)
        except OSError:
            versions.append(None)
    return versions[0], versions[1], versions[2]


def load_classifier(settings: Settings) -> tuple[HeadAttireClassifier | None, str | None]:
    """Load the published head-attire classifier, if there is one.

    Returns:
        (classifier, version name), or (None, None) when `models/classifier/CURRENT`
        does not exist.

    Raises:
        ModelLoadError: a classifier is published but cannot be loaded.
    """
    root = _classifier_root(settings)
    if not (root / "CURRENT").is_file():
        return None, None
    from classifier.predict import HeadAttireClassifier

    directory = current_version_dir(root, produced_by="milliner train classifier")
    return HeadAttireClassifier.load(root, batch_size=1), directory.name


def _classifier_fields(settings: Settings, *, serving: str | None) -> dict[str, Any]:
    """Load the published classifier into `ServingState` fields, or record why it cannot load.

    A classifier that cannot be loaded (trained by older code, a damaged
    version) leaves the other artifacts in service: the fields then keep
    the classifier `serving` now and record the failed version and the reason.
    """
    try:
        classifier, version = load_classifier(settings)
    except (ArtifactMissingError, ModelLoadError) as error:
        failed = published_versions(settings)[2]
        logger.warning(
            "cannot load the published classifier %s, serving %s: %s",
            failed,
            f"classifier {serving}" if serving else "without a classifier",
            error,
        )
        return {
            "classifier_error": f"the published classifier {failed} cannot be loaded: {error}",
            "failed_classifier_version": failed,
        }
    return {
        "classifier": classifier,
        "classifier_version": version,
        "classifier_error": None,
        "failed_classifier_version": None,
    }


def _embedder_for(index_model_version: str) -> ImageEmbedder:
    precision = "bf16" if index_model_version.endswith(_BF16_SUFFIX) else "fp32"
    return ImageEmbedder(batch_size=1, precision=precision)


def build_recommender(engine: Engine, ranker: RankerModel, index: SimilarityIndex) -> Recommender:
    """Build the served blend from the catalog's items and purchases.

    The blend weights are those `milliner train` tuned and stored with the
    ranker; a ranker published before that gets the default weights. This
    finds every item's visual neighbours (seconds for a large catalog), so
    it runs when artifacts load, never inside a request.

    Raises:
        ValueError: the ranker's stored blend weights are invalid.
    """
    weights = blend_weights_from_metadata(ranker.metadata)
    if weights is None:
        logger.warning(
            "the ranker stores no blend weights: serving the defaults; retrain with "
            "`milliner train` to tune them"
        )
    return Recommender.from_artifacts(
        ranker, index, load_items(engine), load_purchases(engine), weights=weights
    )


def load_state(settings: Settings, *, embedder: ImageEmbedder | None = None) -> ServingState:
    """Open the catalog and load the current index, ranker, embedder and classifier.

    A published classifier that cannot be loaded does not stop the rest:
    the state then has no classifier, and `classifier_error` gives the reason.

    Raises:
        ArtifactMissingError: the index or the ranker was never published.
        ModelLoadError: the embedder's weights cannot be loaded.
    """
    index_dir = current_version_dir(settings.index_dir, produced_by="milliner index")
    index = SimilarityIndex.load(settings.index_dir)
    ranker_dir = current_version_dir(settings.models_dir / "ranker", produced_by="milliner train")
    ranker = RankerModel.load(settings.models_dir / "ranker")
    classifier_fields = _classifier_fields(settings, serving=None)
    embedder = embedder or _embedder_for(index.model_version)
    # The engine is created last, so a start-up that retries while artifacts
    # are missing does not leave an engine behind on every attempt.
    engine = create_db_engine(settings.database_url)
    try:
        recommender = build_recommender(engine, ranker, index)
    except BaseException:
        engine.dispose()
        raise
    state = ServingState(
        settings=settings,
        engine=engine,
        index=index,
        live=LiveIndex(index, index_dir.name),
        ranker=ranker,
        ranker_version=ranker_dir.name,
        recommender=recommender,
        embedder=embedder,
        **classifier_fields,
    )
    logger.info(
        "serving %d indexed items (%s), a ranker of %d shoppers (%s) and %s from %s",
        len(index),
        index_dir.name,
        len(ranker.user_ids),
        ranker_dir.name,
        f"classifier {state.classifier_version}" if state.classifier else "no classifier",
        settings.home,
    )
    return state


def load_published_changes(state: ServingState) -> dict[str, Any] | None:
    """Load the versions published since `state` was loaded.

    A new classifier version that cannot be loaded is tried once: the
    changes then keep the current classifier and record the failure.

    Returns:
        The changed `ServingState` fields (pass them to `apply_changes`), or
        None when nothing changed.

    Raises:
        ArtifactMissingError, ModelLoadError: a new index or ranker version
            cannot be loaded, so the caller keeps serving `state`.
    """
    index_version, ranker_version, classifier_version = published_versions(state.settings)
    changes: dict[str, Any] = {}
    if index_version is not None and index_version != state.index_version:
        directory = current_version_dir(state.settings.index_dir, produced_by="milliner index")
        changes["index"] = SimilarityIndex.load(state.settings.index_dir)
        changes["index_version"] = directory.name
    if ranker_version is not None and ranker_version != state.ranker_version:
        root = state.settings.models_dir / "ranker"
        directory = current_version_dir(root, produced_by="milliner train")
        changes["ranker"] = RankerModel.load(root)
        changes["ranker_version"] = directory.name
    if classifier_version is not None and classifier_version not in (
        state.classifier_version,
        state.failed_classifier_version,
    ):
        changes.update(_classifier_fields(state.settings, serving=state.classifier_version))
    elif classifier_version == state.classifier_version and state.classifier_error is not None:
        # The failed version was replaced by the one in service again.
        changes.update(classifier_error=None, failed_classifier_version=None)
    if not changes:
        return None
    if "index" in changes or "ranker" in changes:
        changes["recommender"] = build_recommender(
            state.engine, changes.get("ranker", state.ranker), changes.get("index", state.index)
        )
    loaded = [
        f"{key.removesuffix('_version')} {changes[key]}"
        for key in ("index_version", "ranker_version", "classifier_version")
        if key in changes
    ]
    if loaded:
        logger.info("loaded newly published artifacts: %s", ", ".join(loaded))
    return changes


def apply_changes(state: ServingState, changes: dict[str, Any]) -> ServingState:
    """Return `state` with the fields loaded by `load_published_changes`.

    Items added through the API to `state` stay searchable unless the new
    index contains them.
    """
    fields = dict(changes)
    index_version = fields.pop("index_version", None)
    if "index" in fields and index_version is not None:
        fields["live"] = state.live.rebased(fields["index"], index_version)
    return dataclasses.replace(state, **fields)


class StateHolder:
    """The current `ServingState` of one process, replaced atomically.

    Readers take `holder.current` once per request. Writers (the reload task,
    `POST /v1/items`) derive a new state from the current one with `swap`,
    under a lock, so one writer's change cannot overwrite another's.
    """

    def __init__(self, state: ServingState | None = None) -> None:
        self._state = state
        self._lock = threading.Lock()

    @property
    def current(self) -> ServingState | None:
        return self._state

    def set(self, state: ServingState) -> None:
        with self._lock:
            self._state = state

    def swap(self, change: Callable[[ServingState], ServingState | None]) -> ServingState | None:
        """Replace the state with `change(current)` unless it returns None.

        `change` runs under the lock, so it must be quick: load large
        artifacts before calling this and only combine them inside.
        """
        with self._lock:
            if self._state is None:
                return None
            updated = change(self._state)
            if updated is not None:
                self._state = updated
            return self._state
