import json
import sys
import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog.selectors import CatalogLookupError, merchant_get, product_get, products_for_merchant
from personalization.context import ContextError
from rendering.bulk import (
    GenerationError,
    SubmitReport,
    bulk_job_create,
    bulk_job_retry,
    bulk_job_submit,
    describe_estimate,
    generation_choices,
    generation_estimate,
)
from rendering.models import BulkJob, Segment, Video
from rendering.profiles import UnknownAspect
from rendering.selectors import BulkProgress, bulk_progress, videos_refreshing

WORKER_ADVICE = "Is a worker running? Start one with: celery -A scenecart worker"


class Command(BaseCommand):
    help = (
        "Generate personalized videos for products × contexts × aspects as one bulk job. Only "
        "segments missing from the cache are rendered; workers do the rendering. --estimate "
        "shows what it would render and cost without queuing anything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True)
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="every active product")
        which.add_argument("--sku", action="append", help="a product SKU (repeatable)")
        which.add_argument(
            "--retry", type=int, metavar="JOB", help="queue a bulk job's failed items again"
        )
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
            "--estimate",
            action="store_true",
            help="print what would be rendered, what it costs and how long it takes; queue nothing",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="follow the job with a progress bar until every video is ready or failed",
        )
        parser.add_argument("--timeout", type=float, default=1800, help="seconds --wait waits")
        parser.add_argument("--json", action="store_true", help="print one JSON summary")

    def handle(self, *args: object, **options: Any) -> None:
        started = time.perf_counter()
        try:
            merchant = merchant_get(slug=options["merchant"])
        except CatalogLookupError as exc:
            raise CommandError(str(exc)) from exc
        if options["retry"] is not None:
            job = BulkJob.objects.filter(pk=options["retry"], merchant=merchant).first()
            if job is None:
                raise CommandError(f"{merchant.slug!r} has no bulk job #{options['retry']}.")
            queued = bulk_job_retry(job=job, submit=False)
            if not options["json"]:
                self.stdout.write(f"Bulk job #{job.pk}: {queued} failed item(s) queued again.")
            report: SubmitReport | None = bulk_job_submit(job=job)
        else:
            job, report = self._start(merchant, options)
            if job is None:
                return
        if options["wait"]:
            # The raw stream: the bar redraws its line with carriage returns.
            stream = options.get("stderr") or sys.stderr
            self._wait(job, timeout=options["timeout"], quiet=options["json"], stream=stream)
        self._summarize(job, report, options, started)

    def _start(
        self, merchant: Any, options: dict[str, Any]
    ) -> tuple[BulkJob | None, SubmitReport | None]:
        aspects = [
            part.strip()
            for value in options["aspects"] or ["16:9"]
            for part in str(value).split(",")
            if part.strip()
        ]
        try:
            if options["all"]:
                products = list(products_for_merchant(merchant=merchant))
            else:
                products = [product_get(merchant=merchant, sku=sku) for sku in options["sku"]]
            contexts, aspects, backend = generation_choices(
                contexts=options["contexts"], aspects=aspects, backend=options["backend"]
            )
        except (CatalogLookupError, ContextError, UnknownAspect, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from exc
        if not products:
            raise CommandError(f"Merchant {merchant.slug!r} has no active products.")
        estimate = generation_estimate(
            merchant=merchant,
            products=products,
            contexts=contexts,
            aspects=aspects,
            backend=backend,
        )
        if options["estimate"]:
            if options["json"]:
                self.stdout.write(json.dumps(estimate.to_dict()))
            else:
                self.stdout.write(describe_estimate(estimate, backend=backend))
            return None, None
        try:
            job = bulk_job_create(
                merchant=merchant,
                products=products,
                contexts=contexts,
                aspects=aspects,
                backend=backend,
                estimate=estimate,
                submit=False,
            )
        except GenerationError as exc:
            raise CommandError(str(exc)) from exc
        if not options["json"]:
            self.stderr.write(describe_estimate(estimate, backend=backend))
        # Planned here, in the command's own process: it waits anyway, and planning makes the
        # product cutouts the renders need.
        return job, bulk_job_submit(job=job)

    def _wait(self, job: BulkJob, *, timeout: float, quiet: bool, stream: Any) -> None:
        deadline = time.monotonic() + timeout
        progress = bulk_progress(job=job)
        bar = tqdm(
            total=progress.total,
            unit="video",
            desc=f"Bulk job #{job.pk}",
            file=stream,
            disable=quiet,
            dynamic_ncols=True,
        )
        with bar:
            while True:
                job.refresh_from_db()
                progress = bulk_progress(job=job, failures_limit=0)
                bar.n = progress.done + progress.failed
                bar.set_postfix(_postfix(progress), refresh=False)
                bar.refresh()
                if progress.state == "finished":
                    return
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"{progress.remaining} video(s) still unfinished after {timeout:.0f} s. "
                        + WORKER_ADVICE
                    )
                time.sleep(0.5)

    def _summarize(
        self, job: BulkJob, report: SubmitReport | None, options: dict[str, Any], started: float
    ) -> None:
        job.refresh_from_db()
        progress = bulk_progress(job=job)
        video_ids = list(job.items.exclude(video=None).values_list("video_id", flat=True))
        videos = Video.objects.filter(pk__in=video_ids)
        statuses = {s: videos.filter(status=s).count() for s in Video.Status.values}
        segment_ids = set(
            Segment.objects.filter(parts__video_id__in=video_ids).values_list("pk", flat=True)
        )
        to_render = report.to_render if report else frozenset()
        slots = report.slots if report else 0
        rendered = (
            Segment.objects.filter(pk__in=to_render, rendered_at__gte=job.created_at).count()
            if options["wait"]
            else len(to_render)
        )
        summary = {
            "job": job.pk,
            "merchant": job.merchant.slug,
            "products": job.items.values("product_id").distinct().count(),
            "contexts": job.contexts,
            "aspects": job.aspects,
            "backend": job.backend,
            "videos": progress.total,
            "videos_ready": statuses[Video.Status.READY],
            "videos_failed": progress.failed,
            "videos_pending": statuses[Video.Status.PENDING] + statuses[Video.Status.ASSEMBLING],
            "segments_needed": slots,
            "segments_unique": len(segment_ids),
            "segments_rendered": rendered,
            "segments_reused": slots - len(to_render),
            "estimate": job.estimate,
            "stopped_reason": job.stopped_reason,
            "waited": bool(options["wait"]),
            "elapsed_seconds": round(time.perf_counter() - started, 3),
            "failures": progress.to_dict()["failures"],
            # Finished videos being re-made after a catalog or brand kit change, with why.
            "refreshing": [r.to_dict() for r in videos_refreshing(videos=videos)],
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            verb = "rendered" if options["wait"] else "to render"
            self.stdout.write(
                f"Bulk job #{job.pk}: {summary['videos']} videos ({summary['videos_ready']} "
                f"ready, {summary['videos_failed']} failed, {summary['videos_pending']} "
                f"pending); segments: {rendered} {verb}, {summary['segments_reused']} reused "
                f"of {slots}."
            )
            if job.stopped_reason:
                self.stderr.write(f"  {job.stopped_reason}")
            for item in summary["refreshing"]:
                self.stderr.write(
                    f"  refreshing: {item['sku']} [{item['bucket']}] {item['aspect']}: "
                    f"{item['reason']}"
                )
            for failure in progress.failures:
                self.stderr.write(
                    f"  failed: {failure.sku} [{failure.bucket}] {failure.aspect}: {failure.reason}"
                )
            if progress.failed:
                self.stderr.write(
                    f"  Retry them with: manage.py generate_videos --merchant {job.merchant.slug} "
                    f"--retry {job.pk} --wait"
                )
        if progress.failed:
            raise CommandError(f"{progress.failed} video(s) failed.", returncode=1)


def _postfix(progress: BulkProgress) -> dict[str, object]:
    fields: dict[str, object] = {"ready": progress.done, "failed": progress.failed}
    if progress.eta_seconds is not None and progress.remaining:
        fields["eta"] = f"{progress.eta_seconds:.0f}s"
    return fields
