"""Playback analytics, stored compactly: one row of counters per video variant, day and group
(shoppers in the holdout or not), however many events arrive."""

from django.db import models

from catalog.models import Merchant
from rendering.models import Video


class VariantStats(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="variant_stats")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="stats")
    day = models.DateField()
    holdout = models.BooleanField(
        default=False, help_text="Counts of shoppers held out of personalization."
    )
    impressions = models.PositiveIntegerField(default=0)
    plays = models.PositiveIntegerField(default=0)
    progress_25 = models.PositiveIntegerField(default=0)
    progress_50 = models.PositiveIntegerField(default=0)
    progress_75 = models.PositiveIntegerField(default=0)
    completes = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "variant stats"
        verbose_name_plural = "analytics"
        constraints = [
            models.UniqueConstraint(
                fields=["video", "day", "holdout"], name="variantstats_unique_day"
            )
        ]
        indexes = [models.Index(fields=["merchant", "day"])]

    def __str__(self) -> str:
        return f"{self.video} on {self.day}{' (holdout)' if self.holdout else ''}"
