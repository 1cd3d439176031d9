"""Writes to the catalog. Views, admin, commands and tasks call these, never ``.save()``."""

import hashlib
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from django.core.files.base import ContentFile
from django.db import transaction

from . import dispatch
from .brand_assets import CheckedAsset, font_upload_check, music_upload_check
from .cutout import make_cutout
from .models import (
    BrandKit,
    Membership,
    Merchant,
    Product,
    ProductImage,
    ShopperProfile,
    new_token_secret,
)
from .selectors import merchant_forget, product_forget
from .uploads import image_upload_check

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def merchant_create(*, name: str, slug: str) -> Merchant:
    merchant = Merchant(name=name, slug=slug)
    merchant.full_clean()
    with transaction.atomic():
        merchant.save()
        BrandKit.objects.create(merchant=merchant)
    return merchant


def merchant_token_secret_rotate(*, merchant: Merchant) -> str:
    """Give the merchant a new shopper-token secret; every token signed with the old one stops
    working at once. Returns the new secret (shown to the merchant once)."""
    merchant.shopper_token_secret = new_token_secret()
    merchant.save(update_fields=["shopper_token_secret"])
    merchant_forget(slug=merchant.slug)
    return merchant.shopper_token_secret


def merchant_storefront_update(*, merchant: Merchant, storefront_origins: str) -> Merchant:
    merchant.storefront_origins = storefront_origins
    merchant.full_clean()
    merchant.save(update_fields=["storefront_origins"])
    merchant_forget(slug=merchant.slug)
    return merchant


def membership_grant(
    *, merchant: Merchant, user: "User", role: str = Membership.Role.STAFF
) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        merchant=merchant, user=user, defaults={"role": role}
    )
    return membership


BrandAsset = tuple[str, bytes] | Literal[False] | None


def brand_kit_update(
    *,
    merchant: Merchant,
    primary_color: str | None = None,
    secondary_color: str | None = None,
    call_to_action: str | None = None,
    logo: BrandAsset = None,
    font: BrandAsset = None,
    music: BrandAsset = None,
) -> BrandKit:
    """Update the brand kit. ``logo``, ``font`` and ``music`` are ``(filename, content)`` to
    replace the file, ``False`` to remove it, ``None`` to leave it.

    Every file is checked before anything is stored. Content hashes are kept beside the files
    because segment keys are built from them: a new logo re-renders the outros and nothing else.
    """
    uploads = {"logo": logo, "font": font, "music": music}
    checked: dict[str, CheckedAsset] = {}
    for field, upload in uploads.items():
        if upload:
            checked[field] = brand_asset_check(field, upload[1], filename=upload[0])
    kit, _ = BrandKit.objects.get_or_create(merchant=merchant)
    before = {name: getattr(kit, name) for name in BRAND_CHANGES}
    if primary_color is not None:
        kit.primary_color = primary_color
    if secondary_color is not None:
        kit.secondary_color = secondary_color
    if call_to_action is not None:
        kit.call_to_action = call_to_action
    kit.full_clean(exclude=["logo", "font", "music"])
    for field, upload in uploads.items():
        if upload is None:
            continue
        file_field = getattr(kit, field)
        if upload is False:
            if file_field:
                file_field.delete(save=False)
            setattr(kit, f"{field}_hash", "")
            continue
        asset = checked[field]
        setattr(kit, f"{field}_hash", asset.content_hash)
        # Named by content and recognised format: the uploader's name and extension are never
        # kept, so nothing stored under brand/ can be served as a page.
        file_field.save(asset.stored_name, ContentFile(asset.content), save=False)
    with transaction.atomic():
        kit.save()
        changed = [
            label for name, label in BRAND_CHANGES.items() if getattr(kit, name) != before[name]
        ]
        if changed:
            # The logo is a fact the storefront checks (catalog.facts); every video of the
            # shop shows the kit, so every one is re-planned.
            transaction.on_commit(lambda: merchant_forget(slug=merchant.slug))
            dispatch.refresh_videos(
                merchant.pk, reason=", ".join(dict.fromkeys(changed)) + " changed"
            )
    merchant_forget(slug=merchant.slug)
    return kit


# What the merchant reads while their videos refresh after a brand kit change.
BRAND_CHANGES = {
    "primary_color": "brand colors",
    "secondary_color": "brand colors",
    "call_to_action": "call to action",
    "logo_hash": "logo",
    "font_hash": "font",
    "music_hash": "music",
}


def product_create(
    *,
    merchant: Merchant,
    sku: str,
    title: str,
    price: Decimal | str,
    compare_at_price: Decimal | str | None = None,
    currency: str = "USD",
    description: str = "",
    category: str = "",
    tags: list[str] | None = None,
    attributes: dict[str, Any] | None = None,
    status: str = Product.Status.ACTIVE,
) -> Product:
    product = Product(
        merchant=merchant,
        sku=sku,
        title=title,
        price=Decimal(str(price)),
        compare_at_price=None if compare_at_price is None else Decimal(str(compare_at_price)),
        currency=currency,
        description=description,
        category=category,
        tags=list(tags or []),
        attributes=dict(attributes or {}),
        status=status,
    )
    product.full_clean()
    product.save()
    return product


def product_update(*, product: Product, **fields: Any) -> Product:
    allowed = {
        "title", "description", "price", "compare_at_price", "currency", "category", "tags",
        "attributes", "status",
    }  # fmt: skip
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"product_update() got unknown fields: {', '.join(sorted(unknown))}")
    changed = []
    for name, value in fields.items():
        if name in ("price", "compare_at_price") and value is not None:
            value = Decimal(str(value))
        if getattr(product, name) != value:
            changed.append(name)
        setattr(product, name, value)
    product.full_clean()
    with transaction.atomic():
        product.save()
        product_changed(product=product, fields=changed)
    return product


def product_changed(*, product: Product, fields: Iterable[str]) -> None:
    """What follows a change of a product's fields or photos (``product_update``, the admin's
    form): the storefront sees the product as it is now at once (its cached entry is dropped
    now and again after commit), only an active product's videos are published, and every
    video of the product is re-planned (``rendering.refresh_videos``: only what changed is
    rendered again)."""
    names = list(dict.fromkeys(fields))
    if not names:
        return
    product_forget(merchant_id=product.merchant_id, sku=product.sku)
    transaction.on_commit(lambda: product_forget(merchant_id=product.merchant_id, sku=product.sku))
    if "status" in names:
        dispatch.sync_publication(product.merchant_id, product_ids=[product.pk])
    labels = [CHANGE_LABELS.get(name, name.replace("_", " ")) for name in names]
    dispatch.refresh_videos(
        product.merchant_id, product_ids=[product.pk], reason=", ".join(labels) + " changed"
    )


# How the merchant reads a change while its videos refresh ("price changed").
CHANGE_LABELS = {
    "compare_at_price": "compare-at price",
    "attributes": "product details",
    "images": "photos",
}


def product_image_add(
    *, product: Product, filename: str, content: bytes, alt: str = "", position: int | None = None
) -> ProductImage:
    """Store a product photo once per content; the same picture added twice returns the first
    row. The upload is checked and normalized (``catalog.uploads``) before anything is written;
    a refused file raises ``ImageRefused`` naming the file and the reason, and stores nothing.
    """
    checked = image_upload_check(content, filename=filename)
    content_hash = checked.content_hash
    existing = product.images.filter(content_hash=content_hash).first()
    if existing is not None:
        return existing
    if position is None:
        last = product.images.order_by("-position").values_list("position", flat=True).first()
        position = (last or 0) + 1
    row = ProductImage(product=product, content_hash=content_hash, position=position, alt=alt)
    with transaction.atomic():
        row.file.save(f"{content_hash}.{checked.suffix}", ContentFile(checked.content), save=False)
        try:
            row.full_clean()
            row.save()
        except Exception:
            row.file.delete(save=False)
            raise
    dispatch.cutout_product_image(row.pk)
    product_changed(product=product, fields=["images"])
    return row


def product_image_cutout(*, image: ProductImage, force: bool = False) -> ProductImage:
    """Make the product's cut-out (``catalog.cutout``) and store it beside the original as
    ``<content_hash>.cutout.png``; the hash of the PNG goes into segment keys.

    Idempotent: an image whose cut-out exists is returned as it is unless ``force``. The row
    is locked while the cut-out is made, so the upload task and a render that needs the
    cut-out first do not both make it.
    """
    with transaction.atomic():
        # The image row only: locking the joined product and merchant rows too would make a
        # cut-out wait on (and deadlock with) any transaction that references them.
        locked = ProductImage.objects.select_for_update(of=("self",)).select_related(
            "product__merchant"
        )
        image = locked.get(pk=image.pk)
        made = image.cutout.name if image.cutout_kind else None
        if made and not force and image.cutout.storage.exists(made):
            return image
        with image.file.open("rb") as handle:
            content = handle.read()
        assert image.file.name, "FieldFile.open() refuses a file without a name"
        cutout = make_cutout(content, filename=image.file.name)
        merchant = image.product.merchant
        name = f"products/{merchant.slug}/{image.content_hash[:2]}/{image.content_hash}.cutout.png"
        storage = image.cutout.storage
        if storage.exists(name):
            # A leftover of an earlier run (or the cut-out being remade): the name is the
            # contract, so replace it instead of letting the storage pick another one.
            storage.delete(name)
        image.cutout.save(name, ContentFile(cutout.png), save=False)
        image.cutout_hash = hashlib.sha256(cutout.png).hexdigest()
        image.cutout_kind = cutout.kind
        image.save(update_fields=["cutout", "cutout_hash", "cutout_kind"])
    return image


def shopper_profile_upsert(
    *, merchant: Merchant, external_id: str, **fields: Any
) -> ShopperProfile:
    profile = ShopperProfile.objects.filter(merchant=merchant, external_id=external_id).first()
    if profile is None:
        profile = ShopperProfile(merchant=merchant, external_id=external_id)
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.full_clean()
    profile.save()
    return profile


def brand_asset_check(field: str, content: bytes, *, filename: str) -> CheckedAsset:
    """Check a brand kit upload (``logo``, ``font`` or ``music``) by its content; raise a
    ``ValidationError`` naming the file and the reason. The logo comes back normalized like
    every image (upright, sRGB, no metadata)."""
    if field == "logo":
        image = image_upload_check(content, filename=filename)
        return CheckedAsset(
            content=image.content,
            suffix=image.suffix,
            content_type="image/png" if image.suffix == "png" else "image/jpeg",
            content_hash=image.content_hash,
        )
    if field == "font":
        return font_upload_check(content, filename=filename)
    if field == "music":
        return music_upload_check(content, filename=filename)
    raise ValueError(f"A brand kit has no file field {field!r}.")
