"""Analytics in the merchant workspace.

``VariantStats`` rows are counters nobody edits: the admin's list of them is replaced by the
Analytics page (per-variant table, daily chart, holdout comparison). Tenancy is
:class:`catalog.admin.MerchantScopedAdmin`'s: staff see their own merchants, superusers all.
"""

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from catalog.admin import MerchantScopedAdmin
from catalog.models import Merchant
from catalog.selectors import merchants_for_user
from personalization.policy import policy_for

from .models import VariantStats
from .selectors import (
    MIN_SAMPLE_IMPRESSIONS,
    DayRow,
    Lift,
    VariantRow,
    daily_totals,
    holdout_lift,
    variant_analytics,
)

PERIOD_DAYS = (7, 30, 90)
DEFAULT_PERIOD_DAYS = 30


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def signed_percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:+.1%}".replace("-", "−")


@dataclass(frozen=True)
class VariantLine:
    """A row of the variants table, its rates written out."""

    row: VariantRow
    play_rate: str
    completion_rate: str
    click_through_rate: str


# --- the chart ------------------------------------------------------------------------------

CHART_WIDTH = 960
CHART_HEIGHT = 300
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 64, 896, 20, 250
MAX_Y_INTERVALS = 5


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Chart:
    """Coordinates of the daily chart, for the template to draw as SVG. Impressions are on
    the left axis and clicks on the right: on one scale the clicks would lie on the floor."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    impressions: list[Point]
    clicks: list[Point]
    impression_ticks: list[Tick]
    click_ticks: list[Tick]
    day_ticks: list[Tick]
    empty: bool

    @property
    def impressions_polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.impressions)

    @property
    def clicks_polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.clicks)

    @property
    def legend_y(self) -> int:
        return self.height - 8

    @property
    def middle_x(self) -> int:
        return (self.left + self.right) // 2

    @property
    def middle_y(self) -> int:
        return (self.top + self.bottom) // 2


def axis_ticks(peak: int, most: int = MAX_Y_INTERVALS) -> list[int]:
    """The values marked on a y axis reaching ``peak``, from 0: the smallest round step
    (1, 2 or 5 × 10ⁿ) that covers it in at most ``most`` intervals, so the line fills the plot."""
    peak = max(peak, 1)
    magnitude = 1
    while True:
        for multiple in (1, 2, 5):
            step = multiple * magnitude
            intervals = math.ceil(peak / step)
            if intervals <= most:
                return [step * k for k in range(intervals + 1)]
        magnitude *= 10


def _day_label(day: date) -> str:
    return f"{day:%b} {day.day}"


def daily_chart(days: list[DayRow]) -> Chart:
    impression_values = axis_ticks(max((d.impressions for d in days), default=0))
    click_values = axis_ticks(max((d.clicks for d in days), default=0))
    width, height = PLOT_RIGHT - PLOT_LEFT, PLOT_BOTTOM - PLOT_TOP
    spacing = width / (len(days) - 1) if len(days) > 1 else 0.0

    def x(index: int) -> float:
        return PLOT_LEFT + index * spacing if len(days) > 1 else PLOT_LEFT + width / 2

    def y(value: int, axis: list[int]) -> float:
        return PLOT_BOTTOM - height * value / axis[-1]

    # About seven dates under the axis, counted back from the last day so today is labelled.
    every = max(1, math.ceil(len(days) / 7))
    labelled = sorted(range(len(days) - 1, -1, -every))
    return Chart(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        left=PLOT_LEFT,
        right=PLOT_RIGHT,
        top=PLOT_TOP,
        bottom=PLOT_BOTTOM,
        impressions=[
            Point(
                x(i),
                y(d.impressions, impression_values),
                f"{_day_label(d.day)}: {d.impressions:,} impressions",
            )
            for i, d in enumerate(days)
        ],
        clicks=[
            Point(x(i), y(d.clicks, click_values), f"{_day_label(d.day)}: {d.clicks:,} clicks")
            for i, d in enumerate(days)
        ],
        impression_ticks=[Tick(y(v, impression_values), f"{v:,}") for v in impression_values],
        click_ticks=[Tick(y(v, click_values), f"{v:,}") for v in click_values],
        day_ticks=[Tick(x(i), _day_label(days[i].day)) for i in labelled],
        empty=not any(d.impressions or d.clicks for d in days),
    )


# --- the page -------------------------------------------------------------------------------


def _chosen_merchant(merchants: list[Merchant], wanted: str | None) -> Merchant | None:
    """The merchant named by ``?merchant=``, which must be one of ``merchants`` (a 404
    otherwise, so another shop's id reveals nothing); without it, the first."""
    if not wanted:
        return merchants[0] if merchants else None
    for merchant in merchants:
        if str(merchant.pk) == wanted:
            return merchant
    raise Http404("No such merchant.")


def _period_days(wanted: str | None) -> int:
    return int(wanted) if wanted in {str(days) for days in PERIOD_DAYS} else DEFAULT_PERIOD_DAYS


def _bucket_policy_url() -> str | None:
    try:
        return reverse("admin:personalization_bucketpolicy_changelist")
    except NoReverseMatch:
        return None


def _lift_context(lift: Lift, holdout_percent: int) -> dict[str, Any]:
    return {
        "lift": lift,
        "holdout_percent": holdout_percent,
        "min_sample": MIN_SAMPLE_IMPRESSIONS,
        "personalized_ctr": percent(lift.personalized.click_through_rate),
        "holdout_ctr": percent(lift.holdout.click_through_rate),
        "personalized_play_rate": percent(lift.personalized.play_rate),
        "holdout_play_rate": percent(lift.holdout.play_rate),
        "ctr_lift": signed_percent(lift.click_through_lift),
        "bucket_policy_url": _bucket_policy_url(),
    }


@admin.register(VariantStats)
class VariantStatsAdmin(MerchantScopedAdmin):
    """Read-only: the list is the Analytics page; a single row opens as a read-only form."""

    fields = (
        "merchant", "video", "day", "holdout", "impressions", "plays", "progress_25",
        "progress_50", "progress_75", "completes", "clicks",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        merchants = list(merchants_for_user(user=request.user).order_by("name", "pk"))
        merchant = _chosen_merchant(merchants, request.GET.get("merchant"))
        days = _period_days(request.GET.get("days"))
        until = timezone.localdate()
        since = until - timedelta(days=days - 1)

        def link(period: int) -> str:
            query = {"days": period, **({"merchant": merchant.pk} if merchant else {})}
            return f"?{urlencode(query)}"

        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Analytics",
            "opts": self.model._meta,
            "merchant": merchant,
            "merchants": merchants,
            "days": days,
            "since": since,
            "until": until,
            "periods": [(period, link(period), period == days) for period in PERIOD_DAYS],
            **(extra_context or {}),
        }
        if merchant is not None:
            context["lines"] = [
                VariantLine(
                    row=row,
                    play_rate=percent(row.total.play_rate),
                    completion_rate=percent(row.total.completion_rate),
                    click_through_rate=percent(row.total.click_through_rate),
                )
                for row in variant_analytics(merchant=merchant, since=since, until=until)
            ]
            context["daily"] = daily = daily_totals(merchant=merchant, since=since, until=until)
            context["chart"] = daily_chart(daily)
            context.update(
                _lift_context(
                    holdout_lift(merchant=merchant, since=since, until=until),
                    policy_for(merchant=merchant).holdout_percent,
                )
            )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/storefront/analytics.html", context)
