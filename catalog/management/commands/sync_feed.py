import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.feeds import CatalogFeedBusy, catalog_feed_sync
from catalog.models import CatalogFeed
from catalog.selectors import CatalogLookupError, merchant_get


class Command(BaseCommand):
    help = (
        "Sync a merchant's catalog feeds now, in this process: each feed is fetched (only if "
        "it changed since the last sync) and imported, and the report printed. Without --url, "
        "every enabled feed of the merchant; with it, that feed, enabled or not."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", required=True)
        parser.add_argument("--url", help="Only the feed registered with this URL.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: object, **options: Any) -> None:
        try:
            merchant = merchant_get(slug=str(options["merchant"]))
        except CatalogLookupError as exc:
            raise CommandError(str(exc)) from exc
        feeds = CatalogFeed.objects.filter(merchant=merchant).select_related("merchant")
        if options["url"]:
            feeds = feeds.filter(url=options["url"].strip())
            if not feeds:
                raise CommandError(f"{merchant.slug} has no feed with the URL {options['url']}.")
        else:
            feeds = feeds.filter(enabled=True)
            if not feeds:
                raise CommandError(
                    f"{merchant.slug} has no enabled feed: register one in the admin "
                    "(Catalog → Catalog feeds)."
                )
        results: list[dict[str, Any]] = []
        for feed in feeds:
            try:
                synced = catalog_feed_sync(feed=feed)
            except CatalogFeedBusy as exc:
                results.append({"url": feed.url, "outcome": "busy", "error": str(exc)})
                continue
            results.append(
                {
                    "url": synced.url,
                    "outcome": synced.last_outcome,
                    "error": synced.last_error,
                    "checked_at": synced.last_checked_at.isoformat()
                    if synced.last_checked_at
                    else None,
                    "report": synced.last_report,
                }
            )
        if options["json"]:
            self.stdout.write(json.dumps({"merchant": merchant.slug, "feeds": results}))
        else:
            for result in results:
                self._print(result)
        failed = [r for r in results if r["outcome"] not in ("ok", "not_modified")]
        if failed:
            raise CommandError(f"{len(failed)} of {len(results)} feeds did not sync.")

    def _print(self, result: dict[str, Any]) -> None:
        url, outcome, report = result["url"], result["outcome"], result.get("report") or {}
        if outcome == CatalogFeed.Outcome.NOT_MODIFIED:
            self.stdout.write(f"{url}: not modified since the last sync; nothing imported.")
            return
        if outcome != CatalogFeed.Outcome.OK:
            self.stderr.write(f"{url}: {result['error']}")
            return
        refused = report.get("refused", [])
        self.stdout.write(
            f"{url} ({report['format']}): {report['created']} created, {report['updated']} "
            f"updated, {report['unchanged']} unchanged, "
            f"{report.get('refused_total', len(refused))} rows refused, "
            f"{report['images_queued']} images queued for the workers."
        )
        for row in refused:
            self.stderr.write(f"  line {row['line']}: {row['reason']}")
