"""fal.ai's queue, as PROVIDERS.md and fal's docs describe it: ``Authorization: Key …``,
``POST /{model_id}`` (``?fal_webhook=`` for a callback) answering ``request_id``,
``status_url`` and ``response_url``; the status (``IN_QUEUE`` → ``IN_PROGRESS`` →
``COMPLETED``); the result (``{"video": {"url"}}``, or the model's error: a 422 ``detail`` list,
or a request error with ``error_type``); webhooks signed with ED25519.

The status and result URLs it hands out live under a path of its own (``/q/requests/…``), not
under the model id: fal's do not follow the model id either, and an adapter must use them as
given. Inputs are validated against each known model's documented schema, strictly.
"""

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .server import Answer, BadRequest, FakeJob, FakeProvider, Recorded

FAL_KEY = "fal-key-id:fal-key-secret"
USER_ID = "github|scenecart"


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


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


# The models' documented input schemas (their fal API pages).
MODELS: dict[str, dict[str, Input]] = {
    "fal-ai/kling-video/v2.1/standard/image-to-video": {
        "prompt": Input(_text, "a string", required=True),
        "image_url": Input(_is_image, "a URL or a data URI", required=True),
        "duration": Input(lambda v: v in ("5", "10"), "one of '5', '10' (strings)"),
        "negative_prompt": Input(lambda v: isinstance(v, str), "a string"),
        "cfg_scale": Input(lambda v: isinstance(v, int | float) and 0 <= v <= 1, "0 to 1"),
    },
    "fal-ai/minimax/hailuo-02/standard/image-to-video": {
        "prompt": Input(_text, "a string", required=True),
        "image_url": Input(_is_image, "a URL or a data URI", required=True),
        "end_image_url": Input(_is_image, "a URL or a data URI"),
        "duration": Input(lambda v: v in ("6", "10"), "one of '6', '10' (strings)"),
        "prompt_optimizer": Input(lambda v: isinstance(v, bool), "a boolean"),
        "resolution": Input(lambda v: v in ("512P", "768P"), "one of 512P, 768P"),
    },
}
MODERATION_DETAIL = [
    {
        "loc": ["body", "image_url"],
        "msg": "The content could not be processed because it contained material flagged by "
        "a content checker.",
        "type": "content_policy_violation",
        "url": "https://docs.fal.ai/errors#content_policy_violation",
    }
]
RUNNER_ERROR = {"detail": "Internal error in the runner", "error_type": "runner_server_error"}


def error(status: int, loc: str, msg: str, kind: str) -> Answer:
    return status, {"detail": [{"loc": ["body", loc], "msg": msg, "type": kind}]}, {}


class FakeFal(FakeProvider):
    routes = (
        ("GET", r"/q/requests/(?P<request_id>[^/]+)/status", "status"),
        ("GET", r"/q/requests/(?P<request_id>[^/]+)", "result"),
        ("POST", r"/(?P<model>[\w.-]+(?:/[\w.-]+)+)", "submit"),
    )

    def __init__(self, mp4: bytes) -> None:
        super().__init__(mp4)
        # The account's balance ran out: fal locks the user.
        self.locked = False

    def check_auth(self, request: Recorded) -> None:
        if request.headers.get("authorization") != f"Key {FAL_KEY}":
            raise BadRequest(401, {"detail": "No user found for Key ID and Secret"})
        if self.locked:
            raise BadRequest(
                403,
                {
                    "detail": "User is locked. Reason: Exhausted balance. Top up your balance "
                    "at fal.ai/dashboard/billing."
                },
            )

    def submit(self, request: Recorded, model: str) -> Answer:
        self.check_auth(request)
        schema = MODELS.get(model)
        if schema is None:
            return 404, {"detail": f"Application '{model}' not found"}, {}
        self.check_input(request.body, schema)
        job = self.new_job(request.body, prefix="fal")
        job.extra["model"] = model
        job.extra["webhook"] = request.query.get("fal_webhook", [""])[0]
        return (
            200,
            {
                "request_id": job.id,
                "gateway_request_id": job.id,
                "status_url": f"{self.url}/q/requests/{job.id}/status",
                "response_url": f"{self.url}/q/requests/{job.id}",
                "cancel_url": f"{self.url}/q/requests/{job.id}/cancel",
                "queue_position": 0,
            },
            {},
        )

    @staticmethod
    def check_input(given: Any, schema: dict[str, Input]) -> None:
        if not isinstance(given, dict):
            raise BadRequest(*error(422, "body", "the body is not an object", "type_error")[:2])
        for name, spec in schema.items():
            if spec.required and name not in given:
                raise BadRequest(*error(422, name, "field required", "value_error.missing")[:2])
        for name, value in given.items():
            spec = schema.get(name)
            if spec is None:
                raise BadRequest(
                    *error(422, name, "extra fields not permitted", "value_error.extra")[:2]
                )
            if not spec.check(value):
                raise BadRequest(*error(422, name, f"must be {spec.rule}", "value_error")[:2])

    def status(self, request: Recorded, request_id: str) -> Answer:
        self.check_auth(request)
        job = self.jobs.get(request_id)
        if job is None:
            return 404, {"detail": "Request not found"}, {}
        response_url = f"{self.url}/q/requests/{job.id}"
        if "outcome" in job.extra:
            return 200, self.completed(job), {}
        state = self.advance(job)
        if state == "running":
            if job.polls == 1:
                return (
                    202,
                    {"status": "IN_QUEUE", "queue_position": 0, "response_url": response_url},
                    {},
                )
            return 202, {"status": "IN_PROGRESS", "logs": None, "response_url": response_url}, {}
        job.extra["outcome"] = state
        return 200, self.completed(job), {}

    def completed(self, job: FakeJob) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "status": "COMPLETED",
            "logs": None,
            "metrics": {"inference_time": 41.2},
            "response_url": f"{self.url}/q/requests/{job.id}",
        }
        if job.extra["outcome"] == "failed":
            answer.update(error=RUNNER_ERROR["detail"], error_type=RUNNER_ERROR["error_type"])
        return answer

    def result(self, request: Recorded, request_id: str) -> Answer:
        self.check_auth(request)
        job = self.jobs.get(request_id)
        if job is None:
            return 404, {"detail": "Request not found"}, {}
        outcome = job.extra.get("outcome")
        if outcome is None:
            return 400, {"detail": "Request is still in progress"}, {}
        if outcome == "moderation":
            return 422, {"detail": MODERATION_DETAIL}, {}
        if outcome == "failed":
            return 500, RUNNER_ERROR, {"X-Fal-Error-Type": RUNNER_ERROR["error_type"]}
        return 200, self.video(job), {}

    def video(self, job: FakeJob) -> dict[str, Any]:
        return {
            "video": {
                "url": self.output_url(job),
                "content_type": "video/mp4",
                "file_name": "output.mp4",
                "file_size": len(self.mp4),
            }
        }

    def callback_body(self, job: FakeJob, outcome: str) -> dict[str, Any]:
        """What fal POSTs to ``fal_webhook`` when the request is done."""
        body: dict[str, Any] = {"request_id": job.id, "gateway_request_id": job.id}
        if outcome == "success":
            return {**body, "status": "OK", "payload": self.video(job)}
        if outcome == "moderation":
            return {
                **body,
                "status": "ERROR",
                "error": "Invalid status code: 422",
                "payload": {"detail": MODERATION_DETAIL},
            }
        return {
            **body,
            "status": "ERROR",
            "error": "Invalid status code: 500",
            "payload": RUNNER_ERROR,
        }

    def signed_delivery(
        self,
        body: dict[str, Any],
        private_key: Ed25519PrivateKey,
        *,
        timestamp: int | None = None,
        user_id: str = USER_ID,
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook POST as fal sends it: the raw body and its signature headers, the
        signature an ED25519 one over request id, user id, timestamp and the body's sha256."""
        raw = json.dumps(body).encode()
        sent_at = str(int(time.time()) if timestamp is None else timestamp)
        request_id = str(body["request_id"])
        message = "\n".join([request_id, user_id, sent_at, hashlib.sha256(raw).hexdigest()])
        headers = {
            "Content-Type": "application/json",
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": user_id,
            "X-Fal-Webhook-Timestamp": sent_at,
            "X-Fal-Webhook-Signature": private_key.sign(message.encode()).hex(),
        }
        return raw, headers
