"""Benchmarks of the local renderer, measured side by side in one run.

    .venv/bin/python bench/local_renderer.py [--contexts "climate=rainy,aesthetic=minimalist" ...]

1. Render speed: a 10 s 1280×720 30 fps `scene` segment rendered by the local backend (static
   layers, compositing, encoding: `LocalBackend.render`), against ffmpeg encoding `testsrc2` of
   the same size, rate and length with the same codec settings. Ratio = render ÷ encoder
   (target ≤ 1.3). Measured per context: the cost depends on what the scene shows.
2. Memory: peak RSS of a process rendering a 10 s 1080×1920 scene segment (target ≤ 350 MB),
   and of its ffmpeg encoder beside it.
3. A full 4-segment 20 s 16:9 video for a new product and context, from nothing cached: the
   cutout, four segment renders (two at a time, like a worker with one process per core), the
   music bed, assembly (target ≤ 8 s), in a fresh database.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_CONTEXTS = [
    "generic",
    "climate=sunny,aesthetic=outdoorsy",
    "climate=rainy,aesthetic=minimalist",
    "climate=snowy,aesthetic=cozy",
    "climate=arid,aesthetic=vintage",
    "climate=overcast,aesthetic=luxury,time=night",
]


def setup_django(workdir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scenecart.settings.dev")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ["SCENECART_VAR_DIR"] = str(workdir / "var")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    with Path(os.devnull).open("w") as quiet:
        call_command("seed_demo", stdout=quiet)


def scene_job(context: str, aspect: str, seconds: float, sku: str = "RAIN-JKT-01"):  # type: ignore[no-untyped-def]
    from catalog.models import BrandKit, Product
    from personalization.context import ShopperContext
    from personalization.plans import scene_plan
    from rendering.profiles import profile_for
    from rendering.services import Segment, segment_assets, segment_specs
    from videokit.job import RenderJob

    product = Product.objects.get(merchant__slug="demo", sku=sku)
    kit = BrandKit.objects.get(merchant=product.merchant)
    plan = scene_plan(
        product=product,
        context=ShopperContext.parse(context),
        brand_colors=(kit.primary_color, kit.secondary_color),
        seconds=seconds,
    )
    spec = segment_specs(product=product, context=ShopperContext.parse(context), aspect=aspect)[1]
    probe_row = Segment(merchant_id=product.merchant_id, inputs=spec.inputs)
    return RenderJob(plan=plan, profile=profile_for(aspect), assets=segment_assets(probe_row))


def time_render(job) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    from rendering.backends import backend_for

    with tempfile.TemporaryDirectory() as tmp:
        before_self = resource.getrusage(resource.RUSAGE_SELF)
        before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        backend_for("local").render(job, Path(tmp) / "scene.mp4")
        wall = time.perf_counter() - started
        after_self = resource.getrusage(resource.RUSAGE_SELF)
        after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_self = (
        after_self.ru_utime + after_self.ru_stime - before_self.ru_utime - before_self.ru_stime
    )
    cpu_ffmpeg = (
        after_children.ru_utime + after_children.ru_stime
        - before_children.ru_utime - before_children.ru_stime
    )  # fmt: skip
    return wall, cpu_self, cpu_ffmpeg


def time_testsrc(profile, seconds: float) -> float:  # type: ignore[no-untyped-def]
    from rendering.backends import backend_for
    from videokit.media import encoder_args, ffmpeg_exe

    options = backend_for("local").option_fingerprint()
    args = encoder_args(profile, preset=options["preset"], crf=options["crf"])
    source = f"testsrc2=size={profile.width}x{profile.height}:rate={profile.fps}:duration={seconds}"
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source,
             *args, str(Path(tmp) / "testsrc.mp4")],
            check=True,
        )  # fmt: skip
        return time.perf_counter() - started


def memory_child(context: str) -> None:
    """Run in a child process: render a 10 s 9:16 scene, print peak RSS of self and ffmpeg."""
    with tempfile.TemporaryDirectory(prefix="scenecart-bench-") as tmp:
        setup_django(Path(tmp))
        job = scene_job(context, "9:16", 10.0)
        time_render(job)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    encoder = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{own:.0f} {encoder:.0f}")


def full_video(workdir: Path) -> float:
    from catalog.demo import DEMO_PRODUCTS, product_photo
    from catalog.models import Product
    from catalog.services import product_create, product_image_add
    from personalization.context import ShopperContext
    from rendering.services import segment_render, video_assemble, video_request

    demo = Product.objects.filter(merchant__slug="demo").first()
    assert demo is not None
    started = time.perf_counter()
    product = product_create(
        merchant=demo.merchant, sku="BENCH-NEW", title="Trailhead Softshell", price="149.00",
        description="Wind-resistant softshell for changeable days.",
    )  # fmt: skip
    product_image_add(
        product=product, filename="new.png", content=product_photo(DEMO_PRODUCTS[2].draw)
    )
    request = video_request(
        product=product,
        context=ShopperContext.parse("climate=humid-tropical,aesthetic=playful,time=morning"),
        aspect="16:9",
    )
    # Two segments at a time, as a worker with concurrency 2 (one per core) renders them.
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda segment: segment_render(segment=segment), request.segments))
    video = video_assemble(video=request.video)
    elapsed = time.perf_counter() - started
    assert video.status == "ready", video.error
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", action="append", default=None)
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    contexts = args.contexts or DEFAULT_CONTEXTS

    with tempfile.TemporaryDirectory(prefix="scenecart-bench-") as tmp:
        setup_django(Path(tmp))
        from rendering.profiles import profile_for

        profile = profile_for("16:9")
        print(f"1. render speed: 10 s {profile.width}x{profile.height} {profile.fps} fps scene vs "
              f"ffmpeg testsrc2, same codec settings ({os.cpu_count()} cores)")  # fmt: skip
        print(f"   {'context':46} {'render':>7} {'testsrc2':>8} {'ratio':>6}   python/ffmpeg CPU s")
        ratios = []
        for context in contexts:
            job = scene_job(context, "16:9", 10.0)
            encode = time_testsrc(profile, 10.0)
            wall, cpu_self, cpu_ffmpeg = time_render(job)
            ratios.append(wall / encode)
            print(f"   {context:46} {wall:6.2f}s {encode:7.2f}s {wall / encode:5.2f}x   "
                  f"{cpu_self:.2f} / {cpu_ffmpeg:.2f}")  # fmt: skip
        print(f"   median ratio {sorted(ratios)[len(ratios) // 2]:.2f}x, worst {max(ratios):.2f}x "
              "(target <= 1.3x)")  # fmt: skip

        print("3. full 4-segment 20 s 16:9 video, new product and context, nothing cached:")
        print(f"   {full_video(Path(tmp)):.2f} s (target <= 8 s)")

    print("2. memory: peak RSS rendering a 10 s 1080x1920 scene (target <= 350 MB):")
    for context in (
        "climate=rainy,aesthetic=minimalist",
        "climate=overcast,aesthetic=luxury,time=night",
    ):
        result = subprocess.run(
            [sys.executable, __file__, "--memory-child", context],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        own, encoder = result.stdout.split()[-2:]
        print(f"   {context:46} renderer {own} MB, ffmpeg encoder {encoder} MB")


if __name__ == "__main__":
    main()
