import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rendering.models import Video
from rendering.video_provenance import video_resign


class Command(BaseCommand):
    help = (
        "Sign every ready video's file again with the current Content Credentials record, "
        "e.g. after an upgrade that changed what the record holds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", help="only this merchant's videos (its slug)")
        parser.add_argument("--json", action="store_true", help="print one JSON summary")

    def handle(self, *args: object, **options: Any) -> None:
        videos = Video.objects.filter(status=Video.Status.READY).exclude(file="")
        if options["merchant"]:
            videos = videos.filter(product__merchant__slug=options["merchant"])
        signed: list[int] = []
        failures: list[dict[str, object]] = []
        for video in videos.select_related("product__merchant").order_by("pk"):
            try:
                video_resign(video=video)
            except Exception as exc:  # one bad file must not stop the others
                failures.append({"video": video.pk, "reason": f"{type(exc).__name__}: {exc}"})
                continue
            signed.append(video.pk)
        if options["json"]:
            self.stdout.write(json.dumps({"signed": len(signed), "failures": failures}))
        else:
            self.stdout.write(f"Signed {len(signed)} video(s) again.")
            for failure in failures:
                self.stderr.write(f"  video {failure['video']}: {failure['reason']}")
        if failures:
            raise CommandError(f"{len(failures)} video(s) could not be signed.", returncode=1)
