import json
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.selectors import CatalogLookupError, merchant_get, product_get
from personalization.context import ContextError, ShopperContext
from rendering.models import Segment
from rendering.profiles import UnknownAspect
from rendering.services import segment_ensure, segment_export, segment_render, segment_specs
from videokit.media import MediaError
from videokit.plan import SEGMENT_KINDS


class Command(BaseCommand):
    help = (
        "Render one segment of a product's video in this process (through the segment cache) "
        "and write it as an MP4."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True)
        parser.add_argument("--sku", required=True)
        parser.add_argument(
            "--context", default="", help='e.g. "climate=rainy,aesthetic=minimalist"'
        )
        parser.add_argument("--aspect", default="16:9", help="16:9, 9:16 or 1:1")
        parser.add_argument("--seconds", type=float, default=None, help="segment length")
        parser.add_argument("--kind", choices=SEGMENT_KINDS, default="scene")
        parser.add_argument("--backend", default=None, help="alias from SCENECART_BACKENDS")
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument(
            "--timeout",
            type=float,
            default=600,
            help="seconds to wait for a render another worker holds",
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: object, **options: Any) -> None:
        seconds = options["seconds"]
        if seconds is not None and not 0.5 <= float(seconds) <= 60:
            raise CommandError(f"--seconds must be between 0.5 and 60, got {seconds}.")
        kind = str(options["kind"])
        try:
            merchant = merchant_get(slug=str(options["merchant"]))
            product = product_get(merchant=merchant, sku=str(options["sku"]))
            context = ShopperContext.parse(str(options["context"]))
            specs = segment_specs(
                product=product,
                context=context,
                aspect=str(options["aspect"]),
                backend_alias=options["backend"],
                seconds={kind: float(seconds)} if seconds is not None else None,
            )
        except (CatalogLookupError, ContextError, UnknownAspect, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from exc
        spec = next(s for s in specs if s.plan.kind == kind)
        started = time.perf_counter()
        segment = segment_ensure(spec=spec, merchant_id=merchant.pk)
        reused = segment.status == Segment.Status.READY
        if segment.status == Segment.Status.FAILED:
            Segment.objects.filter(pk=segment.pk).update(status=Segment.Status.PENDING, error="")
        deadline = time.monotonic() + float(options["timeout"])
        while True:
            try:
                segment = segment_render(segment=segment)
            except Exception as exc:
                raise CommandError(f"Rendering failed: {exc}") from exc
            if segment.status in {Segment.Status.READY, Segment.Status.FAILED}:
                break
            if time.monotonic() > deadline:
                raise CommandError(f"Segment {segment.key[:12]} is still being rendered elsewhere.")
            time.sleep(0.5)
        try:
            out = segment_export(segment=segment, out_path=options["out"])
        except (MediaError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        summary = {
            "key": segment.key,
            "kind": segment.kind,
            "bucket": context.bucket,
            "aspect": spec.profile.aspect,
            "width": spec.profile.width,
            "height": spec.profile.height,
            "seconds": segment.duration,
            "reused": reused,
            "elapsed_seconds": round(elapsed, 3),
            "out": str(out),
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        verb = "Reused cached" if reused else "Rendered"
        self.stdout.write(
            f"{verb} {kind} segment {segment.key[:12]} [{context.bucket}] "
            f"{spec.profile.width}×{spec.profile.height}, {segment.duration:.2f} s "
            f"in {elapsed:.2f} s → {out}"
        )
