"""Reads of the storefront: playback counters summed into what a merchant asks of them.

Every read is one aggregate query over ``VariantStats`` for one merchant and an inclusive
period of days, however many days and variants that covers.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from catalog.models import Merchant

from .models import VariantStats

# Below this many impressions in either group, a difference in click-through rate is mostly
# noise: the page says "not enough data yet" instead of a lift.
MIN_SAMPLE_IMPRESSIONS = 100

_COUNTERS = ("impressions", "plays", "completes", "clicks")
_PERSONALIZED = Q(holdout=False)
_HOLDOUT = Q(holdout=True)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class Funnel:
    """How far shoppers went with a video: seen, played, watched to the end, clicked."""

    impressions: int = 0
    plays: int = 0
    completes: int = 0
    clicks: int = 0

    @property
    def play_rate(self) -> float | None:
        return _ratio(self.plays, self.impressions)

    @property
    def completion_rate(self) -> float | None:
        return _ratio(self.completes, self.plays)

    @property
    def click_through_rate(self) -> float | None:
        return _ratio(self.clicks, self.impressions)


@dataclass(frozen=True)
class VariantRow:
    """One video variant over the period: ``total`` counts every shopper who saw it,
    ``personalized`` only those not held out (the holdout group sees generic videos only)."""

    video_id: int
    product_title: str
    product_sku: str
    bucket: str
    aspect: str
    total: Funnel
    personalized: Funnel

    @property
    def holdout_impressions(self) -> int:
        return self.total.impressions - self.personalized.impressions


@dataclass(frozen=True)
class DayRow:
    day: date
    impressions: int = 0
    plays: int = 0
    clicks: int = 0


@dataclass(frozen=True)
class Lift:
    """Personalized shoppers against the holdout group, over all variants."""

    personalized: Funnel
    holdout: Funnel

    @property
    def click_through_lift(self) -> float | None:
        """(personalized CTR − holdout CTR) / holdout CTR; None without holdout clicks."""
        return _relative(self.personalized.click_through_rate, self.holdout.click_through_rate)

    @property
    def play_rate_lift(self) -> float | None:
        return _relative(self.personalized.play_rate, self.holdout.play_rate)

    @property
    def enough_data(self) -> bool:
        return min(self.personalized.impressions, self.holdout.impressions) >= (
            MIN_SAMPLE_IMPRESSIONS
        )


def _relative(treated: float | None, baseline: float | None) -> float | None:
    if treated is None or not baseline:
        return None
    return (treated - baseline) / baseline


def _stats(*, merchant: Merchant, since: date, until: date) -> QuerySet[VariantStats]:
    # Also through the video's product: a counter row is only ever shown to the merchant
    # whose product the video shows.
    return VariantStats.objects.filter(
        merchant=merchant, video__product__merchant=merchant, day__range=(since, until)
    )


def _sums(prefix: str, condition: Q | None = None) -> dict[str, Coalesce]:
    # Prefixed: an annotation may not take the name of a model field.
    return {f"{prefix}{name}": Coalesce(Sum(name, filter=condition), 0) for name in _COUNTERS}


# The rows below carry the sums under names made at run time (``_sums``), which django-stubs
# cannot see in a values() row: they are read as plain mappings.
def _funnel(values: Mapping[str, Any], prefix: str) -> Funnel:
    return Funnel(**{name: values[f"{prefix}{name}"] for name in _COUNTERS})


def variant_analytics(*, merchant: Merchant, since: date, until: date) -> list[VariantRow]:
    """Each of the merchant's video variants with playback in ``since``..``until`` (inclusive),
    most seen first."""
    rows = (
        _stats(merchant=merchant, since=since, until=until)
        .values(
            "video_id",
            "video__product__title",
            "video__product__sku",
            "video__bucket",
            "video__aspect",
        )
        .annotate(**_sums("total_"), **_sums("personalized_", _PERSONALIZED))
        .order_by(
            F("total_impressions").desc(), "video__product__title", "video__bucket", "video__aspect"
        )
    )
    return [
        VariantRow(
            video_id=row["video_id"],
            product_title=row["video__product__title"],
            product_sku=row["video__product__sku"],
            bucket=row["video__bucket"],
            aspect=row["video__aspect"],
            total=_funnel(row, "total_"),
            personalized=_funnel(row, "personalized_"),
        )
        for row in rows
    ]


def daily_totals(*, merchant: Merchant, since: date, until: date) -> list[DayRow]:
    """Impressions, plays and clicks of every day in ``since``..``until``, days without
    playback included as zeros, so a chart's x axis is the calendar."""
    found: dict[date, Mapping[str, Any]] = {
        row["day"]: row
        for row in _stats(merchant=merchant, since=since, until=until)
        .values("day")
        .annotate(**_sums("day_"))
        .order_by("day")
    }
    days: list[DayRow] = []
    day = since
    while day <= until:
        row = found.get(day)
        days.append(
            DayRow(
                day=day,
                impressions=row["day_impressions"],
                plays=row["day_plays"],
                clicks=row["day_clicks"],
            )
            if row
            else DayRow(day=day)
        )
        day += timedelta(days=1)
    return days


def holdout_lift(*, merchant: Merchant, since: date, until: date) -> Lift:
    values = _stats(merchant=merchant, since=since, until=until).aggregate(
        **_sums("personalized_", _PERSONALIZED), **_sums("holdout_", _HOLDOUT)
    )
    return Lift(personalized=_funnel(values, "personalized_"), holdout=_funnel(values, "holdout_"))
