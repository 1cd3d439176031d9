"""Luma Dream Machine, as its API reference and official SDK document it: Bearer auth,
``POST /dream-machine/v1/generations`` answering 201 with the generation object, polling at
``GET /dream-machine/v1/generations/<id>`` (``state`` queued → dreaming → completed | failed,
``assets.video``, ``failure_reason``), FastAPI-shaped ``{"detail": …}`` errors, and the
generation object POSTed to ``callback_url``.

Keyframe images are URLs only, which Luma fetches itself: the fake does too, so a URL it
cannot load is refused as Luma refuses it. It also plays the storage the core presigns URLs
on (``/storage/<name>``, from ``stored``), so a test can hand the adapter a URL that works.
"""

import io
from typing import Any

import requests
from PIL import Image, UnidentifiedImageError

from .server import Answer, BadRequest, FakeJob, FakeProvider, Recorded

API_KEY = "luma-test-key"
MODELS = {"ray-1-6", "ray-2", "ray-flash-2"}
ASPECTS = {"1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"}
DURATIONS = {"5s", "9s"}
RESOLUTIONS = {"540p", "720p", "1080p", "4k"}
FIELDS = {
    "model",
    "prompt",
    "aspect_ratio",
    "duration",
    "resolution",
    "keyframes",
    "callback_url",
    "loop",
    "concepts",
    "generation_type",
}
MODERATION_REASON = "400: prompt not allowed because advanced moderation failed"


class FakeLuma(FakeProvider):
    routes = (
        ("POST", r"/dream-machine/v1/generations", "create"),
        ("GET", r"/dream-machine/v1/generations/(?P<generation_id>[^/]+)", "get"),
        ("GET", r"/storage/(?P<name>[^/]+)", "storage"),
    )

    def __init__(self, mp4: bytes) -> None:
        super().__init__(mp4)
        # What the fake storage serves: name → (bytes, content type).
        self.stored: dict[str, tuple[bytes, str]] = {}

    def error(self, status: int, detail: Any) -> Answer:
        return status, {"detail": detail}, {}

    def check_auth(self, request: Recorded) -> None:
        if request.headers.get("authorization", "") != f"Bearer {API_KEY}":
            raise BadRequest(*self.error(401, "Invalid API key provided")[:2])

    def store(self, name: str, data: bytes, content_type: str = "image/png") -> str:
        """Put a file in the fake storage; its public URL."""
        self.stored[name] = (data, content_type)
        return f"{self.url}/storage/{name}"

    def storage(self, request: Recorded, name: str) -> Answer:
        if name not in self.stored:
            return 404, b"NoSuchKey", {"Content-Type": "text/plain"}
        data, content_type = self.stored[name]
        return 200, data, {"Content-Type": content_type}

    def create(self, request: Recorded) -> Answer:
        self.check_auth(request)
        self.require_fields(
            request.body,
            required={"model"},
            allowed=FIELDS,
            error=lambda message: self.error(400, f"400: {message}"),
        )
        body = request.body
        if body["model"] not in MODELS:
            return self.error(400, f"400: model must be one of {sorted(MODELS)}")
        for name, allowed in (
            ("aspect_ratio", ASPECTS),
            ("duration", DURATIONS),
            ("resolution", RESOLUTIONS),
        ):
            if name in body and body[name] not in allowed:
                return self.error(400, f"400: {name} must be one of {sorted(allowed)}")
        keyframes = body.get("keyframes")
        if keyframes is None and not body.get("prompt"):
            return self.error(400, "400: a prompt is required without keyframes")
        if keyframes is not None:
            self.check_keyframes(keyframes)
        job = self.new_job(body, prefix="gen")
        return 201, self.generation(job, "queued"), {}

    def check_keyframes(self, keyframes: Any) -> None:
        if (
            not isinstance(keyframes, dict)
            or not keyframes
            or set(keyframes) - {"frame0", "frame1"}
        ):
            raise BadRequest(*self.error(400, "400: keyframes takes frame0 and frame1")[:2])
        for frame in keyframes.values():
            if not isinstance(frame, dict) or frame.get("type") not in ("image", "generation"):
                raise BadRequest(
                    *self.error(400, "400: a keyframe is an image or a generation")[:2]
                )
            if frame["type"] == "generation":
                if set(frame) != {"type", "id"}:
                    raise BadRequest(*self.error(400, "400: a generation keyframe has an id")[:2])
                continue
            if set(frame) != {"type", "url"}:
                raise BadRequest(*self.error(400, "400: an image keyframe has a url")[:2])
            url = str(frame["url"])
            if not url.startswith(("http://", "https://")):
                # Data URIs and paths are refused: Luma takes image URLs only.
                raise BadRequest(*self.error(400, "400: keyframe url must be an http(s) URL")[:2])
            self.load_image(url)

    def load_image(self, url: str) -> None:
        """Fetch the keyframe as Luma does; one it cannot load is refused."""
        try:
            response = requests.get(url, timeout=2)
            response.raise_for_status()
            with Image.open(io.BytesIO(response.content)) as image:
                image.verify()
        except (requests.RequestException, UnidentifiedImageError, OSError) as exc:
            raise BadRequest(
                400,
                {"detail": [{"type": "image_load_error", "msg": f"Failed to load image: {exc}"}]},
            ) from None

    def generation(self, job: FakeJob, state: str) -> dict[str, Any]:
        succeeded = state == "completed"
        return {
            "id": job.id,
            "generation_type": "video",
            "state": state,
            "failure_reason": (
                (MODERATION_REASON if self.outcome == "moderation" else "Internal Server Error")
                if state == "failed"
                else None
            ),
            "created_at": "2026-10-01T12:00:00.000000Z",
            "model": job.request["model"],
            "assets": (
                {"video": self.output_url(job), "image": None, "progress_video": None}
                if succeeded
                else None
            ),
            "request": job.request,
        }

    def state_of(self, job: FakeJob) -> str:
        state = self.advance(job)
        if state == "running":
            return "queued" if job.polls == 1 else "dreaming"
        return "completed" if state == "success" else "failed"

    def get(self, request: Recorded, generation_id: str) -> Answer:
        self.check_auth(request)
        job = self.jobs.get(generation_id)
        if job is None:
            return self.error(404, "Generation not found")
        return 200, self.generation(job, self.state_of(job)), {}

    def callback_body(self, job: FakeJob, state: str) -> dict[str, Any]:
        """What Luma POSTs to ``callback_url``: the generation object."""
        return self.generation(job, state)
