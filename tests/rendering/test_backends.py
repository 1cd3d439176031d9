import pytest
from django.core.exceptions import ImproperlyConfigured

from providers.local import LocalBackend
from rendering.backends import backend_for


def test_default_backend_is_the_local_renderer() -> None:
    backend = backend_for()
    assert isinstance(backend, LocalBackend)
    assert backend.alias == "local"
    assert backend is backend_for("local")  # built once per process


def test_options_reach_the_backend(settings: pytest.FixtureRequest) -> None:
    settings.SCENECART_BACKENDS = {  # type: ignore[attr-defined]
        "fast": {
            "BACKEND": "providers.local.LocalBackend",
            "OPTIONS": {"preset": "ultrafast", "crf": 30},
        }
    }
    backend = backend_for("fast")
    assert backend.option_fingerprint() == {"preset": "ultrafast", "crf": 30}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {
                "local": {
                    "BACKEND": "providers.local.LocalBackend",
                    "OPTIONS": {"gpu": True},
                }
            },
            "gpu",
        ),
        ({"local": {"BACKEND": "providers.nope.Nope"}}, "cannot be imported"),
        ({"local": {"BACKEND": "providers.local.LocalBackend", "OPTINS": {}}}, "OPTINS"),
        ({}, "Unknown render backend 'local'"),
    ],
)
def test_misconfiguration_is_refused_with_the_alias_named(
    settings: pytest.FixtureRequest, config: dict[str, object], message: str
) -> None:
    settings.SCENECART_BACKENDS = config  # type: ignore[attr-defined]
    with pytest.raises(ImproperlyConfigured) as error:
        backend_for("local")
    assert message in str(error.value)
