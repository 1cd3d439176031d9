"""Admin tenancy, generated from the admin itself: staff of merchant A can neither list, open,
change nor trigger anything of merchant B, through any admin URL.

No admin URL is named here. The routes come from ``admin.site.get_urls()`` and the models from
``admin.site._registry`` when the tests run, so an admin, a custom view or an action added later
is requested as A with B's ids without anyone remembering to list it. What the walk cannot do on
its own fails a test and says what to extend:

- a model shown in the admin (registered, or an inline's) with no row of B: add one to
  :func:`build_b_world`;
- a URL argument :func:`argument_values` cannot fill with one of B's ids: teach it;
- a registered model with no path to a merchant: give it one, or add it to
  :data:`NOT_MERCHANT_OWNED` with the reason.

Every refusal has a positive control: the same requests as B's own staff reach B's rows, so the
suite cannot pass because a URL is simply broken or the ids are wrong.

B's world (with one ready video, rendered at the test sizes of the ``small_videos`` fixture) is
built once per module in a transaction; each test runs in a savepoint inside it.
"""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.http import HttpResponse
from django.test import Client, override_settings

from catalog.models import Membership, Merchant
from catalog.services import membership_grant, shopper_profile_upsert
from rendering.models import Segment, Video
from scenecart.settings import test as test_settings
from tests.support.admin_walker import (
    ADMIN_LABELS,
    B_SLUG,
    MARKER,
    SEARCH_WORD,
    SITE_ROUTES,
    Built,
    CannotFill,
    Probe,
    World,
    b_selection_query,
    build_b_world,
    change_url,
    collect_payloads,
    control_admin,
    control_user,
    fillings,
    page_payload,
    page_text,
    reached,
    registered_admin,
    report,
    request_by,
    routes_of,
    staff,
    uncovered,
)
from tests.support.factories import make_merchant, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def built(
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Built]:
    """A's and B's worlds, built once for the module inside a transaction rolled back at its
    end. Each test runs in a savepoint inside it (pytest-django's ``db``), so whatever a test
    changes is undone before the next; rendering B's video is most of the setup, once."""
    media = str(tmp_path_factory.mktemp("tenancy-media"))
    cache = {
        "default": {**django_settings.CACHES["default"], "KEY_PREFIX": f"t{uuid.uuid4().hex[:12]}"}
    }
    with (
        django_db_blocker.unblock(),
        override_settings(
            MEDIA_ROOT=media,
            CACHES=cache,
            SCENECART_PROFILES=test_settings.SMALL_PROFILES,
            SCENECART_SEGMENT_SECONDS=test_settings.SMALL_SEGMENT_SECONDS,
            # A provider alias, so merchants' keys have something to belong to (never called).
            SCENECART_BACKENDS={
                **django_settings.SCENECART_BACKENDS,
                "kling": {
                    "BACKEND": "providers.kling.KlingBackend",
                    "OPTIONS": {"api_key": "unused:unused", "base_url": "http://127.0.0.1:9"},
                },
            },
        ),
        transaction.atomic(),
    ):
        a = make_merchant(slug="alpha", name="Alpha Outfitters")
        alice = staff("alice")
        membership_grant(merchant=a, user=alice, role=Membership.Role.STAFF)
        make_product(a, sku="A-1", title="Alpha Rain Jacket")
        shopper_profile_upsert(merchant=a, external_id="alpha-shopper-1")
        b, bob = build_b_world()
        root = get_user_model().objects.create_superuser(username="root", password="pw-for-tests")
        b.refresh_from_db()
        secrets = [
            MARKER,
            B_SLUG,
            b.shopper_token_secret,
            bob.username,
            # Hash keys are shown in lists (Segment's "Key" column): B's must not be.
            *(segment.key[:12] for segment in Segment.objects.filter(merchant=b)),
            *(video.recipe_key[:12] for video in Video.objects.filter(product__merchant=b)),
        ]
        ids = {"a": a.pk, "b": b.pk, "alice": alice.pk, "bob": bob.pk, "root": root.pk}
        snapshot = World(a=a, b=b, alice=alice, bob=bob, root=root).snapshot()
        yield Built(ids=ids, secrets=secrets, media=media, snapshot=snapshot)
        transaction.set_rollback(True)


@pytest.fixture
def world(built: Built, db: None, settings: Any) -> World:
    settings.MEDIA_ROOT = built.media  # where B's renders are
    users = get_user_model().objects.in_bulk([built.ids[k] for k in ("alice", "bob", "root")])
    world = World(
        a=Merchant.objects.get(pk=built.ids["a"]),
        b=Merchant.objects.get(pk=built.ids["b"]),
        alice=users[built.ids["alice"]],
        bob=users[built.ids["bob"]],
        root=users[built.ids["root"]],
        secrets=built.secrets,
    )
    assert world.snapshot() == built.snapshot, "a previous test's writes were not rolled back"
    world.b_links = [
        change_url(row) for model in admin.site._registry for row in world.rows_of_b(model)
    ]
    return world


def test_b_has_a_row_of_every_admin_model(world: World) -> None:
    shown: dict[str, type[models.Model]] = {}
    request = request_by(world.root)
    for model, model_admin in admin.site._registry.items():
        shown[model._meta.label_lower] = model
        for inline in {*model_admin.inlines, *model_admin.get_inlines(request, None)}:
            shown[inline.model._meta.label_lower] = inline.model
    problems = [
        p for label, model in sorted(shown.items()) if (p := uncovered(label, model, world))
    ]
    if problems:
        pytest.fail("The tenancy fixture does not cover the admin:\n- " + "\n- ".join(problems))


@pytest.mark.parametrize("label", ADMIN_LABELS)
def test_admin_keeps_b_from_staff_of_a(label: str, client: Client, world: World) -> None:
    """As A: the list (searched, filtered by B), every URL of this admin filled with each of
    B's ids (GET, then POST), the add form naming B, every action on B's ids. Then the
    control: the same as B's own staff."""
    model_admin = registered_admin(label)
    rows = world.rows_of_b(model_admin.model)
    if problem := uncovered(label, model_admin.model, world):
        pytest.fail(problem)
    routes = routes_of(model_admin)
    control = Probe(client, world, control_user(model_admin, world))
    payloads = collect_payloads(control, model_admin, routes)

    probe = Probe(client, world, world.alice, guarded=True)
    for route in routes:
        if route.kind == "changelist":
            probe.changelist(model_admin, route.url({}))
            probe.actions(model_admin, route.url({}))
            continue
        try:
            fills = fillings(route, world)
        except CannotFill as exc:
            probe.untested.append(f"{route}: argument {exc}")
            continue
        for values in fills:
            if route.kind == "change":
                payload = payloads.change.get(values["object_id"], {"_save": "Save"})
            elif route.kind == "delete":
                payload = {"post": "yes"}
            elif route.kind == "add":
                payload = payloads.add
            else:
                payload = payloads.pages.get(route.route) or page_payload(None, world)
            probe.send_as_a(route, route.url(values), payload)
        if route.route in payloads.selections:
            url = route.url({})
            probe.leaks(probe.get(url, b_selection_query(world)), f"GET {url} (B's selection)")
            response = probe.post(url, payloads.selections[route.route])
            probe.leaks(response, f"POST {url} (A's merchant, B's selection)")

    if rows:
        control_admin(control, model_admin, routes, payloads)
    report(probe, control, f"{label}'s admin")


def autocomplete_queries(world: World) -> Iterator[tuple[dict[str, str], set[str]]]:
    """One query per relation to a searchable registered model: (query, B's ids there)."""
    for model in apps.get_models():
        for f in model._meta.get_fields():
            if not (f.is_relation and f.concrete) or f.related_model not in admin.site._registry:
                continue
            if not admin.site._registry[f.related_model].search_fields:
                continue
            b_ids = {str(row.pk) for row in world.rows_of_b(f.related_model)}
            for term in ("", SEARCH_WORD):
                query = {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": f.name,
                    "term": term,
                }
                yield query, b_ids


def offered(response: HttpResponse) -> set[str]:
    if response.status_code != 200:
        return set()
    return {str(item["id"]) for item in json.loads(page_text(response))["results"]}


def has_a_url(values: dict[str, str]) -> bool:
    """Django's "view on site" answers 404 for a model without get_absolute_url, whoever
    asks: only rows that have one can be reached by B's staff."""
    if "content_type_id" not in values:
        return True
    model = ContentType.objects.get_for_id(int(values["content_type_id"])).model_class()
    return hasattr(model, "get_absolute_url")


@pytest.mark.parametrize("route_text", SITE_ROUTES)
def test_admin_site_url_keeps_b_from_staff_of_a(
    route_text: str, client: Client, world: World
) -> None:
    """The site's own URLs (index, app lists, autocomplete, view on site, the catch-all, …):
    as A, with B's ids where they take any; then the control as B's staff."""
    routes = [route for route in routes_of(None) if str(route) == route_text]
    assert routes, f"{route_text} is no longer in admin.site.get_urls()"
    route = routes[0]
    probe = Probe(client, world, world.alice, guarded=True)
    control = Probe(client, world, world.bob)
    if route.kind == "autocomplete":
        seen_by_b: set[str] = set()
        for query, b_ids in autocomplete_queries(world):
            response = probe.get(route.url({}), query)
            probe.leaks(response, f"autocomplete {query}")
            if offered(response) & b_ids:
                probe.problems.append(
                    f"autocomplete {query}: offers B's {offered(response) & b_ids}"
                )
            seen_by_b |= offered(control.get(route.url({}), query)) & b_ids
        if not seen_by_b:
            control.problems.append("no autocomplete query offered B's staff any row of B")
        report(probe, control, f"the admin site's {route.kind} URL")
        return
    try:
        fills = fillings(route, world)
    except CannotFill as exc:
        probe.untested.append(f"{route}: argument {exc}")
        fills = []
    payload = page_payload(None, world)
    for values in fills:
        probe.send_as_a(route, route.url(values), payload)
    if route.b_specific:
        for values in filter(has_a_url, fills):
            url = route.url(values)
            response = control.get(url)
            if not reached(response):
                control.problems.append(f"GET {url}: {response.status_code}, B's row not found")
    report(probe, control, f"the admin site's {route.kind} URL ({route})")
