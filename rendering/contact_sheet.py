"""The contact sheet: one picture a merchant reads to compare a product's variants.

A grid of the product's personalized ``scene`` segment: one row per climate, one column per
aesthetic, each cell the middle frame of that context's scene, drawn by the local compositor at
thumbnail size. Nothing is encoded and no database row is written: the stills come straight
from ``LocalBackend.still``, so a sheet costs a few seconds instead of 36 renders.

``contact_sheet_ensure`` keeps the PNG in storage under a name that hashes the segment keys of
every cell: the keys change when the image, the brand kit or the renderer version change, so an
unchanged product reuses its sheet and a changed one gets a new sheet.
"""

import hashlib
import io
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.text import slugify
from PIL import Image, ImageDraw, ImageFont

from catalog.models import BrandKit, Product
from catalog.vocabulary import Aesthetic, Climate
from personalization.context import ShopperContext
from personalization.plans import scene_plans_for
from providers.base import RenderBackend
from videokit.compositor.painters import fit_text
from videokit.job import OutputProfile, RenderAssets, RenderJob
from videokit.plan import ScenePlan

from .backends import backend_for
from .profiles import profile_for
from .services import segment_specs, stored_bytes

logger = logging.getLogger(__name__)

# The stills are drawn by the local compositor whatever the default backend is: it is the one
# that can show a frame without rendering (or paying for) a whole segment.
LOCAL_BACKEND = "local"
DEFAULT_CELL_WIDTH = 320
MIN_CELL_WIDTH, MAX_CELL_WIDTH = 64, 1280
# Part of the stored name: bump when the layout of the sheet changes.
SHEET_VERSION = 1
STORAGE_PREFIX = "contact-sheets"

PAPER = (248, 250, 252)
INK = (15, 23, 42)
MUTED = (71, 85, 105)


@dataclass(frozen=True)
class SheetLayout:
    """Where everything goes on a sheet; the test reads cells back through ``cell_box``."""

    cell_width: int
    cell_height: int
    rows: int
    columns: int

    @property
    def gutter(self) -> int:
        return max(2, round(self.cell_width / 80))

    @property
    def margin(self) -> int:
        return max(6, round(self.cell_width / 20))

    @property
    def label_size(self) -> int:
        return max(11, round(self.cell_width * 0.06))

    @property
    def title_size(self) -> int:
        return round(self.label_size * 1.3)

    @cached_property
    def label_font(self) -> ImageFont.FreeTypeFont:
        return _font(self.label_size)

    @cached_property
    def title_font(self) -> ImageFont.FreeTypeFont:
        return _font(self.title_size)

    @property
    def title_height(self) -> int:
        return round(self.title_size * 1.9)

    @property
    def header_height(self) -> int:
        return round(self.label_size * 1.8)

    @cached_property
    def label_width(self) -> int:
        """Wide enough for the longest climate name."""
        widest = max(self.label_font.getlength(str(label)) for label in Climate.labels)
        return round(widest + self.label_size)

    @property
    def origin(self) -> tuple[int, int]:
        """Top-left corner of the first cell."""
        return (
            self.margin + self.label_width + self.gutter,
            self.margin + self.title_height + self.header_height + self.gutter,
        )

    @property
    def size(self) -> tuple[int, int]:
        x0, y0 = self.origin
        return (
            x0 + self.columns * self.cell_width + (self.columns - 1) * self.gutter + self.margin,
            y0 + self.rows * self.cell_height + (self.rows - 1) * self.gutter + self.margin,
        )

    def cell_box(self, row: int, column: int) -> tuple[int, int, int, int]:
        x0, y0 = self.origin
        left = x0 + column * (self.cell_width + self.gutter)
        top = y0 + row * (self.cell_height + self.gutter)
        return left, top, left + self.cell_width, top + self.cell_height


@dataclass(frozen=True, slots=True)
class StoredSheet:
    name: str
    png: bytes
    reused: bool
    rows: int
    columns: int
    size: tuple[int, int]


def cell_profile(*, aspect: str, cell_width: int) -> OutputProfile:
    """The house profile of ``aspect`` scaled down to ``cell_width`` (even dimensions, like the
    real formats, so a cell is the video frame in miniature)."""
    if not MIN_CELL_WIDTH <= cell_width <= MAX_CELL_WIDTH:
        raise ValueError(
            f"Cell width must be between {MIN_CELL_WIDTH} and {MAX_CELL_WIDTH} pixels, "
            f"got {cell_width}."
        )
    house = profile_for(aspect)
    width = cell_width - cell_width % 2
    height = max(2, round(house.height * width / house.width / 2) * 2)
    return OutputProfile(aspect=house.aspect, width=width, height=height, fps=house.fps)


def aspect_slug(aspect: str) -> str:
    """``16:9`` as it is written in URLs and file names: ``16x9``."""
    return profile_for(aspect).aspect.replace(":", "x")


def aspect_from_slug(slug: str) -> str:
    """``16x9`` (or ``16:9``) back to a known aspect; ``UnknownAspect`` otherwise."""
    return profile_for(slug.replace("x", ":")).aspect


def contact_sheet(
    *,
    product: Product,
    aspect: str = "16:9",
    cell_width: int = DEFAULT_CELL_WIDTH,
    climates: Sequence[Climate] | None = None,
    aesthetics: Sequence[Aesthetic] | None = None,
) -> Image.Image:
    """The grid of the product's scene, climates down, aesthetics across, as an RGB image.

    Reads the catalog, writes nothing. Raises ``UnknownAspect`` for an aspect with no profile
    and ``ValueError`` for a cell width out of range.
    """
    rows = [Climate(value) for value in (climates if climates is not None else Climate)]
    columns = [Aesthetic(value) for value in (aesthetics if aesthetics is not None else Aesthetic)]
    if not rows or not columns:
        raise ValueError("A contact sheet needs at least one climate and one aesthetic.")
    profile = cell_profile(aspect=aspect, cell_width=cell_width)
    backend = _still_backend()
    brand_kit = BrandKit.objects.filter(merchant_id=product.merchant_id).first()
    assets = _assets(product=product, brand_kit=brand_kit)
    layout = SheetLayout(
        cell_width=profile.width, cell_height=profile.height, rows=len(rows), columns=len(columns)
    )
    sheet = Image.new("RGB", layout.size, PAPER)
    started = time.perf_counter()
    for row, climate in enumerate(rows):
        for column, aesthetic in enumerate(columns):
            plan = _scene_plan(
                product=product,
                context=ShopperContext(climate=climate, aesthetic=aesthetic),
                brand_kit=brand_kit,
            )
            still = backend.still(
                RenderJob(plan=plan, profile=profile, assets=assets), plan.seconds / 2
            )
            left, top, _, _ = layout.cell_box(row, column)
            sheet.paste(still.convert("RGB"), (left, top))
    _draw_labels(sheet, layout=layout, product=product, rows=rows, columns=columns, aspect=aspect)
    logger.info(
        "Contact sheet of %s (%s): %d×%d cells of %d×%d px in %.2f s",
        product.sku,
        profile.aspect,
        len(rows),
        len(columns),
        profile.width,
        profile.height,
        time.perf_counter() - started,
    )
    return sheet


def contact_sheet_name(
    *, product: Product, aspect: str = "16:9", cell_width: int = DEFAULT_CELL_WIDTH
) -> str:
    """The storage name of the product's sheet as it would be drawn now.

    The hash covers the scene segment key of every cell (product image, brand kit, plan,
    renderer version) plus the sheet's own layout version and cell width.
    """
    # Imported here: rendering.services imports the Celery tasks' module graph, which this
    # module does not otherwise need (and which is being reworked in parallel).
    keys = [
        spec.key
        for climate in Climate
        for aesthetic in Aesthetic
        for spec in segment_specs(
            product=product,
            context=ShopperContext(climate=climate, aesthetic=aesthetic),
            aspect=aspect,
            backend_alias=LOCAL_BACKEND,
        )
        if spec.plan.kind == "scene"
    ]
    material = json.dumps(
        {"sheet": SHEET_VERSION, "cell_width": cell_width, "cells": keys}, separators=(",", ":")
    )
    digest = hashlib.sha256(material.encode()).hexdigest()[:16]
    sku = slugify(product.sku) or str(product.pk)
    return f"{STORAGE_PREFIX}/{product.merchant.slug}/{sku}-{aspect_slug(aspect)}-{digest}.png"


def contact_sheet_ensure(
    *, product: Product, aspect: str = "16:9", cell_width: int = DEFAULT_CELL_WIDTH
) -> StoredSheet:
    """The product's sheet from storage, drawn and stored first if this version is missing."""
    cell_profile(aspect=aspect, cell_width=cell_width)  # bad input fails before any work
    name = contact_sheet_name(product=product, aspect=aspect, cell_width=cell_width)
    rows, columns = len(Climate), len(Aesthetic)
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            png = handle.read()
        with Image.open(io.BytesIO(png)) as stored:
            size = stored.size
        return StoredSheet(name=name, png=png, reused=True, rows=rows, columns=columns, size=size)
    image = contact_sheet(product=product, aspect=aspect, cell_width=cell_width)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False, compress_level=6)
    png = buffer.getvalue()
    saved = default_storage.save(name, ContentFile(png))
    if saved != name:
        # Someone stored the same sheet while we drew it (storage picked a free name for ours):
        # theirs is identical, keep one.
        default_storage.delete(saved)
    return StoredSheet(
        name=name, png=png, reused=False, rows=rows, columns=columns, size=image.size
    )


def contact_sheet_png(
    *, product: Product, aspect: str = "16:9", cell_width: int = DEFAULT_CELL_WIDTH
) -> bytes:
    """The product's contact sheet as PNG bytes, cached in storage (see module docstring)."""
    return contact_sheet_ensure(product=product, aspect=aspect, cell_width=cell_width).png


def _still_backend() -> RenderBackend:
    backend = backend_for(LOCAL_BACKEND)
    if not backend.draws_stills:
        raise ImproperlyConfigured(
            f"SCENECART_BACKENDS[{LOCAL_BACKEND!r}] cannot draw stills: contact sheets need "
            f"the local compositor there."
        )
    return backend


def _scene_plan(
    *, product: Product, context: ShopperContext, brand_kit: BrandKit | None
) -> ScenePlan:
    plans = scene_plans_for(product=product, context=context, brand_kit=brand_kit)
    return next(plan for plan in plans if plan.kind == "scene")


def _assets(*, product: Product, brand_kit: BrandKit | None) -> RenderAssets:
    """The product's first image (its cutout once one is made) and the brand's caption font,
    as bytes, with the hashes the compositor reads (``product_kind`` frames busy photos)."""
    image = product.images.order_by("position", "id").first()
    photo = None
    hashes = {"product_image": "", "product_kind": "", "font": ""}
    if image is not None:
        # A cut-out whose file went missing falls back to the photo rather than failing.
        use_cutout = bool(
            image.cutout_kind
            and image.cutout.name
            and image.cutout.storage.exists(image.cutout.name)
        )
        photo = stored_bytes(image.cutout if use_cutout else image.file)
        hashes["product_image"] = image.cutout_hash if use_cutout else image.content_hash
        hashes["product_kind"] = image.cutout_kind if use_cutout else ""
    font = None
    if brand_kit is not None and brand_kit.font:
        font = stored_bytes(brand_kit.font)
        hashes["font"] = brand_kit.font_hash
    return RenderAssets(product_image=photo, font=font, hashes=hashes)


def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size)
    # Pillow falls back to a bitmap font only when built without FreeType, and the labels
    # need FreeType (anchors, lengths for fit_text).
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise ImproperlyConfigured("Pillow is built without FreeType: contact sheets need it.")
    return font


def _draw_labels(
    sheet: Image.Image,
    *,
    layout: SheetLayout,
    product: Product,
    rows: list[Climate],
    columns: list[Aesthetic],
    aspect: str,
) -> None:
    draw = ImageDraw.Draw(sheet)
    margin = layout.margin
    width, _ = layout.size
    title = f"{product.title} · SKU {product.sku}"
    note = f"Scene at mid-point, {profile_for(aspect).aspect} · rows: climate · columns: aesthetic"
    note_width = layout.label_font.getlength(note)
    draw.text(
        (margin, margin + layout.title_height / 2),
        fit_text(title, layout.title_font, width - 2 * margin - note_width - layout.label_size),
        font=layout.title_font,
        fill=INK,
        anchor="lm",
    )
    draw.text(
        (width - margin, margin + layout.title_height / 2),
        note,
        font=layout.label_font,
        fill=MUTED,
        anchor="rm",
    )
    header_y = margin + layout.title_height + layout.header_height / 2
    for column, aesthetic in enumerate(columns):
        left, _, right, _ = layout.cell_box(0, column)
        draw.text(
            ((left + right) / 2, header_y),
            fit_text(str(aesthetic.label), layout.label_font, layout.cell_width),
            font=layout.label_font,
            fill=INK,
            anchor="mm",
        )
    for row, climate in enumerate(rows):
        _, top, _, bottom = layout.cell_box(row, 0)
        draw.text(
            (margin, (top + bottom) / 2),
            str(climate.label),
            font=layout.label_font,
            fill=INK,
            anchor="lm",
        )
