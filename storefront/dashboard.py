"""The merchant dashboard: one card per shop on the admin's home page.

A read over every app (storefront sits on top of them): the catalog's size, how its videos
stand, storage used, paid rendering this month against the budget, playback this month, and
the latest bulk generations.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from catalog.models import Merchant, Product
from rendering.housekeeping import storage_by_merchant
from rendering.models import BulkJob, Video
from rendering.selectors import BulkProgress, bulk_progress, merchant_spend_this_month, month_start
from scenecart.cache import read_through

from .models import VariantStats

# Sizing every stored file is a walk over storage (a HEAD per object on S3): done at most
# this often, for all shops at once.
STORAGE_REPORT_SECONDS = 10 * 60
RECENT_JOBS = 3


@dataclass(frozen=True)
class MerchantDashboard:
    merchant: Merchant
    products: int
    products_active: int
    videos_ready: int
    videos_pending: int
    videos_failed: int
    videos_awaiting_review: int
    videos_refreshing: int  # finished videos being re-made after a catalog or brand change
    storage_bytes: int
    spent_this_month: Decimal
    budget: Decimal | None
    impressions: int
    plays: int
    clicks: int
    jobs: list[tuple[BulkJob, BulkProgress]] = field(default_factory=list)

    @property
    def budget_percent(self) -> int | None:
        if not self.budget:
            return None
        return min(100, int(self.spent_this_month * 100 / self.budget))


def merchant_dashboard(*, merchant: Merchant) -> MerchantDashboard:
    products = Product.objects.filter(merchant=merchant).aggregate(
        total=Count("pk"), active=Count("pk", filter=Q(status=Product.Status.ACTIVE))
    )
    videos = Video.objects.filter(product__merchant=merchant).aggregate(
        ready=Count("pk", filter=Q(status=Video.Status.READY)),
        pending=Count("pk", filter=Q(status__in=[Video.Status.PENDING, Video.Status.ASSEMBLING])),
        failed=Count("pk", filter=Q(status=Video.Status.FAILED)),
        review=Count("pk", filter=Q(status=Video.Status.READY, approval=Video.Approval.PENDING)),
        refreshing=Count(
            "pk",
            filter=Q(status__in=[Video.Status.PENDING, Video.Status.ASSEMBLING])
            & ~Q(refresh_reason=""),
        ),
    )
    since = timezone.localdate(month_start())
    playback = VariantStats.objects.filter(
        merchant=merchant, video__product__merchant=merchant, day__gte=since
    ).aggregate(impressions=Sum("impressions"), plays=Sum("plays"), clicks=Sum("clicks"))
    storage = (
        read_through("dashboard:storage", ttl=STORAGE_REPORT_SECONDS, load=storage_by_merchant)
        or {}
    )
    jobs = list(BulkJob.objects.filter(merchant=merchant)[:RECENT_JOBS])
    return MerchantDashboard(
        merchant=merchant,
        products=products["total"],
        products_active=products["active"],
        videos_ready=videos["ready"],
        videos_pending=videos["pending"],
        videos_failed=videos["failed"],
        videos_awaiting_review=videos["review"],
        videos_refreshing=videos["refreshing"],
        storage_bytes=int(storage.get(merchant.slug, {}).get("bytes", 0)),
        spent_this_month=merchant_spend_this_month(merchant=merchant),
        budget=merchant.monthly_budget,
        impressions=playback["impressions"] or 0,
        plays=playback["plays"] or 0,
        clicks=playback["clicks"] or 0,
        jobs=[(job, bulk_progress(job=job, failures_limit=0)) for job in jobs],
    )
