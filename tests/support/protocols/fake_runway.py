"""Runway's developer API, as PROVIDERS.md documents it: ``Authorization: Bearer`` plus the
``X-Runway-Version`` header on every call, ``POST /v1/image_to_video`` and
``POST /v1/text_to_video`` answering ``{"id"}``, tasks polled at ``GET /v1/tasks/{id}``
(``PENDING`` → ``THROTTLED`` → ``RUNNING`` with ``progress`` → ``SUCCEEDED`` with ``output`` or
``FAILED`` with ``failure``/``failureCode``), and errors as ``{"error": …}``."""

import base64
import binascii
import io
import re
from typing import Any

from PIL import Image, UnidentifiedImageError

from .server import Answer, BadRequest, FakeJob, FakeProvider, Recorded

SECRET = "key_runway-test"
API_VERSION = "2024-11-06"
DATA_URI_LIMIT = 5 * 1024 * 1024
FIELDS = {
    "image_to_video": {
        "model",
        "promptImage",
        "promptText",
        "ratio",
        "duration",
        "seed",
        "contentModeration",
    },
    "text_to_video": {"model", "promptText", "ratio", "duration"},
}
REQUIRED = {
    "image_to_video": {"model", "promptImage", "ratio"},
    "text_to_video": {"model", "promptText", "ratio"},
}
# What each model takes: its ratios and durations.
MODELS: dict[str, tuple[set[str], set[int]]] = {
    "gen4_turbo": (
        {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"},
        {5, 10},
    ),
    "veo3.1": ({"1280:720", "720:1280", "1920:1080", "1080:1920"}, {4, 6, 8}),
}
MODEL_OF = {"image_to_video": {"gen4_turbo"}, "text_to_video": {"veo3.1"}}
DATA_URI = re.compile(r"data:(?P<mime>image/(?:png|jpeg|webp));base64,(?P<data>.+)", re.DOTALL)


class FakeRunway(FakeProvider):
    routes = (
        ("POST", r"/v1/(?P<kind>image_to_video|text_to_video)", "create"),
        ("GET", r"/v1/tasks/(?P<task_id>[^/]+)", "task"),
    )

    def __init__(self, mp4: bytes) -> None:
        super().__init__(mp4)
        # What a failed task reports (``outcome = "failed"``); moderation is SAFETY.INPUT.IMAGE.
        self.failure_code = "INTERNAL.BAD_OUTPUT.CODE01"
        self.credits = True

    def error(self, status: int, message: str) -> Answer:
        return status, {"error": message}, {}

    def check_headers(self, request: Recorded) -> None:
        if request.headers.get("authorization") != f"Bearer {SECRET}":
            raise BadRequest(*self.error(401, "The API key you provided is invalid.")[:2])
        if request.headers.get("x-runway-version") != API_VERSION:
            raise BadRequest(
                *self.error(400, "The X-Runway-Version header must be set to 2024-11-06.")[:2]
            )

    def create(self, request: Recorded, kind: str) -> Answer:
        self.check_headers(request)
        self.require_fields(
            request.body,
            required=REQUIRED[kind],
            allowed=FIELDS[kind],
            error=lambda message: self.error(400, f"Validation of body failed: {message}"),
        )
        body = request.body
        model = body["model"]
        if model not in MODEL_OF[kind]:
            return self.error(400, f"model {model!r} is not available for {kind}")
        ratios, durations = MODELS[model]
        if body["ratio"] not in ratios:
            return self.error(400, f"ratio must be one of {', '.join(sorted(ratios))}")
        duration = body.get("duration", min(durations))
        if type(duration) is not int or duration not in durations:
            return self.error(400, f"duration must be one of {sorted(durations)}")
        seed = body.get("seed", 0)
        if type(seed) is not int or not 0 <= seed < 2**32:
            return self.error(400, "seed must be an integer from 0 to 4294967295")
        if len(body.get("promptText", "")) > 1000:
            return self.error(400, "promptText must be at most 1000 characters")
        if kind == "image_to_video":
            self.check_image(body["promptImage"])
        if not self.credits:
            return self.error(400, "You do not have enough credits to run this task.")
        job = self.new_job(body, prefix="task")
        return 200, {"id": job.id}, {}

    def check_image(self, image: Any) -> None:
        """A URL must be HTTPS; a data URI at most 5 MB, of a real PNG/JPEG/WebP image."""
        if not isinstance(image, str):
            raise BadRequest(*self.error(400, "promptImage must be a string")[:2])
        if image.startswith("https://"):
            return
        match = DATA_URI.fullmatch(image)
        if match is None:
            raise BadRequest(*self.error(400, "promptImage must be an HTTPS URL or data URI")[:2])
        if len(image) > DATA_URI_LIMIT:
            raise BadRequest(*self.error(400, "promptImage data URI is larger than 5MB")[:2])
        try:
            with Image.open(io.BytesIO(base64.b64decode(match["data"], validate=True))) as img:
                format_ = img.format
        except (binascii.Error, UnidentifiedImageError):
            raise BadRequest(*self.error(400, "promptImage is not a valid image")[:2]) from None
        if f"image/{(format_ or '').lower()}" != match["mime"]:
            raise BadRequest(*self.error(400, "promptImage content does not match its type")[:2])

    def state_of(self, job: FakeJob) -> str:
        outcome = self.advance(job)
        if outcome == "running":
            return ("PENDING", "THROTTLED")[job.polls - 1] if job.polls <= 2 else "RUNNING"
        return "SUCCEEDED" if outcome == "success" else "FAILED"

    def task(self, request: Recorded, task_id: str) -> Answer:
        self.check_headers(request)
        job = self.jobs.get(task_id)
        if job is None:
            return self.error(404, "Task not found")
        state = self.state_of(job)
        body: dict[str, Any] = {"id": job.id, "status": state, "createdAt": "2026-10-01T12:00:00Z"}
        if state == "RUNNING":
            body["progress"] = round(job.polls / self.polls_to_finish, 2)
        elif state == "SUCCEEDED":
            body["output"] = [self.output_url(job)]
        elif state == "FAILED":
            if self.outcome == "moderation":
                body["failure"] = "The input image did not pass our content moderation."
                body["failureCode"] = "SAFETY.INPUT.IMAGE"
            else:
                body["failure"] = "An unexpected error occurred."
                body["failureCode"] = self.failure_code
        return 200, body, {}
