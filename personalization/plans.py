"""``ScenePlan``: what each segment of a video shows, decided once for every backend.

The same plan yields the text prompt an AI backend sends to its model and the structured fields
(palette, backdrop, weather, light, camera move, captions) the local compositor draws from, so
the two kinds of backend stage the same scene. Plans are plain data: their canonical JSON is
part of a segment's cache key, so anything that does not change the pixels stays out of them.
"""

from dataclasses import replace
from decimal import Decimal

from babel.numbers import format_currency
from django.conf import settings

from catalog.facts import claim_for
from catalog.models import BrandKit, Product
from catalog.vocabulary import Aesthetic, TimeOfDay
from videokit.plan import CameraMove, Light, ScenePlan

from .context import ShopperContext
from .looks import CLIMATE_LOOKS, Look
from .scripts import Script, script_for

DEFAULT_LOCALE = "en-US"


AESTHETIC_LOOKS: dict[Aesthetic, tuple[str, CameraMove]] = {
    Aesthetic.MINIMALIST: ("minimalist staging, clean light surfaces, generous negative space",
                           CameraMove("push-in", 0.35)),
    Aesthetic.COZY: ("cozy staging, warm tones, soft knitted textures, homely details",
                     CameraMove("pan-right", 0.45)),
    Aesthetic.LUXURY: ("luxurious staging, dark backdrop, specular highlights, a glossy reflection",
                       CameraMove("orbit", 0.5)),
    Aesthetic.OUTDOORSY: ("outdoorsy staging, open landscape with depth",
                          CameraMove("pan-left", 0.6)),
    Aesthetic.PLAYFUL: ("playful staging, saturated colors, bouncy energetic motion",
                        CameraMove("rise", 0.7)),
    Aesthetic.VINTAGE: ("vintage staging, warm film grade, light grain and a vignette",
                        CameraMove("push-in", 0.25)),
}  # fmt: skip

TIME_LIGHT: dict[TimeOfDay, tuple[Light, str]] = {
    TimeOfDay.MORNING: (Light(5200, 30, 0.75), "fresh morning light from a low angle"),
    TimeOfDay.DAY: (Light(6000, 80, 0.9), "bright daylight from above"),
    TimeOfDay.GOLDEN_HOUR: (Light(3400, 160, 0.85), "golden-hour backlight, long warm shadows"),
    TimeOfDay.EVENING: (Light(3800, 150, 0.6), "soft evening light, warm lamps"),
    TimeOfDay.NIGHT: (Light(7500, 100, 0.4), "night, cool moonlight and warm accent lights"),
}

NEGATIVE_PROMPT = (
    "distorted or altered product, changed logo or label, extra text, watermark, low quality, "
    "blurry, flicker"
)


def scene_plans_for(
    *,
    product: Product,
    context: ShopperContext,
    brand_kit: BrandKit | None = None,
    seconds: dict[str, float] | None = None,
) -> list[ScenePlan]:
    """The ordered segment plans of one video, so it reads like an ad:

    ``hero`` the product on the brand backdrop (shared by every context of the product),
    ``scene`` the personalized part, ``offer`` the price and a claim in the shopper's locale
    (shared by every context with that locale), ``outro`` logo and call to action (shared by
    every product of the merchant).
    """
    durations = {**settings.SCENECART_SEGMENT_SECONDS, **(seconds or {})}
    brand = (
        (brand_kit.primary_color, brand_kit.secondary_color)
        if brand_kit is not None
        else ("#1F2937", "#F59E0B")
    )
    cta = brand_kit.call_to_action if brand_kit is not None else "Shop now"
    # The lines come from the configured script writer (personalization.scripts). The offer
    # is shared by every context with the same locale, so its claim is written for the
    # locale alone.
    scene_script = script_for(product=product, context=context)
    offer_script = script_for(product=product, context=ShopperContext(locale=context.locale))
    return [
        hero_plan(product=product, brand_colors=brand, seconds=durations["hero"]),
        _scripted(
            scene_plan(
                product=product, context=context, brand_colors=brand, seconds=durations["scene"]
            ),
            script=scene_script,
            caption=scene_script.caption,
            subcaption=scene_script.subcaption,
        ),
        _scripted(
            offer_plan(
                product=product,
                locale=str(context.locale or DEFAULT_LOCALE),
                brand_colors=brand,
                seconds=durations["offer"],
            ),
            script=offer_script,
            subcaption=offer_script.claim,
        ),
        outro_plan(
            merchant_name=product.merchant.name,
            call_to_action=cta,
            brand_colors=brand,
            seconds=durations["outro"],
        ),
    ]


def _scripted(
    plan: ScenePlan, *, script: Script, caption: str | None = None, subcaption: str
) -> ScenePlan:
    """The plan showing the script's lines (``caption`` None: the plan's own). A writer other
    than the template adds its identity to the extras, so its segments get keys of their own;
    the template's plans stay exactly what they always were, and so do their keys."""
    extras = {**plan.extras, "script_writer": script.writer} if script.writer else plan.extras
    return replace(
        plan,
        extras=extras,
        caption=plan.caption if caption is None else caption,
        subcaption=subcaption,
    )


def price_label(*, price: Decimal, currency: str, locale: str) -> str:
    """The price as the shopper's locale writes it: ``$19.99`` (en-US), ``19,99 €`` (de-DE)."""
    return format_currency(price, currency, locale=locale.replace("-", "_"))


def offer_plan(
    *, product: Product, locale: str, brand_colors: tuple[str, str], seconds: float
) -> ScenePlan:
    primary, secondary = brand_colors
    price = price_label(price=product.price, currency=product.currency, locale=locale)
    return ScenePlan(
        kind="offer",
        seconds=round(seconds, 3),
        prompt=(
            f"Clean product shot of {_subject(product)} on a backdrop in {primary}, room on one "
            f"side for a price tag, gentle push-in. Keep the product exactly as in the "
            f"reference image."
        ),
        negative_prompt=NEGATIVE_PROMPT,
        backdrop="brand-offer",
        palette=(_mix(primary, "#FFFFFF", 0.08), _mix(primary, "#000000", 0.45), secondary),
        weather="none",
        light=Light(5600, 120, 0.75),
        camera=CameraMove("push-in", 0.3),
        caption=price,
        subcaption=claim_for(product),
        brand_colors=brand_colors,
        extras={"title": product.title, "locale": locale, **_was(product, locale)},
    )


def _was(product: Product, locale: str) -> dict[str, str]:
    """The price before the sale, struck through beside the price; only a product on sale has
    one, so every other offer's plan (and its cache key) is what it always was."""
    before = product.compare_at_price
    if before is None or before <= product.price:
        return {}
    return {"was": price_label(price=before, currency=product.currency, locale=locale)}


def outro_plan(
    *, merchant_name: str, call_to_action: str, brand_colors: tuple[str, str], seconds: float
) -> ScenePlan:
    primary, secondary = brand_colors
    return ScenePlan(
        kind="outro",
        seconds=round(seconds, 3),
        prompt=(
            f"Brand closing card for {merchant_name}: logo centered on {primary}, "
            f"call to action '{call_to_action}' in {secondary}."
        ),
        negative_prompt=NEGATIVE_PROMPT,
        backdrop="brand-outro",
        palette=(_mix(primary, "#FFFFFF", 0.12), _mix(primary, "#000000", 0.3), secondary),
        weather="none",
        light=Light(6000, 90, 0.7),
        camera=CameraMove("push-in", 0.2),
        caption=call_to_action,
        subcaption=merchant_name,
        brand_colors=brand_colors,
    )


def hero_plan(*, product: Product, brand_colors: tuple[str, str], seconds: float) -> ScenePlan:
    primary, secondary = brand_colors
    subject = _subject(product)
    return ScenePlan(
        kind="hero",
        seconds=round(seconds, 3),
        prompt=(
            f"Studio product shot of {subject} centered on a clean backdrop in the brand color "
            f"{primary}, soft key light, slow push-in. Keep the product exactly as in the "
            f"reference image."
        ),
        negative_prompt=NEGATIVE_PROMPT,
        backdrop="brand-studio",
        palette=(_mix(primary, "#FFFFFF", 0.15), _mix(primary, "#000000", 0.35), secondary),
        weather="none",
        light=Light(5600, 60, 0.8),
        camera=CameraMove("push-in", 0.4),
        caption=product.title,
        brand_colors=brand_colors,
    )


def scene_plan(
    *, product: Product, context: ShopperContext, brand_colors: tuple[str, str], seconds: float
) -> ScenePlan:
    subject = _subject(product)
    look = CLIMATE_LOOKS.get(context.climate) if context.climate else None
    if look is None:
        primary, secondary = brand_colors
        look = Look(
            "brand-studio",
            (_mix(primary, "#FFFFFF", 0.35), _mix(primary, "#000000", 0.15), secondary),
            "none",
            "in a bright, neutral studio setting",
            "",
        )
    staging, camera = (
        AESTHETIC_LOOKS[context.aesthetic]
        if context.aesthetic
        else ("clean product staging", CameraMove("pan-right", 0.4))
    )
    light, light_phrase = (
        TIME_LIGHT[context.time] if context.time else (Light(5600, 60, 0.8), "natural light")
    )
    palette = _grade(look.palette, context.aesthetic)
    phrases = [look.phrase, staging, light_phrase]
    if context.season:
        phrases.append(f"{context.season.label.lower()} atmosphere")
    return ScenePlan(
        kind="scene",
        seconds=round(seconds, 3),
        prompt=(
            f"Cinematic product video of {subject} {', '.join(phrases)}. Camera: {camera.kind}, "
            f"smooth and slow. Keep the product exactly as in the reference image."
        ),
        negative_prompt=NEGATIVE_PROMPT,
        backdrop=look.backdrop,
        palette=palette,
        weather=look.weather,
        light=light,
        camera=camera,
        caption=product.title,
        subcaption=look.tagline,
        brand_colors=brand_colors,
        extras={
            "aesthetic": str(context.aesthetic or ""),
            "season": str(context.season or ""),
            "time": str(context.time or ""),
        },
    )


def _subject(product: Product) -> str:
    words = product.title.strip()
    if product.category:
        return f"{words} ({product.category.split('>')[-1].strip().lower()})"
    return words


def _grade(palette: tuple[str, str, str], aesthetic: Aesthetic | None) -> tuple[str, str, str]:
    """Shift a climate's palette toward an aesthetic's mood."""
    sky, ground, accent = palette
    match aesthetic:
        case Aesthetic.MINIMALIST:
            return _mix(sky, "#FFFFFF", 0.45), _mix(ground, "#FFFFFF", 0.5), accent
        case Aesthetic.COZY:
            return _mix(sky, "#D9A066", 0.3), _mix(ground, "#8B5A3C", 0.35), "#F4B860"
        case Aesthetic.LUXURY:
            return _mix(sky, "#0B0B12", 0.7), _mix(ground, "#000000", 0.8), "#D4AF37"
        case Aesthetic.PLAYFUL:
            return (
                _saturate(_mix(sky, "#7FD6FF", 0.4)),
                _saturate(_mix(ground, "#FFB347", 0.4)),
                "#FF4FA3",
            )
        case Aesthetic.OUTDOORSY:
            return _mix(sky, "#8CCBEA", 0.3), _mix(ground, "#5B8C3A", 0.4), accent
        case Aesthetic.VINTAGE:
            return _mix(sky, "#C8A27A", 0.35), _mix(ground, "#7A5C3E", 0.35), "#E3C08D"
        case _:
            return sky, ground, accent


def _rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02X}" for c in rgb)


def _mix(color: str, other: str, amount: float) -> str:
    (r, g, b), (r2, g2, b2) = _rgb(color), _rgb(other)
    return _hex((r + (r2 - r) * amount, g + (g2 - g) * amount, b + (b2 - b) * amount))


def _saturate(color: str) -> str:
    r, g, b = _rgb(color)
    mean = (r + g + b) / 3
    return _hex((mean + (r - mean) * 1.6, mean + (g - mean) * 1.6, mean + (b - mean) * 1.6))
