"""The storefront API's request and response shapes; they are also its OpenAPI schema."""

from django.db import models
from rest_framework import serializers

from catalog.vocabulary import Aesthetic, Climate, Locale

EVENT_TYPES = ("impression", "play", "progress", "complete", "click")
MAX_EVENTS_PER_BATCH = 100


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="What was wrong, naming the field or value.")
    fields = serializers.DictField(  # type: ignore[assignment]  # DRF's metaclass takes declared fields off the class: this is the body's "fields", not Serializer.fields
        child=serializers.CharField(),
        required=False,
        help_text="Per-field messages, e.g. {'events[2].quartile': '...'}.",
    )


class VideoLookupSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["ready", "fallback", "pending"],
        help_text=(
            "ready: nothing better is coming (the shopper's own variant, or the best one the "
            "merchant approves for them); fallback: the best ready stand-in while a better "
            "variant renders (or after it failed); pending: nothing ready yet (src is null)."
        ),
    )
    src = serializers.URLField(allow_null=True)
    poster = serializers.URLField(allow_null=True)
    variant = serializers.CharField(
        help_text="The bucket served (or, when pending, the one being made), e.g. climate=rainy."
    )
    personalized = serializers.BooleanField(help_text="Whether the video served is not generic.")
    requested = serializers.ChoiceField(
        choices=["ready", "rendering", "refreshing", "failed", "unapproved", "in_review"],
        help_text=(
            "Where the best variant this shopper may get stands. rendering: poll again, it is "
            "on its way; refreshing: the catalog changed what it states (a price, a title, the "
            "photo, the logo), it is being re-made and is never served stale; poll again; "
            "unapproved: the shopper's exact variant is not one the merchant "
            "renders, and the best approved one is being served; in_review: it is rendered "
            "but the merchant serves only variants they approved, and has not yet; failed: "
            "see error."
        ),
    )
    video = serializers.IntegerField(
        allow_null=True, help_text="Id of the video served; events name it."
    )
    holdout = serializers.BooleanField(
        help_text="The shopper is in the merchant's holdout share and gets the generic video."
    )
    source = serializers.ChoiceField(  # type: ignore[assignment]  # DRF's metaclass takes declared fields off the class: this is the body's "source", not Field.source
        choices=["profile", "hints", "signals", "none"],
        help_text="Where the shopper's context came from (none: no consent, or held out).",
    )
    provenance = serializers.URLField(
        allow_null=True,
        help_text=(
            "The served video's provenance page: what made it and whether it is AI-generated "
            "(?format=json for machines)."
        ),
    )
    error = serializers.CharField(required=False, help_text="Why the variant failed.")
    warning = serializers.CharField(
        required=False, help_text="Why the shopper token was ignored (expired, forged, …)."
    )


class EventSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=EVENT_TYPES)
    # Video ids are bigints (BigAutoField): a larger number names no video, and the database
    # driver cannot even send it (OverflowError on SQLite).
    video = serializers.IntegerField(
        min_value=1,
        max_value=models.BigIntegerField.MAX_BIGINT,
        help_text="`video` from the lookup.",
    )
    quartile = serializers.ChoiceField(
        choices=[25, 50, 75], required=False, help_text="For progress events."
    )
    holdout = serializers.BooleanField(default=False, help_text="`holdout` from the lookup.")

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        if attrs["type"] == "progress" and "quartile" not in attrs:
            raise serializers.ValidationError({"quartile": "A progress event needs a quartile."})
        return attrs


class EventBatchSerializer(serializers.Serializer):
    merchant = serializers.SlugField()
    events = EventSerializer(many=True, allow_empty=False, max_length=MAX_EVENTS_PER_BATCH)  # type: ignore[call-arg]  # many=True makes a ListSerializer, which takes max_length; the stubs' Serializer.__init__ lacks it


class EventsAcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.ListField(
        child=serializers.DictField(),
        help_text="Events not counted, by index, with the reason (e.g. another shop's video).",
    )


class ShopperProfileFieldsSerializer(serializers.Serializer):
    country = serializers.RegexField(r"^[A-Z]{2}$", required=False, allow_blank=True)
    region = serializers.CharField(required=False, allow_blank=True, max_length=100)
    climate = serializers.ChoiceField(choices=Climate.choices, required=False, allow_blank=True)
    aesthetic = serializers.ChoiceField(choices=Aesthetic.choices, required=False, allow_blank=True)
    locale = serializers.ChoiceField(choices=Locale.choices, required=False, allow_blank=True)
    personalization_consent = serializers.BooleanField(required=False)


class ShopperTokenRequestSerializer(serializers.Serializer):
    merchant = serializers.SlugField()
    shopper = serializers.CharField(max_length=200, help_text="Your own id for the shopper.")
    ttl = serializers.IntegerField(
        min_value=60, max_value=30 * 24 * 3600, required=False, help_text="Seconds; default 1 day."
    )
    profile = ShopperProfileFieldsSerializer(
        required=False, help_text="Create or update the shopper's profile at the same time."
    )


class ShopperTokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    shopper = serializers.CharField()
    expires_at = serializers.IntegerField(help_text="Unix seconds.")
