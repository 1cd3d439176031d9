from django.db import models

from catalog.models import Merchant, Product


class Segment(models.Model):
    """One rendered piece of video, shared by every video whose plan needs exactly these pixels.

    ``key`` is the sha256 of everything that determines the pixels (see
    ``rendering.services.segment_key``); a READY segment is never rendered again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RENDERING = "rendering", "Rendering"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    key = models.CharField(max_length=64, unique=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="segments")
    kind = models.CharField(max_length=20)
    backend = models.CharField(max_length=50)
    backend_version = models.CharField(max_length=50)
    plan = models.JSONField()
    inputs = models.JSONField(default=dict, help_text="Content hashes of the input assets.")
    profile = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(max_length=255, blank=True)
    duration = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    render_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["status", "claimed_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.key[:12]} ({self.status})"


class Video(models.Model):
    """One variant of a product's video: a bucket (context) in one aspect."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ASSEMBLING = "assembling", "Assembling"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="videos")
    bucket = models.CharField(max_length=255)
    aspect = models.CharField(max_length=8)
    backend = models.CharField(max_length=50)
    segments = models.ManyToManyField(Segment, through="VideoSegment", related_name="videos")
    recipe_key = models.CharField(
        max_length=64, help_text="Hash of the ordered segment keys this video is assembled from."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(max_length=255, blank=True)
    poster = models.FileField(max_length=255, blank=True)
    duration = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["product", "bucket", "aspect"], name="video_unique_variant"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product.sku} [{self.bucket}] {self.aspect} ({self.status})"


class VideoSegment(models.Model):
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="parts")
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="parts")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["video", "position"]
        constraints = [
            models.UniqueConstraint(fields=["video", "position"], name="videosegment_unique_pos")
        ]

    def __str__(self) -> str:
        return f"{self.position}: {self.segment}"
