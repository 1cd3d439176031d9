import uuid
from decimal import Decimal

from django.conf import settings
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
    backend_version = models.CharField(max_length=200)  # provider:model ids run long
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
    # Remote providers: the provider's job, recorded the moment it is created so a retried or
    # redelivered task resumes it and never pays twice; what polling needs besides the id.
    provider_job_id = models.CharField(max_length=200, blank=True, db_index=True)
    provider_data = models.JSONField(default=dict, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True)
    polls = models.PositiveIntegerField(default=0)
    # Taken by whoever stores the provider's output first (a poll or a webhook's poll).
    finishing_at = models.DateTimeField(null=True, blank=True)
    failure_kind = models.CharField(
        max_length=12, blank=True, help_text="transient, moderation, invalid, auth or funds."
    )
    fallback_for = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fallbacks",
        help_text="The segment of a provider that failed, which this one stands in for.",
    )
    # Varies the pixels of a re-render the merchant asked for (a rejected variant's scene);
    # part of the key, so 0 keeps the segment shared.
    seed = models.PositiveIntegerField(default=0)
    # What this segment costs (USD): the price table's figure when it is planned, the
    # provider's actual charge once known. Counted against the merchant's monthly budget.
    cost = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "claimed_at"]),
            models.Index(fields=["merchant", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key[:12]} ({self.status})"


class Video(models.Model):
    """One variant of a product's video: a bucket (context) in one aspect."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ASSEMBLING = "assembling", "Assembling"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Approval(models.TextChoices):
        PENDING = "pending", "Awaiting review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="videos")
    # What public URLs name the video by (the provenance page): the primary key is sequential,
    # so it would let anyone walk every merchant's videos.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
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
    # The merchant's review of these pixels: a new recipe (new image, re-render) needs a new
    # review. A rejected variant is re-rendered with the next seed.
    approval = models.CharField(max_length=10, choices=Approval.choices, default=Approval.PENDING)
    review_note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    seed = models.PositiveIntegerField(default=0)
    # What the stored file states (catalog.facts, plus the logo): when the catalog says
    # otherwise the file is stale and never served. ``planned_facts``: what the version being
    # made will state; they become ``facts`` when it replaces the file.
    facts = models.JSONField(default=dict, blank=True, editable=False)
    planned_facts = models.JSONField(default=dict, blank=True, editable=False)
    # Why a new version of a finished video is being made ("price changed"); empty otherwise.
    refresh_reason = models.CharField(max_length=200, blank=True)
    # Whether the new version needs the merchant's review when it replaces the file.
    review_on_swap = models.BooleanField(default=False, editable=False)
    # The backend it was asked for on (``generate_videos --backend``); empty: the merchant's
    # routing. A refresh plans it the same way (``backend`` is only the scene's).
    requested_backend = models.CharField(max_length=50, blank=True, editable=False)

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


class BulkJob(models.Model):
    """One "generate videos" request of a merchant: products × contexts × aspects on one
    backend, estimated before it is confirmed, submitted by a worker, followed on a progress
    page. Its items point at the (shared) Video rows, so progress is the videos' own state."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="bulk_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    backend = models.CharField(max_length=50)
    contexts = models.JSONField(help_text="The buckets to generate, e.g. climate=rainy.")
    aspects = models.JSONField()
    estimate = models.JSONField(default=dict, help_text="The estimate shown before confirming.")
    submitted_at = models.DateTimeField(
        null=True, blank=True, help_text="When every item had been handed to the workers."
    )
    stopped_reason = models.TextField(
        blank=True, help_text="Why new paid work stopped being submitted (the budget)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "bulk generation"

    def __str__(self) -> str:
        return f"Generation #{self.pk} of {self.merchant}"


class BulkItem(models.Model):
    """One video of a bulk job: a product in one context and aspect."""

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting to be submitted"
        SUBMITTED = "submitted", "Submitted"
        HELD = "held", "Held: budget reached"
        ERROR = "error", "Could not be planned"

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    bucket = models.CharField(max_length=255)
    aspect = models.CharField(max_length=8)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    video = models.ForeignKey(
        Video, null=True, blank=True, on_delete=models.SET_NULL, related_name="bulk_items"
    )
    error = models.TextField(blank=True)
    cost = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("0"), help_text="New paid work (USD)."
    )

    class Meta:
        ordering = ["job", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "product", "bucket", "aspect"], name="bulkitem_unique_video"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product.sku} [{self.bucket}] {self.aspect}"


class RenderRouting(models.Model):
    """Which backend renders what for one merchant: a default, overrides per segment kind
    (e.g. AI for ``scene``, the built-in renderer for ``hero``/``offer``/``outro``) and per
    bucket, and the fallback chain used when a provider fails for good."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="routing")
    default_backend = models.CharField(
        max_length=50, blank=True, help_text="Empty: the installation's default (local)."
    )
    kind_backends = models.JSONField(
        default=dict, blank=True, help_text='Per segment kind, e.g. {"scene": "kling"}.'
    )
    bucket_backends = models.JSONField(
        default=dict, blank=True, help_text='Per variant, e.g. {"climate=rainy": "seedance"}.'
    )
    fallbacks = models.JSONField(
        default=list,
        blank=True,
        help_text='Tried in order when a provider fails for good, e.g. ["seedance", "local"].',
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "render routing"

    def __str__(self) -> str:
        return f"Render routing of {self.merchant}"


class ProviderKey(models.Model):
    """A merchant's own API key for a provider, encrypted at rest (scenecart.encryption); used
    instead of the installation's key for that merchant's segments. Never shown back."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="provider_keys")
    backend = models.CharField(max_length=50)
    encrypted_key = models.TextField(editable=False)
    hint = models.CharField(max_length=12, editable=False, help_text="The key's last characters.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "backend"], name="providerkey_unique")
        ]

    def __str__(self) -> str:
        return f"{self.backend} key of {self.merchant} (…{self.hint})"
