import re
import secrets
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
    URLValidator,
)
from django.db import models
from django.utils import timezone

from .vocabulary import Aesthetic, Climate, Locale

hex_color = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a color as #RRGGBB, e.g. #1F6FEB.")
currency_code = RegexValidator(r"^[A-Z]{3}$", "Enter an ISO 4217 currency code, e.g. USD.")
country_code = RegexValidator(r"^[A-Z]{2}$", "Enter an ISO 3166 country code, e.g. DE.")


def new_token_secret() -> str:
    return secrets.token_urlsafe(32)


def origin_list(text: str) -> list[str]:
    """Origins from a merchant's list (one per line or comma-separated), checked and normalized
    to ``scheme://host[:port]`` as browsers send them in the ``Origin`` header."""
    origins: list[str] = []
    for raw in text.replace(",", "\n").splitlines():
        value = raw.strip().rstrip("/")
        if not value:
            continue
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
            raise ValidationError(
                {"storefront_origins": f"{value!r} is not an origin like https://shop.example.com."}
            )
        origin = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        if origin not in origins:
            origins.append(origin)
    return origins


class Merchant(models.Model):
    """A shop: the tenant every other row belongs to."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="merchants", blank=True
    )
    # Signs this shop's shopper tokens (with SECRET_KEY): rotating it revokes every token the
    # shop's backend has handed out, without touching other shops.
    shopper_token_secret = models.CharField(max_length=64, default=new_token_secret, editable=False)
    storefront_origins = models.TextField(
        blank=True,
        help_text=(
            "The origins of your shop's pages, one per line (e.g. https://shop.example.com). "
            "Only these may call the storefront API from a browser or frame the video player."
        ),
    )
    monthly_budget = models.DecimalField(
        "monthly budget (USD)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=(
            "The most this shop spends on paid AI rendering in a calendar month; new paid "
            "work stops being submitted when it is reached. Empty: no cap. The built-in "
            "renderer is free and never counts."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        self.storefront_origins = "\n".join(origin_list(self.storefront_origins))

    @property
    def origins(self) -> list[str]:
        return origin_list(self.storefront_origins)


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        STAFF = "staff", "Staff"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "merchant"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.role})"


# A stored brand asset's name: the sha256 of its content and the extension of the format its
# check recognised (catalog.brand_assets), never what the uploader called it.
BRAND_ASSET_NAME = re.compile(
    r"^[0-9a-f]{64}\.(?:png|jpg|ttf|otf|ttc|mp3|wav|flac|ogg|m4a|aac|aiff)$"
)


def brand_asset_path(instance: "BrandKit", filename: str) -> str:
    """Where a brand asset is stored; refuses any name ``catalog.services.brand_kit_update``
    did not derive from the content, so an uploader's name can never reach storage."""
    if not BRAND_ASSET_NAME.match(filename):
        raise ValueError(f"Brand assets are stored under content-derived names, not {filename!r}.")
    return f"brand/{instance.merchant.slug}/{filename}"


class BrandKit(models.Model):
    """How a merchant's videos look: colors, logo and caption font."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE, related_name="brand_kit")
    logo = models.ImageField(upload_to=brand_asset_path, blank=True)
    logo_hash = models.CharField(max_length=64, blank=True, editable=False)
    primary_color = models.CharField(max_length=7, default="#1F2937", validators=[hex_color])
    secondary_color = models.CharField(max_length=7, default="#F59E0B", validators=[hex_color])
    font = models.FileField(
        upload_to=brand_asset_path,
        blank=True,
        help_text="A TrueType or OpenType font for captions; the built-in sans serif if empty.",
    )
    font_hash = models.CharField(max_length=64, blank=True, editable=False)
    music = models.FileField(
        upload_to=brand_asset_path,
        blank=True,
        help_text="Your own music bed (MP3, WAV, M4A, OGG, FLAC); Scenecart's own if empty.",
    )
    music_hash = models.CharField(max_length=64, blank=True, editable=False)
    call_to_action = models.CharField(
        max_length=60, default="Shop now", help_text="The line on the closing shot."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Brand kit of {self.merchant}"


class Product(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="products")
    sku = models.CharField("SKU", max_length=100)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    price = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    # What the product sold for before a sale (Shopify's "compare at", Google's regular price
    # beside a sale_price): the offer shot shows it beside the price, so it is a visible fact.
    compare_at_price = models.DecimalField(
        "compare-at price",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="The price before the sale; empty when the product is not on sale.",
    )
    currency = models.CharField(max_length=3, default="USD", validators=[currency_code])
    category = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=list, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant", "title"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "sku"], name="product_unique_sku")
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.sku})"


def product_image_path(instance: "ProductImage", filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "png"
    product = instance.product
    return f"products/{product.merchant.slug}/{instance.content_hash[:2]}/{instance.content_hash}.{suffix}"


class ProductImage(models.Model):
    class CutoutKind(models.TextChoices):
        PENDING = "", "Not made yet"
        CUTOUT = "cutout", "Background removed"
        ALPHA = "alpha", "Already transparent"
        CARD = "card", "Framed card (busy background)"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    file = models.ImageField(
        upload_to=product_image_path, width_field="width", height_field="height"
    )
    width = models.PositiveIntegerField(editable=False, default=0)
    height = models.PositiveIntegerField(editable=False, default=0)
    content_hash = models.CharField(max_length=64, editable=False)
    position = models.PositiveIntegerField(default=1)
    alt = models.CharField(max_length=255, blank=True)
    # The product on a transparent background (sRGB RGBA PNG), stored beside the original and
    # used by every segment; made by catalog.services.product_image_cutout.
    cutout = models.FileField(max_length=255, blank=True, editable=False)
    cutout_hash = models.CharField(max_length=64, blank=True, editable=False)
    cutout_kind = models.CharField(
        max_length=10, choices=CutoutKind.choices, blank=True, default="", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["product", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "content_hash"], name="productimage_unique_content"
            )
        ]

    def __str__(self) -> str:
        return f"Image {self.position} of {self.product.sku}"


class ShopperProfile(models.Model):
    """What a merchant knows about one of its shoppers, keyed by the merchant's own id."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="shopper_profiles"
    )
    external_id = models.CharField(max_length=200)
    country = models.CharField(max_length=2, blank=True, validators=[country_code])
    region = models.CharField(max_length=100, blank=True)
    climate = models.CharField(max_length=20, choices=Climate.choices, blank=True)
    aesthetic = models.CharField(max_length=20, choices=Aesthetic.choices, blank=True)
    locale = models.CharField(max_length=10, choices=Locale.choices, blank=True)
    personalization_consent = models.BooleanField(
        default=False, help_text="Only shoppers who agreed see videos chosen for them."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant", "external_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="shopperprofile_unique_external_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.merchant})"


class ProductImageSource(models.Model):
    """An image a catalog import named by URL: fetched by a worker (catalog.fetch), never in
    the merchant's request. A failed fetch keeps its reason, which the admin shows as
    "image missing: <reason>"; the product itself is imported all the same."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        FETCHED = "fetched", "Fetched"
        FAILED = "failed", "Image missing"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="image_sources")
    url = models.URLField(max_length=2000)
    position = models.PositiveIntegerField(default=1)
    alt = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    image = models.ForeignKey(
        ProductImage, null=True, blank=True, on_delete=models.SET_NULL, related_name="sources"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product", "position"]
        constraints = [
            models.UniqueConstraint(fields=["product", "url"], name="imagesource_unique_url")
        ]

    def __str__(self) -> str:
        if self.status == self.Status.FAILED:
            return f"image missing: {self.error}"
        return f"{self.url} ({self.get_status_display()})"


feed_url = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// URL.")


class CatalogFeed(models.Model):
    """A catalog export the merchant publishes at a URL, imported again on a schedule.

    Beat queues a sync once ``next_due_at`` has passed (catalog.feeds). The sync fetches the
    feed with the validators of the copy last imported, so an unchanged feed costs one 304,
    and imports it like an upload, which leaves unchanged products untouched. A failed sync
    keeps the last good report and is tried again at the next due time. ``syncing_since`` is
    the claim that keeps two workers from syncing one feed at once.
    """

    class Format(models.TextChoices):
        DETECT = "", "Recognise it"
        SHOPIFY = "shopify", "Shopify CSV"
        GOOGLE = "google", "Google Merchant feed"

    class Role(models.TextChoices):
        PRIMARY = "primary", "Primary feed"
        SUPPLEMENTAL = "supplemental", "Supplemental feed (Google)"

    class Outcome(models.TextChoices):
        NEVER = "", "Not synced yet"
        OK = "ok", "Imported"
        NOT_MODIFIED = "not_modified", "Not modified"
        FAILED = "failed", "Failed"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="catalog_feeds")
    url = models.URLField(
        "feed URL",
        max_length=2000,
        validators=[feed_url],
        help_text=(
            "Where your shop publishes its Shopify product CSV or Google Merchant Center feed "
            "(TSV, RSS or Atom)."
        ),
    )
    format = models.CharField(
        max_length=10, choices=Format.choices, blank=True, default=Format.DETECT
    )
    role = models.CharField(
        max_length=12,
        choices=Role.choices,
        default=Role.PRIMARY,
        help_text=(
            "A Google supplemental feed adds to or overrides attributes of the products your "
            "primary feed lists; it creates none."
        ),
    )
    every_minutes = models.PositiveIntegerField(
        "sync every (minutes)",
        default=60,
        validators=[MinValueValidator(5), MaxValueValidator(7 * 24 * 60)],
    )
    enabled = models.BooleanField(default=True, help_text="Untick to stop syncing this feed.")
    # The validators of the copy last imported (the ETag and Last-Modified headers as sent),
    # sent back as If-None-Match and If-Modified-Since.
    etag = models.CharField("ETag", max_length=256, blank=True, editable=False)
    last_modified = models.CharField(max_length=256, blank=True, editable=False)
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_due_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    syncing_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_outcome = models.CharField(
        max_length=12, choices=Outcome.choices, blank=True, default=Outcome.NEVER, editable=False
    )
    last_report = models.JSONField(null=True, blank=True, editable=False)  # ImportReport.to_dict()
    last_error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["merchant", "url"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "url"], name="catalogfeed_unique_url")
        ]

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        super().clean()
        parts = urlsplit(self.url)
        if parts.username or parts.password:
            # They would be shown in the admin and stored in clear; a feed URL with a secret
            # token in its path or query is what Shopify apps and Google feed hosts hand out.
            raise ValidationError({"url": "Leave the user name and password out of the URL."})
        if self.role == self.Role.SUPPLEMENTAL and self.format != self.Format.GOOGLE:
            raise ValidationError(
                {"role": "Only a Google feed can be supplemental: set the format to Google."}
            )
