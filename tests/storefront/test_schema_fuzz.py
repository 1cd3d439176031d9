"""The storefront API against its own OpenAPI schema, with schemathesis.

The schema is fetched from the app itself (``/api/schema/``, in process through WSGI) and every
operation it lists gets generated requests, valid ones and invalid ones; half of them are aimed
at real rows: the seeded merchant (which honours public hints and counts every dimension), its
product with a ready video, a shopper token it signed and its shopper token secret. Every answer
must be free of server errors and carry a status code, headers, content type and body the
schema documents.

Whether invalid input is *refused* is not checked (schemathesis' negative_data_rejection): the
API takes what DRF coerces (``"holdout": 1``, ``"video": "12"``, ``"shopper": 1842``) and the
lookup ignores optional query values it does not understand (a hint the merchant does not
honour is not even read; cohort and consent outside their lists count as absent). Both are
deliberate leniencies towards the embed and merchants' own code, not crashes.

A merchant or SKU that breaks the path's pattern matches no route (storefront.urls), so Django
answers with its HTML 404 page: the schema documents the patterns, and the invalid requests to
the lookup put their invalid values in the query instead.

Runs are deterministic (``derandomize=True``) and bounded, so the file takes well under a
minute on two cores.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_django import Settings
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from catalog.models import Merchant, Product
from catalog.services import merchant_storefront_update
from personalization.services import bucket_policy_update
from personalization.tokens import shopper_token_issue
from rendering.models import Video
from storefront.api import COORDINATE_HEADERS, COUNTRY_HEADERS
from tests.support.factories import make_merchant, make_product, make_ready_video

pytestmark = pytest.mark.django_db

LOOKUP = "GET /api/v1/videos/{merchant}/{sku}"
OPERATIONS = {LOOKUP, "POST /api/v1/events", "POST /api/v1/shopper-tokens"}
CONFORMANCE: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 150, GenerationMode.NEGATIVE: 100}
ORIGIN = "https://fuzz-shop.example.com"


@dataclass
class Seeded:
    merchant: Merchant
    product: Product
    video: Video
    token: str


@pytest.fixture
def seeded(small_videos: None) -> Seeded:
    merchant = make_merchant(slug="fuzz-shop", name="Fuzz Shop")
    merchant_storefront_update(merchant=merchant, storefront_origins=ORIGIN)
    bucket_policy_update(
        merchant=merchant,
        dimensions=["climate", "season", "time", "aesthetic", "locale"],
        approved_buckets=["climate=rainy", "climate=rainy,aesthetic=minimalist"],
        allow_public_hints=True,
        holdout_percent=10,
    )
    product = make_product(merchant, sku="FZ-1", title="Fuzz Rain Jacket")
    video = make_ready_video(product)
    token = shopper_token_issue(merchant=merchant, external_id="fuzz-shopper")
    return Seeded(merchant, product, video, token)


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """The project's WSGI application, served in process on the test's database connection.

    A WSGI server closes the database connection around each request; that would end the
    test's transaction too, so, as Django's own test client does, not here.
    """
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@pytest.fixture
def api_schema(wsgi_app: WSGIHandler) -> BaseSchema:
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)


def _aim_at_real_rows(seeded: Seeded) -> Callable[[Case], Case]:
    """Point a generated request at the seeded rows, keeping everything else it generated."""

    def aim(case: Case) -> Case:
        if case.path_parameters and "merchant" in case.path_parameters:
            case.path_parameters = {"merchant": seeded.merchant.slug, "sku": seeded.product.sku}
        if case.query and "st" in case.query:
            case.query = {**case.query, "st": seeded.token}
        if isinstance(case.body, dict) and "merchant" in case.body:
            body = {**case.body, "merchant": seeded.merchant.slug}
            if isinstance(body.get("events"), list):
                body["events"] = [
                    {**event, "video": seeded.video.pk} if isinstance(event, dict) else event
                    for event in body["events"]
                ]
            case.body = body
        if case.headers is not None:
            case.headers = {**case.headers, "Origin": ORIGIN}
            if "Authorization" in case.headers:
                secret = seeded.merchant.shopper_token_secret
                case.headers["Authorization"] = f"Bearer {secret}"
        return case

    return aim


def _fuzz(operation: APIOperation, mode: GenerationMode, seeded: Seeded) -> None:
    if mode is GenerationMode.NEGATIVE and operation.label == LOOKUP:
        generated = operation.as_strategy(
            generation_mode=mode,
            path_parameters={"merchant": seeded.merchant.slug, "sku": seeded.product.sku},
        )
    else:
        generated = operation.as_strategy(generation_mode=mode)
    strategy = st.one_of(generated, generated.map(_aim_at_real_rows(seeded)))

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(case: Case) -> None:
        case.call_and_validate(checks=CONFORMANCE)

    run()


def test_the_schema_lists_every_public_operation(api_schema: BaseSchema) -> None:
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert labels == OPERATIONS


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_every_operation_answers_as_its_schema_says(
    api_schema: BaseSchema, seeded: Seeded, label: str, mode: GenerationMode
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label
    _fuzz(operation, mode, seeded)


# Request headers the lookup reads that the schema cannot describe: a CDN's country and
# coordinates, the browser's languages and privacy signal, the proxies' X-Forwarded-For.
CDN_HEADERS = [
    *COUNTRY_HEADERS,
    *COORDINATE_HEADERS,
    "Accept-Language",
    "Sec-GPC",
    "X-Forwarded-For",
    "Origin",
]
header_values = st.one_of(
    st.sampled_from(["DE", "XX", "", "52.52", "-91", "1e308", "nan", "52.5,13.4", "de-DE;q=0.9"]),
    st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=40),
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(headers=st.dictionaries(st.sampled_from(CDN_HEADERS), header_values, max_size=6))
def _lookup_with(client: Client, seeded: Seeded, headers: dict[str, str]) -> None:
    response = client.get(
        f"/api/v1/videos/{seeded.merchant.slug}/{seeded.product.sku}",
        {"climate": "rainy"},
        headers=headers,
    )
    assert response.status_code in (200, 429), response.content[:500]
    assert response["Content-Type"] == "application/json"


def test_the_lookup_survives_any_cdn_and_browser_headers(
    client: Client, seeded: Seeded, settings: Settings
) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    settings.SCENECART_LOOKUP_RATE = "0"
    _lookup_with(client, seeded)


# --- Regressions: what the fuzzing found, kept as plain requests --------------------------------


def test_the_schema_documents_the_lookups_path_patterns_and_rate_limit(client: Client) -> None:
    schema = client.get("/api/schema/?format=json", HTTP_HOST="localhost").json()
    lookup = schema["paths"]["/api/v1/videos/{merchant}/{sku}"]["get"]
    patterns = {p["name"]: p["schema"].get("pattern") for p in lookup["parameters"]}
    assert patterns["merchant"] == "^[^/]+$"
    assert patterns["sku"] is None  # any SKU, a slash included
    for path, method in [
        ("/api/v1/videos/{merchant}/{sku}", "get"),
        ("/api/v1/events", "post"),
        ("/api/v1/shopper-tokens", "post"),
    ]:
        limited = schema["paths"][path][method]["responses"]["429"]
        assert "Retry-After" in limited["headers"], path


@pytest.mark.parametrize("token", ["é.x", "eyJ9.sïg", "\U0001f600"])
def test_a_shopper_token_with_non_ascii_characters_is_ignored_not_a_crash(
    client: Client, seeded: Seeded, token: str
) -> None:
    """Found by the fuzzing above: ``?st=%C3%A9.x`` was a 500 (the token reader signs ASCII)."""
    response = client.get(
        f"/api/v1/videos/{seeded.merchant.slug}/{seeded.product.sku}", {"st": token}
    )
    assert response.status_code == 200
    assert response.json()["warning"].startswith("Shopper token ignored: ")
    assert "malformed" in response.json()["warning"]


def test_a_sku_with_a_slash_and_an_odd_merchant_get_json_answers(
    client: Client, seeded: Seeded
) -> None:
    """Found by the fuzzing above: imports accept SKUs like JACKET/XL, which the route could
    not match (Django's HTML 404), and a merchant that is not a slug got HTML too."""
    response = client.get("/api/v1/videos/no%20such%20shop/XL%2FRED")
    assert response.status_code == 404 and "No merchant" in response.json()["error"]
    Product.objects.filter(pk=seeded.product.pk).update(sku="JACKET/XL")
    found = client.get(f"/api/v1/videos/{seeded.merchant.slug}/JACKET%2FXL")
    assert found.status_code == 200 and found.json()["video"] == seeded.video.pk, found.content
