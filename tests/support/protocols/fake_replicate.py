"""Replicate's HTTP API, as PROVIDERS.md and Replicate's docs describe it: Bearer auth,
``POST /v1/models/{owner}/{name}/predictions`` (and ``POST /v1/predictions`` with a pinned
``version``), the prediction object (``starting`` → ``processing`` → ``succeeded`` | ``failed``
| ``canceled``), problem-details errors (``{"title", "detail", "status"}``), the throttling
answer, and webhooks signed the Standard Webhooks way.

Each known model's inputs are validated against its documented schema, strictly: an input the
model does not have is a 422 here, so an adapter's input mapping cannot silently miss.
"""

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .server import Answer, BadRequest, FakeJob, FakeProvider, Recorded

API_TOKEN = "r8_test_token"
# Standard Webhooks secret: "whsec_" + base64 of the key bytes.
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"scenecart-replicate-webhook-key!").decode()
# A pinned version of minimax/video-01, for POST /v1/predictions.
MINIMAX_VERSION = "c8bcc4751328608bb75043b3af7bed4eabcf1a6c0a478d50a4cf57fa04bd5101"


def _is_image(value: Any) -> bool:
    """An http(s) URL, or a data URI of a PNG or JPEG that decodes."""
    if not isinstance(value, str):
        return False
    if value.startswith(("https://", "http://")):
        return True
    head, _, data = value.partition(",")
    if head not in ("data:image/png;base64", "data:image/jpeg;base64"):
        return False
    try:
        return len(base64.b64decode(data, validate=True)) > 0
    except binascii.Error:
        return False


@dataclass(frozen=True)
class Input:
    check: Callable[[Any], bool]
    rule: str
    required: bool = False


# The models' documented input schemas (Replicate's API pages).
MODELS: dict[str, dict[str, Input]] = {
    "kwaivgi/kling-v2.1": {
        "prompt": Input(lambda v: isinstance(v, str) and bool(v), "a string", required=True),
        "start_image": Input(_is_image, "a URL or a data URI", required=True),
        "end_image": Input(_is_image, "a URL or a data URI"),
        "negative_prompt": Input(lambda v: isinstance(v, str), "a string"),
        "mode": Input(lambda v: v in ("standard", "pro"), "one of standard, pro"),
        "duration": Input(lambda v: type(v) is int and v in (5, 10), "the integer 5 or 10"),
    },
    "minimax/video-01": {
        "prompt": Input(lambda v: isinstance(v, str) and bool(v), "a string", required=True),
        "prompt_optimizer": Input(lambda v: isinstance(v, bool), "a boolean"),
        "first_frame_image": Input(_is_image, "a URL or a data URI"),
        "subject_reference": Input(_is_image, "a URL or a data URI"),
    },
}
VERSIONS = {MINIMAX_VERSION: "minimax/video-01"}
TOP_LEVEL = {"input", "webhook", "webhook_events_filter"}
EVENTS = {"start", "output", "logs", "completed"}


def problem(status: int, title: str, detail: str, **extra: Any) -> Answer:
    return status, {"title": title, "detail": detail, "status": status, **extra}, {}


def invalid(description: str, field: str = "input") -> Answer:
    return problem(
        422,
        "Input validation failed",
        f"- {field}: {description}\n",
        invalid_fields=[{"type": "invalid", "field": field, "description": description}],
    )


class FakeReplicate(FakeProvider):
    routes = (
        ("POST", r"/v1/models/(?P<owner>[^/]+)/(?P<name>[^/]+)/predictions", "create"),
        ("POST", r"/v1/predictions", "create_version"),
        ("GET", r"/v1/predictions/(?P<prediction_id>[^/]+)", "get"),
    )

    def __init__(self, mp4: bytes) -> None:
        super().__init__(mp4)
        # Answers of "Request was throttled" still to give, and whether they carry Retry-After.
        self.throttled = 0
        self.throttle_retry_after = True
        self.out_of_credit = False
        # Some models answer a list of files; kling-v2.1 answers one URL.
        self.output_as_list = False

    def check_auth(self, request: Recorded) -> None:
        if request.headers.get("authorization") != f"Bearer {API_TOKEN}":
            raise BadRequest(
                *problem(401, "Unauthenticated", "You did not pass a valid authentication token")[
                    :2
                ]
            )

    def create(self, request: Recorded, owner: str, name: str) -> Answer:
        return self._create(request, f"{owner}/{name}", version="", top_level=TOP_LEVEL)

    def create_version(self, request: Recorded) -> Answer:
        self.check_auth(request)
        version = request.body.get("version", "") if isinstance(request.body, dict) else ""
        model = VERSIONS.get(version)
        if model is None:
            return invalid(f"version {version!r} does not exist", field="version")
        return self._create(request, model, version=version, top_level=TOP_LEVEL | {"version"})

    def _create(
        self, request: Recorded, model: str, *, version: str, top_level: set[str]
    ) -> Answer:
        self.check_auth(request)
        if self.throttled:
            self.throttled -= 1
            headers = {"Retry-After": "0"} if self.throttle_retry_after else {}
            return (
                429,
                {"detail": "Request was throttled. Expected available in 1 second.", "status": 429},
                headers,
            )
        if self.out_of_credit:
            return problem(
                402,
                "Insufficient credit",
                "You have insufficient credit to run this model. Go to "
                "https://replicate.com/account/billing#billing to purchase credit.",
            )
        schema = MODELS.get(model)
        if schema is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        self.require_fields(
            request.body,
            required={"input"},
            allowed=top_level,
            error=lambda message: invalid(message, field="body"),
        )
        body = request.body
        if "webhook" in body and not str(body["webhook"]).startswith(("https://", "http://")):
            return invalid("webhook must be a URL", field="webhook")
        events = body.get("webhook_events_filter", [])
        if not isinstance(events, list) or not set(events) <= EVENTS:
            return invalid(
                f"events must be some of {sorted(EVENTS)}", field="webhook_events_filter"
            )
        self.check_input(body["input"], schema)
        job = self.new_job(body, prefix="r8")
        job.extra.update(model=model, version=version or f"{model}-latest")
        return 201, self.prediction(job, "starting"), {}

    @staticmethod
    def check_input(given: Any, schema: dict[str, Input]) -> None:
        if not isinstance(given, dict):
            raise BadRequest(*invalid("input must be an object")[:2])
        for name, spec in schema.items():
            if spec.required and name not in given:
                raise BadRequest(*invalid(f"{name} is required")[:2])
        for name, value in given.items():
            spec = schema.get(name)
            if spec is None:
                raise BadRequest(*invalid(f"{name} is not an input of this model")[:2])
            if not spec.check(value):
                raise BadRequest(*invalid(f"{name} must be {spec.rule}")[:2])
        if "end_image" in given and given.get("mode") != "pro":
            raise BadRequest(*invalid("end_image requires mode pro")[:2])

    def prediction(self, job: FakeJob, status: str) -> dict[str, Any]:
        output: Any = None
        error = None
        if status == "succeeded":
            output = [self.output_url(job)] if self.output_as_list else self.output_url(job)
        if status == "failed":
            error = (
                "The input or output was flagged as sensitive. Please try again with different "
                "inputs. (E005)"
                if self.outcome == "moderation"
                else "Kling task failed: internal rendering error"
            )
        return {
            "id": job.id,
            "model": job.extra["model"],
            "version": job.extra["version"],
            "input": job.request["input"],
            "logs": "",
            "output": output,
            "data_removed": False,
            "error": error,
            "status": status,
            "created_at": "2026-11-02T10:00:00.000Z",
            "urls": {
                "get": f"{self.url}/v1/predictions/{job.id}",
                "cancel": f"{self.url}/v1/predictions/{job.id}/cancel",
                "web": f"https://replicate.com/p/{job.id}",
            },
            "metrics": {},
        }

    def get(self, request: Recorded, prediction_id: str) -> Answer:
        self.check_auth(request)
        job = self.jobs.get(prediction_id)
        if job is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        state = self.advance(job)
        status = {"running": "processing", "success": "succeeded"}.get(state, "failed")
        return 200, self.prediction(job, status), {}

    def signed_delivery(
        self,
        body: dict[str, Any],
        *,
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
        webhook_id: str = "msg_2k3j4h5g",
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook POST as Replicate sends it: the raw body and its Standard Webhooks
        headers, signed with ``secret``."""
        raw = json.dumps(body).encode()
        sent_at = str(int(time.time()) if timestamp is None else timestamp)
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signature = base64.b64encode(
            hmac.new(key, f"{webhook_id}.{sent_at}.".encode() + raw, hashlib.sha256).digest()
        ).decode()
        headers = {
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": sent_at,
            "webhook-signature": f"v1,{signature}",
        }
        return raw, headers
