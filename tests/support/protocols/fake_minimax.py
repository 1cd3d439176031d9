"""MiniMax Hailuo, as PROVIDERS.md documents it: a Bearer API key, ``POST /v1/video_generation``,
polling at ``GET /v1/query/video_generation?task_id=…`` through ``Preparing`` → ``Queueing`` →
``Processing`` → ``Success`` | ``Fail``, the finished file's URL from
``GET /v1/files/retrieve?file_id=…``, and errors as HTTP 200 with a non-zero
``base_resp.status_code``. Its callbacks start with a ``challenge`` handshake."""

import base64
import binascii
import io
import itertools
from typing import Any

from PIL import Image, UnidentifiedImageError

from .server import Answer, BadRequest, FakeJob, FakeProvider, Recorded

API_KEY = "mm-test-key"
FIELDS = {
    "model",
    "prompt",
    "first_frame_image",
    "duration",
    "resolution",
    "prompt_optimizer",
    "callback_url",
}
MODELS = {"MiniMax-Hailuo-02", "MiniMax-Hailuo-2.3", "I2V-01", "T2V-01"}
RESOLUTIONS = {"512P", "720P", "768P", "1080P"}
MAX_IMAGE_BYTES = 20 * 1024 * 1024
OK = {"status_code": 0, "status_msg": "success"}
_file_ids = itertools.count(358_000_000_000_000)


class FakeMiniMax(FakeProvider):
    routes = (
        ("POST", r"/v1/video_generation", "create"),
        ("GET", r"/v1/query/video_generation", "query"),
        ("GET", r"/v1/files/retrieve", "retrieve"),
    )

    def __init__(self, mp4: bytes) -> None:
        super().__init__(mp4)
        # The account has run out of credit: creates answer 1008.
        self.out_of_balance = False
        # How many creates to refuse with 1002 (MiniMax's rate limit comes as HTTP 200).
        self.rate_limited = 0
        # MiniMax's input check refuses the request itself with 1026.
        self.refuse_input = False

    @staticmethod
    def error(code: int, message: str) -> Answer:
        # MiniMax answers its errors with HTTP 200; only the body says what went wrong.
        return 200, {"base_resp": {"status_code": code, "status_msg": message}}, {}

    def check_auth(self, request: Recorded) -> None:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            raise BadRequest(
                *self.error(
                    1004,
                    "login fail: Please carry the API secret key in the 'Authorization' field "
                    "of the request header",
                )[:2]
            )

    def invalid(self, message: str) -> BadRequest:
        return BadRequest(*self.error(2013, f"invalid params, {message}")[:2])

    def create(self, request: Recorded) -> Answer:
        self.check_auth(request)
        body = request.body
        image = isinstance(body, dict) and "first_frame_image" in body
        self.require_fields(
            body,
            required={"model"} | (set() if image else {"prompt"}),
            allowed=FIELDS,
            error=lambda message: self.error(2013, f"invalid params, {message}"),
        )
        with self.lock:
            if self.rate_limited:
                self.rate_limited -= 1
                return self.error(1002, "rate limit exceeded(RPM)")
        if self.out_of_balance:
            return self.error(1008, "insufficient balance")
        if body["model"] not in MODELS:
            raise self.invalid(f"unknown model {body['model']}")
        duration = body.get("duration", 6)
        resolution = body.get("resolution", "768P")
        if duration not in (6, 10) or isinstance(duration, bool):
            raise self.invalid("duration must be 6 or 10")
        if resolution not in RESOLUTIONS:
            raise self.invalid(f"resolution {resolution!r} is not supported")
        if resolution == "1080P" and duration != 6:
            raise self.invalid("1080P videos are 6 seconds long")
        if not isinstance(body.get("prompt", ""), str) or len(body.get("prompt", "")) > 2000:
            raise self.invalid("prompt must be a string of at most 2000 characters")
        if not isinstance(body.get("prompt_optimizer", True), bool):
            raise self.invalid("prompt_optimizer must be a boolean")
        if image:
            self.check_image(body["first_frame_image"])
        if self.refuse_input:
            return self.error(1026, "input new_sensitive")
        job = self.new_job(body, prefix="task")
        job.extra["file_id"] = str(next(_file_ids))
        return 200, {"task_id": job.id, "base_resp": OK}, {}

    def check_image(self, image: Any) -> None:
        if not isinstance(image, str):
            raise self.invalid("first_frame_image must be a string")
        if image.startswith(("http://", "https://")):
            return
        head, _, payload = image.partition(",")
        if not (head.startswith("data:image/") and head.endswith(";base64")):
            raise self.invalid("first_frame_image must be a URL or a base64 data URL")
        try:
            data = base64.b64decode(payload, validate=True)
            with Image.open(io.BytesIO(data)) as decoded:
                width, height = decoded.size
        except (binascii.Error, UnidentifiedImageError):
            raise self.invalid("first_frame_image cannot be decoded") from None
        if len(data) >= MAX_IMAGE_BYTES:
            raise self.invalid("first_frame_image must be smaller than 20MB")
        if min(width, height) <= 300:
            raise self.invalid("first_frame_image short side must be over 300px")
        if not 0.4 <= width / height <= 2.5:
            raise self.invalid("first_frame_image aspect ratio must be between 2:5 and 5:2")

    def task(self, job: FakeJob, status: str) -> dict[str, Any]:
        data: dict[str, Any] = {"task_id": job.id, "status": status, "file_id": ""}
        base = OK
        if status == "Success":
            data |= {"file_id": job.extra["file_id"], "video_width": 1366, "video_height": 768}
        if status == "Fail" and self.outcome == "moderation":
            base = {"status_code": 1027, "status_msg": "output new_sensitive"}
        return data | {"base_resp": base}

    def status_of(self, job: FakeJob) -> str:
        state = self.advance(job)
        if state == "running":
            return ("Preparing", "Queueing", "Processing")[min(job.polls - 1, 2)]
        return "Success" if state == "success" else "Fail"

    def query(self, request: Recorded) -> Answer:
        self.check_auth(request)
        job = self.jobs.get(request.query.get("task_id", [""])[0])
        if job is None:
            raise self.invalid("task_id not found")
        return 200, self.task(job, self.status_of(job)), {}

    def retrieve(self, request: Recorded) -> Answer:
        self.check_auth(request)
        file_id = request.query.get("file_id", [""])[0]
        if set(request.query) - {"file_id", "GroupId"}:
            raise self.invalid(f"unknown query parameter(s) {sorted(request.query)}")
        job = next((j for j in self.jobs.values() if j.extra.get("file_id") == file_id), None)
        if job is None or not file_id:
            raise self.invalid("file_id not found")
        file = {
            "file_id": int(file_id),
            "bytes": len(self.mp4),
            "created_at": 1_750_000_000,
            "filename": "output.mp4",
            "purpose": "video_generation",
            "download_url": self.output_url(job),
        }
        return 200, {"file": file, "base_resp": OK}, {}

    def callback_body(self, job: FakeJob, status: str) -> dict[str, Any]:
        """What MiniMax POSTs to ``callback_url`` once the handshake is done: the poll body."""
        return self.task(job, status)

    @staticmethod
    def challenge_body(token: str = "mm-challenge-7f3a") -> dict[str, Any]:
        """The handshake MiniMax POSTs first; the URL must echo the challenge within 3 s."""
        return {"challenge": token}
