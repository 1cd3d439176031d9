"""Seedance on Volcengine Ark / BytePlus ModelArk, as PROVIDERS.md documents it: a Bearer API
key, ``POST /api/v3/contents/generations/tasks`` with a ``content`` array (text, and an image
as a URL or data URI with a role), polling at ``GET /api/v3/contents/generations/tasks/{id}``
through ``queued`` → ``running`` → ``succeeded`` | ``failed``, errors as
``{"error": {"code", "message", "param", "type"}}``, and the poll body POSTed to
``callback_url``."""

import base64
import binascii
import io
from typing import Any

from PIL import Image, UnidentifiedImageError

from .server import Answer, BadRequest, FakeJob, FakeProvider, Recorded

API_KEY = "ark-test-key"
PREFIX = "/api/v3"
TASKS = f"{PREFIX}/contents/generations/tasks"
FIELDS = {
    "model",
    "content",
    "ratio",
    "duration",
    "resolution",
    "seed",
    "camera_fixed",
    "watermark",
    "callback_url",
}
RATIOS = {"16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive"}
RESOLUTIONS = {"480p", "720p", "1080p"}
ROLES = {"first_frame", "last_frame", "reference_image"}
MAX_IMAGE_BYTES = 30 * 1024 * 1024
MODERATION = {
    "InputImageSensitiveContentDetected": (
        "The request failed because the input image may contain sensitive information."
    ),
    "InputTextSensitiveContentDetected": (
        "The request failed because the input text may contain sensitive information."
    ),
    "OutputVideoSensitiveContentDetected": (
        "The request failed because the output video may contain sensitive information."
    ),
}


class FakeSeedance(FakeProvider):
    routes = (
        ("POST", TASKS, "create"),
        ("GET", rf"{TASKS}/(?P<task_id>[^/]+)", "query"),
    )

    def __init__(self, mp4: bytes) -> None:
        super().__init__(mp4)
        # Models activated in the console; any other is answered ModelNotOpen.
        self.open_models = {"seedance-1-0-pro-250528", "doubao-seedance-1-0-pro-250528"}
        # The account's bill is unpaid: every create is refused with AccountOverdueError.
        self.overdue = False
        # Ark's input check refuses the request itself (a moderation code on the create).
        self.refuse_input = ""

    @property
    def base_url(self) -> str:
        return f"{self.url}{PREFIX}"

    def error(self, status: int, code: str, message: str, kind: str, param: str = "") -> Answer:
        return (
            status,
            {"error": {"code": code, "message": message, "param": param, "type": kind}},
            {},
        )

    def check_auth(self, request: Recorded) -> None:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            raise BadRequest(
                *self.error(
                    401,
                    "AuthenticationError",
                    "The API key or AK/SK in the request is missing or invalid.",
                    "Unauthorized",
                )[:2]
            )

    def invalid(self, message: str, param: str = "") -> BadRequest:
        return BadRequest(*self.error(400, "InvalidParameter", message, "BadRequest", param)[:2])

    def create(self, request: Recorded) -> Answer:
        self.check_auth(request)
        self.require_fields(
            request.body,
            required={"model", "content"},
            allowed=FIELDS,
            error=lambda message: self.error(400, "InvalidParameter", message, "BadRequest"),
        )
        body = request.body
        if body["model"] not in self.open_models:
            return self.error(
                404,
                "ModelNotOpen",
                f"Your account has not activated the model {body['model']}.",
                "NotFound",
            )
        if self.overdue:
            return self.error(
                403,
                "AccountOverdueError",
                "The request failed because your account has an overdue balance.",
                "Forbidden",
            )
        self.check_content(body["content"])
        duration = body.get("duration", 5)
        if not isinstance(duration, int) or isinstance(duration, bool) or not 2 <= duration <= 12:
            raise self.invalid("duration must be an integer from 2 to 12", "duration")
        if body.get("ratio", "adaptive") not in RATIOS:
            raise self.invalid(f"ratio {body['ratio']!r} is not supported", "ratio")
        if body.get("resolution", "1080p") not in RESOLUTIONS:
            raise self.invalid(f"resolution {body['resolution']!r} is not supported", "resolution")
        seed = body.get("seed", -1)
        if not isinstance(seed, int) or not -1 <= seed < 2**32:
            raise self.invalid("seed must be an integer from -1 to 4294967295", "seed")
        for flag in ("camera_fixed", "watermark"):
            if not isinstance(body.get(flag, False), bool):
                raise self.invalid(f"{flag} must be a boolean", flag)
        if self.refuse_input:
            return self.error(400, self.refuse_input, MODERATION[self.refuse_input], "BadRequest")
        job = self.new_job(body, prefix="cgt")
        return 200, {"id": job.id}, {}

    def check_content(self, content: Any) -> None:
        """One text item, and images as a URL or a data URI within the documented limits."""
        if not isinstance(content, list) or not content:
            raise self.invalid("content must be a non-empty array", "content")
        if not all(isinstance(item, dict) for item in content):
            raise self.invalid("content items must be objects", "content")
        texts = [item for item in content if item.get("type") == "text"]
        if len(texts) > 1 or any(not isinstance(item.get("text"), str) for item in texts):
            raise self.invalid("content takes at most one text item", "content")
        for item in content:
            if item.get("type") == "text":
                continue
            if item.get("type") != "image_url" or set(item) - {"type", "image_url", "role"}:
                raise self.invalid(f"unknown content item {sorted(item)}", "content")
            if item.get("role", "first_frame") not in ROLES:
                raise self.invalid(f"unknown role {item['role']!r}", "content.role")
            url = (item.get("image_url") or {}).get("url", "")
            if url.startswith(("http://", "https://")):
                continue
            self.check_image(url)

    def check_image(self, url: str) -> None:
        head, _, payload = url.partition(",")
        if not (head.startswith("data:image/") and head.endswith(";base64")):
            raise self.invalid("image_url.url must be a URL or a base64 data URI", "image_url")
        try:
            data = base64.b64decode(payload, validate=True)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
        except (binascii.Error, UnidentifiedImageError):
            raise self.invalid("the image cannot be decoded", "image_url") from None
        if len(data) >= MAX_IMAGE_BYTES:
            raise self.invalid("the image must be smaller than 30 MB", "image_url")
        if min(width, height) < 300 or max(width, height) > 6000:
            raise self.invalid("image sides must be 300 to 6000 px", "image_url")
        if not 0.4 <= width / height <= 2.5:
            raise self.invalid("image aspect ratio must be 0.4 to 2.5", "image_url")

    def task(self, job: FakeJob, status: str) -> dict[str, Any]:
        request = job.request
        data: dict[str, Any] = {
            "id": job.id,
            "model": request["model"],
            "status": status,
            "error": None,
            "created_at": 1_750_000_000,
            "updated_at": 1_750_000_000 + job.polls,
        }
        if status == "succeeded":
            data |= {
                "content": {"video_url": self.output_url(job)},
                "usage": {"completion_tokens": 108_900, "total_tokens": 108_900},
                "seed": request.get("seed", 42),
                "resolution": request.get("resolution", "1080p"),
                "ratio": request.get("ratio", "adaptive"),
                "duration": request.get("duration", 5),
                "framespersecond": 24,
            }
        if status == "failed":
            code = (
                "OutputVideoSensitiveContentDetected"
                if self.outcome == "moderation"
                else "InternalServiceError"
            )
            data["error"] = {
                "code": code,
                "message": MODERATION.get(code, "The service encountered an unexpected error."),
            }
        return data

    def status_of(self, job: FakeJob) -> str:
        # A test sets a task that Ark cancelled or let expire in its queue.
        if job.extra.get("status") in ("cancelled", "expired"):
            return str(job.extra["status"])
        state = self.advance(job)
        if state == "running":
            return "queued" if job.polls == 1 else "running"
        return "succeeded" if state == "success" else "failed"

    def query(self, request: Recorded, task_id: str) -> Answer:
        self.check_auth(request)
        job = self.jobs.get(task_id)
        if job is None:
            return self.error(404, "ResourceNotFound", f"task {task_id} not found", "NotFound")
        return 200, self.task(job, self.status_of(job)), {}

    def callback_body(self, job: FakeJob, status: str) -> dict[str, Any]:
        """What Ark POSTs to ``callback_url``: the poll body."""
        return self.task(job, status)
