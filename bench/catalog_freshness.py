"""Benchmarks of catalog freshness (issue 15), each measured side by side in one run.

    .venv/bin/python bench/catalog_freshness.py [--products 200] [--changed 20] [--json]

1. Price change to the fresh video served: a demo product with its generic video and two
   personalized variants (1280x720, 16:9, 20 s each) made by a real, idle Celery worker; then
   its price changes (``product_update``, as the admin does) and the lookup is asked every 50 ms
   until all three variants answer "ready" with the new video. Beside it: the same three videos
   made from nothing. Target: the fresh video served <= 10 s after the change, and no answer in
   between names the stale file.
2. Re-import at catalog scale: a Shopify CSV of N products imported, each product's generic
   video made (in this process, tasks run eagerly, segments shortened to 0.5 s at 320x180: the
   counts are what this measures); then the same CSV with M prices changed is imported again.
   Counted: the segments rendered by kind (target: exactly M offer shots, nothing else), the
   videos refreshed, and the time, against making the catalog's videos in the first place.

Everything lives in a temporary folder (SQLite, media, broker) removed at the end.
"""

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SKU = "PACK-24L-03"
CONTEXTS = ["generic", "climate=rainy,aesthetic=minimalist", "climate=sunny,aesthetic=playful"]
FRESH_TARGET_SECONDS = 10.0


def environment(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "scenecart.settings.dev",
        "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
        "MEDIA_ROOT": str(work / "media"),
        "SCENECART_VAR_DIR": str(work / "var"),
        "CELERY_BROKER_URL": "filesystem://localhost//",
        "LOG_LEVEL": "WARNING",
    }


def lookup_answers(client: object, sku: str) -> dict[str, tuple[str, str | None]]:
    """Each context's (status, src) as the storefront answers it."""
    answers = {}
    for context in CONTEXTS:
        hints = dict(part.split("=") for part in context.split(",")) if "=" in context else {}
        body = client.get(f"/api/v1/videos/demo/{sku}", {"aspect": "16:9", **hints}).json()  # type: ignore[attr-defined]
        answers[context] = (body["status"], body["src"])
    return answers


def wait(check: object, what: str, timeout: float, step: float = 0.05) -> float:
    started = time.perf_counter()
    while not check():  # type: ignore[operator]
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(step)
    return time.perf_counter() - started


def price_change(work: Path) -> dict[str, object]:
    """Part 1, in a process of its own (``--part price``)."""
    env = environment(work)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from catalog.models import Product
    from catalog.services import product_update
    from personalization.context import ShopperContext
    from rendering.models import Segment, Video
    from rendering.services import video_request

    call_command("migrate", verbosity=0)
    with Path(os.devnull).open("w") as quiet:
        call_command("seed_demo", stdout=quiet)
    product = Product.objects.get(merchant__slug="demo", sku=SKU)
    Video.objects.filter(product__merchant=product.merchant).delete()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "scenecart", "worker", "-c", "2", "-l", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = Client(SERVER_NAME="127.0.0.1")
    try:
        videos = Video.objects.filter(product=product)

        def all_ready() -> bool:
            return videos.filter(status=Video.Status.READY).count() == len(CONTEXTS)

        started = time.perf_counter()
        for context in CONTEXTS:
            video_request(product=product, context=ShopperContext.parse(context), aspect="16:9")
        wait(all_ready, "the first three videos", timeout=600)
        from_nothing = time.perf_counter() - started
        old = lookup_answers(client, SKU)
        assert all(status == "ready" for status, _ in old.values()), old
        time.sleep(1.0)  # the worker is idle again

        changed_at = timezone.now()
        started = time.perf_counter()
        product_update(product=product, price=str(product.price - 10))
        stale_answers = 0

        def fresh() -> bool:
            nonlocal stale_answers
            answers = lookup_answers(client, SKU)
            stale_answers += sum(src == old[c][1] for c, (_, src) in answers.items())
            return all(s == "ready" and src != old[c][1] for c, (s, src) in answers.items())

        refreshed = wait(fresh, "the fresh videos", timeout=120)
        kinds = list(
            Segment.objects.filter(rendered_at__gte=changed_at).values_list("kind", flat=True)
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return {
        "videos": len(CONTEXTS),
        "from_nothing_seconds": round(from_nothing, 2),
        "price_change_to_fresh_seconds": round(refreshed, 2),
        "ratio": round(from_nothing / refreshed, 1),
        "segments_rendered": {kind: kinds.count(kind) for kind in sorted(set(kinds))},
        "stale_answers": stale_answers,
        "target_seconds": FRESH_TARGET_SECONDS,
    }


def catalog_csv(products: int, *, changed: int = 0) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["Handle", "Title", "Body (HTML)", "Type", "Tags", "Variant SKU", "Variant Price"]
    )
    for n in range(products):
        price = 20 + n % 50 + (5 if n < changed else 0)
        writer.writerow(
            [f"item-{n}", f"Trail item {n}", "<p>Made to last. Light.</p>", "Outdoor",
             "trail, bench", f"ITEM-{n:04d}", f"{price}.00"]
        )  # fmt: skip
    return out.getvalue().encode()


def re_import(work: Path, products: int, changed: int) -> dict[str, object]:
    """Part 2, in a process of its own (``--part reimport``)."""
    os.environ.update(environment(work))
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import override_settings
    from django.utils import timezone

    from catalog.demo import DEMO_PRODUCTS, product_photo
    from catalog.importing import catalog_import
    from catalog.services import merchant_create, product_image_add
    from personalization.context import ShopperContext
    from rendering.models import Segment, Video
    from rendering.services import video_request
    from scenecart.celery import app

    call_command("migrate", verbosity=0)
    app.conf.task_always_eager = True
    small = {"16:9": {"width": 320, "height": 180, "fps": 15}}
    short = dict.fromkeys(("hero", "scene", "offer", "outro"), 0.5)
    with override_settings(SCENECART_PROFILES=small, SCENECART_SEGMENT_SECONDS=short):
        merchant = merchant_create(name="Trail Shop", slug="trail")
        catalog_import(merchant=merchant, content=catalog_csv(products), filename="catalog.csv")
        started = time.perf_counter()
        for n, product in enumerate(merchant.products.order_by("sku")):
            item = DEMO_PRODUCTS[n % len(DEMO_PRODUCTS)]
            product_image_add(product=product, filename="p.png", content=product_photo(item.draw))
            video_request(product=product, context=ShopperContext(), aspect="16:9")
        first = time.perf_counter() - started
        videos = Video.objects.filter(product__merchant=merchant)
        assert videos.filter(status=Video.Status.READY).count() == products

        changed_at = timezone.now()
        started = time.perf_counter()
        report = catalog_import(
            merchant=merchant, content=catalog_csv(products, changed=changed), filename="c.csv"
        )
        refresh = time.perf_counter() - started
        kinds = list(
            Segment.objects.filter(rendered_at__gte=changed_at).values_list("kind", flat=True)
        )
        refreshed = videos.filter(ready_at__gte=changed_at).count()
        assert videos.filter(status=Video.Status.READY).count() == products
    return {
        "products": products,
        "prices_changed": changed,
        "import": {"updated": len(report.updated), "unchanged": len(report.unchanged)},
        "videos_refreshed": refreshed,
        "segments_rendered": {kind: kinds.count(kind) for kind in sorted(set(kinds))},
        "first_videos_seconds": round(first, 1),
        "re_import_and_refresh_seconds": round(refresh, 1),
        "ratio": round(first / refresh, 1),
    }


def run_part(part: str, args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="scenecart-bench-") as tmp:
        command = [sys.executable, __file__, "--part", part, "--workdir", tmp,
                   "--products", str(args.products), "--changed", str(args.changed)]  # fmt: skip
        result = subprocess.run(command, check=True, capture_output=True, text=True)
        return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--changed", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--part", choices=["price", "reimport"], help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        work = Path(args.workdir)
        result = (
            price_change(work)
            if args.part == "price"
            else re_import(work, args.products, args.changed)
        )
        print(json.dumps(result))
        return
    price = run_part("price", args)
    reimport = run_part("reimport", args)
    if args.json:
        print(json.dumps({"price_change": price, "re_import": reimport}))
        return
    verdict = "met" if price["price_change_to_fresh_seconds"] <= FRESH_TARGET_SECONDS else "MISSED"  # type: ignore[operator]
    print(f"1. Price change, {price['videos']} variants (1280x720, 20 s), idle local worker (-c 2)")
    print(f"   made from nothing:              {price['from_nothing_seconds']:7.2f} s")
    print(f"   price change to fresh, served:  {price['price_change_to_fresh_seconds']:7.2f} s "
          f"(target <= {FRESH_TARGET_SECONDS:.0f} s: {verdict}); {price['ratio']}x faster")  # fmt: skip
    print(f"   segments rendered: {price['segments_rendered']}; answers naming the stale file "
          f"after the change: {price['stale_answers']}")  # fmt: skip
    print(f"2. Re-import, {reimport['products']} products, {reimport['prices_changed']} prices "
          "changed (320x180, 0.5 s segments, in-process)")  # fmt: skip
    print(f"   import: {reimport['import']}; videos refreshed: {reimport['videos_refreshed']}")
    print(f"   segments rendered: {reimport['segments_rendered']} "
          f"(target: {{'offer': {reimport['prices_changed']}}})")  # fmt: skip
    print(f"   first videos: {reimport['first_videos_seconds']} s; re-import + refresh: "
          f"{reimport['re_import_and_refresh_seconds']} s ({reimport['ratio']}x faster)")  # fmt: skip


if __name__ == "__main__":
    main()
