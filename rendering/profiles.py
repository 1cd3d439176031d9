"""Output profiles: the house format every stored segment of one aspect shares.

Identical stream parameters per profile are what let assembly concatenate segments with
``-c copy`` instead of re-encoding them.
"""

from django.conf import settings

from videokit.job import OutputProfile


class UnknownAspect(ValueError):
    pass


def profiles() -> dict[str, OutputProfile]:
    """The output profile of each aspect, from ``SCENECART_PROFILES``."""
    return {
        aspect: OutputProfile(aspect=aspect, **spec)
        for aspect, spec in settings.SCENECART_PROFILES.items()
    }


def profile_for(aspect: str) -> OutputProfile:
    known = profiles()
    try:
        return known[aspect.strip()]
    except KeyError:
        raise UnknownAspect(
            f"Unknown aspect {aspect!r}: expected one of {', '.join(known)}."
        ) from None
