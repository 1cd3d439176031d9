"""Kling's official API, as PROVIDERS.md documents it: JWT auth (HS256, ``iss`` = access key,
signed with the secret key; checked with PyJWT, while ``test_kling`` reads the adapter's token
by hand), ``POST /v1/videos/image2video|text2video``, polling at
``GET /v1/videos/<family>/<task_id>``, the ``{"code", "message", "data"}`` envelope, error codes
in the body, and the poll body POSTed to ``callback_url``."""

import base64
from typing import Any

import jwt

from .server import Answer, BadRequest, FakeProvider, Recorded

# Long enough for HS256: PyJWT warns about a secret shorter than 32 bytes.
ACCESS_KEY = "ak-test-access-key-0123456789abc"
SECRET_KEY = "sk-test-secret-key-0123456789abc"
COMMON = {
    "model_name",
    "prompt",
    "negative_prompt",
    "mode",
    "duration",
    "callback_url",
    "external_task_id",
    "cfg_scale",
}
FIELDS = {"image2video": COMMON | {"image", "image_tail"}, "text2video": COMMON | {"aspect_ratio"}}
REQUIRED = {"image2video": {"image"}, "text2video": {"prompt"}}


class FakeKling(FakeProvider):
    routes = (
        ("POST", r"/v1/videos/(?P<family>image2video|text2video)", "create"),
        ("GET", r"/v1/videos/(?P<family>image2video|text2video)/(?P<task_id>[^/]+)", "query"),
    )

    def error(self, status: int, code: int, message: str) -> Answer:
        return status, {"code": code, "message": message, "request_id": "req-1"}, {}

    def check_auth(self, request: Recorded) -> None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise BadRequest(*self.error(401, 1001, "Authorization is empty")[:2])
        token = header.removeprefix("Bearer ")
        try:
            if jwt.get_unverified_header(token) != {"alg": "HS256", "typ": "JWT"}:
                raise jwt.InvalidTokenError("not Kling's header")
            jwt.decode(
                token,
                SECRET_KEY,
                algorithms=["HS256"],
                issuer=ACCESS_KEY,
                options={"require": ["iss", "exp", "nbf"]},
            )
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
            raise BadRequest(*self.error(401, 1004, "Authorization has expired")[:2]) from None
        except jwt.InvalidTokenError:
            raise BadRequest(*self.error(401, 1002, "Authorization is invalid")[:2]) from None

    def create(self, request: Recorded, family: str) -> Answer:
        self.check_auth(request)
        self.require_fields(
            request.body,
            required=REQUIRED[family] | {"model_name"},
            allowed=FIELDS[family],
            error=lambda message: self.error(400, 1201, message),
        )
        body = request.body
        if body.get("duration", "5") not in ("5", "10"):
            return self.error(400, 1201, "duration must be the string 5 or 10")
        if body.get("mode", "std") not in ("std", "pro"):
            return self.error(400, 1201, "mode must be std or pro")
        if family == "image2video":
            image = body["image"]
            if image.startswith("data:"):
                return self.error(400, 1201, "image must be a URL or raw base64 without a prefix")
            if len(base64.b64decode(image)) > 10 * 1024 * 1024:
                return self.error(400, 1201, "image is larger than 10MB")
        job = self.new_job(body, prefix=family)
        job.extra["family"] = family
        return (
            200,
            {
                "code": 0,
                "message": "SUCCEED",
                "request_id": "req-1",
                "data": self.task(job, "submitted"),
            },
            {},
        )

    def task(self, job: Any, status: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "task_id": job.id,
            "task_status": status,
            "task_info": {"external_task_id": job.request.get("external_task_id", "")},
            "created_at": 1_700_000_000_000,
            "updated_at": 1_700_000_000_000,
        }
        if status == "succeed":
            data["task_result"] = {
                "videos": [{"id": "v1", "url": self.output_url(job), "duration": "5"}]
            }
        if status == "failed":
            data["task_status_msg"] = (
                "Failure to pass the risk control system: content moderation"
                if self.outcome == "moderation"
                else "internal rendering error"
            )
        return data

    def status_of(self, job: Any) -> str:
        state = self.advance(job)
        if state == "running":
            return "processing"
        return "succeed" if state == "success" else "failed"

    def query(self, request: Recorded, family: str, task_id: str) -> Answer:
        self.check_auth(request)
        job = self.jobs.get(task_id)
        if job is None or job.extra.get("family") != family:
            return self.error(404, 1203, "task not found")
        return (
            200,
            {
                "code": 0,
                "message": "SUCCEED",
                "request_id": "req-2",
                "data": self.task(job, self.status_of(job)),
            },
            {},
        )

    def callback_body(self, job: Any, status: str) -> dict[str, Any]:
        """What Kling POSTs to ``callback_url``: the poll body's ``data``."""
        return self.task(job, status)
