"""Seedance (ByteDance), through Volcengine Ark (China) or BytePlus ModelArk (elsewhere): the two
share one protocol; only the base URL and the model ids differ (Volcengine's carry a
``doubao-`` prefix).

One endpoint makes both image-to-video and text-to-video: the ``content`` array holds the prompt
and, when there is a product image, the image as the clip's first frame. Errors come as an HTTP
status plus ``{"error": {"code", "message"}}``; a task that fails carries the same ``error`` in
its poll body. Ark POSTs the poll body to ``callback_url`` on every status change.
"""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import requests

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

# Region → (base URL, default model). Volcengine names the same model with a ``doubao-`` prefix.
REGIONS: dict[str, tuple[str, str]] = {
    "ap-southeast": ("https://ark.ap-southeast.bytepluses.com/api/v3", "seedance-1-0-pro-250528"),
    "cn-beijing": ("https://ark.cn-beijing.volces.com/api/v3", "doubao-seedance-1-0-pro-250528"),
}
RATIOS = frozenset({"16:9", "9:16", "1:1", "4:3", "3:4", "21:9"})
RESOLUTIONS = ("480p", "720p", "1080p")
# Error codes that are not what their HTTP status alone says. 403 is "auth" by default, but
# AccountOverdueError is an unpaid bill. ModelNotOpen (404) means the model was never
# activated in the operator's console: like a wrong key, only the operator can fix it, and
# "invalid" would wrongly blame the merchant's input. SetLimitExceeded (429) is the spending
# cap the operator set on the account (quota codes are unconfirmed in PROVIDERS.md): retrying
# it only burns the retries.
FUNDS_CODES = frozenset({"AccountOverdueError", "SetLimitExceeded"})
# InputImageSensitiveContentDetected, InputTextSensitiveContentDetected,
# OutputVideoSensitiveContentDetected, and the dotted sub-codes Ark appends to them.
MODERATION_MARK = "SensitiveContentDetected"
SEED_RANGE = 2**32  # Ark takes seeds in [-1, 2**32 - 1]; -1 means random


class SeedanceBackend(RemoteBackend):
    provider = "seedance"
    default_base_url = REGIONS["ap-southeast"][0]
    default_model = REGIONS["ap-southeast"][1]
    webhooks = True
    durations = tuple(range(2, 13))
    # Documented: 300–6000 px a side, aspect 0.4–2.5, under 30 MB.
    image_limits = ImageLimits(
        max_bytes=30 * 1024 * 1024 - 1, min_side=300, max_side=6000, formats=("PNG", "JPEG")
    )

    def __init__(
        self,
        *,
        region: str = "",
        resolution: str = "720p",
        camera_fixed: bool = False,
        watermark: bool = False,
        **options: Any,
    ) -> None:
        # Without a region, the base URL says which one (an operator who only points
        # SCENECART_SEEDANCE_BASE_URL at Volcengine gets Volcengine's model id too).
        region = region or (
            "cn-beijing" if "volces.com" in (options.get("base_url") or "") else "ap-southeast"
        )
        if region not in REGIONS:
            raise ValueError(
                f"Seedance region must be one of {', '.join(REGIONS)}; got {region!r}."
            )
        if resolution not in RESOLUTIONS:
            raise ValueError(
                f"Seedance resolution must be one of {', '.join(RESOLUTIONS)}; got {resolution!r}."
            )
        base_url, model = REGIONS[region]
        options["base_url"] = options.get("base_url") or base_url
        options["model"] = options.get("model") or model
        super().__init__(**options)
        self.region = region
        # 720p by default: the 16:9 house profile is 1280×720, and Ark bills by tokens, which
        # grow with the pixels.
        self.resolution = resolution
        # The planner always moves the camera, so a fixed camera is an operator's choice.
        self.camera_fixed = camera_fixed
        # Off by default: a merchant's product video must not carry the provider's mark.
        self.watermark = watermark

    def option_fingerprint(self) -> dict[str, Any]:
        return {
            **super().option_fingerprint(),
            "resolution": self.resolution,
            "camera_fixed": self.camera_fixed,
            "watermark": self.watermark,
        }

    def classify(self, response: requests.Response, body: Any) -> ProviderFailure | None:
        # A poll answer is 200 even when the task failed; its ``error`` is the task's, read by
        # ``_status``, not a failure of the request.
        if response.status_code < 400:
            return None
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or "")
        if code:
            message = str(error.get("message") or code)
            extra = {"status": response.status_code, "code": code}
            if MODERATION_MARK in code:
                return self.failure("moderation", message, **extra)
            if code in FUNDS_CODES:
                return self.failure("funds", message, **extra)
            if code == "ModelNotOpen":
                return self.failure(
                    "auth",
                    f"{message} (activate {self.model} in the ModelArk console)",
                    **extra,
                )
        failure = self.classify_status(response, body)
        if failure is not None and code:
            failure.code = code
        return failure

    def submit(self, job: RenderJob, *, callback_url: str = "", reference: str = "") -> Submitted:
        # Ark takes no client reference, so ``reference`` is not sent.
        ratio = job.profile.aspect if job.profile.aspect in RATIOS else ""
        content: list[dict[str, Any]] = [{"type": "text", "text": job.plan.prompt}]
        if job.assets.product_image:
            image, mime = image_for_provider(job.assets.product_image, self._limits(job, ratio))
            content.append(
                {
                    "type": "image_url",
                    "image_url": {"url": data_uri(image, mime)},
                    "role": "first_frame",
                }
            )
        body: dict[str, Any] = {
            "model": self.model,
            "content": content,
            # Without an image there is nothing to adapt to, and "adaptive" needs one.
            "ratio": ratio or ("adaptive" if job.assets.product_image else "16:9"),
            "duration": self._duration(job),
            "resolution": self.resolution,
            "seed": job.seed % SEED_RANGE,
            "camera_fixed": self.camera_fixed,
            "watermark": self.watermark,
        }
        if callback_url:
            body["callback_url"] = callback_url
        answer = self.request("POST", "/contents/generations/tasks", json=body)
        if not answer.get("id"):
            raise self.failure("transient", f"created no task: {answer!r:.200}")
        return Submitted(job_id=str(answer["id"]))

    def _duration(self, job: RenderJob) -> int:
        """A clip at least as long as the plan: a shorter one would fail verification after
        it was paid for, so it is refused before it is made."""
        seconds = self.duration_for(job.plan.seconds)
        if seconds < job.plan.seconds:
            raise self.failure(
                "invalid",
                f"Seedance makes clips of at most {seconds} s; the {job.plan.kind} segment "
                f"lasts {job.plan.seconds:g} s",
            )
        return seconds

    def _limits(self, job: RenderJob, ratio: str) -> ImageLimits:
        """The first frame padded to the clip's ratio: Ark crops a first frame of another shape
        to the ratio asked, which can cut the product off; white bars keep all of it."""
        if not ratio:
            return self.image_limits
        width, height = (int(side) for side in ratio.split(":"))
        return replace(self.image_limits, min_aspect=width / height, max_aspect=width / height)

    def poll(self, submitted: Submitted) -> JobStatus:
        return self._status(self.request("GET", f"/contents/generations/tasks/{submitted.job_id}"))

    def webhook(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[str, JobStatus]:
        # Ark POSTs the poll body itself.
        return str(body.get("id", "")), self._status(body)

    def _status(self, answer: Mapping[str, Any]) -> JobStatus:
        state = answer.get("status")
        if state == "succeeded":
            url = (answer.get("content") or {}).get("video_url")
            if not url:
                return JobStatus(
                    "failed", failure=self.failure("transient", "succeeded without a video")
                )
            return JobStatus("succeeded", output_url=str(url))
        if state == "failed":
            error = answer.get("error") or {}
            code = str(error.get("code") or "")
            message = str(error.get("message") or "the task failed")
            moderated = MODERATION_MARK in code or _sounds_like_moderation(message)
            kind: FailureKind = "moderation" if moderated else "invalid"
            return JobStatus("failed", failure=self.failure(kind, message, code=code or None))
        if state == "expired":
            # The task waited in Ark's queue past its deadline and never ran: nothing is wrong
            # with the input, a new task may well go through.
            return JobStatus(
                "failed",
                failure=self.failure("transient", "the task expired in the queue before it ran"),
            )
        if state == "cancelled":
            return JobStatus("failed", failure=self.failure("invalid", "the task was cancelled"))
        # queued, running, and any status Ark adds later: keep polling.
        return JobStatus("running")


def _sounds_like_moderation(message: str) -> bool:
    text = message.lower()
    return any(word in text for word in ("sensitive", "moderation", "policy", "violat"))
