"""How each climate looks: the tables both a scene plan (``personalization.plans``) and a
script writer (``personalization.scripts``) read. A product's claim is one of its facts
(``catalog.facts.claim_for``)."""

from dataclasses import dataclass

from catalog.vocabulary import Climate
from videokit.plan import WeatherKind


@dataclass(frozen=True, slots=True)
class Look:
    backdrop: str
    palette: tuple[str, str, str]
    weather: WeatherKind
    phrase: str  # for prompts
    tagline: str  # for the scene's subcaption


CLIMATE_LOOKS: dict[Climate, Look] = {
    Climate.SUNNY: Look(
        "sun-trail", ("#7CC4F2", "#E8C98A", "#FFD36B"), "sun",
        "on a sunlit trail under a clear blue sky, warm sun with a soft lens flare",
        "Made for sunny days",
    ),
    Climate.RAINY: Look(
        "rain-window", ("#5B6B7A", "#2F3A44", "#9FB4C7"), "rain",
        "by a rain-streaked window, soft overcast light, droplets running down the glass",
        "Ready for the rain",
    ),
    Climate.SNOWY: Look(
        "snow-field", ("#C9D6E3", "#F4F7FA", "#8FB3D9"), "snow",
        "in a quiet snowy landscape, gently falling snow, cold blue light",
        "Warm through the winter",
    ),
    Climate.OVERCAST: Look(
        "overcast-street", ("#9AA3AB", "#6E767D", "#C5CBD0"), "haze",
        "on a calm city street under an overcast grey sky, diffuse light",
        "Easy on grey days",
    ),
    Climate.HUMID_TROPICAL: Look(
        "tropical-garden", ("#3FA37A", "#1E5E45", "#F2C14E"), "haze",
        "in a lush tropical garden, humid air, deep greens and dappled light",
        "Cool in the tropics",
    ),
    Climate.ARID: Look(
        "desert-dunes", ("#F2B880", "#C98B4B", "#FFE1A8"), "heat",
        "among warm desert dunes, dry air, sand tones and heat shimmer",
        "Built for dry heat",
    ),
}  # fmt: skip
