"""The closed vocabularies that describe a shopper's context.

They live in ``catalog`` because ``ShopperProfile`` stores them and dependencies point one way
(``personalization`` builds ``ShopperContext`` on top of them). Each dimension has a fixed set
of values so the number of video variants (buckets) stays finite.
"""

from django.db import models


class Climate(models.TextChoices):
    SUNNY = "sunny", "Sunny"
    RAINY = "rainy", "Rainy"
    SNOWY = "snowy", "Snowy"
    OVERCAST = "overcast", "Overcast"
    HUMID_TROPICAL = "humid-tropical", "Humid tropical"
    ARID = "arid", "Arid"


class Season(models.TextChoices):
    SPRING = "spring", "Spring"
    SUMMER = "summer", "Summer"
    AUTUMN = "autumn", "Autumn"
    WINTER = "winter", "Winter"


class TimeOfDay(models.TextChoices):
    MORNING = "morning", "Morning"
    DAY = "day", "Day"
    GOLDEN_HOUR = "golden-hour", "Golden hour"
    EVENING = "evening", "Evening"
    NIGHT = "night", "Night"


class Aesthetic(models.TextChoices):
    MINIMALIST = "minimalist", "Minimalist"
    COZY = "cozy", "Cozy"
    LUXURY = "luxury", "Luxury"
    OUTDOORSY = "outdoorsy", "Outdoorsy"
    PLAYFUL = "playful", "Playful"
    VINTAGE = "vintage", "Vintage"


class Locale(models.TextChoices):
    EN_US = "en-US", "English (United States)"
    EN_GB = "en-GB", "English (United Kingdom)"
    DE_DE = "de-DE", "German (Germany)"
    FR_FR = "fr-FR", "French (France)"
    ES_ES = "es-ES", "Spanish (Spain)"
    IT_IT = "it-IT", "Italian (Italy)"
    NL_NL = "nl-NL", "Dutch (Netherlands)"
    SV_SE = "sv-SE", "Swedish (Sweden)"
    PT_BR = "pt-BR", "Portuguese (Brazil)"
    JA_JP = "ja-JP", "Japanese (Japan)"
