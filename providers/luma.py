"""Luma Dream Machine: image-to-video from a public URL of the product image, text-to-video
where there is none.

Luma takes keyframe images as URLs only (no data URIs, no uploads), so the adapter cannot send
the bytes it is given. It says so with ``needs_image_url``: the rendering core puts a
short-lived public (presigned) URL of the product image in ``job.assets.hashes
["product_image_url"]``, made from ``image_to_publish(job)`` (the cutout flattened on white:
Luma gets what every other provider gets). Without one the adapter falls back to text-to-video
and logs why. Errors are FastAPI-shaped ``{"detail": …}``; Luma POSTs the generation object to
``callback_url`` when a generation starts dreaming, completes or fails.
"""

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

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
)

logger = logging.getLogger(__name__)

PATH = "/dream-machine/v1/generations"
# The ratios Luma renders, as width / height: a profile aspect it lacks gets the closest.
ASPECTS = {
    "16:9": 16 / 9,
    "9:16": 9 / 16,
    "1:1": 1.0,
    "4:3": 4 / 3,
    "3:4": 3 / 4,
    "21:9": 21 / 9,
    "9:21": 9 / 21,
}
RESOLUTIONS = ("540p", "720p", "1080p", "4k")
# Luma documents no error codes, only messages: these words in a ``detail`` or a
# ``failure_reason`` ("400: prompt not allowed because advanced moderation failed") mean a
# refusal of the content, or an account out of credit.
MODERATION_WORDS = ("moderation", "policy", "blocked", "unsafe")
FUNDS_WORDS = ("insufficient credit", "not enough credit", "credit balance", "out of credit")


class LumaBackend(RemoteBackend):
    provider = "luma"
    default_base_url = "https://api.lumalabs.ai"
    default_model = "ray-2"
    webhooks = True
    durations = (5, 9)
    # The rendering core reads this: Luma fetches the product image itself, from a URL.
    needs_image_url: ClassVar[bool] = True
    # What the published image should be; Luma documents no limits, these are the common ones.
    image_limits = ImageLimits(max_bytes=10 * 1024 * 1024, min_side=300, max_side=4096)

    def __init__(self, *, resolution: str = "720p", **options: Any) -> None:
        super().__init__(**options)
        if resolution not in RESOLUTIONS:
            raise ValueError(
                f"Luma resolution must be one of {', '.join(RESOLUTIONS)}; got {resolution!r}."
            )
        self.resolution = resolution

    def option_fingerprint(self) -> dict[str, Any]:
        return {**super().option_fingerprint(), "resolution": self.resolution}

    def image_to_publish(self, job: RenderJob) -> tuple[bytes, str] | None:
        """The product image as the core should store and presign it for Luma (flattened on
        white, within the limits), or None when the job has none."""
        if not job.assets.product_image:
            return None
        return image_for_provider(job.assets.product_image, self.image_limits)

    def classify(self, response: requests.Response, body: Any) -> ProviderFailure | None:
        status = response.status_code
        if status < 400:
            return None
        message = _detail_of(body) or response.reason or f"HTTP {status}"
        text = message.lower()
        # A refusal of the prompt and a spent balance arrive as plain 400s: read the words.
        if status == 400 and any(word in text for word in MODERATION_WORDS):
            return self.failure("moderation", message, status=status)
        if status in (400, 402) and any(word in text for word in FUNDS_WORDS):
            return self.failure("funds", message, status=status)
        failure = self.classify_status(response, body)
        if failure is None:
            return None
        # The generic reading, with the message read from list-shaped (validation) details too.
        return self.failure(failure.kind, message, status=status, retry_after=failure.retry_after)

    def submit(self, job: RenderJob, *, callback_url: str = "", reference: str = "") -> Submitted:
        # Luma takes no client reference: the generation id is persisted by the core.
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": job.plan.prompt,
            "aspect_ratio": _closest_aspect(job.profile.aspect),
            "duration": f"{self.duration_for(job.plan.seconds)}s",
            "resolution": self.resolution,
        }
        # No negative prompt: Luma's video generations have no such field.
        image_url = self._image_url(job)
        if image_url:
            body["keyframes"] = {"frame0": {"type": "image", "url": image_url}}
        if callback_url:
            body["callback_url"] = callback_url
        answer = self.request("POST", PATH, json=body)
        if not isinstance(answer, dict) or not answer.get("id"):
            raise self.failure("transient", f"created no generation: {answer!r:.200}")
        return Submitted(job_id=str(answer["id"]), data={"keyframes": bool(image_url)})

    def poll(self, submitted: Submitted) -> JobStatus:
        return self._status(self.request("GET", f"{PATH}/{submitted.job_id}"))

    def webhook(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[str, JobStatus]:
        # The callback body is the generation object, as a poll returns it.
        return str(body.get("id", "")), self._status(body)

    def _image_url(self, job: RenderJob) -> str:
        """The public URL of the product image, or "" (text-to-video) with the reason logged."""
        url = job.assets.hashes.get("product_image_url", "")
        if not url and not job.assets.product_image:
            return ""  # a shot without the product: text-to-video is what it asks for
        if not url.startswith(("https://", "http://")):
            # Luma fetches the image itself. Without a URL it can reach, a text-only clip would
            # be cached under a key that names the product image, and never redone: refuse, so
            # the segment goes to the next backend of the fallback chain instead.
            raise self.failure(
                "invalid",
                "Luma needs the product image at a public URL and has none (local storage "
                "cannot be fetched from outside: use S3 storage, or another provider)",
            )
        return url

    def _status(self, answer: Mapping[str, Any]) -> JobStatus:
        state = answer.get("state")
        if state == "completed":
            video = (answer.get("assets") or {}).get("video")
            if not video:
                return JobStatus(
                    "failed", failure=self.failure("transient", "completed without a video")
                )
            return JobStatus("succeeded", output_url=str(video))
        if state == "failed":
            reason = str(answer.get("failure_reason") or "the generation failed")
            text = reason.lower()
            moderated = any(word in text for word in MODERATION_WORDS)
            kind: FailureKind = "moderation" if moderated else "invalid"
            return JobStatus("failed", failure=self.failure(kind, reason))
        # queued, dreaming, and any state Luma adds later: keep polling.
        return JobStatus("running")


def _closest_aspect(aspect: str) -> str:
    """The profile aspect if Luma renders it, else the Luma ratio nearest to it (the clip is
    center-cropped to the profile when normalized)."""
    if aspect in ASPECTS:
        return aspect
    try:
        width, height = (float(part) for part in aspect.split(":"))
        ratio = width / height
    except (ValueError, ZeroDivisionError):
        return "16:9"
    return min(ASPECTS, key=lambda name: abs(ASPECTS[name] - ratio))


def _detail_of(body: Any) -> str:
    """Luma's error text: ``detail`` is a string, or a list of FastAPI validation errors
    (``[{"type": "image_load_error", "msg": …}]``)."""
    if not isinstance(body, dict):
        return ""
    detail = body.get("detail")
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                text = item.get("msg") or item.get("message") or item.get("type") or ""
                parts.append(str(text))
            else:
                parts.append(str(item))
        return "; ".join(part for part in parts if part)
    if detail:
        return str(detail)
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or "")
    return str(error or body.get("message") or "")
