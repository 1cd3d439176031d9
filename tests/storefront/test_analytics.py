"""Analytics: per-variant numbers, the daily chart and the holdout comparison, in the admin.

storefront/selectors.py sums the VariantStats counters; storefront/admin.py shows them on the
Analytics page (the VariantStats list), scoped by membership like the rest of the workspace.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.models import Merchant, Product
from catalog.services import membership_grant
from personalization.services import bucket_policy_update
from rendering.models import Video
from storefront.admin import axis_ticks
from storefront.models import VariantStats
from storefront.selectors import daily_totals, holdout_lift, variant_analytics
from tests.support.factories import make_merchant, make_product

pytestmark = pytest.mark.django_db

ANALYTICS = "/admin/storefront/variantstats/"
RAINY = "climate=rainy,aesthetic=minimalist"
NOT_FOUND = "doesn’t exist"  # Django admin's message for a row the user may not see.
# Bravo's numbers, which nobody at Alpha may ever see.
BRAVO_IMPRESSIONS, BRAVO_CLICKS = 7777, 333


def today() -> date:
    return timezone.localdate()


def make_video(product: Product, bucket: str = "generic", aspect: str = "16:9") -> Video:
    return Video.objects.create(product=product, bucket=bucket, aspect=aspect, recipe_key="r")


def count(
    video: Video, days_ago: int = 0, *, holdout: bool = False, **counters: int
) -> VariantStats:
    """One day's counters of a variant, as storefront.services.playback_events_record keeps them."""
    return VariantStats.objects.create(
        merchant=video.product.merchant,
        video=video,
        day=today() - timedelta(days=days_ago),
        holdout=holdout,
        **counters,
    )


def staff(username: str) -> AbstractUser:
    return get_user_model().objects.create_user(
        username=username, password="pw-for-tests", is_staff=True
    )


@dataclass
class Shops:
    alpha: Merchant
    bravo: Merchant
    rainy: Video
    generic: Video
    bravo_row: VariantStats
    alice: AbstractUser


@pytest.fixture
def shops() -> Shops:
    """Alpha's rain jacket in two variants over the last days (the generic one also seen by
    the holdout group), plus an old row outside 30 days; Bravo's stove with its own numbers."""
    alpha = make_merchant(slug="alpha", name="Alpha Outfitters")
    bravo = make_merchant(slug="bravo", name="Bravo Provisions")
    jacket = make_product(alpha, sku="A-1", title="Alpha Rain Jacket", with_image=False)
    rainy, generic = make_video(jacket, RAINY), make_video(jacket)
    count(rainy, 0, impressions=2096, plays=1560, completes=624, clicks=105)
    count(rainy, 3, impressions=2000, plays=1000, completes=400, clicks=100)
    count(rainy, 40, impressions=9000, plays=10, completes=1, clicks=1)
    count(generic, 1, impressions=1000, plays=500, completes=100, clicks=30)
    count(generic, 1, holdout=True, impressions=800, plays=400, completes=80, clicks=20)
    stove = make_product(bravo, sku="B-1", title="Bravo Camp Stove", with_image=False)
    bravo_row = count(
        make_video(stove), 2, impressions=BRAVO_IMPRESSIONS, plays=4000, clicks=BRAVO_CLICKS
    )
    alice = staff("alice")
    membership_grant(merchant=alpha, user=alice)
    return Shops(alpha, bravo, rainy, generic, bravo_row, alice)


def last_30_days() -> dict[str, date]:
    return {"since": today() - timedelta(days=29), "until": today()}


# --- selectors -------------------------------------------------------------------------------


def test_variants_are_summed_over_the_period_most_seen_first(
    shops: Shops, django_assert_num_queries: object
) -> None:
    with django_assert_num_queries(1):  # type: ignore[operator]
        rows = variant_analytics(merchant=shops.alpha, **last_30_days())

    assert [(r.bucket, r.aspect) for r in rows] == [(RAINY, "16:9"), ("generic", "16:9")]
    rainy, generic = rows
    assert (rainy.product_title, rainy.product_sku) == ("Alpha Rain Jacket", "A-1")
    # The row from 40 days ago is not in the last 30.
    assert (rainy.total.impressions, rainy.total.plays) == (4096, 2560)
    assert (rainy.total.completes, rainy.total.clicks) == (1024, 205)
    assert rainy.total.play_rate == pytest.approx(0.625)
    assert rainy.total.completion_rate == pytest.approx(0.4)
    assert rainy.total.click_through_rate == pytest.approx(205 / 4096)
    assert rainy.personalized == rainy.total
    assert rainy.holdout_impressions == 0

    # The generic video is also what the holdout group sees: both groups in the total, only
    # the personalized traffic in ``personalized``.
    assert (generic.total.impressions, generic.total.clicks) == (1800, 50)
    assert (generic.personalized.impressions, generic.personalized.clicks) == (1000, 30)
    assert generic.personalized.click_through_rate == pytest.approx(0.03)
    assert generic.total.click_through_rate == pytest.approx(50 / 1800)
    assert generic.holdout_impressions == 800


def test_a_longer_period_includes_older_days(shops: Shops) -> None:
    rows = variant_analytics(
        merchant=shops.alpha, since=today() - timedelta(days=89), until=today()
    )
    assert rows[0].bucket == RAINY
    assert rows[0].total.impressions == 4096 + 9000


def test_zero_denominators_give_no_rate(shops: Shops) -> None:
    product = make_product(shops.alpha, sku="A-2", title="Alpha Enamel Mug", with_image=False)
    never_seen = make_video(product, aspect="9:16")
    count(never_seen, 0)  # a row with only zeros
    seen_not_played = make_video(product, aspect="1:1")
    count(seen_not_played, 0, impressions=10)

    rows = {r.aspect: r for r in variant_analytics(merchant=shops.alpha, **last_30_days())}
    empty = rows["9:16"].total
    assert (empty.play_rate, empty.completion_rate, empty.click_through_rate) == (None, None, None)
    unplayed = rows["1:1"].total
    assert (unplayed.play_rate, unplayed.completion_rate) == (0.0, None)
    assert unplayed.click_through_rate == 0.0


def test_daily_totals_cover_every_day_of_the_period(shops: Shops) -> None:
    days = daily_totals(merchant=shops.alpha, since=today() - timedelta(days=6), until=today())

    assert [d.day for d in days] == [today() - timedelta(days=n) for n in range(6, -1, -1)]
    by_age = {(today() - d.day).days: (d.impressions, d.plays, d.clicks) for d in days}
    assert by_age[0] == (2096, 1560, 105)
    assert by_age[1] == (1800, 900, 50)  # both groups of the generic video
    assert by_age[3] == (2000, 1000, 100)
    assert by_age[2] == (0, 0, 0)  # Bravo's row that day is not Alpha's
    assert sum(d.impressions for d in days) == 4096 + 1800


def test_another_merchants_rows_are_never_summed(shops: Shops) -> None:
    period = {"merchant": shops.bravo, **last_30_days()}
    [row] = variant_analytics(**period)
    assert (row.product_title, row.total.impressions) == ("Bravo Camp Stove", BRAVO_IMPRESSIONS)
    assert holdout_lift(**period).personalized.impressions == BRAVO_IMPRESSIONS
    alpha_total = sum(d.impressions for d in daily_totals(merchant=shops.alpha, **last_30_days()))
    assert alpha_total == 4096 + 1800


def test_holdout_lift_compares_click_through_rates(shops: Shops) -> None:
    lift = holdout_lift(merchant=shops.alpha, **last_30_days())

    assert (lift.personalized.impressions, lift.personalized.clicks) == (5096, 235)
    assert (lift.holdout.impressions, lift.holdout.clicks) == (800, 20)
    assert lift.holdout.click_through_rate == pytest.approx(0.025)
    assert lift.personalized.play_rate == pytest.approx(3060 / 5096)
    assert lift.click_through_lift == pytest.approx((235 / 5096 - 0.025) / 0.025)
    assert lift.enough_data


def test_lift_needs_holdout_traffic_and_enough_of_it() -> None:
    merchant = make_merchant()
    video = make_video(make_product(merchant, with_image=False))
    period = {"merchant": merchant, **last_30_days()}

    count(video, 0, impressions=500, clicks=25)
    no_holdout = holdout_lift(**period)
    assert no_holdout.holdout.impressions == 0
    assert no_holdout.click_through_lift is None
    assert not no_holdout.enough_data

    count(video, 0, holdout=True, impressions=40, clicks=1)
    small = holdout_lift(**period)
    assert small.click_through_lift == pytest.approx((0.05 - 0.025) / 0.025)
    assert not small.enough_data  # 40 holdout impressions say little

    count(video, 1, holdout=True, impressions=60)
    assert holdout_lift(**period).enough_data  # 100 in each group

    never_clicked = make_merchant()
    other = make_video(make_product(never_clicked, with_image=False))
    count(other, 0, impressions=300, clicks=3)
    count(other, 0, holdout=True, impressions=300)
    assert holdout_lift(merchant=never_clicked, **last_30_days()).click_through_lift is None


def test_axis_ticks_are_round_and_reach_the_peak() -> None:
    assert axis_ticks(0) == [0, 1]
    assert axis_ticks(3) == [0, 1, 2, 3]
    assert axis_ticks(105) == [0, 50, 100, 150]
    assert axis_ticks(2096) == [0, 500, 1000, 1500, 2000, 2500]


# --- the admin page --------------------------------------------------------------------------


def page_of(response: object) -> str:
    assert response.status_code == 200  # type: ignore[attr-defined]
    return response.content.decode()  # type: ignore[attr-defined]


def variant_cells(page: str) -> list[list[str]]:
    """The variants table as text, one list of cells per row."""
    table = page.split('id="variants"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        ]
        for row in rows
    ]


def test_the_page_shows_each_variant_with_its_rates(client: Client, shops: Shops) -> None:
    client.force_login(shops.alice)
    page = page_of(client.get(ANALYTICS))

    assert "<h1>Analytics</h1>" in page
    assert variant_cells(page) == [
        ["Alpha Rain Jacket (A-1)", RAINY, "16:9", "4,096", "62.5%", "40.0%", "5.0%"],
        [
            "Alpha Rain Jacket (A-1)", "generic", "16:9", "1,800 incl. 800 holdout",
            "50.0%", "20.0%", "2.8%",
        ],
    ]  # fmt: skip


def test_the_period_can_be_seven_thirty_or_ninety_days(client: Client, shops: Shops) -> None:
    client.force_login(shops.alice)
    week = page_of(client.get(ANALYTICS, {"days": "7"}))
    quarter = page_of(client.get(ANALYTICS, {"days": "90"}))
    nonsense = page_of(client.get(ANALYTICS, {"days": "100000"}))

    assert variant_cells(week)[0][3] == "4,096"
    assert variant_cells(quarter)[0][3] == "13,096"  # with the row from 40 days ago
    assert 'class="selected" aria-current="true">Last 90 days' in quarter
    assert variant_cells(nonsense)[0][3] == "4,096"  # anything else is the default 30
    assert 'class="selected" aria-current="true">Last 30 days' in nonsense


def test_the_page_draws_the_daily_chart(client: Client, shops: Shops) -> None:
    client.force_login(shops.alice)
    page = page_of(client.get(ANALYTICS, {"days": "7"}))

    svg = page.split('<svg class="analytics-chart"', 1)[1].split("</svg>", 1)[0]
    assert svg.count("<polyline") == 2
    assert len(re.search(r'class="series-impressions" points="([^"]+)"', svg)[1].split()) == 7  # type: ignore[index]
    assert len(re.search(r'class="series-clicks" points="([^"]+)"', svg)[1].split()) == 7  # type: ignore[index]
    # Each day's dot tells its numbers on hover; the legend names both lines.
    day = today()
    assert f"<title>{day:%b} {day.day}: 2,096 impressions</title>" in svg
    assert f"<title>{day:%b} {day.day}: 105 clicks</title>" in svg
    assert "Impressions (left axis)" in svg
    assert "Clicks (right axis)" in svg
    # Axis labels: round numbers up to the busiest day, and today's date under the x axis.
    assert ">2,500</text>" in svg
    assert ">150</text>" in svg
    assert f">{day:%b} {day.day}</text>" in svg
    assert "<script" not in page.split('id="content"', 1)[1]


def test_the_page_shows_the_holdout_lift(client: Client, shops: Shops) -> None:
    bucket_policy_update(merchant=shops.alpha, holdout_percent=10)
    client.force_login(shops.alice)
    page = page_of(client.get(ANALYTICS))

    holdout = page.split('id="holdout"', 1)[1]
    assert "+84.5% click-through lift" in holdout  # 4.6% personalized against 2.5% held out
    assert "4.6%" in holdout
    assert "2.5%" in holdout
    assert "5,096" in holdout
    assert "10% of shoppers" in holdout
    assert "Not enough data yet" not in holdout
    assert "Holdout is off" not in holdout


def test_a_small_holdout_sample_says_not_enough_data(client: Client) -> None:
    merchant = make_merchant(name="Tiny Shop")
    video = make_video(make_product(merchant, with_image=False))
    count(video, 0, impressions=500, clicks=25)
    count(video, 0, holdout=True, impressions=40, clicks=1)
    bucket_policy_update(merchant=merchant, holdout_percent=5)
    user = staff("tina")
    membership_grant(merchant=merchant, user=user)
    client.force_login(user)

    holdout = page_of(client.get(ANALYTICS)).split('id="holdout"', 1)[1]
    assert "Not enough data yet" in holdout
    assert "personalized: 500, holdout: 40" in holdout
    assert "click-through lift" not in holdout


def test_with_holdout_off_the_page_says_how_to_turn_it_on(client: Client, shops: Shops) -> None:
    merchant = make_merchant(name="No Holdout Shop")
    count(make_video(make_product(merchant, with_image=False)), 0, impressions=500, clicks=5)
    user = staff("hal")
    membership_grant(merchant=merchant, user=user)
    client.force_login(user)

    holdout = page_of(client.get(ANALYTICS)).split('id="holdout"', 1)[1]
    assert "Holdout is off" in holdout
    assert "Holdout percent" in holdout
    assert "Bucket policies" in holdout
    assert "click-through lift" not in holdout


def test_a_merchant_without_playback_gets_an_empty_page_not_an_error(client: Client) -> None:
    merchant = make_merchant(name="Quiet Shop")
    user = staff("quinn")
    membership_grant(merchant=merchant, user=user)
    client.force_login(user)

    page = page_of(client.get(ANALYTICS))
    assert "No playback in this period yet" in page
    assert page.count("<polyline") == 2  # the empty chart still has its axes and lines


# --- tenancy and read-only -------------------------------------------------------------------


def assert_no_bravo_numbers(page: str) -> None:
    for number in (BRAVO_IMPRESSIONS, BRAVO_CLICKS):
        assert f"{number:,}" not in page
        assert str(number) not in page
    assert "Bravo Camp Stove" not in page


def test_staff_cannot_ask_for_another_merchants_analytics(client: Client, shops: Shops) -> None:
    client.force_login(shops.alice)
    response = client.get(ANALYTICS, {"merchant": str(shops.bravo.pk)})
    assert response.status_code == 404
    assert_no_bravo_numbers(response.content.decode())
    assert client.get(ANALYTICS, {"merchant": "not-a-number"}).status_code == 404

    # Her own page, with or without her merchant's id, shows only Alpha.
    for query in ({}, {"merchant": str(shops.alpha.pk)}, {"days": "90"}):
        page = page_of(client.get(ANALYTICS, query))
        assert "Alpha Rain Jacket" in page
        assert_no_bravo_numbers(page)


def test_staff_cannot_open_another_merchants_stats_rows(client: Client, shops: Shops) -> None:
    client.force_login(shops.alice)
    row = shops.bravo_row
    for name in ("change", "history", "delete"):
        response = client.get(reverse(f"admin:storefront_variantstats_{name}", args=[row.pk]))
        if response.status_code == 302:
            response = client.get(response.url)
            assert NOT_FOUND in response.content.decode(), name
        else:
            assert response.status_code in (403, 404), name
        assert_no_bravo_numbers(response.content.decode())


def test_stats_are_read_only_even_for_their_own_merchant(client: Client, shops: Shops) -> None:
    client.force_login(shops.alice)
    own = VariantStats.objects.get(video=shops.rainy, day=today())
    url = reverse("admin:storefront_variantstats_change", args=[own.pk])

    page = page_of(client.get(url))
    assert "2096" in page  # shown...
    assert 'name="_save"' not in page  # ...but not as a form
    assert client.post(url, {"impressions": "1"}).status_code == 403
    assert client.get(reverse("admin:storefront_variantstats_add")).status_code == 403
    assert (
        client.post(reverse("admin:storefront_variantstats_delete", args=[own.pk])).status_code
        == 403
    )
    own.refresh_from_db()
    assert own.impressions == 2096


def test_staff_without_a_membership_are_forbidden(client: Client, shops: Shops) -> None:
    client.force_login(staff("drifter"))
    response = client.get(ANALYTICS, {"merchant": str(shops.bravo.pk)})
    assert response.status_code == 403
    assert_no_bravo_numbers(response.content.decode())


def test_staff_of_two_merchants_choose_between_them(client: Client, shops: Shops) -> None:
    both = staff("bea")
    membership_grant(merchant=shops.alpha, user=both)
    membership_grant(merchant=shops.bravo, user=both)
    client.force_login(both)

    first = page_of(client.get(ANALYTICS))  # alphabetically first: Alpha
    assert "Alpha Rain Jacket" in first
    assert f'<option value="{shops.bravo.pk}">Bravo Provisions</option>' in first
    bravo = page_of(client.get(ANALYTICS, {"merchant": str(shops.bravo.pk)}))
    assert variant_cells(bravo)[0][:4] == ["Bravo Camp Stove (B-1)", "generic", "16:9", "7,777"]
    assert "Alpha Rain Jacket" not in bravo


def test_superusers_pick_any_merchant(client: Client, shops: Shops) -> None:
    client.force_login(
        get_user_model().objects.create_superuser(username="root", password="pw-for-tests")
    )
    page = page_of(client.get(ANALYTICS, {"merchant": str(shops.bravo.pk)}))
    assert variant_cells(page)[0][3] == "7,777"
    assert f'<option value="{shops.alpha.pk}">Alpha Outfitters</option>' in page
