"""The operator commands: render_segment and generate_videos (contract in DESIGN.md)."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.demo import demo_seed
from rendering.models import Segment
from tests.support.factories import make_merchant, make_product
from videokit.media import probe

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_render_segment_writes_a_720p_h264_mp4_of_the_asked_length(tmp_path: Path) -> None:
    """The issue's acceptance command, at the real 16:9 house format."""
    demo_seed()
    out = tmp_path / "x.mp4"
    summary = json.loads(
        run(
            "render_segment",
            "--merchant",
            "demo",
            "--sku",
            "RAIN-JKT-01",
            "--context",
            "climate=rainy,aesthetic=minimalist",
            "--aspect",
            "16:9",
            "--seconds",
            "4",
            "--out",
            str(out),
            "--json",
        )
    )
    found = probe(out)
    assert (found.width, found.height, found.codec, found.pix_fmt) == (1280, 720, "h264", "yuv420p")
    assert found.duration == pytest.approx(4.0, abs=0.1)
    assert summary["reused"] is False and summary["out"] == str(out)
    # Asking again is served from the segment cache.
    again = json.loads(
        run(
            "render_segment",
            "--merchant",
            "demo",
            "--sku",
            "RAIN-JKT-01",
            "--context",
            "aesthetic=minimalist,climate=rainy",
            "--seconds",
            "4",
            "--out",
            str(tmp_path / "y.mp4"),
            "--json",
        )
    )
    assert again["reused"] is True and again["key"] == summary["key"]
    assert (tmp_path / "y.mp4").read_bytes() == out.read_bytes()
    assert Segment.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--merchant", "nope", "--sku", "X"], "No merchant with slug 'nope'"),
        (["--merchant", "m1", "--sku", "NOPE-404"], "has no product with SKU 'NOPE-404'"),
        (["--merchant", "m1", "--sku", "SKU-A", "--context", "climate=foggy"], "climate='foggy'"),
        (
            ["--merchant", "m1", "--sku", "SKU-A", "--context", "mood=happy"],
            "Unknown context key 'mood'",
        ),
        (["--merchant", "m1", "--sku", "SKU-A", "--aspect", "4:3"], "Unknown aspect '4:3'"),
        (["--merchant", "m1", "--sku", "SKU-A", "--seconds", "0"], "--seconds must be between"),
        (
            ["--merchant", "m1", "--sku", "SKU-A", "--backend", "kling"],
            "Unknown render backend 'kling'",
        ),
    ],
)
def test_render_segment_bad_input_is_a_clear_error(
    tmp_path: Path, args: list[str], message: str
) -> None:
    make_product(make_merchant(slug="m1"), sku="SKU-A")
    out = tmp_path / "x.mp4"
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        run("render_segment", *args, "--out", str(out))
    assert not out.exists()
    assert Segment.objects.count() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--merchant", "m1", "--sku", "SKU-A", "--sku", "MISSING"],
            "no product with SKU 'MISSING'",
        ),
        (
            [
                "--merchant",
                "m1",
                "--all",
                "--contexts",
                "climate=rainy",
                "--contexts",
                "aesthetic=goth",
            ],
            "aesthetic='goth'",
        ),
        (["--merchant", "m1", "--all", "--aspects", "16:9,3:2"], "Unknown aspect '3:2'"),
    ],
)
def test_generate_videos_bad_input_is_a_clear_error_and_queues_nothing(
    args: list[str], message: str
) -> None:
    make_product(make_merchant(slug="m1"), sku="SKU-A")
    with pytest.raises(CommandError, match=message):
        run("generate_videos", *args)
    assert Segment.objects.count() == 0


@pytest.mark.usefixtures("small_videos")
def test_generate_videos_counts_unique_segments_without_waiting() -> None:
    merchant = make_merchant(slug="m1")
    for sku, color in (("A", "#E4572E"), ("B", "#2E86AB"), ("C", "#3B7A57")):
        make_product(merchant, sku=sku, title=f"Product {sku}", color=color)
    summary = json.loads(
        run(
            "generate_videos",
            "--merchant",
            "m1",
            "--all",
            "--contexts",
            "climate=rainy",
            "--contexts",
            "climate=sunny",
            "--aspects",
            "16:9,1:1",
            "--json",
        )
    )
    # 3 products × 2 contexts × 2 aspects = 12 videos of 4 segments. Per product and aspect the
    # hero and the offer are shared by both contexts; the outro is shared by every product:
    # 6 heroes + 12 scenes + 6 offers + 2 outros are unique.
    assert summary["videos"] == 12
    assert summary["segments_needed"] == 48
    assert summary["segments_unique"] == 26
    assert summary["segments_rendered"] == 26
    assert summary["segments_reused"] == 22
    assert summary["videos_pending"] == 12


@pytest.mark.usefixtures("small_videos")
def test_generate_videos_wait_without_a_worker_times_out_with_advice() -> None:
    make_product(make_merchant(slug="m1"), sku="A")
    with pytest.raises(CommandError, match="Is a worker running"):
        run("generate_videos", "--merchant", "m1", "--all", "--wait", "--timeout", "1")
