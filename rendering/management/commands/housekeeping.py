import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rendering.housekeeping import housekeeping_sweep, storage_by_merchant


class Command(BaseCommand):
    help = (
        "Delete segments no video uses any more and orphaned segment/video files older than the "
        "grace period, then report storage per merchant."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace-hours",
            type=float,
            default=24.0,
            help="only delete what is older than this (default 24)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would be deleted, delete nothing"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON summary")

    def handle(self, *args: object, **options: Any) -> None:
        grace_hours = float(options["grace_hours"])
        if grace_hours < 0:
            raise CommandError("--grace-hours must not be negative.")
        report = housekeeping_sweep(
            grace=timedelta(hours=grace_hours), dry_run=bool(options["dry_run"])
        )
        storage = storage_by_merchant()
        if options["json"]:
            self.stdout.write(json.dumps({"sweep": report.to_dict(), "storage": storage}))
        else:
            verb = "Would delete" if report.dry_run else "Deleted"
            self.stdout.write(
                f"{verb} {report.segments_deleted} unused segments, "
                f"{report.orphan_segment_files_deleted} orphan segment files and "
                f"{report.video_files_deleted} old video files and posters: "
                f"{_human(report.bytes_freed)} (grace {grace_hours:g} h)."
            )
            for name in report.deleted:
                self.stdout.write(f"  {name}")
            for failure in report.failures:
                self.stderr.write(f"  failed: {failure}")
            self.stdout.write("Storage per merchant:")
            for slug, entry in storage.items():
                parts = ", ".join(
                    f"{kind.replace('_', ' ')} {entry[kind]['count']} ({_human(entry[kind]['bytes'])})"
                    for kind in ("segments", "videos", "product_images", "brand_assets")
                )
                self.stdout.write(f"  {slug}: {_human(entry['bytes'])}: {parts}")
                for name in entry["missing"]:
                    self.stderr.write(f"    missing: {name}")
        if report.failures:
            raise CommandError(
                f"{len(report.failures)} file(s) could not be deleted.", returncode=1
            )


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
