"""A merchant's bucket policy: which dimensions of a shopper's context make its video variants,
which variants may be rendered, and what the storefront may take from the request."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models

from catalog.models import Merchant

from .context import GENERIC_BUCKET, ContextError, ShopperContext
from .terms import allowed_term_problem, extra_term_problem, term_key, term_lines

# The dimensions a new merchant's variants differ by: the two a shopper sees at a glance.
DEFAULT_DIMENSIONS = ["climate", "aesthetic"]


def default_dimensions() -> list[str]:
    return list(DEFAULT_DIMENSIONS)


class BucketPolicy(models.Model):
    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="bucket_policy"
    )
    # Empty is a policy too: no dimension is counted, and every shopper gets the generic video.
    dimensions = models.JSONField(
        default=default_dimensions,
        blank=True,
        help_text="Which parts of a shopper's context make a separate video variant.",
    )
    approved_buckets = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Variants that may be rendered when a shopper asks for them, e.g. "
            "climate=rainy,aesthetic=minimalist. The generic video is always approved."
        ),
    )
    allow_public_hints = models.BooleanField(
        default=False,
        help_text=(
            "Let the page say the shopper's context (climate=, aesthetic=, time= in the URL). "
            "Off: only signed shopper tokens and request signals count."
        ),
    )
    require_consent = models.BooleanField(
        default=False,
        help_text=(
            "Personalize anonymous shoppers only when the page says they agreed (consent=1). "
            "Known shoppers always follow their profile's consent."
        ),
    )
    holdout_percent = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(50)],
        help_text="Share of shoppers (0–50 %) who always get the generic video, to measure lift.",
    )
    require_approval = models.BooleanField(
        default=False,
        help_text=(
            "Serve only variants you approved on the product page; until then shoppers get "
            "the best approved stand-in (or nothing)."
        ),
    )
    review_data_refresh = models.BooleanField(
        "review price and brand refreshes",
        default=False,
        help_text=(
            "When a price, claim or your brand kit changes, only the offer and closing shots "
            "are re-made, from your own data. Off: an approved variant stays approved with "
            "them. On: it waits for a new review like any new video."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "bucket policies"

    def __str__(self) -> str:
        return f"Bucket policy of {self.merchant}"

    def clean(self) -> None:
        super().clean()
        known = list(ShopperContext.VOCABULARIES)
        if not isinstance(self.dimensions, list) or any(d not in known for d in self.dimensions):
            raise ValidationError(
                {
                    "dimensions": f"Choose dimensions from {', '.join(known)}; got {self.dimensions!r}."
                }
            )
        self.dimensions = [d for d in known if d in self.dimensions]
        buckets: list[str] = []
        for text in self.approved_buckets or []:
            try:
                context = ShopperContext.parse(str(text))
            except ContextError as exc:
                raise ValidationError({"approved_buckets": f"{text!r}: {exc}"}) from exc
            extra = [name for name, _ in context.items() if name not in self.dimensions]
            if extra:
                raise ValidationError(
                    {
                        "approved_buckets": (
                            f"{text!r} uses {', '.join(extra)}, which this policy does not count "
                            f"(dimensions: {', '.join(self.dimensions) or 'none'})."
                        )
                    }
                )
            if context.bucket != GENERIC_BUCKET and context.bucket not in buckets:
                buckets.append(context.bucket)
        self.approved_buckets = buckets


class ContentPolicy(models.Model):
    """A merchant's additions to Scenecart's content policy (personalization.content_policy):
    terms of its own to refuse, terms of the maintained list it holds a licence for, and
    "licensed assets only" mode (no text-to-video at all)."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="content_policy"
    )
    extra_terms = models.TextField(
        blank=True,
        help_text=(
            "Names your videos must never show, one per line (your competitors' marks, a "
            "character you were asked not to use). Refused like Scenecart's own list."
        ),
    )
    allowed_terms = models.TextField(
        blank=True,
        help_text=(
            "Protected names you hold a licence for, one per line (e.g. Hello Kitty). Only "
            "names on Scenecart's list can be allowed; they are allowed for your shop alone."
        ),
    )
    licensed_assets_only = models.BooleanField(
        default=False,
        help_text=(
            "Render only from your own product images: no video is made from text alone, "
            "and AI providers are only asked to animate your images."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "content policies"

    def __str__(self) -> str:
        return f"Content policy of {self.merchant}"

    def clean(self) -> None:
        super().clean()
        extra = term_lines(self.extra_terms)
        allowed = term_lines(self.allowed_terms)
        errors: dict[str, list[str]] = {}
        for term in extra:
            if problem := extra_term_problem(term):
                errors.setdefault("extra_terms", []).append(problem)
        for term in allowed:
            if problem := allowed_term_problem(term):
                errors.setdefault("allowed_terms", []).append(problem)
        both = {term_key(t) for t in extra} & {term_key(t) for t in allowed}
        for term in (t for t in allowed if term_key(t) in both):
            errors.setdefault("allowed_terms", []).append(
                f"'{term}' is also on your list of terms to refuse: keep it on one list."
            )
        if errors:
            raise ValidationError(errors)
        self.extra_terms = "\n".join(extra)
        self.allowed_terms = "\n".join(allowed)
