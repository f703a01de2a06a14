"""The popularity baseline: what sold most in the last days of the training data."""

from __future__ import annotations

import datetime as dt

import pandas as pd

__all__ = ["popular_items"]


def popular_items(purchases: pd.DataFrame, *, window_days: int = 7) -> list[str]:
    """Rank items by units sold in the last `window_days` days of `purchases`.

    Args:
        purchases: columns `article_id` (str) and `purchased_on` (date).
        window_days: length of the recent window, counted back from the last
            purchase date. Ties, and items outside the window, are ordered
            by units sold over the whole history.

    Returns:
        Every purchased article id, most popular first.
    """
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, got {window_days}")
    if purchases.empty:
        return []
    last = max(purchases["purchased_on"])
    start = last - dt.timedelta(days=window_days - 1)
    recent = purchases.loc[purchases["purchased_on"] >= start, "article_id"].value_counts()
    overall = purchases["article_id"].value_counts()
    table = pd.DataFrame({"recent": recent, "overall": overall}).fillna(0)
    table.index.name = "article_id"
    table = table.reset_index().sort_values(
        ["recent", "overall", "article_id"], ascending=[False, False, True], kind="stable"
    )
    return [str(article_id) for article_id in table["article_id"]]
