import pytest

from catalog.services import brand_kit_update
from personalization.context import ShopperContext
from personalization.plans import ScenePlan, scene_plans_for
from tests.factories import make_merchant, make_product

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


def test_a_video_is_a_hero_then_a_scene() -> None:
    merchant = make_merchant()
    product = make_product(merchant)
    kinds = [p.kind for p in scene_plans_for(product=product, context=ShopperContext())]
    assert kinds == ["hero", "scene"]


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
    settings.SCENECART_SEGMENT_SECONDS = {"hero": 2.0, "scene": 3.0}  # type: ignore[attr-defined]
    result = plans("climate=rainy", seconds={"scene": 7.5})
    assert (result["hero"].seconds, result["scene"].seconds) == (2.0, 7.5)
