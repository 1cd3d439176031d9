"""Google Veo through the Gemini API: one ``predictLongRunning`` call starts a long-running
operation, polled until ``done``; the product image (if any) goes in as base64 bytes.

Google authenticates with an ``x-goog-api-key`` header (not a bearer token), on the API calls
and on the generated file, and answers errors as ``{"error": {"code", "message", "status"}}``
with a gRPC status name. A refusal by the safety filters is not an error: the operation ends
without samples and says how many were filtered and why.
"""

from typing import Any, ClassVar
from urllib.parse import urlsplit

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
    retry_after_seconds,
)

# Veo makes 16:9 or 9:16 only: a square job gets the landscape clip, and normalization crops
# it to the square profile (the product sits in the middle of the frame).
ASPECTS = {"16:9": "16:9", "9:16": "9:16", "1:1": "16:9"}
SEED_LIMIT = 2**32
# gRPC status names (HTTP errors) and numbers (a finished operation's ``error.code``).
STATUS_KINDS: dict[str, FailureKind] = {
    "UNAUTHENTICATED": "auth",
    "PERMISSION_DENIED": "auth",
    "RESOURCE_EXHAUSTED": "transient",  # quota: the rendering core tries again later
    "UNAVAILABLE": "transient",
    "INTERNAL": "transient",
    "DEADLINE_EXCEEDED": "transient",
    "ABORTED": "transient",
    "UNKNOWN": "transient",
    "CANCELLED": "transient",
    "INVALID_ARGUMENT": "invalid",
    "FAILED_PRECONDITION": "invalid",
    "NOT_FOUND": "invalid",
    "OUT_OF_RANGE": "invalid",
    "UNIMPLEMENTED": "invalid",
}
GRPC_NAMES = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    16: "UNAUTHENTICATED",
}
# A wrong key is answered 400 INVALID_ARGUMENT; only this ErrorInfo reason tells it apart.
AUTH_REASONS = {"API_KEY_INVALID", "API_KEY_EXPIRED"}


class VeoBackend(RemoteBackend):
    provider = "veo"
    default_base_url = "https://generativelanguage.googleapis.com"
    default_model = "veo-3.1-generate-preview"
    webhooks = False
    durations = (4, 6, 8)
    # The whole request must stay under the Gemini API's 20 MB, and base64 adds a third.
    image_limits = ImageLimits(max_bytes=10 * 1024 * 1024, min_side=300, max_side=4096)
    resolution: ClassVar[str] = "720p"

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.api_key}

    def classify(self, response: requests.Response, body: Any) -> ProviderFailure | None:
        status = response.status_code
        if status < 400:
            # A finished operation may carry an ``error`` too: that is the job's outcome, read
            # by ``poll``, not a failed call.
            return None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return self.classify_status(response, body)
        message = str(error.get("message") or response.reason or f"HTTP {status}")
        name = str(error.get("status") or "")
        if _reasons(error) & AUTH_REASONS:
            return self.failure("auth", message, status=status, code=name or None)
        kind = STATUS_KINDS.get(name)
        if kind is None:
            # No (known) status name: the HTTP status says enough.
            return self.classify_status(response, body)
        if kind == "invalid" and "billing" in message.lower():
            # Veo needs a billed project; Google's wording for it is unconfirmed.
            kind = "funds"
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        return self.failure(kind, message, status=status, code=name, retry_after=retry_after)

    def submit(self, job: RenderJob, *, callback_url: str = "", reference: str = "") -> Submitted:
        # The Gemini API takes neither a callback URL nor a client reference.
        instance: dict[str, Any] = {"prompt": job.plan.prompt}
        if job.assets.product_image:
            image, mime = image_for_provider(job.assets.product_image, self.image_limits)
            # ``bytesBase64Encoded``: Veo answers 400 to the ``inlineData`` other Gemini
            # models take.
            instance["image"] = {"bytesBase64Encoded": raw_base64(image), "mimeType": mime}
        parameters: dict[str, Any] = {
            "aspectRatio": ASPECTS.get(job.profile.aspect, "16:9"),
            "resolution": self.resolution,
            "durationSeconds": self.duration_for(job.plan.seconds),
            "seed": job.seed % SEED_LIMIT,
        }
        if job.plan.negative_prompt:
            parameters["negativePrompt"] = job.plan.negative_prompt
        answer = self.request(
            "POST",
            f"/v1beta/models/{self.model}:predictLongRunning",
            json={"instances": [instance], "parameters": parameters},
        )
        name = answer.get("name") if isinstance(answer, dict) else None
        if not name:
            raise self.failure("transient", f"started no operation: {answer!r:.200}")
        return Submitted(job_id=str(name))

    def poll(self, submitted: Submitted) -> JobStatus:
        operation = self.request("GET", f"/v1beta/{submitted.job_id.lstrip('/')}")
        # ``done`` is left out until it is true.
        if not operation.get("done"):
            return JobStatus("running")
        error = operation.get("error")
        if isinstance(error, dict):
            return JobStatus("failed", failure=self._operation_failure(error))
        response = operation.get("response") or {}
        videos = response.get("generateVideoResponse") or response
        samples = videos.get("generatedSamples") or []
        uri = ((samples[0] or {}).get("video") or {}).get("uri") if samples else None
        if uri:
            return JobStatus(
                "succeeded", output_url=uri, progress=1.0, download_headers=self._file_headers(uri)
            )
        reasons = [str(r) for r in videos.get("raiMediaFilteredReasons") or []]
        if reasons or videos.get("raiMediaFilteredCount"):
            message = "; ".join(reasons) or "the video was blocked by Google's safety filters"
            return JobStatus("failed", failure=self.failure("moderation", message))
        return JobStatus("failed", failure=self.failure("transient", "finished without a video"))

    def _operation_failure(self, error: dict[str, Any]) -> ProviderFailure:
        """A finished operation's ``google.rpc.Status``: a numeric code and a message."""
        code = error.get("code")
        name = GRPC_NAMES.get(code, str(code)) if isinstance(code, int) else str(code or "")
        message = str(error.get("message") or "the operation failed")
        kind = STATUS_KINDS.get(name, "invalid")
        if _sounds_like_moderation(message):
            # Unconfirmed: a prompt refused up front may end the operation with an error
            # rather than with filtered samples.
            kind = "moderation"
        return self.failure(kind, message, code=name or None)

    def _file_headers(self, uri: str) -> dict[str, str]:
        """The key goes with the download only to Google's own host: a file elsewhere never
        sees it."""
        ours = urlsplit(self.base_url)
        theirs = urlsplit(uri)
        if (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc):
            return self.auth_headers()
        return {}


def _reasons(error: dict[str, Any]) -> set[str]:
    details = error.get("details")
    if not isinstance(details, list):
        return set()
    return {str(d["reason"]) for d in details if isinstance(d, dict) and d.get("reason")}


def _sounds_like_moderation(message: str) -> bool:
    text = message.lower()
    return any(
        words in text for words in ("safety", "usage guidelines", "responsible ai", "policy")
    )
