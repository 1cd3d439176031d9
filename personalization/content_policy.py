"""Content policy: no protected characters or marks reach a render backend.

Every text that can end up in a video or in a provider's prompt — the product's title,
category, description, tags and attributes, the merchant's overrides (brand kit call to
action, shop name) and every ScenePlan's prompt and captions — is checked before any backend is
called. A refusal (``ContentPolicyRefusal``) names the term and the field it was found in, so the
merchant knows what to change. Provider moderation refusals are a separate, later line of
defence (``Segment.failure_kind == "moderation"``).

The terms are Scenecart's maintained list (``data/protected_terms.txt``; its header explains the
format and what is left out on purpose) plus each merchant's own ``ContentPolicy``: extra terms
it wants refused, and terms it holds a licence for and allows. A merchant in "licensed assets
only" mode has no text-to-video at all: a product without an image of its own is refused, and
the rendering core reads ``licensed_assets_only`` to keep every remote backend on
image-to-video.

Finding a term in a text, in any spelling, is ``personalization.terms``'s job.

Pure: no HTTP, no files but the list; the only queries are the merchant's policy row, the
product's images and the brand kit.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from catalog.models import BrandKit, Merchant, Product, ProductImageSource
from videokit.plan import ScenePlan

from . import dispatch
from .models import ContentPolicy
from .terms import Found, maintained_matcher, own_matcher, term_key, term_lines


class ContentPolicyRefusal(ValueError):
    """A text that may not be rendered. ``term`` is what was found (as the list spells it),
    ``field`` where (e.g. "product description"), ``reason`` why; the message says all three,
    for the merchant. A ``ValueError``: bad input, final, never retried."""

    def __init__(self, term: str, field: str, reason: str, *, message: str = "") -> None:
        self.term = term
        self.field = field
        self.reason = reason
        super().__init__(message or f"'{term}' in {field} {reason}")


class LicensedAssetsRefusal(ContentPolicyRefusal):
    """A product a "licensed assets only" merchant cannot render: it has no image of its own,
    so every backend would have to invent it from text."""


# --- a merchant's policy ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MerchantTerms:
    """What the checks need of one merchant: plain values, read once per check."""

    shop: str
    extra: tuple[str, ...] = ()
    allowed: frozenset[str] = frozenset()  # term keys
    licensed_assets_only: bool = False

    def first(self, text: str) -> Found | None:
        """The first protected term in ``text`` this merchant may not render, or None."""
        own = next(own_matcher(self.extra, self.shop).finditer(text), None)
        found = [own] if own is not None else []
        for hit in maintained_matcher().finditer(text):
            # A licence for an ambiguous word ("Apple") covers the phrases that mean it.
            family = term_key(hit.term.family) if hit.term.family else ""
            if hit.term.key in self.allowed or (family and family in self.allowed):
                continue
            found.append(hit)
            break
        return min(found, key=lambda f: f.start) if found else None


def merchant_terms(*, merchant: Merchant) -> MerchantTerms:
    row = ContentPolicy.objects.filter(merchant=merchant).first()
    if row is None:
        return MerchantTerms(shop=merchant.name)
    return MerchantTerms(
        shop=merchant.name,
        extra=tuple(term_lines(row.extra_terms)),
        allowed=frozenset(term_key(t) for t in term_lines(row.allowed_terms)),
        licensed_assets_only=row.licensed_assets_only,
    )


def licensed_assets_only(*, merchant_id: int) -> bool:
    """Whether this merchant renders from its own images only. The rendering core reads it
    to keep every remote backend on image-to-video (and segments without a product image,
    such as the outro, on the built-in renderer, which draws the merchant's own logo)."""
    return ContentPolicy.objects.filter(merchant_id=merchant_id, licensed_assets_only=True).exists()


# --- the checks -------------------------------------------------------------------------------


def content_check(*, merchant: Merchant, fields: Mapping[str, str]) -> None:
    """Refuse the first protected term in ``fields`` (field name -> text, checked in order)."""
    _check(merchant_terms(merchant=merchant), fields)


def _check(terms: MerchantTerms, fields: Mapping[str, str]) -> None:
    for name, text in fields.items():
        found = terms.first(text)
        if found is None:
            continue
        term = found.term.term
        # The merchant's own spelling too, when it differs, so they can find it in their text.
        written = "" if found.written == term else f" (written '{found.written}')"
        raise ContentPolicyRefusal(
            term,
            name,
            found.term.reason,
            message=f"'{term}'{written} in {name} {found.term.reason}",
        )


def product_fields(product: Product) -> dict[str, str]:
    """The product's own texts, by the name a merchant knows them by. Tags are checked one
    by one (joined by a character no term spans), so two tags never make a term together."""
    fields = {
        "product title": product.title,
        "product category": product.category,
        "product description": product.description,
        "product tags": " ; ".join(str(tag) for tag in product.tags or []),
    }
    for name, value in (product.attributes or {}).items():
        fields[f'product attribute "{name}"'] = " ; ".join(_texts(value))
    return fields


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)
    elif value is not None:
        yield str(value)


def merchant_fields(merchant: Merchant) -> dict[str, str]:
    """The merchant's overrides that reach a video: the brand kit's call to action (the closing
    shot) and the shop's name (the closing shot's second line)."""
    kit = BrandKit.objects.filter(merchant=merchant).first()
    return {
        "brand kit call to action": kit.call_to_action if kit is not None else "",
        "shop name": merchant.name,
    }


def plan_fields(plans: Sequence[ScenePlan]) -> dict[str, str]:
    """What each plan sends or shows. Not the negative prompt: naming a character there asks
    the model to keep it *out*."""
    fields: dict[str, str] = {}
    for plan in plans:
        fields[f"{plan.kind} segment prompt"] = plan.prompt
        fields[f"{plan.kind} segment caption"] = plan.caption
        fields[f"{plan.kind} segment subcaption"] = plan.subcaption
    return fields


def plan_check(*, merchant: Merchant, product: Product, plans: Sequence[ScenePlan]) -> None:
    """Refuse a video before any backend is called: a protected term in the product's texts,
    the merchant's overrides or the plans (in that order, so the refusal names the field the
    merchant wrote rather than the prompt it ended up in), or, for a "licensed assets only"
    merchant, a product with no image of its own."""
    terms = merchant_terms(merchant=merchant)
    _check(terms, product_fields(product))
    _check(terms, merchant_fields(merchant))
    _check(terms, plan_fields(plans))
    if terms.licensed_assets_only and not product.images.exists():
        waiting = product.image_sources.filter(status=ProductImageSource.Status.PENDING).count()
        note = f" ({waiting} still waiting to be fetched from the catalog feed)" if waiting else ""
        raise LicensedAssetsRefusal(
            product.sku,
            "product images",
            "has no image",
            message=(
                f"'{product.title}' ({product.sku}) has no image of its own{note}, and "
                f"{terms.shop} renders from its own images only (licensed assets only): "
                "without one the video would be made from text alone. Add a product image, or "
                'turn off "licensed assets only" in the content policy.'
            ),
        )


def policy_check_plans(*, product: Product, plans: Sequence[ScenePlan]) -> None:
    """The one call the rendering core makes after planning and before any backend."""
    plan_check(merchant=product.merchant, product=product, plans=plans)


def content_policy_update(*, merchant: Merchant, **fields: Any) -> ContentPolicy:
    """Create or change a merchant's content policy; checked (``ContentPolicy.clean``) first.

    A change re-plans every video of the shop (``rendering.refresh_videos``): a video whose
    texts the policy now refuses is withdrawn with the reason, one it refused before may now
    be made."""
    policy = ContentPolicy.objects.filter(merchant=merchant).first() or ContentPolicy(
        merchant=merchant
    )
    changed = policy.pk is None or any(getattr(policy, n) != v for n, v in fields.items())
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.full_clean()
    with transaction.atomic():
        policy.save()
        if changed:
            dispatch.refresh_videos(merchant.pk, reason="content policy changed")
    return policy
