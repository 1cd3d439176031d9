"""The OpenAI Videos API (Sora), as its reference and official SDK document it: Bearer auth,
``POST /v1/videos`` as JSON or multipart/form-data (``input_reference`` is a file upload, of
exactly the requested size), polling at ``GET /v1/videos/<id>`` (``status`` queued →
in_progress → completed | failed, ``progress`` 0–100, ``error {code, message}``), the MP4 at
``GET /v1/videos/<id>/content`` for the API key only, and ``{"error": {"message", "type",
"param", "code"}}`` errors (401 key, 429 rate limit or ``insufficient_quota``, 400 bad request).
"""

import io
import time
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from PIL import Image, UnidentifiedImageError

from .server import Answer, BadRequest, FakeJob, FakeProvider, Recorded

API_KEY = "sk-test"
SIZES = {
    "sora-2": {"720x1280", "1280x720"},
    "sora-2-pro": {"720x1280", "1280x720", "1024x1792", "1792x1024"},
}
SECONDS = {"4", "8", "12"}
FIELDS = {"model", "prompt", "seconds", "size", "input_reference"}
REFERENCE_TYPES = {"image/jpeg", "image/png", "image/webp"}
MODERATION_MESSAGE = "Your request was blocked by our moderation system."


class FakeOpenAIVideos(FakeProvider):
    routes = (
        ("POST", r"/v1/videos", "create"),
        ("GET", r"/v1/videos/(?P<video_id>[^/]+)", "retrieve"),
        ("GET", r"/v1/videos/(?P<video_id>[^/]+)/content", "content"),
    )

    def __init__(self, mp4: bytes) -> None:
        super().__init__(mp4)
        # Out of credit: every call answers 429 insufficient_quota, as OpenAI does.
        self.quota_exhausted = False
        # The prompt is refused when the job is created, before any video exists.
        self.refuse_at_create = False
        # The reference image of each job as received: (bytes, content type).
        self.references: dict[str, tuple[bytes, str]] = {}

    def error(
        self, status: int, message: str, *, type: str = "invalid_request_error", code: Any = None
    ) -> Answer:
        body = {"error": {"message": message, "type": type, "param": None, "code": code}}
        return status, body, {}

    def invalid(self, message: str) -> BadRequest:
        return BadRequest(*self.error(400, message)[:2])

    def check_auth(self, request: Recorded) -> None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise BadRequest(
                *self.error(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth.",
                    code=None,
                )[:2]
            )
        if header != f"Bearer {API_KEY}":
            raise BadRequest(
                *self.error(401, "Incorrect API key provided.", code="invalid_api_key")[:2]
            )
        if self.quota_exhausted:
            raise BadRequest(
                *self.error(
                    429,
                    "You exceeded your current quota, please check your plan and billing details.",
                    type="insufficient_quota",
                    code="insufficient_quota",
                )[:2]
            )

    # --- create ------------------------------------------------------------------------------

    def create(self, request: Recorded) -> Answer:
        self.check_auth(request)
        content_type = request.headers.get("content-type", "")
        reference: tuple[bytes, str] | None = None
        if content_type.startswith("application/json"):
            fields = request.body
            if isinstance(fields, dict) and "input_reference" in fields:
                raise self.invalid("input_reference must be uploaded as a file (multipart)")
        elif content_type.startswith("multipart/form-data"):
            fields, files = self.parse_form(request)
            if set(files) - {"input_reference"}:
                raise self.invalid(f"unknown file(s): {', '.join(sorted(files))}")
            reference = files.get("input_reference")
            if "input_reference" in fields:
                raise self.invalid("input_reference must be a file, not a form field")
        else:
            raise self.invalid(f"unsupported content type {content_type!r}")
        self.require_fields(
            fields,
            required={"prompt"},
            allowed=FIELDS,
            error=lambda message: self.error(400, message),
        )
        model = fields.get("model", "sora-2")
        seconds = fields.get("seconds", "4")
        size = fields.get("size", "720x1280")
        if model not in SIZES:
            raise self.invalid(f"Invalid model {model!r}: expected one of {sorted(SIZES)}")
        if seconds not in SECONDS:
            # The seconds are the strings "4", "8", "12": a number is refused.
            raise self.invalid(f"Invalid value for seconds: {seconds!r}")
        if size not in SIZES[model]:
            raise self.invalid(f"Invalid size {size!r} for {model}")
        if reference is not None:
            self.check_reference(reference, size)
        if self.refuse_at_create:
            return self.error(400, MODERATION_MESSAGE, code="moderation_blocked")
        job = self.new_job({**fields, "model": model, "seconds": seconds, "size": size}, "video")
        if reference is not None:
            self.references[job.id] = reference
        job.extra["created_at"] = int(time.time())
        return 200, self.video(job, "queued"), {}

    def parse_form(self, request: Recorded) -> tuple[dict[str, str], dict[str, tuple[bytes, str]]]:
        """multipart/form-data as the API parses it: text fields, and files with their type."""
        raw = request.body if isinstance(request.body, bytes) else b""
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + raw)
        if not message.is_multipart():
            raise self.invalid("the multipart body could not be parsed")
        fields: dict[str, str] = {}
        files: dict[str, tuple[bytes, str]] = {}
        for part in message.iter_parts():
            assert isinstance(part, Message)
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                raise self.invalid("a form part has no name")
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            if part.get_filename() is not None:
                files[name] = (data, part.get_content_type())
            else:
                fields[name] = data.decode()
        return fields, files

    def check_reference(self, reference: tuple[bytes, str], size: str) -> None:
        data, content_type = reference
        if content_type not in REFERENCE_TYPES:
            raise self.invalid(f"Invalid file type {content_type!r} for input_reference")
        try:
            with Image.open(io.BytesIO(data)) as image:
                actual = f"{image.width}x{image.height}"
        except (UnidentifiedImageError, OSError):
            raise self.invalid("input_reference is not a readable image") from None
        if actual != size:
            raise self.invalid(
                f"Inpaint image must match the requested width and height ({actual} ≠ {size})"
            )

    # --- poll and download -------------------------------------------------------------------

    def video(self, job: FakeJob, status: str) -> dict[str, Any]:
        done = self.polls_to_finish or 1
        body: dict[str, Any] = {
            "id": job.id,
            "object": "video",
            "model": job.request["model"],
            "status": status,
            "progress": {"queued": 0, "completed": 100}.get(
                status, min(99, job.polls * 100 // done)
            ),
            "created_at": job.extra.get("created_at", 0),
            "completed_at": None,
            "expires_at": None,
            "size": job.request["size"],
            "seconds": job.request["seconds"],
            "quality": "standard",
            "remixed_from_video_id": None,
            "error": None,
        }
        if status == "completed":
            body["completed_at"] = int(time.time())
            body["expires_at"] = body["completed_at"] + 3600
        if status == "failed":
            body["error"] = (
                {"code": "moderation_blocked", "message": MODERATION_MESSAGE}
                if self.outcome == "moderation"
                else {"code": "internal_error", "message": "Video generation failed."}
            )
        return body

    def status_of(self, job: FakeJob) -> str:
        state = self.advance(job)
        job.extra["status"] = {"running": "in_progress", "success": "completed"}.get(
            state, "failed"
        )
        return job.extra["status"]

    def retrieve(self, request: Recorded, video_id: str) -> Answer:
        self.check_auth(request)
        job = self.jobs.get(video_id)
        if job is None:
            return self.error(404, f"Video with id '{video_id}' not found.", code="not_found")
        return 200, self.video(job, self.status_of(job)), {}

    def content(self, request: Recorded, video_id: str) -> Answer:
        self.check_auth(request)
        variant = request.query.get("variant", ["video"])[0]
        if variant not in ("video", "thumbnail", "spritesheet"):
            return self.error(400, f"Invalid variant {variant!r}")
        job = self.jobs.get(video_id)
        if job is None or self.expired:
            return self.error(404, f"Video with id '{video_id}' not found.", code="not_found")
        if job.extra.get("status") != "completed":
            return self.error(400, "Video is not ready yet.", code="video_not_ready")
        if variant != "video":
            return self.error(404, f"No {variant} for this video.", code="not_found")
        return 200, self.mp4, {"Content-Type": "video/mp4"}
