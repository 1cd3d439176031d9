"""The OpenAI Videos API shape (Sora): ``POST /v1/videos``, poll ``GET /v1/videos/{id}``, download
``GET /v1/videos/{id}/content`` with the API key.

OpenAI announced the shutdown of its own Videos API (2026-09-24); this adapter is kept generic
for compatible deployments, whose base URL is a setting. A product image goes as the
``input_reference`` file of a multipart/form-data request, resized to exactly the video size
(the API refuses a reference of another size); without one the request is plain JSON. Errors
are ``{"error": {"message", "type", "code"}}``. No webhooks: the job is polled.
"""

import io
from typing import Any

import requests
from PIL import Image, ImageOps

from videokit.job import RenderJob

from .remote import (
    FailureKind,
    ImageLimits,
    JobStatus,
    ProviderFailure,
    RemoteBackend,
    Submitted,
    image_for_provider,
)

# The 720p sizes every Sora model renders. There is no square size: a 1:1 profile gets the
# landscape frame, because the square the normalizer center-crops from it keeps the frame's
# full height, where a packshot (most are portrait or square) sits whole; the square of a
# portrait frame would cut a tall product's top and bottom.
SIZES = {"16:9": "1280x720", "9:16": "720x1280", "1:1": "1280x720"}
# Error codes (``error.code``, or ``error.type`` for quota) and what they mean.
FUNDS_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"}
MODERATION_CODES = {
    "moderation_blocked",
    "content_policy_violation",
    "content_filter",
    "safety_violation",
}
MODERATION_WORDS = ("moderation", "content policy", "safety system", "blocked by")


class OpenAIVideosBackend(RemoteBackend):
    provider = "openai_videos"
    default_base_url = "https://api.openai.com"
    default_model = "sora-2"
    durations = (4, 8, 12)
    image_limits = ImageLimits(max_bytes=10 * 1024 * 1024, min_side=300, max_side=4096)

    def classify(self, response: requests.Response, body: Any) -> ProviderFailure | None:
        status = response.status_code
        if status < 400:
            return None
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or "") or None
        # Compatible deployments do not all wrap their errors in ``error``.
        loose = body if isinstance(body, dict) else {}
        message = (
            str(error.get("message") or loose.get("detail") or loose.get("message") or "")
            or response.reason
            or f"HTTP {status}"
        )
        extra: dict[str, Any] = {"status": status, "code": code}
        # A 429 is either "slow down" (transient) or "out of credit" (final): only the code
        # tells them apart.
        if code in FUNDS_CODES or error.get("type") == "insufficient_quota":
            return self.failure("funds", message, **extra)
        # A prompt or reference refused at creation comes as a 400 (403/422 elsewhere).
        if status in (400, 403, 422) and _sounds_like_moderation(code, message):
            return self.failure("moderation", message, **extra)
        failure = self.classify_status(response, body)
        if failure is None:
            return None
        return self.failure(failure.kind, message, retry_after=failure.retry_after, **extra)

    def submit(self, job: RenderJob, *, callback_url: str = "", reference: str = "") -> Submitted:
        # The Videos API takes neither a callback nor a client reference; the core persists
        # the video id. Nor a negative prompt.
        size = _size_for(job.profile.aspect)
        fields = {
            "model": self.model,
            "prompt": job.plan.prompt,
            "seconds": str(self.duration_for(job.plan.seconds)),
            "size": size,
        }
        if job.assets.product_image:
            reference_image, mime = self._reference(job.assets.product_image, size)
            name = "product.png" if mime == "image/png" else "product.jpg"
            answer = self.request(
                "POST",
                "/v1/videos",
                data=fields,
                files={"input_reference": (name, reference_image, mime)},
            )
        else:
            answer = self.request("POST", "/v1/videos", json=fields)
        if not isinstance(answer, dict) or not answer.get("id"):
            raise self.failure("transient", f"created no video: {answer!r:.200}")
        return Submitted(job_id=str(answer["id"]))

    def poll(self, submitted: Submitted) -> JobStatus:
        answer = self.request("GET", f"/v1/videos/{submitted.job_id}")
        progress = answer.get("progress")
        # The provider counts 0–100; JobStatus carries a fraction.
        fraction = (
            min(1.0, max(0.0, float(progress) / 100)) if isinstance(progress, int | float) else None
        )
        status = answer.get("status")
        if status == "completed":
            return JobStatus(
                "succeeded",
                output_url=f"{self.base_url}/v1/videos/{submitted.job_id}/content",
                progress=1.0,
                # The content endpoint wants the API key, unlike a provider's public file URL.
                download_headers=self.auth_headers(),
            )
        if status == "failed":
            error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
            code = str(error.get("code") or "") or None
            message = str(error.get("message") or "the video failed")
            kind: FailureKind = (
                "moderation" if _sounds_like_moderation(code, message) else "invalid"
            )
            return JobStatus("failed", failure=self.failure(kind, message, code=code))
        # queued, in_progress, and any status a compatible deployment adds: keep polling.
        return JobStatus("running", progress=fraction)

    def _reference(self, product_image: bytes, size: str) -> tuple[bytes, str]:
        """The product image as the ``input_reference`` file: flattened on white, fitted into
        exactly ``size`` (white around it, nothing cropped), PNG or JPEG within the limit."""
        prepared, mime = image_for_provider(product_image, self.image_limits)
        width, height = (int(side) for side in size.split("x"))
        with Image.open(io.BytesIO(prepared)) as source:
            fitted = ImageOps.pad(
                source.convert("RGB"), (width, height), Image.Resampling.LANCZOS, color="white"
            )
        buffer = io.BytesIO()
        if mime == "image/png":
            fitted.save(buffer, "PNG", optimize=True)
            if buffer.tell() <= self.image_limits.max_bytes:
                return buffer.getvalue(), "image/png"
            buffer = io.BytesIO()
        fitted.save(buffer, "JPEG", quality=90)
        return buffer.getvalue(), "image/jpeg"


def _size_for(aspect: str) -> str:
    """The video size of a profile aspect; an aspect not listed gets the orientation nearest
    to it (the clip is center-cropped to the profile when normalized)."""
    if aspect in SIZES:
        return SIZES[aspect]
    try:
        width, height = (float(part) for part in aspect.split(":"))
    except ValueError:
        return SIZES["16:9"]
    return SIZES["9:16"] if width < height else SIZES["16:9"]


def _sounds_like_moderation(code: str | None, message: str) -> bool:
    if code in MODERATION_CODES:
        return True
    text = message.lower()
    return any(word in text for word in MODERATION_WORDS)
