"""``ShopperContext``: what we know about the shopper, over closed vocabularies.

A context string such as ``"climate=rainy,aesthetic=minimalist,time=evening"`` is how operators,
commands and storefront hints name a context. Its canonical form (keys in a fixed order, only
the dimensions that are set) is the *bucket*: the name of one video variant.
"""

from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import ClassVar, TypeVar

from django.db.models import TextChoices

from catalog.vocabulary import Aesthetic, Climate, Locale, Season, TimeOfDay

GENERIC_BUCKET = "generic"

_Member = TypeVar("_Member", bound=TextChoices)


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
            if value is not None and type(value) is not vocabulary:
                object.__setattr__(self, dimension, _coerce(dimension, str(value)))

    @classmethod
    def parse(cls, text: str) -> "ShopperContext":
        """Parse ``"key=value,key=value"``; ``""`` and ``"generic"`` are the generic context.

        Raises :class:`ContextError` naming the bad pair, key or value and what is allowed.
        Memoized (the storefront parses the same few hint strings over and over); errors are
        not, so junk cannot fill the memo.
        """
        return _parse(text)

    @classmethod
    def from_values(cls, **values: str | None) -> "ShopperContext":
        """The context of ``dimension=value`` keywords, each value in any spelling ``parse``
        takes (a stored profile field, a member) or ``None`` for unset.

        Raises :class:`ContextError` naming the first value that is not in its vocabulary.
        """
        members = {key: _coerce(key, value) for key, value in values.items() if value is not None}
        return cls(
            climate=_narrow(Climate, members.get("climate")),
            season=_narrow(Season, members.get("season")),
            time=_narrow(TimeOfDay, members.get("time")),
            aesthetic=_narrow(Aesthetic, members.get("aesthetic")),
            locale=_narrow(Locale, members.get("locale")),
        )

    @classmethod
    def _parse_uncached(cls, text: str) -> "ShopperContext":
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
        return cls.from_values(**values)

    @property
    def bucket(self) -> str:
        """The canonical name of this context's video variant."""
        return _bucket_of(self)

    @property
    def is_generic(self) -> bool:
        return (
            self.climate is None
            and self.season is None
            and self.time is None
            and self.aesthetic is None
            and self.locale is None
        )

    def items(self) -> list[tuple[str, str]]:
        # The storefront asks this several times per request: a fixed tuple of names, not
        # dataclasses.fields().
        return [
            (name, getattr(self, name).value)
            for name in DIMENSIONS
            if getattr(self, name) is not None
        ]

    def without(self, *dimensions: str) -> "ShopperContext":
        return replace(self, **dict.fromkeys(dimensions))

    def __str__(self) -> str:
        return self.bucket


# The dimensions in bucket order, and each vocabulary by lower-cased value.
DIMENSIONS = tuple(f.name for f in fields(ShopperContext))
_BY_VALUE = {
    dimension: {member.value.lower(): member for member in vocabulary}
    for dimension, vocabulary in ShopperContext.VOCABULARIES.items()
}


@lru_cache(maxsize=4096)
def _parse(text: str) -> ShopperContext:
    return ShopperContext._parse_uncached(text)


@lru_cache(maxsize=4096)
def _bucket_of(context: ShopperContext) -> str:
    return ",".join(f"{name}={value}" for name, value in context.items()) or GENERIC_BUCKET


def _narrow(vocabulary: type[_Member], member: TextChoices | None) -> _Member | None:
    # _coerce answers from the dimension's own vocabulary (_BY_VALUE), so this always holds.
    assert member is None or isinstance(member, vocabulary), (vocabulary, member)
    return member


def _coerce(dimension: str, value: str) -> TextChoices:
    vocabulary = ShopperContext.VOCABULARIES[dimension]
    wanted = value.strip()
    # Locales are matched case-insensitively and with _ or - (de_DE, de-de, de-DE).
    member = _BY_VALUE[dimension].get(wanted.lower().replace("_", "-"))
    if member is not None:
        return member
    raise ContextError(
        f"{dimension}={wanted!r} is not a known {dimension}: expected one of "
        f"{', '.join(vocabulary.values)}."
    )
