"""Benchmarks of the segment cache, measured side by side in one run.

    .venv/bin/python bench/segment_cache.py [--products 20] [--rounds 5]

1. Assembly from cache: a 4-segment 20 s 1280×720 video whose segments all exist, assembled
   (stream copy + cached music bed + poster + probe) and stored, against rendering the same
   video from nothing (cutout, four segment renders two at a time, bed, assembly).
   Targets: assembly ≤ 0.3 s and ≥ 25× faster than from nothing.
2. Reuse at catalog scale: `generate_videos` for N products × 4 contexts × 1 aspect through a
   real Celery worker; the JSON summary says how many segments were rendered and reused, and a
   second identical run renders nothing. Segments are shortened to 1 s each here (the counts,
   not the seconds, are what this measures).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CONTEXTS = [
    "climate=rainy,aesthetic=minimalist",
    "climate=sunny,aesthetic=playful",
    "climate=snowy,aesthetic=cozy",
    "climate=arid,aesthetic=vintage",
]


def environment(workdir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "scenecart.settings.dev",
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "MEDIA_ROOT": str(workdir / "media"),
        "SCENECART_VAR_DIR": str(workdir / "var"),
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def assembly_from_cache(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="scenecart-bench-") as tmp:
        os.environ.update(environment(Path(tmp)))
        import django

        django.setup()
        from django.core.management import call_command

        from catalog.models import Product
        from personalization.context import ShopperContext
        from rendering.models import Video
        from rendering.services import segment_render, video_assemble, video_request

        call_command("migrate", verbosity=0)
        with Path(os.devnull).open("w") as quiet:
            call_command("seed_demo", stdout=quiet)
        product = Product.objects.get(merchant__slug="demo", sku="PACK-24L-03")
        context = ShopperContext.parse("climate=humid-tropical,aesthetic=outdoorsy")

        started = time.perf_counter()
        request = video_request(product=product, context=context, aspect="16:9")
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda segment: segment_render(segment=segment), request.segments))
        video = video_assemble(video=request.video)
        from_nothing = time.perf_counter() - started
        assert video.status == Video.Status.READY, video.error

        timings = []
        for _ in range(rounds):
            # The same video again: every segment (and the music bed) is in the cache.
            Video.objects.filter(pk=video.pk).update(status=Video.Status.PENDING)
            started = time.perf_counter()
            again = video_assemble(video=Video.objects.get(pk=video.pk))
            timings.append(time.perf_counter() - started)
            assert again.status == Video.Status.READY
        assembly = statistics.median(timings)
        print(f"1. {video.duration:.1f} s 1280x720 video of 4 segments")
        print(f"   from nothing (cutout, 4 renders, bed, assembly): {from_nothing:6.2f} s")
        print(f"   assembled from cached segments:                  {assembly:6.3f} s "
              f"(rounds: {', '.join(f'{t:.3f}' for t in timings)}; target <= 0.3 s)")  # fmt: skip
        print(f"   speed-up: {from_nothing / assembly:.0f}x (target >= 25x)")


def reuse_at_scale(products: int) -> None:
    with tempfile.TemporaryDirectory(prefix="scenecart-bench-") as tmp:
        work = Path(tmp)
        short = {f"SCENECART_{kind}_SECONDS": "1" for kind in ("HERO", "SCENE", "OFFER", "OUTRO")}
        env = environment(work, **short)
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True)
        subprocess.run([*manage, "seed_demo"], env=env, check=True, capture_output=True)
        script = (
            "from catalog.models import Product\n"
            "from catalog.services import product_create, product_image_add\n"
            "from catalog.demo import DEMO_PRODUCTS, product_photo\n"
            "merchant = Product.objects.filter(merchant__slug='demo').first().merchant\n"
            f"for n in range(Product.objects.filter(merchant=merchant).count(), {products}):\n"
            "    item = DEMO_PRODUCTS[n % len(DEMO_PRODUCTS)]\n"
            "    p = product_create(merchant=merchant, sku=f'EXTRA-{n}', title=f'{item.title} {n}', price='10.00')\n"
            "    product_image_add(product=p, filename='p.png', content=product_photo(item.draw))\n"
        )
        subprocess.run([*manage, "shell", "-c", script], env=env, check=True, capture_output=True)
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "scenecart", "worker", "-c", "2",
             "-l", "WARNING"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            args = [*manage, "generate_videos", "--merchant", "demo", "--all", "--aspects", "16:9",
                    "--wait", "--json"]  # fmt: skip
            for context in CONTEXTS:
                args += ["--contexts", context]
            print(f"2. generate_videos: {products} products x {len(CONTEXTS)} contexts x 1 aspect "
                  "(segments shortened to 1 s)")  # fmt: skip
            for run in ("first run", "second run"):
                started = time.perf_counter()
                result = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
                summary = json.loads(result.stdout)
                print(f"   {run}: {summary['videos_ready']}/{summary['videos']} videos ready, "
                      f"{summary['segments_needed']} segment slots, "
                      f"{summary['segments_rendered']} rendered, {summary['segments_reused']} reused "
                      f"({time.perf_counter() - started:.1f} s)")  # fmt: skip
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        shutil.rmtree(work / "var", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    reuse_at_scale(args.products)
    assembly_from_cache(args.rounds)


if __name__ == "__main__":
    main()
