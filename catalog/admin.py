"""The merchant workspace in the Django admin.

Access comes from membership, not from Django's per-model permissions: a staff user sees and
edits exactly the rows of the merchants they belong to; superusers see everything. Other apps
reuse :class:`MerchantScopedAdmin` for their merchant-owned models.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import ForeignKey, Model, QuerySet, URLField
from django.forms import ModelChoiceField
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from . import services
from .brand_assets import font_upload_check, music_upload_check
from .feeds import catalog_feed_create, catalog_feed_sync_request, catalog_feed_update
from .importers import ImportFormatError
from .importing import catalog_import
from .models import (
    BrandKit,
    CatalogFeed,
    Membership,
    Merchant,
    Product,
    ProductImage,
    ProductImageSource,
    ShopperProfile,
)
from .selectors import merchant_forget, merchants_for_user
from .uploads import image_upload_check

_FormField = TypeVar("_FormField", bound=forms.Field)


def form_field(form: forms.BaseForm, name: str, kind: type[_FormField]) -> _FormField:
    """``form.fields[name]`` as the field class the form declares it with, so a form can set
    the choices or queryset of its own field per request (``form.fields`` is typed as plain
    fields)."""
    field = form.fields[name]
    if not isinstance(field, kind):
        raise TypeError(
            f"{type(form).__name__}.{name} is a {type(field).__name__}, not a {kind.__name__}."
        )
    return field


def _is_member(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and merchants_for_user(user=user).exists())


if TYPE_CHECKING:
    # What the mixin is mixed into (a ModelAdmin or an inline), so its super() calls and
    # self.model are checked; at run time it stays a plain mixin.
    _AdminBase = admin.options.BaseModelAdmin[Any]
else:
    _AdminBase = object


class MerchantScopedMixin(_AdminBase):
    """Scope an admin (or inline) to the requesting user's merchants.

    ``merchant_path`` is the ORM path from the model to its Merchant.
    """

    merchant_path = "merchant"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        merchants = merchants_for_user(user=request.user)
        return queryset.filter(**{f"{self.merchant_path}__in": merchants})

    def _owns(self, request: HttpRequest, obj: Model | None) -> bool:
        if request.user.is_superuser:
            return True
        if not _is_member(request):
            return False
        if obj is None:
            return True
        if not isinstance(obj, self.model):
            # Django asks an inline about the parent row it is shown on (e.g. the Product of
            # a ProductImage inline): that row is checked against its own merchant.
            merchant_id = obj.pk if isinstance(obj, Merchant) else getattr(obj, "merchant_id", None)
            if merchant_id is None:  # a row of no merchant belongs to none of the user's
                return False
            return merchants_for_user(user=request.user).filter(pk=merchant_id).exists()
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or _is_member(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._owns(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._owns(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._owns(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._owns(request, obj)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        # Never offer another merchant's rows in a dropdown.
        if not request.user.is_superuser:
            if db_field.related_model is Merchant:
                kwargs["queryset"] = merchants_for_user(user=request.user)
            elif db_field.related_model is Product:
                kwargs["queryset"] = Product.objects.filter(
                    merchant__in=merchants_for_user(user=request.user)
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class MerchantScopedAdmin(MerchantScopedMixin, admin.ModelAdmin):
    pass


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Merchant)
class MerchantAdmin(MerchantScopedAdmin):
    merchant_path = "pk"
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fields = ["name", "slug", "storefront_origins", "monthly_budget", "token_secret"]
    readonly_fields = ["token_secret"]
    actions = ["rotate_token_secret"]

    @admin.display(description="Shopper token secret")
    def token_secret(self, obj: Merchant) -> str:
        if not obj.pk:
            return "—"
        # Never shown back in full: it signs shopper tokens. Rotating shows the new one once.
        return f"…{obj.shopper_token_secret[-4:]} (use “Rotate the shopper token secret” in the list to get a new one)"

    @admin.action(description="Rotate the shopper token secret (revokes every shopper token)")
    def rotate_token_secret(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> None:
        for merchant in queryset:
            if not self._owns(request, merchant):
                continue
            secret = services.merchant_token_secret_rotate(merchant=merchant)
            self.message_user(
                request,
                f"New shopper token secret of {merchant.name}: {secret} — copy it to your "
                "shop's server now; it is not shown again. Tokens signed with the old one no "
                "longer work.",
                messages.WARNING,
            )

    def save_model(
        self, request: HttpRequest, obj: Merchant, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        # The storefront caches merchants (origins, secret): drop the entry.
        merchant_forget(slug=obj.slug)
        if "slug" in form.changed_data and form.initial.get("slug"):
            merchant_forget(slug=form.initial["slug"])

    def get_queryset(self, request: HttpRequest) -> QuerySet[Merchant]:
        if request.user.is_superuser:
            return Merchant.objects.all()
        return merchants_for_user(user=request.user)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser

    def get_inlines(self, request: HttpRequest, obj: Merchant | None) -> list[type]:
        # Who belongs to a shop is decided by the operator, not by the shop's own staff.
        return [MembershipInline] if request.user.is_superuser else []


class BrandKitForm(forms.ModelForm):
    """Checks uploads with the same rules as catalog.services.brand_kit_update, so a bad file
    is refused on the form, naming the file, before anything is stored."""

    class Meta:
        model = BrandKit
        fields = ["primary_color", "secondary_color", "call_to_action", "logo", "font", "music"]

    def _check(self, field: str, check: Callable[..., object]) -> object:
        upload = self.cleaned_data.get(field)
        if upload and field in self.changed_data:
            content = upload.read()
            upload.seek(0)
            check(content, filename=upload.name)
        return upload

    def clean_logo(self) -> object:
        return self._check("logo", image_upload_check)

    def clean_font(self) -> object:
        return self._check("font", font_upload_check)

    def clean_music(self) -> object:
        return self._check("music", music_upload_check)


@admin.register(BrandKit)
class BrandKitAdmin(MerchantScopedAdmin):
    form = BrandKitForm
    list_display = ["merchant", "primary_color", "secondary_color", "logo", "font", "music"]

    def save_model(
        self, request: HttpRequest, obj: BrandKit, form: forms.ModelForm, change: bool
    ) -> None:
        # Through the service, so the content hashes that segment keys use stay true.
        files: dict[str, Any] = {}
        for field in ("logo", "font", "music"):
            if field not in form.changed_data:
                continue
            upload = form.cleaned_data.get(field)
            files[field] = (upload.name, upload.read()) if upload else False
        services.brand_kit_update(
            merchant=obj.merchant,
            primary_color=form.cleaned_data["primary_color"],
            secondary_color=form.cleaned_data["secondary_color"],
            call_to_action=form.cleaned_data["call_to_action"],
            **files,
        )

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Every merchant gets its brand kit when it is created.
        return False


class ProductImageInline(MerchantScopedMixin, admin.TabularInline):
    model = ProductImage
    merchant_path = "product__merchant"
    extra = 0
    fields = ["preview", "file", "position", "alt", "width", "height"]
    readonly_fields = ["preview", "file", "width", "height"]

    @admin.display(description="Image")
    def preview(self, obj: ProductImage) -> str:
        if not obj.file:
            return "—"
        return format_html('<img src="{}" style="height:64px">', obj.file.url)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Images go through catalog.services.product_image_add (validation, hashing, dedup);
        # the add_product_image command and the catalog import are the ways in.
        return False


class ProductImageSourceInline(MerchantScopedMixin, admin.TabularInline):
    """Images a catalog import named by URL, and why any of them is missing."""

    model = ProductImageSource
    merchant_path = "product__merchant"
    extra = 0
    fields = ("position", "url", "state")
    readonly_fields = fields
    verbose_name_plural = "Imported images"

    @admin.display(description="State")
    def state(self, obj: ProductImageSource) -> str:
        return str(obj) if obj.status == obj.Status.FAILED else obj.get_status_display()

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class CatalogImportForm(forms.Form):
    merchant = forms.ModelChoiceField(queryset=Merchant.objects.none())
    file = forms.FileField(
        help_text="A Shopify product CSV export, or a Google Merchant Center feed (TSV, RSS, Atom)."
    )
    format = forms.ChoiceField(
        choices=[("", "Recognise it"), ("shopify", "Shopify CSV"), ("google", "Google feed")],
        required=False,
    )
    supplemental = forms.BooleanField(
        label="Supplemental feed",
        required=False,
        help_text=(
            "A Google supplemental feed: it only updates products already imported (matched "
            "by id), and only the attributes it sets."
        ),
    )

    def __init__(self, *args: Any, merchants: QuerySet[Merchant], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = form_field(self, "merchant", forms.ModelChoiceField)
        field.queryset = merchants
        if merchants.count() == 1:
            field.initial = merchants.first()


class ProductAdmin(MerchantScopedAdmin):
    """The catalog's part of the product admin: fields, photos, the catalog import. Not
    registered here: rendering registers the product admin once, this plus its videos
    (``rendering.admin.products``)."""

    list_display = ["title", "sku", "merchant", "price", "currency", "status", "updated_at"]
    list_filter = ["status", "merchant"]
    search_fields = ["title", "sku", "category"]
    inlines = [ProductImageInline, ProductImageSourceInline]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Import a catalog export into one of the user's shops, with the report by line."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        merchants = merchants_for_user(user=request.user)
        form = CatalogImportForm(request.POST or None, request.FILES or None, merchants=merchants)
        report = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = catalog_import(
                    merchant=form.cleaned_data["merchant"],
                    content=upload.read(),
                    filename=upload.name,
                    format=form.cleaned_data["format"] or None,
                    supplemental=form.cleaned_data["supplemental"],
                )
            except ImportFormatError as exc:
                form.add_error("file", str(exc))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a catalog",
            "opts": self.model._meta,
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/catalog/product/import.html", context)

    def get_list_filter(self, request: HttpRequest) -> tuple[str, ...]:
        return ("status", "merchant") if request.user.is_superuser else ("status",)

    def save_model(
        self, request: HttpRequest, obj: Product, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if change:
            services.product_changed(product=obj, fields=form.changed_data)

    def save_related(
        self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        # A photo removed or moved may change the one the videos show.
        if change and any(
            formset.model is ProductImage and formset.has_changed() for formset in formsets
        ):
            services.product_changed(product=form.instance, fields=["images"])


@admin.register(ShopperProfile)
class ShopperProfileAdmin(MerchantScopedAdmin):
    list_display = [
        "external_id", "merchant", "country", "climate", "aesthetic", "locale",
        "personalization_consent",
    ]  # fmt: skip
    list_filter = ["climate", "aesthetic", "personalization_consent"]
    search_fields = ["external_id"]


# What the parsers call the formats they read (ParseResult.format), in the merchant's words.
FEED_FORMATS = {
    "shopify_csv": "Shopify CSV",
    "google_tsv": "Google Merchant feed, TSV",
    "google_xml": "Google Merchant feed, XML",
}


@admin.register(CatalogFeed)
class CatalogFeedAdmin(MerchantScopedAdmin):
    """Feeds synced on a schedule (catalog.feeds), with the last sync's report in words."""

    editable = ["url", "format", "role", "every_minutes", "enabled"]
    # Django 6's default, asked for now: a URL typed without a scheme is https.
    formfield_overrides = {URLField: {"assume_scheme": "https"}}
    list_display = ["url", "merchant", "format", "every_minutes", "enabled", "last_sync"]
    list_filter = ["enabled", "last_outcome"]
    search_fields = ["url"]
    actions = ["sync_now"]
    readonly_fields = [
        "last_sync", "last_error", "last_import", "refused_rows", "last_changed_at",
        "next_due_at",
    ]  # fmt: skip

    def get_fieldsets(self, request: HttpRequest, obj: CatalogFeed | None = None) -> Any:
        feed = (None, {"fields": ["merchant", *self.editable]})
        if obj is None:
            return [feed]
        sync = ("Last sync", {"fields": self.readonly_fields})
        return [feed, sync]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        # A feed stays with the shop it was registered for.
        return [*self.readonly_fields, *(["merchant"] if obj is not None else [])]

    def save_model(
        self, request: HttpRequest, obj: CatalogFeed, form: forms.ModelForm, change: bool
    ) -> None:
        values = {name: form.cleaned_data[name] for name in self.editable}
        if change:
            saved = catalog_feed_update(feed=CatalogFeed.objects.get(pk=obj.pk), **values)
        else:
            saved = catalog_feed_create(merchant=form.cleaned_data["merchant"], **values)
        obj.pk = saved.pk

    @admin.action(description="Sync the selected feeds now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[CatalogFeed]) -> None:
        feeds = [feed for feed in queryset if self._owns(request, feed)]
        for feed in feeds:
            catalog_feed_sync_request(feed=feed)
        self.message_user(
            request,
            f"A worker syncs {len(feeds)} feed{'s' if len(feeds) != 1 else ''} now: reload "
            "this page in a moment for the outcome.",
        )

    @admin.display(description="Last sync", ordering="last_checked_at")
    def last_sync(self, obj: CatalogFeed) -> str:
        if obj.last_checked_at is None:
            return "Not synced yet" + (" (a worker is on it)" if obj.syncing_since else "")
        ago = f"{timesince(obj.last_checked_at)} ago"
        if obj.last_outcome == CatalogFeed.Outcome.NOT_MODIFIED:
            return f"Not modified since the last import (checked {ago})"
        if obj.last_outcome == CatalogFeed.Outcome.FAILED:
            return f"Failed {ago}: {obj.last_error}"
        return f"{obj.get_last_outcome_display()} {ago}: {self._counts(obj.last_report)}"

    @admin.display(description="Last import")
    def last_import(self, obj: CatalogFeed) -> str:
        """What the last import did (a failed or unchanged sync keeps it)."""
        if not obj.last_report:
            return "—"
        kind = str(obj.last_report.get("format", ""))
        kind = FEED_FORMATS.get(kind, kind)
        return f"{self._counts(obj.last_report)}" + (f" ({kind})" if kind else "")

    @admin.display(description="Refused rows")
    def refused_rows(self, obj: CatalogFeed) -> str:
        refused = list((obj.last_report or {}).get("refused", []))
        if not refused:
            return "—"
        rows = format_html_join(
            "", "<li>line {}: {}</li>", ((row["line"], row["reason"]) for row in refused)
        )
        more = int((obj.last_report or {}).get("refused_total", len(refused))) - len(refused)
        tail = format_html("<li>… and {} more</li>", more) if more > 0 else ""
        return format_html('<ul style="margin-left:0">{}{}</ul>', rows, tail)

    @staticmethod
    def _counts(report: dict[str, Any] | None) -> str:
        if not report:
            return "—"
        refused = int(report.get("refused_total", len(report.get("refused", []))))
        return (
            f"{report.get('created', 0)} created, {report.get('updated', 0)} updated, "
            f"{report.get('unchanged', 0)} unchanged, {refused} refused, "
            f"{report.get('images_queued', 0)} images queued"
        )
