import pytest

from catalog.services import brand_kit_update
from personalization.context import ShopperContext
from personalization.plans import scene_plans_for
from tests.support.factories import make_merchant, make_product
from videokit.plan import ScenePlan

pytestmark = pytest.mark.django_db


def plans(context: str, **kwargs: object) -> dict[str, ScenePlan]:
    merchant = make_merchant()
    product = make_product(merchant, title="Stormline Rain Jacket")
    brand_kit_update(merchant=merchant, primary_color="#112233", secondary_color="#FFAA00")
    merchant.refresh_from_db()
    result = scene_plans_for(
        product=product,
        context=ShopperContext.parse(context),
        brand_kit=merchant.brand_kit,
        **kwargs,
    )
    return {plan.kind: plan for plan in result}


def test_a_video_reads_like_an_ad_hero_scene_offer_outro() -> None:
    merchant = make_merchant()
    product = make_product(merchant)
    kinds = [p.kind for p in scene_plans_for(product=product, context=ShopperContext())]
    assert kinds == ["hero", "scene", "offer", "outro"]


@pytest.mark.parametrize(
    ("locale", "price", "currency", "expected"),
    [
        ("en-US", "19.99", "USD", "$19.99"),
        ("de-DE", "19.99", "EUR", "19,99\xa0€"),
        ("fr-FR", "1234.50", "EUR", "1\u202f234,50\xa0€"),
        ("en-GB", "5.00", "GBP", "£5.00"),
        ("ja-JP", "1200", "JPY", "￥1,200"),
    ],
)
def test_the_offer_shows_the_price_as_the_shoppers_locale_writes_it(
    locale: str, price: str, currency: str, expected: str
) -> None:
    merchant = make_merchant()
    product = make_product(merchant, price=price)
    product.currency = currency
    offer = scene_plans_for(product=product, context=ShopperContext.parse(f"locale={locale}"))[2]
    assert offer.kind == "offer"
    assert offer.caption == expected


def test_offer_is_shared_across_climates_and_outro_across_products() -> None:
    merchant = make_merchant()
    jacket = make_product(merchant, title="Stormline Rain Jacket")
    mug = make_product(merchant, title="Campfire Enamel Mug", color="#2E86AB")
    rainy = scene_plans_for(product=jacket, context=ShopperContext.parse("climate=rainy"))
    sunny = scene_plans_for(product=jacket, context=ShopperContext.parse("climate=sunny"))
    assert rainy[2] == sunny[2]
    other = scene_plans_for(product=mug, context=ShopperContext())
    assert rainy[3] == other[3]
    assert rainy[3].caption == "Shop now"


def test_hero_is_shared_by_every_context_and_scene_is_not() -> None:
    merchant = make_merchant()
    product = make_product(merchant)
    rainy = scene_plans_for(product=product, context=ShopperContext.parse("climate=rainy"))
    sunny = scene_plans_for(product=product, context=ShopperContext.parse("climate=sunny"))
    assert rainy[0].canonical_json() == sunny[0].canonical_json()
    assert rainy[1].canonical_json() != sunny[1].canonical_json()


def test_scene_fields_follow_the_context() -> None:
    rainy = plans("climate=rainy,aesthetic=luxury,time=night")["scene"]
    assert rainy.weather == "rain"
    assert rainy.backdrop == "rain-window"
    assert rainy.camera.kind == "orbit"
    assert rainy.light.temperature_k == 7500
    # The AI prompt describes the same scene the local renderer draws.
    assert "rain-streaked window" in rainy.prompt
    assert "luxurious" in rainy.prompt
    assert "Stormline Rain Jacket" in rainy.prompt
    snowy = plans("climate=snowy,aesthetic=cozy")["scene"]
    assert (snowy.weather, snowy.backdrop) == ("snow", "snow-field")
    assert snowy.palette != rainy.palette


def test_plans_carry_brand_colors_and_caption() -> None:
    hero = plans("generic")["hero"]
    assert hero.brand_colors == ("#112233", "#FFAA00")
    assert hero.caption == "Stormline Rain Jacket"
    assert all(color.startswith("#") and len(color) == 7 for color in hero.palette)


def test_plan_round_trips_through_json() -> None:
    scene = plans("climate=arid,aesthetic=playful,season=summer")["scene"]
    assert ScenePlan.from_dict(scene.to_dict()) == scene
    assert "summer" in scene.prompt


def test_segment_lengths_come_from_settings_and_overrides(settings: pytest.FixtureRequest) -> None:
    settings.SCENECART_SEGMENT_SECONDS = {"hero": 2.0, "scene": 3.0, "offer": 2.5, "outro": 1.5}  # type: ignore[attr-defined]
    result = plans("climate=rainy", seconds={"scene": 7.5})
    assert (result["hero"].seconds, result["scene"].seconds) == (2.0, 7.5)
