"""Head-attire trends: the share of each type, colour and pattern bought per period."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from classifier.taxonomy import colour_from_hm, pattern_from_hm, type_from_product_type

__all__ = ["TREND_ATTRIBUTES", "head_attire_trends", "trend_period"]

# Attribute -> function from the catalog value to the taxonomy label.
TREND_ATTRIBUTES = {
    "type": ("product_type", type_from_product_type),
    "colour": ("colour", colour_from_hm),
    "pattern": ("pattern", pattern_from_hm),
}
# Histories shorter than this are shown per day, longer ones per week.
_WEEKLY_MIN_DAYS = 21


def trend_period(first_day: dt.date, last_day: dt.date) -> str:
    """Return "week" for histories of at least 21 days, else "day"."""
    return "week" if (last_day - first_day).days + 1 >= _WEEKLY_MIN_DAYS else "day"


def head_attire_trends(purchases: pd.DataFrame, items: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """Return the period and the share of each label among head-attire units bought per period.

    Args:
        purchases: columns article_id and purchased_on (date).
        items: catalog items indexed by article_id, with product_type,
            colour and pattern.

    Returns:
        ("week" or "day", a frame with columns period (the period's first
        day), attribute, label, units and share; shares sum to 1 per period
        and attribute). Weeks start on Monday. Empty when no head attire sold.
    """
    columns = ["period", "attribute", "label", "units", "share"]
    if purchases.empty:
        return "day", pd.DataFrame(columns=columns)
    period = trend_period(min(purchases["purchased_on"]), max(purchases["purchased_on"]))
    bought = purchases.join(items[["product_type", "colour", "pattern"]], on="article_id")
    bought["type"] = bought["product_type"].map(type_from_product_type)
    bought = bought.loc[bought["type"] != "none"].copy()
    if bought.empty:
        return period, pd.DataFrame(columns=columns)
    if period == "week":
        bought["period"] = [
            day - dt.timedelta(days=day.weekday()) for day in bought["purchased_on"]
        ]
    else:
        bought["period"] = bought["purchased_on"]

    frames = []
    for attribute, (column, to_label) in TREND_ATTRIBUTES.items():
        labels = bought[column].map(to_label)
        units = (
            pd.DataFrame({"period": bought["period"], "label": labels})
            .groupby(["period", "label"])
            .size()
            .rename("units")
            .reset_index()
        )
        units["attribute"] = attribute
        units["share"] = units["units"] / units.groupby("period")["units"].transform("sum")
        frames.append(units)
    table = pd.concat(frames, ignore_index=True)[columns]
    return period, table.sort_values(["attribute", "period", "label"], kind="stable")
