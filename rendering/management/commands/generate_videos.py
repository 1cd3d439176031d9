import json
import sys
import time

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from catalog.selectors import CatalogLookupError, merchant_get, product_get, products_for_merchant
from personalization.context import ContextError, ShopperContext
from rendering.models import Segment, Video
from rendering.profiles import UnknownAspect, profile_for
from rendering.services import video_request


class Command(BaseCommand):
    help = (
        "Queue personalized videos for products × contexts × aspects. Only segments missing "
        "from the cache are rendered; workers do the rendering."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True)
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="every active product")
        which.add_argument("--sku", action="append", help="a product SKU (repeatable)")
        parser.add_argument(
            "--contexts",
            action="append",
            default=None,
            help='a context such as "climate=rainy,aesthetic=cozy" (repeatable; default: generic)',
        )
        parser.add_argument(
            "--aspects",
            action="append",
            default=None,
            help="16:9, 9:16, 1:1; comma-separated or repeated",
        )
        parser.add_argument("--backend", default=None, help="alias from SCENECART_BACKENDS")
        parser.add_argument(
            "--wait", action="store_true", help="wait until every video is ready or failed"
        )
        parser.add_argument("--timeout", type=float, default=1800, help="seconds --wait waits")
        parser.add_argument("--json", action="store_true", help="print one JSON summary")

    def handle(self, *args: object, **options: object) -> None:
        started_at = timezone.now()
        started = time.perf_counter()
        try:
            merchant = merchant_get(slug=str(options["merchant"]))
            if options["all"]:
                products = list(products_for_merchant(merchant=merchant))
            else:
                products = [product_get(merchant=merchant, sku=sku) for sku in options["sku"]]  # type: ignore[union-attr]
            contexts = [ShopperContext.parse(text) for text in (options["contexts"] or ["generic"])]
            aspects = [
                profile_for(part).aspect
                for value in (options["aspects"] or ["16:9"])  # type: ignore[union-attr]
                for part in str(value).split(",")
                if part.strip()
            ]
        except (CatalogLookupError, ContextError, UnknownAspect) as exc:
            raise CommandError(str(exc)) from exc
        if not products:
            raise CommandError(f"Merchant {merchant.slug!r} has no active products.")

        videos: list[Video] = []
        slots = 0
        to_render: set[int] = set()
        try:
            for product in products:
                for context in dict.fromkeys(contexts):
                    for aspect in dict.fromkeys(aspects):
                        request = video_request(
                            product=product,
                            context=context,
                            aspect=aspect,
                            backend_alias=options["backend"],  # type: ignore[arg-type]
                        )
                        videos.append(request.video)
                        slots += len(request.segments)
                        to_render.update(s.pk for s in request.to_render)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc

        if options["wait"]:
            self._wait(
                [v.pk for v in videos],
                timeout=float(options["timeout"]),
                quiet=bool(options["json"]),
            )  # type: ignore[arg-type]
        video_rows = list(
            Video.objects.filter(pk__in=[v.pk for v in videos]).select_related("product")
        )
        statuses = {
            status: sum(v.status == status for v in video_rows) for status in Video.Status.values
        }
        rendered = (
            Segment.objects.filter(pk__in=to_render, rendered_at__gte=started_at).count()
            if options["wait"]
            else len(to_render)
        )
        summary = {
            "merchant": merchant.slug,
            "products": len(products),
            "contexts": [c.bucket for c in dict.fromkeys(contexts)],
            "aspects": list(dict.fromkeys(aspects)),
            "videos": len(video_rows),
            "videos_ready": statuses[Video.Status.READY],
            "videos_failed": statuses[Video.Status.FAILED],
            "videos_pending": statuses[Video.Status.PENDING] + statuses[Video.Status.ASSEMBLING],
            "segments_needed": slots,
            "segments_unique": len(
                {p for v in video_rows for p in v.parts.values_list("segment_id", flat=True)}
            ),
            "segments_rendered": rendered,
            "segments_reused": slots - len(to_render),
            "waited": bool(options["wait"]),
            "elapsed_seconds": round(time.perf_counter() - started, 3),
            "failures": [
                {"sku": v.product.sku, "bucket": v.bucket, "aspect": v.aspect, "error": v.error}
                for v in video_rows
                if v.status == Video.Status.FAILED
            ],
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            verb = "rendered" if options["wait"] else "to render"
            self.stdout.write(
                f"{summary['videos']} videos ({summary['videos_ready']} ready, "
                f"{summary['videos_failed']} failed, {summary['videos_pending']} pending); "
                f"segments: {summary['segments_rendered']} {verb}, {summary['segments_reused']} reused "
                f"of {slots}."
            )
            for failure in summary["failures"]:  # type: ignore[attr-defined]
                self.stderr.write(
                    f"  failed: {failure['sku']} [{failure['bucket']}] {failure['aspect']}: {failure['error']}"
                )
        if summary["videos_failed"]:
            raise CommandError(f"{summary['videos_failed']} video(s) failed.", returncode=1)

    def _wait(self, video_ids: list[int], *, timeout: float, quiet: bool) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while True:
            open_count = (
                Video.objects.filter(pk__in=video_ids)
                .exclude(status__in=[Video.Status.READY, Video.Status.FAILED])
                .count()
            )
            if open_count == 0:
                return
            if not quiet and open_count != last:
                sys.stderr.write(f"waiting for {open_count} of {len(video_ids)} videos…\n")
                last = open_count
            if time.monotonic() > deadline:
                raise CommandError(
                    f"{open_count} video(s) still unfinished after {timeout:.0f} s. Is a worker "
                    "running? Start one with: celery -A scenecart worker "
                    "-Q default,render.local,render.remote,assemble"
                )
            time.sleep(0.5)
