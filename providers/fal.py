"""fal.ai's queue: one adapter for any hosted model id (``fal-ai/kling-video/v2.1/standard/
image-to-video`` by default).

``POST {base}/{model_id}`` with the model's inputs as the body (``Authorization: Key …``)
answers a ``request_id`` with the ``status_url`` and ``response_url`` to follow. Those are used
as given, never rebuilt: fal drops a model id's sub-path from them (the status of
``fal-ai/kling-video/v2.1/…`` lives under ``fal-ai/kling-video/requests/…``), and the host may
differ. A request is ``IN_QUEUE``, ``IN_PROGRESS``, then ``COMPLETED``; whether it worked is
known only from its result: ``{"video": {"url"}}`` or the error the model answered.

How a job becomes the model's inputs is an option, as for Replicate (``InputMapping``).
Webhooks (``?fal_webhook=``) are signed with ED25519; the public keys are fal's JWKS ``x``
values.
"""

import base64
import binascii
import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from videokit.job import RenderJob

from .remote import (
    FailureKind,
    ImageLimits,
    JobStatus,
    ProviderFailure,
    RemoteBackend,
    Submitted,
    data_uri,
    image_for_provider,
)
from .replicate import InputMapping, header, job_values

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "fal-ai/kling-video/v2.1/standard/image-to-video"
# The default model's documented inputs: prompt and image_url required, duration the string
# "5" or "10"; its cfg_scale and negative prompt have defaults.
KLING_INPUTS = {
    "prompt": "prompt",
    "image_url": "image",
    "duration": "duration",
    "negative_prompt": "negative_prompt",
}
RUNNING = frozenset({"IN_QUEUE", "IN_PROGRESS"})
# COMPLETED is the documented end; the others are tolerated (seen in third-party schemas).
FINISHED = frozenset({"COMPLETED", "FAILED", "ERROR", "CANCELED", "CANCELLED"})
# fal refuses a webhook timestamp more than five minutes off; so does this side.
WEBHOOK_TOLERANCE_SECONDS = 5 * 60
MODERATION_WORDS = ("content_policy", "content policy", "nsfw", "flagged", "content checker")


class FalBackend(RemoteBackend):
    provider = "fal"
    default_base_url = "https://queue.fal.run"
    default_model = DEFAULT_MODEL
    webhooks = True
    durations = (5, 10)
    # fal documents no size limit for data URIs (it recommends its CDN for files): a modest
    # image keeps the request small; video models work at 720p–1080p anyway.
    image_limits = ImageLimits(max_bytes=2 * 1024 * 1024, min_side=300, max_side=1920)

    def __init__(
        self,
        *,
        inputs: Mapping[str, str] | None = None,
        extra_inputs: Mapping[str, Any] | None = None,
        durations: Sequence[int] = (),
        webhook_public_keys: Sequence[str] = (),
        **options: Any,
    ) -> None:
        super().__init__(**options)
        parts = self.model.split("/")
        if len(parts) < 2 or not all(parts):
            raise ValueError(f"A fal model id is 'owner/app[/path]'; got {self.model!r}.")
        self.mapping = InputMapping.for_model(
            model=self.model,
            default_model=DEFAULT_MODEL,
            inputs=inputs,
            extra_inputs=extra_inputs,
            defaults=(KLING_INPUTS, {}),
        )
        # The model's clip lengths, when they are not Kling's 5 and 10 s.
        self.model_durations = tuple(durations) or type(self).durations
        self.webhook_keys = [_public_key(key) for key in webhook_public_keys]
        self._warned_unverified = False

    def option_fingerprint(self) -> dict[str, Any]:
        return {
            **super().option_fingerprint(),
            **self.mapping.fingerprint(),
            "durations": list(self.model_durations),
        }

    def duration_for(self, seconds: float) -> int:
        longer = [d for d in self.model_durations if d >= seconds]
        return min(longer) if longer else max(self.model_durations)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.api_key}"}

    def classify(self, response: requests.Response, body: Any) -> ProviderFailure | None:
        status = response.status_code
        if status < 400:
            return None
        detail = body.get("detail") if isinstance(body, dict) else body
        message = _detail_text(detail) or response.reason or f"HTTP {status}"
        # Request errors (a runner that crashed or timed out, after fal's own retries) say
        # what happened in error_type, also sent as a header.
        error_type = (body.get("error_type") if isinstance(body, dict) else None) or (
            response.headers.get("X-Fal-Error-Type")
        )
        if status == 403 and "balance" in message.lower():
            # "User is locked. Reason: Exhausted balance. Top up your balance at …"
            return self.failure("funds", message, status=status, code=error_type)
        if 400 <= status < 500 and _is_moderation(detail):
            return self.failure(
                "moderation", message, status=status, code="content_policy_violation"
            )
        failure = self.classify_status(response, body)
        if failure is None:
            return None
        return self.failure(
            failure.kind, message, status=status, code=error_type, retry_after=failure.retry_after
        )

    def submit(self, job: RenderJob, *, callback_url: str = "", reference: str = "") -> Submitted:
        values = job_values(
            self,
            job,
            image=lambda data: data_uri(*image_for_provider(data, self.image_limits)),
            # A string: fal's video models take "5"/"10" (an enum of strings), not a number.
            duration=str(self.duration_for(job.plan.seconds)),
        )
        params = {"fal_webhook": callback_url} if callback_url else None
        # fal takes no client reference: the request id is recorded on the segment.
        answer = self.request(
            "POST", f"/{self.model}", json=self.mapping.inputs(values), params=params
        )
        if not isinstance(answer, dict) or not answer.get("request_id"):
            raise self.failure("transient", f"queued no request: {answer!r:.200}")
        # Without its URLs the request is still recorded (a paid job is not made twice); the
        # poll then fails it, and the segment falls back.
        return Submitted(
            job_id=str(answer["request_id"]),
            data={
                key: answer[key]
                for key in ("status_url", "response_url", "cancel_url")
                if answer.get(key)
            },
        )

    def poll(self, submitted: Submitted) -> JobStatus:
        status_url, response_url = (
            submitted.data.get("status_url"),
            submitted.data.get("response_url"),
        )
        if not status_url or not response_url:
            # fal's URLs cannot be rebuilt from the model id (see above): without them the
            # request cannot be followed, and the segment must fall back.
            raise self.failure("invalid", f"request {submitted.job_id} has no status URLs")
        answer = self.request("GET", status_url)
        state = answer.get("status") if isinstance(answer, dict) else None
        if state in RUNNING:
            return JobStatus("running")
        if state not in FINISHED:
            # Most likely a new intermediate status: poll again rather than fail the job.
            logger.warning("fal: unknown request status %r; polling on", state)
            return JobStatus("running")
        try:
            result = self.request("GET", response_url)
        except ProviderFailure as failure:
            # The result of a finished request does not change: a refusal, a bad input, or a
            # request error (error_type: fal already retried it) is this job's end. A bare
            # gateway 5xx is not: the next poll asks again.
            if failure.final or failure.code or answer.get("error") or state != "COMPLETED":
                return JobStatus("failed", failure=failure)
            raise
        return self._result(result)

    def webhook(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[str, JobStatus]:
        request_id = str(body.get("request_id", ""))
        payload = body.get("payload")
        if body.get("status") == "OK":
            if not isinstance(payload, dict):
                # payload_error: the result did not fit in the callback; a poll reads it.
                return request_id, JobStatus("running")
            return request_id, self._result(payload)
        detail = payload.get("detail") if isinstance(payload, dict) else None
        message = _detail_text(detail) or str(body.get("error") or "the request failed")
        kind: FailureKind = "moderation" if _is_moderation(detail) else "invalid"
        return request_id, JobStatus("failed", failure=self.failure(kind, message))

    def verify_webhook(self, raw: bytes, headers: Mapping[str, str]) -> bool:
        if not self.webhook_keys:
            if not self._warned_unverified:
                logger.warning(
                    "%s: fal webhooks are not verified: no webhook_public_keys are configured "
                    "(the x values of fal's JWKS)",
                    self.alias,
                )
                self._warned_unverified = True
            return True
        request_id = header(headers, "X-Fal-Webhook-Request-Id")
        user_id = header(headers, "X-Fal-Webhook-User-Id")
        timestamp = header(headers, "X-Fal-Webhook-Timestamp")
        try:
            signature = bytes.fromhex(header(headers, "X-Fal-Webhook-Signature"))
        except ValueError:
            return False
        if not (request_id and user_id and timestamp.isdigit() and signature):
            return False
        if abs(time.time() - int(timestamp)) > WEBHOOK_TOLERANCE_SECONDS:
            return False
        message = "\n".join(
            [request_id, user_id, timestamp, hashlib.sha256(raw).hexdigest()]
        ).encode()
        # Several keys while fal rotates them: any one that verifies will do.
        for key in self.webhook_keys:
            try:
                key.verify(signature, message)
            except InvalidSignature:
                continue
            return True
        return False

    def _result(self, result: Mapping[str, Any]) -> JobStatus:
        url = _video_url(result)
        if not url:
            return JobStatus(
                "failed", failure=self.failure("transient", "completed without a video")
            )
        return JobStatus("succeeded", output_url=url)


def _public_key(value: str) -> Ed25519PublicKey:
    """A JWKS ``x`` value: the raw 32-byte key, base64url, usually without padding."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise ValueError(
            f"webhook_public_keys holds base64url raw ED25519 keys (JWKS x values); got {value!r}."
        ) from None


def _video_url(result: Mapping[str, Any]) -> str:
    """``{"video": {"url"}}``; some models answer a list of ``videos``."""
    video = result.get("video")
    if not video and isinstance(result.get("videos"), list) and result["videos"]:
        video = result["videos"][0]
    if isinstance(video, dict):
        return str(video.get("url") or "")
    return video if isinstance(video, str) else ""


def _detail_text(detail: Any) -> str:
    """fal's error text: a string (request errors), or a list of ``{"loc", "msg", "type"}``
    (model errors, one per bad input)."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if not isinstance(item, dict):
                parts.append(str(item))
                continue
            where = ".".join(str(part) for part in (item.get("loc") or [])[1:])
            message = str(item.get("msg") or item.get("type") or "")
            parts.append(f"{where}: {message}" if where else message)
        return "; ".join(part for part in parts if part)
    if isinstance(detail, dict):
        return str(detail.get("msg") or detail.get("message") or "")
    return ""


def _is_moderation(detail: Any) -> bool:
    """A content refusal: a ``content_policy_violation`` item, or text that says so."""
    items = detail if isinstance(detail, list) else [detail]
    if any(
        isinstance(item, dict) and item.get("type") == "content_policy_violation" for item in items
    ):
        return True
    text = _detail_text(detail).lower()
    return any(word in text for word in MODERATION_WORDS)
