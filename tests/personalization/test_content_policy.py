"""The content policy: protected characters and marks never reach a render backend, and the
refusal tells the merchant which term, in which field."""

import itertools
import unicodedata
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from catalog.models import Merchant, Product
from catalog.services import brand_kit_update, membership_grant, product_create
from catalog.vocabulary import Aesthetic, Climate, TimeOfDay
from personalization.content_policy import (
    ContentPolicyRefusal,
    LicensedAssetsRefusal,
    content_check,
    content_policy_update,
    licensed_assets_only,
    policy_check_plans,
)
from personalization.context import ShopperContext
from personalization.models import ContentPolicy
from personalization.plans import scene_plans_for
from personalization.terms import maintained_list, parse_terms
from tests.support.factories import make_merchant, make_product
from videokit.plan import ScenePlan

pytestmark = pytest.mark.django_db

REFUSAL_TAIL = "Scenecart does not render protected characters or marks."


def product_with(merchant: Merchant, **texts: Any) -> Product:
    """A product (no image needed: only its texts are checked) with some texts replaced."""
    fields: dict[str, Any] = {
        "title": "Stormline Rain Jacket",
        "description": "A light, packable shell with taped seams.",
        **texts,
    }
    sku = f"SKU-{Product.objects.count() + 1}"
    return product_create(merchant=merchant, sku=sku, price=Decimal("129"), **fields)


def plans_of(
    product: Product, context: str = "climate=rainy,aesthetic=minimalist"
) -> list[ScenePlan]:
    return scene_plans_for(product=product, context=ShopperContext.parse(context))


def refusal_of(product: Product, plans: list[ScenePlan] | None = None) -> ContentPolicyRefusal:
    with pytest.raises(ContentPolicyRefusal) as caught:
        policy_check_plans(product=product, plans=plans if plans is not None else plans_of(product))
    return caught.value


# --- the maintained list ---------------------------------------------------------------------


def groups() -> list[tuple[str, str, str]]:
    """(kind, owner, first term) of every group of the list."""
    seen: dict[tuple[str, str], str] = {}
    for term in maintained_list().terms:
        seen.setdefault((term.kind, term.owner), term.term)
    return [(kind, owner, term) for (kind, owner), term in seen.items()]


def test_the_list_is_a_few_hundred_terms_in_groups_by_owner() -> None:
    owners = {owner for _, owner, _ in groups()}
    assert len(maintained_list().terms) > 500
    assert {"Marvel, Disney", "Star Wars, Lucasfilm", "Nintendo", "Sanrio", "Lego"} <= owners
    assert {"Apple", "Jordan", "Marvel"} <= set(maintained_list().ambiguous.values())


@pytest.mark.parametrize(("kind", "owner", "term"), groups(), ids=lambda v: str(v)[:30])
def test_each_group_is_refused_naming_the_term_the_field_and_the_owner(
    kind: str, owner: str, term: str
) -> None:
    merchant = make_merchant()
    with pytest.raises(ContentPolicyRefusal) as caught:
        content_check(
            merchant=merchant,
            fields={"product title": "Everyday tote", "product description": f"A {term} tote."},
        )
    refusal = caught.value
    assert (refusal.term, refusal.field) == (term, "product description")
    assert str(refusal) == (
        f"'{term}' in product description is a protected {kind} ({owner}); {REFUSAL_TAIL}"
    )


def test_every_listed_term_is_found_as_itself() -> None:
    """The list's own spellings (accents, apostrophes, digits, '&', dots) all match, and each
    names itself, not a neighbour in the trie."""
    merchant = make_merchant()
    for listed in maintained_list().terms:
        with pytest.raises(ContentPolicyRefusal) as caught:
            content_check(merchant=merchant, fields={"tags": f"gift ; {listed.term} ; sale"})
        assert caught.value.term == listed.term


def test_a_broken_list_names_the_line() -> None:
    with pytest.raises(ValueError, match=r"line 4: 'spider man' is already listed \(line 2\)"):
        parse_terms(["## character: Marvel", "Spider-Man", "", "spider man"])
    with pytest.raises(ValueError, match="line 1: a group is"):
        parse_terms(["## hero: Marvel"])
    with pytest.raises(ValueError, match=r"line 3: 'Apple Watch' is already listed \(line 2\)"):
        parse_terms(["## mark: Apple", "Apple Watch", "Apple = Apple Watch"])


# --- where a term is found -----------------------------------------------------------------


def test_the_example_refusal_reads_as_promised() -> None:
    product = product_with(make_merchant(), description="Printed with Spider-Man on the back.")
    refusal = refusal_of(product)
    assert str(refusal) == (
        "'Spider-Man' in product description is a protected character (Marvel, Disney); "
        "Scenecart does not render protected characters or marks."
    )


@pytest.mark.parametrize(
    ("texts", "term", "field"),
    [
        ({"title": "Pikachu Rain Jacket"}, "Pikachu", "product title"),
        ({"description": "Hogwarts house colors, lined hood."}, "Hogwarts", "product description"),
        ({"category": "Apparel > Lego Merch"}, "Lego", "product category"),
        ({"tags": ["rain", "Hello Kitty", "kids"]}, "Hello Kitty", "product tags"),
        (
            {"attributes": {"material": "nylon", "claim": "As worn by Darth Vader"}},
            "Darth Vader",
            'product attribute "claim"',
        ),
        (
            {"attributes": {"collabs": ["trail", {"with": "Gucci"}]}},
            "Gucci",
            'product attribute "collabs"',
        ),
    ],
)
def test_product_texts_are_refused_naming_the_field(
    texts: dict[str, object], term: str, field: str
) -> None:
    refusal = refusal_of(product_with(make_merchant(), **texts))
    assert (refusal.term, refusal.field) == (term, field)
    assert f"'{term}' in {field} is a protected" in str(refusal)


def test_the_brand_kits_call_to_action_is_refused_as_the_merchant_wrote_it() -> None:
    """The call to action ends up in the outro's prompt and caption too; the refusal names
    the field the merchant can change."""
    merchant = make_merchant()
    brand_kit_update(merchant=merchant, call_to_action="Shop the Batmobile")
    refusal = refusal_of(product_with(merchant))
    assert (refusal.term, refusal.field) == ("Batmobile", "brand kit call to action")


def test_the_shop_name_is_checked() -> None:
    refusal = refusal_of(product_with(make_merchant(name="Disney Outlet Berlin")))
    assert (refusal.term, refusal.field) == ("Disney", "shop name")


def test_a_plans_prompt_and_captions_are_checked() -> None:
    """Text no merchant field holds (a script writer's line, a changed template) is caught in
    the plan it reached."""
    product = product_with(make_merchant())
    plans = plans_of(product)
    scene = next(i for i, p in enumerate(plans) if p.kind == "scene")
    with_prompt = list(plans)
    with_prompt[scene] = replace(plans[scene], prompt=plans[scene].prompt + " Mickey Mouse waves.")
    refusal = refusal_of(product, with_prompt)
    assert (refusal.term, refusal.field) == ("Mickey Mouse", "scene segment prompt")
    with_caption = list(plans)
    with_caption[scene] = replace(plans[scene], subcaption="Built like Iron Man")
    assert refusal_of(product, with_caption).field == "scene segment subcaption"


def test_the_negative_prompt_may_name_what_the_model_must_keep_out() -> None:
    product = product_with(make_merchant())
    plans = [
        replace(p, negative_prompt=p.negative_prompt + ", Mickey Mouse") for p in plans_of(product)
    ]
    policy_check_plans(product=product, plans=plans)


# --- spellings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "term"),
    [
        ("Spider Man", "Spider-Man"),
        ("spider-man", "Spider-Man"),
        ("SpiderMan", "Spider-Man"),
        ("SPIDER_MAN", "Spider-Man"),
        ("spider\u2010man", "Spider-Man"),  # a Unicode hyphen
        ("Ｓｐｉｄｅｒ－Ｍａｎ", "Spider-Man"),  # fullwidth, as NFKC folds it
        ("Spider\u200bMan", "Spider-Man"),  # a zero-width space hiding the word
        ("$pider-M4n", "Spider-Man"),
        ("Spider-Men", None),  # not a spelling of it
        ("Pokemon", "Pokémon"),
        ("POKÉMON", "Pokémon"),
        ("P1kachu", "Pikachu"),
        ("Barbies", "Barbie"),
        ("Hello-Kitty", "Hello Kitty"),
        ("Dolce and Gabbana", "Dolce & Gabbana"),
        ("McDonalds", "McDonald's"),
        ("R2D2", "R2-D2"),
        ("air-jordan", "Air Jordan"),
        ("Monsters Inc", "Monsters, Inc."),
    ],
)
def test_spelling_variants_match(written: str, term: str | None) -> None:
    merchant = make_merchant()
    fields = {"product title": f"{written} rain jacket"}
    if term is None:
        content_check(merchant=merchant, fields=fields)
        return
    with pytest.raises(ContentPolicyRefusal) as caught:
        content_check(merchant=merchant, fields=fields)
    assert caught.value.term == term
    # The refusal quotes the merchant's spelling too, so they can find it in their text.
    shown = "".join(c for c in unicodedata.normalize("NFKC", written) if c != "\u200b")
    note = f"'{term}' (written '{shown}') in product title" if shown != term else None
    assert str(caught.value).startswith(note or f"'{term}' in product title")


@pytest.mark.parametrize(
    "text",
    [
        "A marvelous fit for marvel-worthy views",  # Marvel: ambiguous
        "Sweater in apple green with apple-shaped buttons",  # Apple: ambiguous
        "A tin of jordan almonds for the trail",  # Jordan: ambiguous
        "Mehr über uns und unsere Jacken",  # Uber without its accent
        "Olympic-size beach towel",  # Olympic: ambiguous
        "Lunchbox for a happy meal on the go",  # Happy Meal: only McDonald's phrases
        "A green lantern for camping, and a green arrow on the map",
        "Set of two no face masks",  # No-Face
        "Cotton in a fine dobby weave",  # Dobby
        "Velcro strap and a YKK zipper",  # genericized marks are not listed
        "For the Miami heat and a walk through Manchester City centre",
        "Holds 100 mls",  # MLS
        "Inspired by the north face of the Eiger",  # North Face: ambiguous
        "Canada goose down jacket",  # Canada Goose: only its brand phrases
        "A Cinderella-style gown with a Snow White collar",  # public-domain names
        "Thor's hammer pendant",  # Thor: ambiguous (mythology)
        "Extra legroom, a Legolandish park",  # whole words only: no Lego, no Legoland
    ],
)
def test_ordinary_words_and_ambiguous_marks_in_ordinary_use_pass(text: str) -> None:
    merchant = make_merchant()
    product = product_with(merchant, description=text, tags=text.split()[:3])
    policy_check_plans(product=product, plans=plans_of(product))


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("Band for your Apple Watch", "Apple Watch"),
        ("Retro Air Jordan colorway", "Air Jordan"),
        ("Straight from Marvel Comics", "Marvel Comics"),
        ("Delivered by Uber Eats", "Uber Eats"),
        ("A Canada Goose parka look", "Canada Goose parka"),
    ],
)
def test_ambiguous_marks_are_refused_in_their_marked_form(text: str, term: str) -> None:
    refusal = refusal_of(product_with(make_merchant(), description=text))
    assert refusal.term == term


def test_the_templates_own_plans_pass_in_every_context() -> None:
    """No built-in prompt or caption trips the list, in any climate, aesthetic or time."""
    merchant = make_merchant()
    brand_kit_update(merchant=merchant, call_to_action="Shop now")
    product = product_with(merchant, category="Apparel > Outerwear")
    for climate, aesthetic, time in itertools.product(Climate, Aesthetic, TimeOfDay):
        context = f"climate={climate},aesthetic={aesthetic},time={time}"
        policy_check_plans(product=product, plans=plans_of(product, context))


# --- a merchant's own terms -------------------------------------------------------------------


def test_a_merchants_extra_term_is_refused_for_that_merchant_only() -> None:
    mine, theirs = make_merchant(name="Alpha Outfitters"), make_merchant()
    content_policy_update(merchant=mine, extra_terms="Acme Rocket\n# a comment\n\nRoadrunnr")
    refusal = refusal_of(product_with(mine, title="Acme-Rocket Boots"))
    assert (refusal.term, refusal.field) == ("Acme Rocket", "product title")
    assert "is on Alpha Outfitters' own list of protected terms" in str(refusal)
    other = product_with(theirs, title="Acme Rocket Boots")
    policy_check_plans(product=other, plans=plans_of(other))


def test_an_allowed_term_passes_for_that_merchant_only() -> None:
    licensee, other = make_merchant(), make_merchant()
    content_policy_update(merchant=licensee, allowed_terms="hello kitty\nApple")
    mine = product_with(licensee, title="Hello Kitty Raincoat", description="Fits the Apple Watch")
    policy_check_plans(product=mine, plans=plans_of(mine))
    # The licence covers those terms, not the rest of the list.
    also = product_with(licensee, title="Hello Kitty and Kuromi Raincoat")
    assert refusal_of(also).term == "Kuromi"
    theirs = product_with(other, title="Hello Kitty Raincoat")
    assert refusal_of(theirs).term == "Hello Kitty"


def test_a_policy_with_bad_terms_is_refused_naming_them() -> None:
    merchant = make_merchant()
    with pytest.raises(ValidationError) as caught:
        content_policy_update(
            merchant=merchant, extra_terms="XL\nPikachu", allowed_terms="Hello Kity\nPikachu"
        )
    errors = caught.value.message_dict
    assert errors["extra_terms"] == [
        "'XL' is too short to refuse: use at least 3 letters or digits, one a letter."
    ]
    assert errors["allowed_terms"] == [
        "'Hello Kity' is not on Scenecart's list of protected terms, so there is nothing to "
        "allow (check the spelling).",
        "'Pikachu' is also on your list of terms to refuse: keep it on one list.",
    ]
    assert not ContentPolicy.objects.filter(merchant=merchant).exists()


# --- licensed assets only -------------------------------------------------------------------


def test_licensed_assets_only_refuses_a_product_without_an_image_of_its_own() -> None:
    merchant, other = make_merchant(name="Alpha Outfitters"), make_merchant()
    content_policy_update(merchant=merchant, licensed_assets_only=True)
    bare = make_product(merchant, sku="BARE-1", title="Trail Cap", with_image=False)
    with pytest.raises(LicensedAssetsRefusal) as caught:
        policy_check_plans(product=bare, plans=plans_of(bare))
    assert caught.value.field == "product images"
    assert str(caught.value).startswith(
        "'Trail Cap' (BARE-1) has no image of its own, and Alpha Outfitters renders from its "
        "own images only (licensed assets only)"
    )
    pictured = make_product(merchant, title="Trail Cap")
    policy_check_plans(product=pictured, plans=plans_of(pictured))
    # What the rendering core reads to keep remote backends on image-to-video.
    assert licensed_assets_only(merchant_id=merchant.pk) is True
    assert licensed_assets_only(merchant_id=other.pk) is False
    elsewhere = make_product(other, title="Trail Cap", with_image=False)
    policy_check_plans(product=elsewhere, plans=plans_of(elsewhere))


# --- the admin --------------------------------------------------------------------------------


@pytest.fixture
def alice(client: Client) -> tuple[Client, Merchant, Merchant]:
    """Staff of alpha, logged in; bravo is another shop with a content policy of its own."""
    alpha, bravo = make_merchant(slug="alpha"), make_merchant(slug="bravo")
    user = get_user_model().objects.create_user(username="alice", password="pw", is_staff=True)
    membership_grant(merchant=alpha, user=user)
    content_policy_update(merchant=bravo, extra_terms="Bravo Secret Mascot")
    client.force_login(user)
    return client, alpha, bravo


def test_a_merchant_edits_its_content_policy_in_the_admin(
    alice: tuple[Client, Merchant, Merchant],
) -> None:
    client, alpha, _ = alice
    add = reverse("admin:personalization_contentpolicy_add")
    page = client.get(add).content.decode()
    assert "Scenecart&#x27;s list" in page or "Scenecart's list" in page
    form = {"merchant": alpha.pk, "extra_terms": "Acme Rocket", "allowed_terms": "Hello Kitty"}
    response = client.post(add, {**form, "licensed_assets_only": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = ContentPolicy.objects.get(merchant=alpha)
    assert (policy.extra_terms, policy.allowed_terms, policy.licensed_assets_only) == (
        "Acme Rocket",
        "Hello Kitty",
        True,
    )
    change = reverse("admin:personalization_contentpolicy_change", args=[policy.pk])
    bad = client.post(change, {**form, "allowed_terms": "Hello Kity"})
    assert "&#x27;Hello Kity&#x27; is not on Scenecart" in bad.content.decode()
    client.post(change, {**form, "extra_terms": "Acme Rocket\nAcme Anvil"})
    policy.refresh_from_db()
    assert policy.extra_terms == "Acme Rocket\nAcme Anvil"
    assert policy.licensed_assets_only is False  # unticked
    with pytest.raises(ContentPolicyRefusal, match="'Acme Anvil' in product title"):
        content_check(merchant=alpha, fields={"product title": "Acme Anvil Kettle"})


def test_another_shops_content_policy_is_out_of_reach(
    alice: tuple[Client, Merchant, Merchant],
) -> None:
    client, _alpha, bravo = alice
    theirs = ContentPolicy.objects.get(merchant=bravo)
    listing = client.get(reverse("admin:personalization_contentpolicy_changelist"))
    assert listing.status_code == 200
    assert "Bravo Secret Mascot" not in listing.content.decode()
    assert "bravo" not in listing.content.decode().lower()
    change = reverse("admin:personalization_contentpolicy_change", args=[theirs.pk])
    assert client.get(change).status_code in (302, 403, 404)
    client.post(change, {"merchant": bravo.pk, "extra_terms": "", "allowed_terms": ""})
    theirs.refresh_from_db()
    assert theirs.extra_terms == "Bravo Secret Mascot"
    response = client.post(
        reverse("admin:personalization_contentpolicy_add"),
        {"merchant": bravo.pk, "extra_terms": "Takeover", "allowed_terms": ""},
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert ContentPolicy.objects.filter(merchant=bravo).count() == 1
