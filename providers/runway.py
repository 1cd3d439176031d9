"""Runway's developer API: image-to-video from the product image (``gen4_turbo``), text-to-video
where there is none (a Veo model Runway hosts, ``veo3.1`` by default).

Every call carries the API version header (``X-Runway-Version``): Runway refuses a call without
it. Jobs are tasks polled at ``/v1/tasks/{id}``; Runway sends no webhooks. A failed task carries a
``failureCode``: ``SAFETY.*`` codes are moderation and final.
"""

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
    data_uri,
    image_for_provider,
)

API_VERSION = "2024-11-06"
# A data URI may be 5 MB; base64 turns 3 bytes into 4 and the ``data:image/…;base64,`` prefix
# takes a few more, so the image itself must stay under three quarters of that.
DATA_URI_BYTES = 5 * 1024 * 1024
IMAGE_BYTES = (DATA_URI_BYTES - 64) * 3 // 4
# Runway names a ratio by its pixel size. gen4_turbo has a square one; Runway's Veo models do
# not, so a square job gets the landscape clip and normalization crops it.
IMAGE_RATIOS = {"16:9": "1280:720", "9:16": "720:1280", "1:1": "960:960"}
VEO_RATIOS = {"16:9": "1280:720", "9:16": "720:1280", "1:1": "1280:720"}
# Runway's Veo models make 4, 6 or 8 s (its own gen4 models 5 or 10).
VEO_DURATIONS = (4, 6, 8)
PROMPT_CHARS = 1000
SEED_LIMIT = 2**32


class RunwayBackend(RemoteBackend):
    provider = "runway"
    default_base_url = "https://api.dev.runwayml.com"
    default_model = "gen4_turbo"
    default_text_model = "veo3.1"
    webhooks = False
    durations = (5, 10)
    # Runway takes input images with a width/height between 0.5 and 2.
    image_limits = ImageLimits(max_bytes=IMAGE_BYTES, min_aspect=0.5, max_aspect=2.0)
    text_durations: ClassVar[tuple[int, ...]] = VEO_DURATIONS

    def __init__(self, *, text_model: str = "", **options: Any) -> None:
        super().__init__(**options)
        self.text_model = text_model or self.default_text_model

    def option_fingerprint(self) -> dict[str, Any]:
        # Segments without a product image are made by the text model: it changes the pixels.
        return {**super().option_fingerprint(), "text_model": self.text_model}

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "X-Runway-Version": API_VERSION}

    def classify(self, response: requests.Response, body: Any) -> ProviderFailure | None:
        status = response.status_code
        if status < 400:
            return None
        message = _error_text(body) or response.reason or f"HTTP {status}"
        if status == 400:
            # Runway reports an empty credit balance as a 400 whose text names the credits
            # (unconfirmed wording); everything else it answers 400 is a bad input.
            kind: FailureKind = "funds" if "credit" in message.lower() else "invalid"
            return self.failure(kind, message, status=status)
        return self.classify_status(response, body)

    def submit(self, job: RenderJob, *, callback_url: str = "", reference: str = "") -> Submitted:
        # Runway takes neither a callback URL nor a client reference.
        prompt = job.plan.prompt[:PROMPT_CHARS]
        if job.assets.product_image:
            image, mime = image_for_provider(job.assets.product_image, self.image_limits)
            endpoint = "/v1/image_to_video"
            body: dict[str, Any] = {
                "model": self.model,
                "promptImage": data_uri(image, mime),
                "promptText": prompt,
                "ratio": IMAGE_RATIOS.get(job.profile.aspect, "1280:720"),
                "duration": self.duration_for(job.plan.seconds),
                "seed": job.seed % SEED_LIMIT,
            }
        else:
            veo = self.text_model.startswith("veo")
            endpoint = "/v1/text_to_video"
            body = {
                "model": self.text_model,
                "promptText": prompt,
                "ratio": (VEO_RATIOS if veo else IMAGE_RATIOS).get(job.profile.aspect, "1280:720"),
                "duration": _closest(
                    job.plan.seconds, self.text_durations if veo else self.durations
                ),
            }
        answer = self.request("POST", endpoint, json=body)
        if not isinstance(answer, dict) or not answer.get("id"):
            raise self.failure("transient", f"created no task: {answer!r:.200}")
        return Submitted(job_id=str(answer["id"]))

    def poll(self, submitted: Submitted) -> JobStatus:
        task = self.request("GET", f"/v1/tasks/{submitted.job_id}")
        state = task.get("status")
        if state == "SUCCEEDED":
            output = task.get("output") or []
            if not output or not isinstance(output[0], str):
                return JobStatus(
                    "failed", failure=self.failure("transient", "succeeded without a video")
                )
            return JobStatus("succeeded", output_url=output[0], progress=1.0)
        if state == "FAILED":
            code = str(task.get("failureCode") or "")
            message = task.get("failure") or "the task failed"
            return JobStatus(
                "failed", failure=self.failure(failure_kind(code), message, code=code or None)
            )
        if state == "CANCELLED":
            # Someone cancelled or deleted the task on Runway's side: not ours to re-run.
            return JobStatus("failed", failure=self.failure("invalid", "the task was cancelled"))
        # PENDING, THROTTLED (queued behind the account's concurrency cap), RUNNING, and any
        # status Runway adds later: keep polling rather than fail a paid job.
        progress = task.get("progress")
        return JobStatus(
            "running", progress=float(progress) if isinstance(progress, int | float) else None
        )


def failure_kind(code: str) -> FailureKind:
    """What a task's ``failureCode`` means, after Runway's task-failure guide: moderation of the
    input or the output is final; a hiccup of Runway's own machinery (``INTERNAL``, moderation
    that could not run: ``INPUT_PREPROCESSING.INTERNAL``) may work on a new task; a rejected
    output (``INTERNAL.BAD_OUTPUT.*``, often text overlaid on the image) and a bad asset would
    fail again, so they are final."""
    if code.startswith("SAFETY.") or code.startswith("INPUT_PREPROCESSING.SAFETY"):
        return "moderation"
    if code.startswith("INTERNAL.BAD_OUTPUT"):
        return "invalid"
    if code == "INTERNAL" or code.endswith(".INTERNAL") or code.startswith("INTERNAL."):
        return "transient"
    return "invalid"


def _closest(seconds: float, durations: tuple[int, ...]) -> int:
    """``RemoteBackend.duration_for`` over another set of durations (the text model's)."""
    longer = [d for d in durations if d >= seconds]
    return min(longer) if longer else max(durations)


def _error_text(body: Any) -> str:
    """Runway's ``{"error": …}``, with the per-field ``issues`` of a validation error if any."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    text = error.get("message", "") if isinstance(error, dict) else str(error or "")
    issues = body.get("issues")
    if isinstance(issues, list):
        details = [
            str(i.get("message")) for i in issues if isinstance(i, dict) and i.get("message")
        ]
        if details:
            text = f"{text}: {'; '.join(details)}" if text else "; ".join(details)
    return text
