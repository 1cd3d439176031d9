"""Kling (Kuaishou), the official API: image-to-video from the product image, text-to-video
where there is none.

Auth is a short-lived HS256 JWT made from the access key and signed with the secret key
(``api_key`` is ``ACCESS_KEY:SECRET_KEY``), renewed well before it expires. Errors come as an
HTTP status plus a ``code`` in the body. Kling calls ``callback_url`` with the poll body.
"""

import time
from collections.abc import Mapping
from typing import Any, ClassVar

import jwt
import requests

from videokit.job import RenderJob

from .remote import (
    FailureKind,
    ImageLimits,
    JobStatus,
    ProviderFailure,
    RemoteBackend,
    Submitted,
    image_for_provider,
    raw_base64,
)

TOKEN_SECONDS = 1800
# Kling's error codes (body ``code``): what each means for the rendering core.
AUTH_CODES = {1000, 1001, 1002, 1003, 1004}
FUNDS_CODES = {1101, 1102, 1103}
MODERATION_CODES = {1301}
INVALID_CODES = {1200, 1201, 1202, 1203, 1300}
TRANSIENT_CODES = {1302, 1303, 1304, 5000, 5001, 5002}
ASPECTS = {"16:9": "16:9", "9:16": "9:16", "1:1": "1:1"}


def kling_token(access_key: str, secret_key: str, now: float | None = None) -> str:
    """The JWT Kling wants: HS256, ``iss`` the access key, valid from 5 s ago for 30 min.

    PyJWT writes the header ``{"alg": "HS256", "typ": "JWT"}``; the claims are exactly the three
    Kling documents (no ``iat``), so a token is the one its own samples make.
    """
    issued = int(now if now is not None else time.time())
    claims = {"iss": access_key, "exp": issued + TOKEN_SECONDS, "nbf": issued - 5}
    return jwt.encode(claims, secret_key, algorithm="HS256", headers={"typ": "JWT"})


class KlingBackend(RemoteBackend):
    provider = "kling"
    default_base_url = "https://api-singapore.klingai.com"
    default_model = "kling-v2-1"
    webhooks = True
    durations = (5, 10)
    image_limits = ImageLimits(max_bytes=10 * 1024 * 1024, min_side=300, max_side=4096)
    modes: ClassVar[tuple[str, ...]] = ("std", "pro")

    def __init__(self, *, mode: str = "std", **options: Any) -> None:
        super().__init__(**options)
        if mode not in self.modes:
            raise ValueError(f"Kling mode must be one of {', '.join(self.modes)}; got {mode!r}.")
        self.mode = mode
        self._token = ("", 0.0)

    def option_fingerprint(self) -> dict[str, Any]:
        return {**super().option_fingerprint(), "mode": self.mode}

    def auth_headers(self) -> dict[str, str]:
        token, expires = self._token
        now = time.time()
        if not token or now > expires - 300:  # renew five minutes before it expires
            access, _, secret = self.api_key.partition(":")
            token = kling_token(access, secret, now)
            self._token = (token, now + TOKEN_SECONDS)
        return {"Authorization": f"Bearer {token}"}

    def classify(self, response: requests.Response, body: Any) -> ProviderFailure | None:
        code = body.get("code") if isinstance(body, dict) else None
        if response.status_code < 400 and code in (0, None):
            return None
        message = (body or {}).get("message") if isinstance(body, dict) else None
        message = message or response.reason or f"HTTP {response.status_code}"
        if isinstance(code, int) and code != 0:
            extra = {"status": response.status_code, "code": str(code)}
            if code in AUTH_CODES:
                return self.failure("auth", message, **extra)
            if code in FUNDS_CODES:
                return self.failure("funds", message, **extra)
            if code in MODERATION_CODES:
                return self.failure("moderation", message, **extra)
            if code in INVALID_CODES:
                return self.failure("invalid", message, **extra)
            if code in TRANSIENT_CODES:
                return self.failure("transient", message, **extra)
        return self.classify_status(response, body)

    def _family(self, job: RenderJob) -> str:
        return "image2video" if job.assets.product_image else "text2video"

    def submit(self, job: RenderJob, *, callback_url: str = "", reference: str = "") -> Submitted:
        family = self._family(job)
        body: dict[str, Any] = {
            "model_name": self.model,
            "prompt": job.plan.prompt[:2500],
            "negative_prompt": job.plan.negative_prompt[:2500],
            "mode": self.mode,
            "duration": str(self.duration_for(job.plan.seconds)),
        }
        if family == "image2video":
            image, _ = image_for_provider(job.assets.product_image or b"", self.image_limits)
            body["image"] = raw_base64(image)  # raw base64: Kling refuses a data: prefix
        else:
            body["aspect_ratio"] = ASPECTS.get(job.profile.aspect, "16:9")
        if callback_url:
            body["callback_url"] = callback_url
        if reference:
            body["external_task_id"] = reference
        answer = self.request("POST", f"/v1/videos/{family}", json=body)
        data = answer.get("data") or {}
        if not data.get("task_id"):
            raise self.failure("transient", f"created no task: {answer!r:.200}")
        return Submitted(job_id=str(data["task_id"]), data={"family": family})

    def poll(self, submitted: Submitted) -> JobStatus:
        family = submitted.data.get("family", "image2video")
        answer = self.request("GET", f"/v1/videos/{family}/{submitted.job_id}")
        return self._status(answer)

    def webhook(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[str, JobStatus]:
        inner = body.get("data")
        data = inner if isinstance(inner, dict) else body
        return str(data.get("task_id", "")), self._status({"data": data})

    def _status(self, answer: Mapping[str, Any]) -> JobStatus:
        data = answer.get("data") or {}
        state = data.get("task_status")
        if state == "succeed":
            videos = (data.get("task_result") or {}).get("videos") or []
            if not videos or not videos[0].get("url"):
                return JobStatus(
                    "failed", failure=self.failure("transient", "succeeded without a video")
                )
            return JobStatus("succeeded", output_url=videos[0]["url"])
        if state == "failed":
            message = data.get("task_status_msg") or "the task failed"
            kind: FailureKind = "moderation" if _sounds_like_moderation(message) else "invalid"
            return JobStatus("failed", failure=self.failure(kind, message))
        return JobStatus("running")


def _sounds_like_moderation(message: str) -> bool:
    text = message.lower()
    return any(word in text for word in ("moderation", "sensitive", "risk", "policy", "violat"))
