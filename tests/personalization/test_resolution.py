from datetime import UTC, datetime

import pytest

from catalog.services import merchant_create, shopper_profile_upsert
from catalog.vocabulary import Climate, Locale, Season, TimeOfDay
from personalization.context import ShopperContext
from personalization.resolution import context_for_profile, context_from_signals, locale_for

JULY_NOON_UTC = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)


def test_country_gives_climate_and_season_by_hemisphere() -> None:
    london = context_from_signals(country="GB", now=JULY_NOON_UTC)
    sydney = context_from_signals(country="au", now=JULY_NOON_UTC)
    assert (london.climate, london.season) == (Climate.RAINY, Season.SUMMER)
    assert (sydney.climate, sydney.season) == (Climate.SUNNY, Season.WINTER)


def test_time_of_day_follows_the_shoppers_clock() -> None:
    assert context_from_signals(time_zone="Europe/Berlin", now=JULY_NOON_UTC).time == TimeOfDay.DAY
    assert (
        context_from_signals(time_zone="America/Los_Angeles", now=JULY_NOON_UTC).time
        == TimeOfDay.MORNING
    )
    assert context_from_signals(time_zone="Asia/Tokyo", now=JULY_NOON_UTC).time == TimeOfDay.EVENING
    assert (
        context_from_signals(time_zone="Pacific/Auckland", now=JULY_NOON_UTC).time
        == TimeOfDay.NIGHT
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", Locale.DE_DE),
        ("de-AT", Locale.DE_DE),  # same language, nearest supported
        ("fr-CA;q=0.4, en-GB;q=0.9", Locale.EN_GB),  # preference order by q
        ("xx-YY, pt", Locale.PT_BR),
        ("*", None),
        ("", None),
    ],
)
def test_accept_language_picks_the_best_supported_locale(
    header: str, expected: Locale | None
) -> None:
    assert locale_for(header) == expected


def test_unknown_or_malformed_signals_are_ignored() -> None:
    context = context_from_signals(
        country="ZZ", time_zone="Mars/Olympus", accept_language="q=;;", now=JULY_NOON_UTC
    )
    assert context == ShopperContext()


@pytest.mark.django_db
def test_profile_context_respects_consent_and_falls_back_to_country() -> None:
    merchant = merchant_create(name="Shop", slug="shop")
    agreed = shopper_profile_upsert(
        merchant=merchant, external_id="a", country="NO", aesthetic="cozy", locale="en-GB",
        personalization_consent=True,
    )  # fmt: skip
    refused = shopper_profile_upsert(
        merchant=merchant,
        external_id="b",
        climate="rainy",
        aesthetic="luxury",
        personalization_consent=False,
    )
    assert context_for_profile(agreed).bucket == "climate=snowy,aesthetic=cozy,locale=en-GB"
    assert context_for_profile(refused).is_generic
