"""What providers charge, in USD per second of video they make, when the operator's
SCENECART_PRICES does not say: rough list prices of late 2026 for the default model of each
adapter (and a few common others). Contracts, resolutions and audio change them: set
SCENECART_PRICES (by alias, or by ``provider:model``) to what you actually pay.
"""

from decimal import Decimal

DEFAULT_PRICES: dict[str, Decimal] = {
    # Kling's official API, standard mode.
    "kling": Decimal("0.07"),
    "kling:kling-v2-6": Decimal("0.084"),
    # Seedance 1.0 pro at 720p on ModelArk / Ark.
    "seedance": Decimal("0.05"),
    # MiniMax Hailuo 02 at 768P.
    "minimax": Decimal("0.045"),
    # Runway gen4_turbo; Veo 3.1 through Runway costs like Veo.
    "runway": Decimal("0.05"),
    "runway:veo3.1": Decimal("0.40"),
    # Google Veo on the Gemini API: 3.1 with audio, and the fast model.
    "veo": Decimal("0.40"),
    "veo:veo-3.1-fast-generate-preview": Decimal("0.15"),
    # The aggregators' default models (Kling 2.1 standard image-to-video).
    "replicate": Decimal("0.05"),
    "fal": Decimal("0.05"),
    # Luma ray-2 at 720p.
    "luma": Decimal("0.20"),
    # The OpenAI videos shape, sora-2 at 720p.
    "sora": Decimal("0.10"),
    "sora:sora-2-pro": Decimal("0.30"),
}


def price_per_second(
    *, alias: str, provider: str, model: str, table: dict[str, object]
) -> Decimal | None:
    """The operator's price (by alias, then ``provider:model``), else the default for the
    provider's model, else the provider's; None for a backend nobody priced (it is free)."""
    for key in (alias, f"{provider}:{model}"):
        if key in table:
            return Decimal(str(table[key]))
    if not provider:
        return None
    return DEFAULT_PRICES.get(f"{provider}:{model}", DEFAULT_PRICES.get(provider))
