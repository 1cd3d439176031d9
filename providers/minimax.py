"""MiniMax Hailuo: image-to-video from the product image, text-to-video where there is none.

MiniMax reports most errors as HTTP 200 with a non-zero ``base_resp.status_code``, so every
answer is read for that code before it is trusted. A finished task names a ``file_id``, not a
URL: the download URL (valid for about 9 hours) comes from the files API, asked for as soon as
the task succeeds. The webhook first sends a ``challenge`` to echo, then poll-shaped bodies.
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

# ``base_resp.status_code`` → what it means for the rendering core. PROVIDERS.md documents
# 1000–1027; 1013 (internal error), 1039 (token rate limit), 2013 (bad parameters) and 2049
# (invalid key) are from MiniMax's error-code table.
CODE_KINDS: dict[int, FailureKind] = {
    1000: "transient",  # unknown error, retry later
    1001: "transient",  # timeout
    1002: "transient",  # rate limit
    1013: "transient",
    1024: "transient",
    1033: "transient",
    1039: "transient",
    1004: "auth",
    2049: "auth",
    1008: "funds",  # insufficient balance
    1026: "moderation",  # sensitive input (prompt or image)
    1027: "moderation",  # sensitive output
    2013: "invalid",
}
# MiniMax's own texts for these are terse ("input new_sensitive"): the merchant is told what
# was refused, with MiniMax's text after it.
REFUSED = {
    1026: "MiniMax refused the prompt or the product image as sensitive",
    1027: "MiniMax refused the generated video as sensitive",
}
RESOLUTIONS = ("512P", "720P", "768P", "1080P")
PROMPT_CHARS = 2000


class MiniMaxBackend(RemoteBackend):
    provider = "minimax"
    default_base_url = "https://api.minimax.io"
    default_model = "MiniMax-Hailuo-02"
    webhooks = True
    durations = (6, 10)
    # Not in PROVIDERS.md; MiniMax's reference: JPG/PNG/WebP under 20 MB, short side over
    # 300 px, aspect between 2:5 and 5:2.
    image_limits = ImageLimits(max_bytes=20 * 1024 * 1024, min_side=301, max_side=4096)

    def __init__(
        self,
        *,
        resolution: str = "768P",
        prompt_optimizer: bool = False,
        group_id: str = "",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if resolution not in RESOLUTIONS:
            raise ValueError(
                f"MiniMax resolution must be one of {', '.join(RESOLUTIONS)}; got {resolution!r}."
            )
        # 768P: Hailuo-02's default, and a size that also makes 10 s clips (1080P does not).
        self.resolution = resolution
        # Off by default: the planner already writes the whole scene, and MiniMax's rewrite
        # would stage something other than the plan the merchant's variants are keyed on.
        self.prompt_optimizer = prompt_optimizer
        # Older accounts' files API wanted ``GroupId`` in the query; sent only when configured.
        self.group_id = group_id

    def option_fingerprint(self) -> dict[str, Any]:
        return {
            **super().option_fingerprint(),
            "resolution": self.resolution,
            "prompt_optimizer": self.prompt_optimizer,
        }

    def duration_for(self, seconds: float) -> int:
        # MiniMax makes 1080P clips of 6 s only.
        if self.resolution == "1080P":
            return 6
        return super().duration_for(seconds)

    def _duration(self, job: RenderJob) -> int:
        """A clip at least as long as the plan: a shorter one would fail verification after
        it was paid for, so it is refused before it is made (and the segment falls back)."""
        seconds = self.duration_for(job.plan.seconds)
        if seconds < job.plan.seconds:
            hint = " (768P makes 10 s clips)" if self.resolution == "1080P" else ""
            raise self.failure(
                "invalid",
                f"MiniMax makes {self.resolution} clips of at most {seconds} s; the "
                f"{job.plan.kind} segment lasts {job.plan.seconds:g} s{hint}",
            )
        return seconds

    def classify(self, response: requests.Response, body: Any) -> ProviderFailure | None:
        failure = self.code_failure(body, status=response.status_code)
        # A documented code says what it means whatever the HTTP status; an undocumented one
        # on an HTTP error defers to the status (a 503 stays transient).
        if failure is not None and (
            response.status_code < 400 or int(failure.code or 0) in CODE_KINDS
        ):
            return failure
        return self.classify_status(response, body)

    def code_failure(self, body: Any, *, status: int | None = None) -> ProviderFailure | None:
        """The failure a non-zero ``base_resp.status_code`` means, in an answer or a callback."""
        base = body.get("base_resp") if isinstance(body, Mapping) else None
        if not isinstance(base, Mapping):
            return None
        code = base.get("status_code")
        if not isinstance(code, int) or code == 0:
            return None
        message = str(base.get("status_msg") or f"error {code}")
        if code in REFUSED:
            message = f"{REFUSED[code]} ({message})"
        # An undocumented code on a 200 is a refusal nobody documented: final, with its text.
        kind = CODE_KINDS.get(code, "invalid")
        return self.failure(kind, message, status=status, code=str(code))

    def submit(self, job: RenderJob, *, callback_url: str = "", reference: str = "") -> Submitted:
        # MiniMax takes no client reference, so ``reference`` is not sent; nor does it take a
        # negative prompt or a seed.
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": job.plan.prompt[:PROMPT_CHARS],
            "duration": self._duration(job),
            "resolution": self.resolution,
            "prompt_optimizer": self.prompt_optimizer,
        }
        if job.assets.product_image:
            image, mime = image_for_provider(job.assets.product_image, self._limits(job))
            body["first_frame_image"] = data_uri(image, mime)
        if callback_url:
            body["callback_url"] = callback_url
        answer = self.request("POST", "/v1/video_generation", json=body)
        if not answer.get("task_id"):
            raise self.failure("transient", f"created no task: {answer!r:.200}")
        return Submitted(job_id=str(answer["task_id"]))

    def _limits(self, job: RenderJob) -> ImageLimits:
        """The first frame padded to the profile's aspect: MiniMax has no aspect parameter and
        makes the clip in the first frame's shape, so white bars give a clip of the right
        shape with all of the product in it."""
        aspect = job.profile.width / job.profile.height
        if not self.image_limits.min_aspect <= aspect <= self.image_limits.max_aspect:
            return self.image_limits
        return replace(self.image_limits, min_aspect=aspect, max_aspect=aspect)

    def poll(self, submitted: Submitted) -> JobStatus:
        try:
            answer = self.request(
                "GET", "/v1/query/video_generation", params={"task_id": submitted.job_id}
            )
        except ProviderFailure as exc:
            # A task refused for its content answers its query with 1026/1027: that is the
            # task's end, not a failure of the call.
            if exc.kind == "moderation":
                return JobStatus("failed", failure=exc)
            raise
        return self._status(answer)

    def webhook_reply(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        # MiniMax checks the callback URL by POSTing a challenge it expects back within 3 s.
        if "challenge" in body:
            return {"challenge": body["challenge"]}
        return None

    def webhook(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[str, JobStatus]:
        if "challenge" in body:
            return "", JobStatus("running")  # the handshake names no job
        failure = self.code_failure(body)
        if failure is not None:
            return str(body.get("task_id", "")), JobStatus("failed", failure=failure)
        return str(body.get("task_id", "")), self._status(body)

    def _status(self, answer: Mapping[str, Any]) -> JobStatus:
        state = answer.get("status")
        if state == "Success":
            file_id = answer.get("file_id")
            if not file_id:
                return JobStatus(
                    "failed", failure=self.failure("transient", "succeeded without a file")
                )
            return JobStatus("succeeded", output_url=self._download_url(str(file_id)))
        if state == "Fail":
            base = answer.get("base_resp") or {}
            message = str(base.get("status_msg") or "")
            if not message or message.lower() == "success":
                message = "MiniMax could not make the video"
            kind: FailureKind = "moderation" if _sounds_like_moderation(message) else "invalid"
            return JobStatus("failed", failure=self.failure(kind, message))
        # Preparing, Queueing, Processing, and any status MiniMax adds later: keep polling.
        return JobStatus("running")

    def _download_url(self, file_id: str) -> str:
        params = {"file_id": file_id}
        if self.group_id:
            params["GroupId"] = self.group_id
        answer = self.request("GET", "/v1/files/retrieve", params=params)
        url = (answer.get("file") or {}).get("download_url")
        if not url:
            raise self.failure("transient", f"file {file_id} has no download URL yet")
        return str(url)


def _sounds_like_moderation(message: str) -> bool:
    text = message.lower()
    return any(word in text for word in ("sensitive", "moderation", "policy", "violat"))
