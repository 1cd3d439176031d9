"""The contact sheet: a product's scene for every climate (rows) × aesthetic (columns).

What a merchant notices: the sheet has the grid and its labels, every cell looks different from
every other, the rainy row looks rainy next to the sunny one, opening it again is instant (the
stored sheet is reused), and only the merchant's own staff can see it.
"""

import io
import itertools
import json
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from catalog.models import Product
from catalog.services import membership_grant, product_image_cutout, product_update
from catalog.vocabulary import Aesthetic, Climate
from rendering.contact_sheet import (
    PAPER,
    SheetLayout,
    cell_profile,
    contact_sheet,
    contact_sheet_ensure,
    contact_sheet_png,
)
from tests.support.factories import make_merchant, make_product

pytestmark = pytest.mark.django_db

CLIMATES = [c.value for c in Climate]
AESTHETICS = [a.value for a in Aesthetic]
CELL = 320  # the default cell width; the small_videos 16:9 profile is 320×180 → cells 320×180

# Mean absolute difference (0–255 per channel, over the whole cell) below which two cells read
# as the same picture. Measured on the local compositor (Nov 2026, local-2 rework): the closest
# pair is overcast/luxury vs humid-tropical/luxury at 6.2–6.7 (grey-black vs dark green set, told
# apart at a glance), the median pair ~36. An earlier build had outdoorsy vs playful on grey
# skies at 2.3–3.8 (the same set, playful only added confetti): that is what this catches.
DISTINCT = 5.0

Cell = tuple[str, str]


@pytest.fixture
def product(small_videos: None) -> Product:
    product = make_product(make_merchant(slug="alpha"), sku="RAIN-1", title="Stormline Rain Jacket")
    # The product on a transparent background, as every stored sheet and segment shows it.
    product_image_cutout(image=product.images.get())
    return product


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def sheet_json(out: Path) -> dict[str, Any]:
    """The command's --json summary for the test product."""
    return json.loads(
        run("contact_sheet", "--merchant", "alpha", "--sku", "RAIN-1", "--out", str(out), "--json")
    )


def layout() -> SheetLayout:
    profile = cell_profile(aspect="16:9", cell_width=CELL)
    return SheetLayout(cell_width=profile.width, cell_height=profile.height, rows=6, columns=6)


def cells(sheet: Image.Image) -> dict[Cell, np.ndarray]:
    """Each cell of the sheet as a float RGB array, by (climate, aesthetic)."""
    pixels = np.asarray(sheet.convert("RGB")).astype(np.float32)
    grid = layout()
    found = {}
    for (row, climate), (column, aesthetic) in itertools.product(
        enumerate(CLIMATES), enumerate(AESTHETICS)
    ):
        left, top, right, bottom = grid.cell_box(row, column)
        found[(climate, aesthetic)] = pixels[top:bottom, left:right]
    return found


def alike_pairs(found: dict[Cell, np.ndarray]) -> dict[tuple[Cell, Cell], float]:
    return {
        (a, b): round(float(np.abs(found[a] - found[b]).mean()), 2)
        for a, b in itertools.combinations(found, 2)
        if np.abs(found[a] - found[b]).mean() < DISTINCT
    }


def staff(username: str) -> AbstractUser:
    return get_user_model().objects.create_user(
        username=username, password="pw-for-tests", is_staff=True
    )


# --- the command ------------------------------------------------------------------------------


def test_command_writes_a_png_of_six_by_six_cells_with_labels(
    product: Product, tmp_path: Path
) -> None:
    out = tmp_path / "sheets" / "sheet.png"
    summary = sheet_json(out)
    with Image.open(out) as sheet:
        assert sheet.format == "PNG"
        sheet = sheet.convert("RGB")
    grid = layout()
    width, height = sheet.size
    assert (summary["rows"], summary["columns"]) == (6, 6)
    assert (summary["width"], summary["height"]) == sheet.size == grid.size
    # Six cells across and down, plus gutters and labels narrower than one more cell.
    assert 6 * 320 + 5 * grid.gutter < width < 7 * 320
    assert 6 * 180 + 5 * grid.gutter < height < 7 * 180
    pixels = np.asarray(sheet)
    # Cells sit where the layout says: the gutter right of / below each cell is bare paper,
    # the cell itself is a picture.
    for row, column in itertools.product(range(6), range(6)):
        left, top, right, bottom = grid.cell_box(row, column)
        assert (pixels[top:bottom, right] == PAPER).all()
        assert (pixels[bottom, left:right] == PAPER).all()
        assert pixels[top:bottom, left:right].std() > 10
    # Labels: dark text in the header band above the first row and in the column left of it.
    x0, y0 = grid.origin
    header = pixels[grid.margin + grid.title_height : y0 - grid.gutter, x0:]
    labels = pixels[y0:, grid.margin : x0 - grid.gutter]
    for band in (header, labels):
        assert (band.max(axis=2) < 100).sum() > 200
    assert not list(out.parent.glob(".*.part")), "the temporary file is renamed into place"


def test_every_cell_differs_visibly_from_every_other(product: Product) -> None:
    with CaptureQueriesContext(connection) as queries:
        sheet = contact_sheet(product=product)
    writes = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    too_alike = alike_pairs(cells(sheet))
    assert not too_alike, f"cells a shopper could not tell apart: {too_alike}"


def test_the_rainy_row_is_darker_and_bluer_than_the_sunny_row(product: Product) -> None:
    found = cells(contact_sheet(product=product))

    def mean_rgb(climate: str) -> np.ndarray:
        return np.stack([found[(climate, a)] for a in AESTHETICS]).reshape(-1, 3).mean(axis=0)

    sunny, rainy = mean_rgb("sunny"), mean_rgb("rainy")
    luma = np.array([0.299, 0.587, 0.114])
    assert rainy @ luma < sunny @ luma - 10, (rainy, sunny)
    # Cooler: blue gains on red compared with the sunny row.
    assert rainy[2] - rainy[0] > sunny[2] - sunny[0], (rainy, sunny)


def test_running_twice_reuses_the_stored_sheet(product: Product, tmp_path: Path) -> None:
    first = sheet_json(tmp_path / "a.png")
    stored = Path(default_storage.path(first["stored_as"]))
    assert first["stored_as"].startswith("contact-sheets/alpha/rain-1-16x9-")
    assert first["reused"] is False
    written_at = stored.stat().st_mtime_ns

    second = sheet_json(tmp_path / "b.png")
    assert second["reused"] is True
    assert second["stored_as"] == first["stored_as"]
    assert stored.stat().st_mtime_ns == written_at, "the stored sheet is not rewritten"
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert contact_sheet_png(product=product) == stored.read_bytes()
    assert [p.name for p in stored.parent.iterdir()] == [stored.name]

    # A changed product is a new sheet under a new name.
    product_update(product=product, title="Stormline Rain Jacket II")
    changed = contact_sheet_ensure(product=product)
    assert changed.reused is False
    assert changed.name != first["stored_as"]


@pytest.mark.parametrize(
    ("flag", "value", "named"),
    [
        ("--sku", "NOPE-9", "'NOPE-9'"),
        ("--merchant", "nobody", "'nobody'"),
        ("--aspect", "4:3", "'4:3'"),
        ("--cell-width", "8", "8"),
    ],
)
def test_bad_input_is_a_command_error_naming_it(
    product: Product, tmp_path: Path, flag: str, value: str, named: str
) -> None:
    args = {"--merchant": "alpha", "--sku": "RAIN-1", "--out": str(tmp_path / "x.png")}
    args[flag] = value
    with pytest.raises(CommandError) as error:
        run("contact_sheet", *itertools.chain.from_iterable(args.items()))
    assert named in str(error.value)
    assert not (tmp_path / "x.png").exists()


# --- the admin --------------------------------------------------------------------------------


def test_the_admin_serves_the_sheet_to_the_merchants_staff_only(
    client: Client, product: Product
) -> None:
    alice, bob = staff("alice"), staff("bob")
    membership_grant(merchant=product.merchant, user=alice)
    membership_grant(merchant=make_merchant(slug="bravo"), user=bob)
    url = reverse("admin:rendering_video_contact_sheet", args=[product.pk, "16x9"])

    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as sheet:
        assert sheet.size == layout().size
    # The browser's copy is still current: nothing is drawn or sent again.
    again = client.get(url, headers={"if-none-match": response["ETag"]})
    assert again.status_code == 304
    assert (
        client.get(
            reverse("admin:rendering_video_contact_sheet", args=[product.pk, "4x3"])
        ).status_code
        == 404
    )

    client.force_login(bob)
    assert client.get(url).status_code == 404


def test_the_product_page_shows_the_sheet(client: Client, product: Product) -> None:
    alice = staff("alice")
    membership_grant(merchant=product.merchant, user=alice)
    client.force_login(alice)
    page = client.get(reverse("admin:catalog_product_change", args=[product.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    src = reverse("admin:rendering_video_contact_sheet", args=[product.pk, "16x9"])
    assert f'<img src="{src}"' in html
    assert 'loading="lazy"' in html
    assert "Variants" in html
    # The page does not wait for the sheet: the image is fetched by the browser.
    assert not default_storage.exists("contact-sheets")
    add_page = client.get(reverse("admin:catalog_product_add")).content.decode()
    assert "contact-sheet" not in add_page
