"""The facts a product's video states, and whether a video still states them truly.

A video shows its product's title, price (and the price before a sale), a claim and the
product's photo, and closes on the shop's logo. Each video records the facts it was made from
(``rendering``); when the catalog says otherwise, the video is stale and the storefront stops
serving it that moment, before anything is re-rendered. Plain data, cheap to compare: the
lookup compares one hash per variant.
"""

import hashlib
import json
from dataclasses import asdict, dataclass

from .models import BrandKit, Product

# How the merchant reads a changed fact: "refreshing: price changed".
FACT_LABELS = {
    "title": "title",
    "price": "price",
    "compare_at_price": "compare-at price",
    "currency": "currency",
    "claim": "claim",
    "image": "product photo",
    "logo": "logo",
}

CLAIM_LENGTH = 70


def claim_for(product: Product) -> str:
    """A short claim line: the merchant's own (``attributes["claim"]``), else the first sentence
    of the description, kept short enough for one caption line."""
    claim = str(product.attributes.get("claim", "")).strip() if product.attributes else ""
    if not claim and product.description:
        claim = product.description.strip().split(". ")[0].rstrip(".")
    if len(claim) > CLAIM_LENGTH:
        claim = claim[: CLAIM_LENGTH - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return claim


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """What a video of the product states about it (the shop's logo is the merchant's)."""

    title: str
    price: str
    compare_at_price: str
    currency: str
    claim: str
    image: str  # the content hash of the photo the video shows ("" if none)

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @property
    def key(self) -> str:
        return facts_key(self.to_dict())


def product_facts(product: Product, *, image_hash: str | None = None) -> ProductFacts:
    """The facts of ``product`` as it is now; ``image_hash`` when the caller has read the
    first photo's hash already (else it is read: the photo by position, as videos use it)."""
    if image_hash is None:
        image_hash = (
            product.images.order_by("position", "id").values_list("content_hash", flat=True).first()
            or ""
        )
    return ProductFacts(
        title=product.title,
        price=f"{product.price:.2f}",
        compare_at_price=""
        if product.compare_at_price is None
        else f"{product.compare_at_price:.2f}",
        currency=product.currency,
        claim=claim_for(product),
        image=image_hash,
    )


def facts_key(facts: dict[str, str]) -> str:
    """The hash of a video's product facts (its ``logo`` is compared on its own)."""
    product_part = {name: value for name, value in facts.items() if name != "logo"}
    canonical = json.dumps(product_part, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def facts_changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """What the merchant would call the changes between two sets of facts, in a fixed order."""
    return [label for name, label in FACT_LABELS.items() if before.get(name) != after.get(name)]


def video_facts(product: Product, *, brand_kit: BrandKit | None = None) -> dict[str, str]:
    """Everything a video of ``product`` states: its facts and the shop's logo. ``brand_kit``
    when the caller has it (else it is read)."""
    kit = brand_kit or BrandKit.objects.filter(merchant_id=product.merchant_id).first()
    facts = product_facts(product).to_dict()
    facts["logo"] = kit.logo_hash if kit is not None and kit.logo else ""
    return facts
