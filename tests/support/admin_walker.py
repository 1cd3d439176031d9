"""The admin tenancy walker: merchant A's staff request every admin URL, action and form with
merchant B's ids, and a positive control does the same as B's own staff.

No admin URL is named here: routes come from ``admin.site.get_urls()`` and models from
``admin.site._registry`` when the tests run (``tests/test_admin_tenancy.py``), so anything
added to the admin later is walked without anyone listing it.
"""

import csv
import functools
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.validators import MaxLengthValidator, ProhibitNullCharactersValidator
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, reverse

from catalog.admin import MerchantScopedMixin
from catalog.feeds import catalog_feed_create
from catalog.importing import catalog_import
from catalog.models import Membership, Merchant
from catalog.services import brand_kit_update, membership_grant, shopper_profile_upsert
from integrations.shopify.connections import shopify_connection_set
from integrations.shopify.webhooks import Delivery, webhook_receive
from personalization.content_policy import content_policy_update
from personalization.services import bucket_policy_update
from provenance.credentials import signing_certificate_set
from rendering.bulk import bulk_job_create, generation_choices
from rendering.contact_sheet import aspect_slug
from rendering.models import Video
from rendering.routing import provider_key_set, render_routing_update
from storefront.services import playback_events_record
from tests.support.certificates import signing_chain
from tests.support.factories import make_merchant, make_product, make_ready_video

# In B's names, titles and ids: none of A's pages may show it.
MARKER = "ZZ-B-SECRET"
B_SLUG = "zz-b-secret"
# A word of B's searchable text that is no secret: a changelist echoes its search box.
SEARCH_WORD = "Bravo"
# What A's POSTs write into B's text fields (numbered, so two rows never collide on a unique key).
TAKEOVER = "a-was-here"
# Django admin's message for a row the user may not see.
NOT_FOUND = "doesn’t exist"
REFUSED = {400, 403, 404, 405}

# Registered models that hold no merchant's rows, and why.
NOT_MERCHANT_OWNED = {
    "auth.group": "permission groups are global: no merchant has its own",
}
# Rows owned through a reverse relation, which merchant_path()'s foreign-key walk cannot see.
OWNER_PATHS = {
    "auth.user": "memberships__merchant",
}
STANDARD_VIEWS = {"changelist", "add", "change", "delete", "history"}
# Fields the admin's POST-only views read that no GET renders as a form: confirmation buttons,
# the review decision. A new view that reads other fields adds them here; its positive control
# shows whether B's own staff's POST still does something.
EXTRA_POST_FIELDS = {"post": "yes", "confirm": "yes", "decision": "approve", "note": TAKEOVER}
UPLOAD = object()  # replaced by a fresh catalog file in every POST


# --- B's world ---------------------------------------------------------------------------------


def staff(username: str) -> AbstractUser:
    return get_user_model().objects.create_user(
        username=username, password="pw-for-tests", is_staff=True
    )


def shopify_csv(*, handle: str, title: str, image: str = "") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["Handle", "Title", "Published", "Variant Price", "Image Src", "Image Position"]
    )
    writer.writerow([handle, title, "true", "24.00", image, "1" if image else ""])
    return out.getvalue().encode()


def build_b_world() -> tuple[Merchant, AbstractUser]:
    """Merchant B with a row of every kind a merchant owns, through the app's services.

    A model that becomes merchant-owned gets a line here; test_b_has_a_row_of_every_admin_model
    names the ones missing.
    """
    merchant = make_merchant(slug=B_SLUG, name=f"{MARKER} Bravo Provisions")
    owner = staff("bravo-owner")
    membership_grant(merchant=merchant, user=owner, role=Membership.Role.OWNER)
    brand_kit_update(merchant=merchant, call_to_action=f"{MARKER} Shop")
    stove = make_product(
        merchant, sku=f"{MARKER}-BRAVO-1", title=f"{MARKER} Bravo Camp Stove", color="#2E86AB"
    )  # and its ProductImage
    catalog_import(  # a Product with a ProductImageSource (its fetch is never run here)
        merchant=merchant,
        content=shopify_csv(
            handle=f"{B_SLUG}-lantern",
            title=f"{MARKER} Bravo Lantern",
            image=f"https://images.example.com/{B_SLUG}/lantern.png",
        ),
        filename="bravo.csv",
    )
    shopper_profile_upsert(merchant=merchant, external_id=f"{MARKER}-bravo-shopper", country="DE")
    bucket_policy_update(merchant=merchant, holdout_percent=10)
    content_policy_update(merchant=merchant, extra_terms=f"{MARKER} Mascot")
    video = make_ready_video(stove)  # Video, Segments, VideoSegments
    playback_events_record(merchant=merchant, events=[{"type": "impression", "video": video.pk}])
    contexts, aspects, backend = generation_choices(
        contexts=["generic"], aspects=["16:9"], backend=None
    )
    bulk_job_create(  # BulkJob and BulkItem; submit=False: nothing is queued
        merchant=merchant,
        products=[stove],
        contexts=contexts,
        aspects=aspects,
        backend=backend,
        created_by=owner,
        submit=False,
    )
    render_routing_update(merchant_id=merchant.pk, kind_backends={"scene": "local"})
    provider_key_set(merchant_id=merchant.pk, backend="kling", key=f"{MARKER}-provider-key")
    signing_certificate_set(merchant_id=merchant.pk, **signing_chain(f"{MARKER} Bravo Provisions"))
    catalog_feed_create(merchant=merchant, url=f"https://feeds.example.com/{MARKER}-bravo.csv")
    shopify = shopify_connection_set(
        merchant=merchant,
        shop_domain="bravo.myshopify.com",
        webhook_secret=f"{MARKER}-webhook-secret",
    )
    webhook_receive(
        connection=shopify,
        delivery=Delivery(
            webhook_id=f"{MARKER}-delivery", topic="products/delete", body=b'{"id": 632910392}'
        ),
    )
    return merchant, owner


def merchant_path(model: type[models.Model]) -> str | None:
    """The ORM path from ``model`` to its Merchant, or None: the shortest chain of foreign
    keys, else one through a row of OWNER_PATHS (a B staff user's group memberships)."""
    label = model._meta.label_lower
    if label in OWNER_PATHS:
        return OWNER_PATHS[label]
    if model is Merchant:
        return "pk"
    return _foreign_key_path(model, through_owners=False) or _foreign_key_path(
        model, through_owners=True
    )


def _foreign_key_path(model: type[models.Model], *, through_owners: bool) -> str | None:
    frontier: list[tuple[type[models.Model], str]] = [(model, "")]
    seen = {model}
    for _ in range(4):
        following = []
        for current, prefix in frontier:
            for f in current._meta.get_fields():
                if not (f.many_to_one or f.one_to_one) or not f.concrete:
                    continue
                target = f.related_model
                if target is Merchant:
                    return f"{prefix}{f.name}"
                if through_owners and target._meta.label_lower in OWNER_PATHS:
                    return f"{prefix}{f.name}__{OWNER_PATHS[target._meta.label_lower]}"
                if target not in seen:
                    seen.add(target)
                    following.append((target, f"{prefix}{f.name}__"))
        frontier = following
    return None


@functools.cache
def owned_models() -> list[tuple[type[models.Model], str]]:
    """Every model with rows of a merchant, many-to-many tables included."""
    every = apps.get_models(include_auto_created=True)
    return [(m, p) for m in every if (p := merchant_path(m)) is not None]


@dataclass
class World:
    a: Merchant
    b: Merchant
    alice: AbstractUser  # A's staff
    bob: AbstractUser  # B's owner
    root: AbstractUser
    secrets: list[str] = field(default_factory=list)
    b_links: list[str] = field(default_factory=list)  # change URLs of B's rows

    def rows_of_b(self, model: type[models.Model]) -> list[models.Model]:
        path = merchant_path(model)
        if path is None:
            return []
        return list(model._default_manager.filter(**{path: self.b.pk}).distinct().order_by("pk"))

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of B, every column (``updated_at`` included)."""
        return {
            model._meta.label_lower: list(
                model._default_manager.filter(**{path: self.b.pk})
                .distinct()
                .order_by("pk")
                .values()
            )
            for model, path in owned_models()
        }


@dataclass(frozen=True)
class Built:
    ids: dict[str, int]
    secrets: list[str]
    media: str
    snapshot: dict[str, list[dict[str, Any]]]


def change_url(row: models.Model) -> str:
    opts = row._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(str(row.pk))])


# --- the admin's URLs, walked ------------------------------------------------------------------


@dataclass(frozen=True)
class AdminRoute:
    route: str  # below the admin's root, e.g. "catalog/product/<path:object_id>/change/"
    pattern: URLPattern
    model_admin: admin.ModelAdmin | None
    arguments: tuple[str, ...]

    def __str__(self) -> str:
        return self.route

    @property
    def kind(self) -> str:
        name = self.pattern.name or ""
        if self.model_admin is None:
            return name or "catch_all"
        opts = self.model_admin.opts
        view = name.removeprefix(f"{opts.app_label}_{opts.model_name}_")
        return view if view != name and view in STANDARD_VIEWS else "custom"

    @property
    def b_specific(self) -> bool:
        """Filled with B's ids (not only with names such as an app label)."""
        return any(name != "app_label" for name in self.arguments)

    def url(self, values: dict[str, str]) -> str:
        def fill(match: re.Match[str]) -> str:
            return values[match.group("name")]

        path = re.sub(r"\(\?P<(?P<name>\w+)>[^)]*\)", fill, self.route)  # re_path() groups
        path = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", fill, path)  # path() converters
        return reverse("admin:index") + path.replace("^", "").replace("$", "")


def admin_routes() -> list[AdminRoute]:
    by_prefix = {
        f"{model._meta.app_label}/{model._meta.model_name}/": model_admin
        for model, model_admin in admin.site._registry.items()
    }

    def walk(
        entries: list[Any],
        prefix: str,
        model_admin: admin.ModelAdmin | None,
        names: tuple[str, ...],
    ) -> Iterator[AdminRoute]:
        for entry in entries:
            text = prefix + str(entry.pattern)
            found = names + tuple(entry.pattern.regex.groupindex)
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, text, by_prefix.get(text, model_admin), found)
            else:
                yield AdminRoute(text, entry, model_admin, found)

    return list(walk(admin.site.get_urls(), "", None, ()))


def registered_admin(label: str) -> admin.ModelAdmin:
    return admin.site._registry[apps.get_model(label)]


def routes_of(model_admin: admin.ModelAdmin | None) -> list[AdminRoute]:
    return [route for route in admin_routes() if route.model_admin is model_admin]


class CannotFill(LookupError):
    pass


def argument_values(name: str, route: AdminRoute, world: World) -> list[str]:
    """Values of one URL argument that point at B's rows (or, for names, every name)."""
    own = route.model_admin.model if route.model_admin else None
    if name in {"object_id", "pk", "id"} and own is not None:
        return ids_of_b(own, name, world)
    if name.endswith("_id"):
        wanted = name.removesuffix("_id").replace("_", "")
        owned = [model for model, _ in owned_models()]
        matches = [m for m in owned if m._meta.model_name == wanted] or [
            m for m in owned if m._meta.model_name.endswith(wanted)
        ]
        if len(matches) == 1:
            return ids_of_b(matches[0], name, world)
    if name == "aspect":
        return sorted({aspect_slug(video.aspect) for video in world.rows_of_b(Video)})
    if name == "app_label":
        return sorted({model._meta.app_label for model in admin.site._registry})
    if name == "url":  # the admin's catch-all: B's change pages without their slash
        return [link.removeprefix(reverse("admin:index")).rstrip("/") for link in world.b_links]
    raise CannotFill(name)


def ids_of_b(model: type[models.Model], name: str, world: World) -> list[str]:
    ids = [quote(str(row.pk)) for row in world.rows_of_b(model)]
    label = model._meta.label_lower
    if not ids and label not in NOT_MERCHANT_OWNED:
        raise CannotFill(f"{name} (B has no row of {label}: add one to build_b_world())")
    return ids


def fillings(route: AdminRoute, world: World) -> list[dict[str, str]]:
    names = route.arguments
    if set(names) == {"content_type_id", "object_id"}:  # the site's "view on site" redirect
        return [
            {
                "content_type_id": str(ContentType.objects.get_for_model(row).pk),
                "object_id": quote(str(row.pk)),
            }
            for model, _ in owned_models()
            if not model._meta.auto_created
            for row in world.rows_of_b(model)
        ]
    values = [argument_values(name, route, world) for name in names]
    return [
        dict(zip(names, combination, strict=True)) for combination in itertools.product(*values)
    ]


def request_by(user: AbstractUser) -> HttpRequest:
    request = RequestFactory().get(reverse("admin:index"))
    request.user = user
    return request


def action_names(model_admin: admin.ModelAdmin, world: World) -> list[str]:
    """Every action the admin has, offered to anyone or not (``_get_base_actions`` is before
    the permission filter): A posts even those A is not offered."""
    names = {name for _, name, _ in model_admin._get_base_actions()}
    for user in (world.root, world.alice, world.bob):
        names |= set(model_admin.get_actions(request_by(user)))
    return sorted(names)


def control_user(model_admin: admin.ModelAdmin | None, world: World) -> AbstractUser:
    """Who may open B's rows: B's staff where access is membership, the superuser where it
    is Django's model permissions (auth's admins), which no merchant's staff hold."""
    if model_admin is None or isinstance(model_admin, MerchantScopedMixin):
        return world.bob
    return world.root


# --- POST payloads -----------------------------------------------------------------------------


def form_values(form: forms.BaseForm) -> dict[str, Any]:
    """The form's fields as a browser submits them, with their current values."""
    data: dict[str, Any] = {}
    for bound in form:
        if isinstance(bound.field, forms.FileField):
            continue
        value = bound.value()
        if type(bound.field) is forms.BooleanField:
            if value:
                data[bound.html_name] = "on"
            continue
        # The widget's own rendering of the value: split widgets (a date and a time) become
        # their parts, selects a list of choices.
        widget = getattr(bound.field.widget, "widget", bound.field.widget)  # admin's "+" wrapper
        widget = widget.get_context(bound.html_name, value, {})["widget"]
        for part in widget.get("subwidgets") or [widget]:
            shown = "" if part["value"] is None else part["value"]
            data[part["name"]] = [str(v) for v in shown] if isinstance(shown, list) else str(shown)
    return data


def plain_text(model: type[models.Model], name: str) -> bool:
    try:
        model_field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return (
        isinstance(model_field, models.CharField | models.TextField)
        and not model_field.choices
        and all(
            isinstance(v, MaxLengthValidator | ProhibitNullCharactersValidator)
            for v in model_field.validators
        )
    )


def scrubbed(data: dict[str, Any], world: World) -> dict[str, Any]:
    """``data`` with none of B's secrets in it, so a page echoing a form cannot fake a leak."""

    def scrub(value: Any) -> Any:
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, str):
            for secret in world.secrets:
                value = value.replace(secret, TAKEOVER)
        return value

    return {name: scrub(value) for name, value in data.items()}


_takeovers = itertools.count(1)


def change_payloads(
    response: HttpResponse, world: World
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(change, add) POSTs made from B's change form as its own staff see it: every field kept,
    every plain text field overwritten. Valid (the positive control saves it), so a refusal of
    A's identical POST is the admin's doing, not a bad form."""
    context = response.context
    if context is None or "adminform" not in context:
        return None
    form = context["adminform"].form
    main = {"_save": "Save", **form_values(form)}
    takeover = f"{TAKEOVER}-{next(_takeovers)}"
    for bound in form:
        if (
            type(bound.field) is forms.CharField
            and main.get(bound.html_name)
            and plain_text(form._meta.model, bound.name)
        ):
            main[bound.html_name] = takeover
    change, add = dict(main), dict(main)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        change.update(form_values(formset.management_form))
        for inline_form in formset.forms:
            change.update(form_values(inline_form))
        prefix = formset.management_form.prefix
        add.update({f"{prefix}-{key}": "0" for key in ("TOTAL_FORMS", "INITIAL_FORMS")})
        add.update({f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})
    return scrubbed(change, world), scrubbed(add, world)


def forms_on(response: HttpResponse | None) -> list[forms.BaseForm]:
    context = response.context if response is not None else None
    if context is None:
        return []
    # A ContextList is a list of contexts: its keys() are the names over all of them.
    names = context.keys()
    return [context[key] for key in names if isinstance(context[key], forms.BaseForm)]


def page_payload(response: HttpResponse | None, world: World) -> dict[str, Any]:
    """A POST for a custom page: the fields of every form it shows (as B's staff see them),
    a catalog file for its uploads, and ``merchant`` = B."""
    data: dict[str, Any] = dict(EXTRA_POST_FIELDS)
    for form in forms_on(response):
        data.update(form_values(form))
        data.update({b.html_name: UPLOAD for b in form if isinstance(b.field, forms.FileField)})
    data.setdefault("file", UPLOAD)
    data["merchant"] = str(world.b.pk)
    return scrubbed(data, world)


def catalog_upload() -> SimpleUploadedFile:
    content = shopify_csv(handle=f"{TAKEOVER}-import", title=f"{TAKEOVER} import")
    return SimpleUploadedFile("catalog.csv", content, content_type="text/csv")


# --- requests ----------------------------------------------------------------------------------


def page_text(response: HttpResponse) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("utf-8", "replace")


def _brief(method: str, data: dict[str, Any]) -> str:
    if "action" in data:
        return f" (action {data['action']!r} on {data['_selected_action']})"
    return f"?{urlencode(data)}" if method == "GET" and data else ""


class Probe:
    """Requests as one user; collects every problem instead of stopping at the first, so one
    run names every leaking URL. A ``guarded`` probe (A's) also checks that no request of
    it, GET or POST, changes any row of B."""

    def __init__(
        self, client: Client, world: World, user: AbstractUser, *, guarded: bool = False
    ) -> None:
        self.client, self.world, self.user, self.guarded = client, world, user, guarded
        self.problems: list[str] = []
        self.untested: list[str] = []

    def get(self, url: str, query: dict[str, Any] | None = None) -> HttpResponse:
        return self._send("GET", url, query or {})

    def post(self, url: str, data: dict[str, Any]) -> HttpResponse:
        data = {k: catalog_upload() if v is UPLOAD else v for k, v in data.items()}
        return self._send("POST", url, data)

    def _send(self, method: str, url: str, data: dict[str, Any]) -> HttpResponse:
        self.client.force_login(self.user)  # every time: the admin's URLs include logout
        before = self.world.snapshot() if self.guarded else None
        send = self.client.get if method == "GET" else self.client.post
        response = send(url, data, follow=True)
        if before is not None:
            self.unchanged(before, f"{method} {url}{_brief(method, data)}")
        return response

    # Checks of A's requests.

    def leaks(self, response: HttpResponse, what: str) -> None:
        text = page_text(response)
        hops = " ".join(url for url, _ in response.redirect_chain)
        for secret in self.world.secrets:
            if secret in text or secret in hops:
                self.problems.append(f"{what}: the page shows B's {secret!r}")
        for link in self.world.b_links:
            if link in text:
                self.problems.append(f"{what}: the page links to B's {link}")

    def refused(self, response: HttpResponse, url: str, what: str) -> None:
        final = response.request["PATH_INFO"]
        if response.status_code in REFUSED:
            return
        if response.redirect_chain and response.status_code == 200 and final != urlsplit(url).path:
            return  # sent away, e.g. to the index with "… doesn’t exist"
        self.problems.append(
            f"{what}: answered {response.status_code} at {final}, expected 403/404 or a "
            "redirect away"
        )

    def unchanged(self, before: dict[str, list[dict[str, Any]]], what: str) -> None:
        after = self.world.snapshot()
        changed = sorted(
            label for label in before.keys() | after.keys() if before.get(label) != after.get(label)
        )
        if changed:
            self.problems.append(f"{what}: changed B's rows of {', '.join(changed)}")

    def send_as_a(self, route: AdminRoute, url: str, payload: dict[str, Any]) -> None:
        response = self.get(url)
        self.leaks(response, f"GET {url} ({route})")
        if route.b_specific:
            self.refused(response, url, f"GET {url} ({route})")
        response = self.post(url, payload)
        self.leaks(response, f"POST {url} ({route})")
        if route.b_specific:
            self.refused(response, url, f"POST {url} ({route})")

    def changelist(self, model_admin: admin.ModelAdmin, url: str) -> None:
        response = self.get(url)
        if response.status_code not in (200, 403):
            self.problems.append(f"GET {url}: answered {response.status_code}, not 200 or 403")
        self.leaks(response, f"GET {url}")
        path = merchant_path(model_admin.model)
        queries = [{"q": SEARCH_WORD}] + ([{path: str(self.world.b.pk)}] if path else [])
        for query in queries:
            self.leaks(self.get(url, query), f"GET {url}?{query}")

    def actions(self, model_admin: admin.ModelAdmin, url: str) -> None:
        selected = [quote(str(row.pk)) for row in self.world.rows_of_b(model_admin.model)]
        if not selected:
            return
        for name in action_names(model_admin, self.world):
            response = self.post(
                url,
                {
                    "action": name,
                    "_selected_action": selected,
                    "index": "0",
                    "select_across": "0",
                    "post": "yes",
                },
            )
            self.leaks(response, f"action {name!r} on {url}")


# --- positive controls -------------------------------------------------------------------------


def reached(response: HttpResponse) -> bool:
    """The request found B's row: no 404, no "… doesn’t exist". (A 403 counts: Django's own
    views look the row up before they check the permission, e.g. deleting a merchant.)"""
    return response.status_code != 404 and NOT_FOUND not in page_text(response)


@dataclass
class Payloads:
    """What A posts, made from B's own pages as B's staff see them (before A asks anything)."""

    change: dict[str, dict[str, Any]] = field(default_factory=dict)  # by B's object id
    add: dict[str, Any] = field(default_factory=dict)
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)  # argument-less custom pages
    # The same, for A's own merchant but with B's ids in the page's selection fields.
    selections: dict[str, dict[str, Any]] = field(default_factory=dict)
    names_merchant: set[str] = field(default_factory=set)  # pages whose form picks a merchant


def selection_fields(response: HttpResponse, world: World) -> dict[str, str]:
    """Text fields of a page's forms named after a merchant-owned model in the plural (the
    "products" a bulk generation carries): B's ids of that model, as a selection sends them."""
    by_plural = {f"{model._meta.model_name}s": model for model, _ in owned_models()}
    found = {}
    for form in forms_on(response):
        for bound in form:
            model = by_plural.get(bound.name)
            if model is not None and type(bound.field) is forms.CharField:
                found[bound.html_name] = ",".join(ids_of_b(model, bound.name, world))
    return found


def b_selection_query(world: World) -> dict[str, str]:
    """B's merchant and products in a query string, as the product list's "generate videos"
    action links to a page."""
    products = world.rows_of_b(apps.get_model("catalog", "Product"))
    return {"merchant": str(world.b.pk), "ids": ",".join(str(p.pk) for p in products)}


def collect_payloads(
    control: Probe, model_admin: admin.ModelAdmin, routes: list[AdminRoute]
) -> Payloads:
    world = control.world
    payloads = Payloads(add={"_save": "Save", "merchant": str(world.b.pk)})
    for row in world.rows_of_b(model_admin.model):
        made = change_payloads(control.get(change_url(row)), world)
        if made:
            payloads.change[quote(str(row.pk))], payloads.add = made
    for route in routes:
        if route.kind == "custom" and not route.arguments:
            page = control.get(route.url({}))
            payloads.pages[route.route] = page_payload(page, world)
            payloads.selections[route.route] = {
                **payloads.pages[route.route],
                "merchant": str(world.a.pk),
                **selection_fields(page, world),
            }
            if any("merchant" in form.fields for form in forms_on(page)):
                payloads.names_merchant.add(route.route)
    return payloads


def control_admin(
    control: Probe, model_admin: admin.ModelAdmin, routes: list[AdminRoute], payloads: Payloads
) -> None:
    """B's own staff, through the same generated URLs: the list shows B's rows, every URL
    filled with B's ids finds its row, the change POST A sent saves, a page's POST naming
    merchant B writes to B, every action offered runs."""
    world, problems = control.world, control.problems
    rows = world.rows_of_b(model_admin.model)
    changelist = next(route.url({}) for route in routes if route.kind == "changelist")
    response = control.get(changelist)
    text = page_text(response)
    if response.status_code != 200 or not any(s in text for s in world.secrets + world.b_links):
        problems.append(f"GET {changelist}: {response.status_code}, none of B's rows listed")
    for route in routes:
        if not route.b_specific:
            continue
        try:
            fills = fillings(route, world)
        except CannotFill:
            continue  # A's part of the test names the route
        for values in fills:
            url = route.url(values)
            response = control.get(url)
            if route.kind == "change":
                if response.status_code != 200 or not any(
                    s in page_text(response) for s in world.secrets
                ):
                    problems.append(f"GET {url}: {response.status_code}, B's row not shown")
            elif not reached(response):
                problems.append(f"GET {url} ({route}): {response.status_code}, B's row not found")
    request = request_by(control.user)
    for row in rows:
        url = change_url(row)
        if not model_admin.has_change_permission(request, row):
            continue
        response = control.post(url, payloads.change.get(quote(str(row.pk)), {}))
        hops = [hop for hop, _ in response.redirect_chain]
        if not hops or not hops[0].startswith(changelist):
            errors = response.context.get("errors") if response.context else None
            problems.append(f"POST {url}: not saved ({response.status_code}: {errors})")
    for route_text, payload in payloads.pages.items():
        url = next(route.url({}) for route in routes if route.route == route_text)
        before = world.snapshot()
        response = control.post(url, payload)
        if response.status_code in REFUSED:
            problems.append(f"POST {url}: {response.status_code}")
        elif route_text in payloads.names_merchant and world.snapshot() == before:
            problems.append(
                f"POST {url} naming merchant B changed nothing of B: the payload A sends there "
                "is no valid submission, so A's refusal proves nothing"
            )
    for name in sorted(model_admin.get_actions(request)):
        if name == "delete_selected":
            continue  # Django's own; it would delete the rows the other controls use
        response = control.post(
            changelist,
            {
                "action": name,
                "_selected_action": [quote(str(row.pk)) for row in rows],
                "index": "0",
                "select_across": "0",
                "post": "yes",
            },
        )
        text = page_text(response)
        if "No action selected" in text or "Items must be selected" in text:
            problems.append(f"action {name!r}: did not run for B's own staff")


def report(a: Probe, control: Probe, where: str) -> None:
    sections = [
        (f"Staff of merchant A reached merchant B through {where}", a.problems),
        (
            f"Not tested: URLs of {where} whose arguments this test cannot fill with B's ids; "
            "teach argument_values() what they name",
            a.untested,
        ),
        (
            f"Control: B's own staff did not reach B's rows through {where}, so the refusals "
            "of A's requests there prove nothing",
            control.problems,
        ),
    ]
    text = "\n\n".join(
        f"{title}:\n" + "\n".join(f"- {p}" for p in problems)
        for title, problems in sections
        if problems
    )
    if text:
        pytest.fail(text, pytrace=False)


# --- the tests ---------------------------------------------------------------------------------

# Collected from the registry when pytest collects; the routes are walked again in each test.
ADMIN_LABELS = sorted(model._meta.label_lower for model in admin.site._registry)
SITE_ROUTES = [
    pytest.param(str(route), id=route.kind) for route in admin_routes() if route.model_admin is None
]


def uncovered(label: str, model: type[models.Model], world: World) -> str | None:
    """Why the fixture cannot test ``model``'s tenancy, if it cannot."""
    if label in NOT_MERCHANT_OWNED:
        return None
    if merchant_path(model) is None:
        return (
            f"{label} is in the admin but no foreign key leads to a Merchant: add its path to "
            "OWNER_PATHS, or add it to NOT_MERCHANT_OWNED with the reason"
        )
    if not world.rows_of_b(model):
        return f"add a row of {label} for merchant B to build_b_world()"
    return None
