import pytest

from catalog.vocabulary import Aesthetic, Climate, Locale, TimeOfDay
from personalization.context import ContextError, ShopperContext


def test_parses_a_context_string_into_vocabulary_values() -> None:
    context = ShopperContext.parse("climate=rainy,aesthetic=minimalist,time=evening")
    assert context.climate is Climate.RAINY
    assert context.aesthetic is Aesthetic.MINIMALIST
    assert context.time is TimeOfDay.EVENING
    assert context.season is None


def test_bucket_is_canonical_whatever_the_order_and_spelling() -> None:
    a = ShopperContext.parse("time=evening, aesthetic=Minimalist ,climate=rainy")
    b = ShopperContext.parse("weather=rainy,style=minimalist,time_of_day=evening")
    assert a == b
    assert a.bucket == "climate=rainy,time=evening,aesthetic=minimalist"


def test_empty_and_generic_are_the_generic_context() -> None:
    assert ShopperContext.parse("").bucket == "generic"
    assert ShopperContext.parse("generic").is_generic
    assert not ShopperContext.parse("climate=sunny").is_generic


def test_locales_accept_underscore_and_case() -> None:
    assert ShopperContext.parse("locale=de_de").locale is Locale.DE_DE


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("colour=red", ["'colour'", "climate", "aesthetic"]),
        ("climate=foggy", ["climate='foggy'", "sunny", "rainy"]),
        ("aesthetic=grunge", ["aesthetic='grunge'", "minimalist"]),
        ("time=teatime", ["time='teatime'", "golden-hour"]),
        ("climate", ["'climate'", "key=value"]),
        ("climate=rainy,weather=sunny", ["'climate'", "twice"]),
    ],
)
def test_bad_context_strings_name_the_bad_key_or_value(text: str, names: list[str]) -> None:
    with pytest.raises(ContextError) as error:
        ShopperContext.parse(text)
    for name in names:
        assert name in str(error.value)


def test_context_is_frozen_and_validates_direct_construction() -> None:
    context = ShopperContext(climate="snowy")  # type: ignore[arg-type]
    assert context.climate is Climate.SNOWY
    with pytest.raises(AttributeError):
        context.climate = Climate.SUNNY  # type: ignore[misc]
    with pytest.raises(ContextError):
        ShopperContext(aesthetic="baroque")  # type: ignore[arg-type]


def test_without_drops_dimensions() -> None:
    context = ShopperContext.parse("climate=rainy,aesthetic=cozy")
    assert context.without("aesthetic").bucket == "climate=rainy"
