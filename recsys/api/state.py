"""Artifacts the API serves from, loaded once at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine

from catalog.db import create_db_engine
from catalog.settings import Settings
from recsys.ranker import RankerModel
from recsys.similarity import SimilarityIndex

__all__ = ["ServingState", "load_state"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingState:
    """One consistent set of artifacts; requests read it, never mix two."""

    settings: Settings
    engine: Engine
    index: SimilarityIndex
    ranker: RankerModel


def load_state(settings: Settings) -> ServingState:
    """Open the catalog and load the current index and ranker.

    Raises:
        ArtifactMissingError: the index or the ranker was never published.
    """
    engine = create_db_engine(settings.database_url)
    index = SimilarityIndex.load(settings.index_dir)
    ranker = RankerModel.load(settings.models_dir / "ranker")
    logger.info(
        "serving %d indexed items and a ranker of %d shoppers from %s",
        len(index),
        len(ranker.user_ids),
        settings.home,
    )
    return ServingState(settings=settings, engine=engine, index=index, ranker=ranker)
