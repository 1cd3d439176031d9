"""``ShopperContext``: what we know about the shopper, over closed vocabularies.

A context string such as ``"climate=rainy,aesthetic=minimalist,time=evening"`` is how operators,
commands and storefront hints name a context. Its canonical form (keys in a fixed order, only
the dimensions that are set) is the *bucket*: the name of one video variant.
"""

from dataclasses import dataclass, fields, replace
from typing import ClassVar

from django.db.models import TextChoices

from catalog.vocabulary import Aesthetic, Climate, Locale, Season, TimeOfDay

GENERIC_BUCKET = "generic"


class ContextError(ValueError):
    """A context string or value is not in the vocabulary; the message names key and value."""


@dataclass(frozen=True, slots=True)
class ShopperContext:
    climate: Climate | None = None
    season: Season | None = None
    time: TimeOfDay | None = None
    aesthetic: Aesthetic | None = None
    locale: Locale | None = None

    # Parsing accepts a few spellings operators and storefronts use; the canonical key is first.
    ALIASES: ClassVar[dict[str, str]] = {
        "weather": "climate",
        "time_of_day": "time",
        "time-of-day": "time",
        "style": "aesthetic",
        "lang": "locale",
        "language": "locale",
    }
    VOCABULARIES: ClassVar[dict[str, type[TextChoices]]] = {
        "climate": Climate,
        "season": Season,
        "time": TimeOfDay,
        "aesthetic": Aesthetic,
        "locale": Locale,
    }

    def __post_init__(self) -> None:
        for dimension, vocabulary in self.VOCABULARIES.items():
            value = getattr(self, dimension)
            if value is not None and not isinstance(value, vocabulary):
                object.__setattr__(self, dimension, _coerce(dimension, str(value)))

    @classmethod
    def parse(cls, text: str) -> "ShopperContext":
        """Parse ``"key=value,key=value"``; ``""`` and ``"generic"`` are the generic context.

        Raises :class:`ContextError` naming the bad pair, key or value and what is allowed.
        """
        values: dict[str, str] = {}
        if text.strip().lower() == GENERIC_BUCKET:
            return cls()
        for raw in text.split(","):
            pair = raw.strip()
            if not pair:
                continue
            if "=" not in pair:
                raise ContextError(
                    f"{pair!r} in context {text!r} is not key=value "
                    f"(e.g. climate=rainy,aesthetic=minimalist)."
                )
            key, _, value = (part.strip() for part in pair.partition("="))
            dimension = cls.ALIASES.get(key.lower(), key.lower())
            if dimension not in cls.VOCABULARIES:
                raise ContextError(
                    f"Unknown context key {key!r} in {text!r}: expected one of "
                    f"{', '.join(cls.VOCABULARIES)}."
                )
            if dimension in values:
                raise ContextError(f"Context key {dimension!r} is given twice in {text!r}.")
            values[dimension] = value
        return cls(**{key: _coerce(key, value) for key, value in values.items()})

    @property
    def bucket(self) -> str:
        """The canonical name of this context's video variant."""
        pairs = [f"{name}={value}" for name, value in self.items()]
        return ",".join(pairs) or GENERIC_BUCKET

    @property
    def is_generic(self) -> bool:
        return not any(self.items())

    def items(self) -> list[tuple[str, str]]:
        return [
            (field.name, str(getattr(self, field.name)))
            for field in fields(self)
            if getattr(self, field.name) is not None
        ]

    def without(self, *dimensions: str) -> "ShopperContext":
        return replace(self, **dict.fromkeys(dimensions))

    def __str__(self) -> str:
        return self.bucket


def _coerce(dimension: str, value: str) -> TextChoices:
    vocabulary = ShopperContext.VOCABULARIES[dimension]
    wanted = value.strip()
    for member in vocabulary:
        # Locales are matched case-insensitively and with _ or - (de_DE, de-de, de-DE).
        if member.value.lower() == wanted.lower().replace("_", "-"):
            return member
    raise ContextError(
        f"{dimension}={wanted!r} is not a known {dimension}: expected one of "
        f"{', '.join(vocabulary.values)}."
    )
