"""Replicate: one adapter for any hosted video model, named ``owner/name`` (the model's latest
version, through ``POST /v1/models/{owner}/{name}/predictions``) or ``owner/name:version``
(a pinned version, through ``POST /v1/predictions``, which community models need).

Each model names its inputs its own way, so how a job becomes the model's ``input`` is an
option (``inputs``: model input name → what of the job it carries; ``extra_inputs``: constants);
the defaults suit ``kwaivgi/kling-v2.1``. Replicate deletes outputs after about an hour, so the
rendering core downloads them as soon as a poll says ``succeeded``.

Webhooks are signed the Standard Webhooks way (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``), HMAC-SHA256 with the account's ``whsec_`` secret; the
Standard Webhooks project's own Python package, ``standardwebhooks`` (no dependencies), checks
them.
"""

import base64
import binascii
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import requests
from standardwebhooks import Webhook, WebhookVerificationError

from videokit.job import RenderError, RenderJob

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

logger = logging.getLogger(__name__)

# What of a job a model input can carry.
JobInput = Literal["prompt", "negative_prompt", "image", "duration", "aspect_ratio", "seed"]
JOB_INPUTS: frozenset[str] = frozenset(get_args(JobInput))

DEFAULT_MODEL = "kwaivgi/kling-v2.1"
# kwaivgi/kling-v2.1's documented inputs: start_image and prompt are required, duration is the
# integer 5 or 10, mode "standard" (720p) or "pro" (1080p).
KLING_INPUTS = {
    "start_image": "image",
    "prompt": "prompt",
    "negative_prompt": "negative_prompt",
    "duration": "duration",
}
KLING_EXTRA_INPUTS = {"mode": "standard"}

RUNNING = frozenset({"starting", "processing"})
MODEL_ID = re.compile(r"(?P<name>[\w.-]+/[\w.-]+)(?::(?P<version>\w+))?")
# Replicate tags some errors with a code, e.g. "(E005)" for sensitive content.
ERROR_CODE = re.compile(r"\b(E\d{3,4})\b")
THROTTLED_FOR = re.compile(r"available in (\d+(?:\.\d+)?) second")


@dataclass(frozen=True, slots=True)
class InputMapping:
    """How a job becomes a hosted model's inputs, for the aggregators (Replicate, fal) whose
    models each name their inputs differently.

    ``fields`` maps a model input name to what of the job it carries (one of ``JOB_INPUTS``);
    ``constants`` are sent as they are (a mode, a resolution). It lives here, beside the first
    of its two users (fal imports it), until the adapter base takes it.
    """

    fields: Mapping[str, str]
    constants: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        wrong = sorted(
            f"{name}={what!r}" for name, what in self.fields.items() if what not in JOB_INPUTS
        )
        if wrong:
            raise ValueError(
                f"inputs map model inputs to one of {', '.join(sorted(JOB_INPUTS))}; "
                f"got {', '.join(wrong)}."
            )
        both = sorted(set(self.fields) & set(self.constants))
        if both:
            raise ValueError(f"{', '.join(both)} is both in inputs and in extra_inputs.")

    @classmethod
    def for_model(
        cls,
        *,
        model: str,
        default_model: str,
        inputs: Mapping[str, str] | None,
        extra_inputs: Mapping[str, Any] | None,
        defaults: tuple[Mapping[str, str], Mapping[str, Any]],
    ) -> "InputMapping":
        """The configured mapping, or the default model's. Another model without ``inputs`` is
        refused rather than guessed at: a wrong guess is a paid request that fails (or, worse,
        a video made without the product image)."""
        if inputs is None:
            if model != default_model:
                raise ValueError(
                    f"Model {model!r} needs the inputs option (model input name → one of "
                    f"{', '.join(sorted(JOB_INPUTS))}); the defaults suit {default_model}."
                )
            inputs = defaults[0]
            if extra_inputs is None:
                extra_inputs = defaults[1]
        return cls(fields=dict(inputs), constants=dict(extra_inputs or {}))

    def inputs(self, values: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
        """The model's inputs. ``values`` are computed only when mapped (the image conversion
        is not free); a value that is None (no product image) is left out, so the model's own
        default applies or the provider names what is missing."""
        body = dict(self.constants)
        for name, what in self.fields.items():
            value = values[what]()
            if value is not None:
                body[name] = value
        return body

    def fingerprint(self) -> dict[str, Any]:
        return {"inputs": dict(self.fields), "extra_inputs": dict(self.constants)}


def job_values(
    backend: RemoteBackend, job: RenderJob, *, image: Callable[[bytes], str], duration: Any
) -> dict[str, Callable[[], Any]]:
    """What of a job a model input can carry, as deferred values (see ``InputMapping``)."""
    product_image = job.assets.product_image

    def converted() -> str | None:
        if not product_image:
            return None
        try:
            return image(product_image)
        except RenderError as exc:
            # Not a ProviderFailure, which is all the rendering core catches at submit.
            raise backend.failure("invalid", str(exc)) from exc

    return {
        "prompt": lambda: job.plan.prompt,
        # Empty: left out, so the model's own negative prompt applies.
        "negative_prompt": lambda: job.plan.negative_prompt or None,
        "image": converted,
        "duration": lambda: duration,
        "aspect_ratio": lambda: job.profile.aspect,
        "seed": lambda: job.seed,
    }


def header(headers: Mapping[str, str], name: str) -> str:
    """A request header by name, whatever the case of the mapping's keys (Django's
    ``request.headers`` ignores case; a plain dict does not)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")


class ReplicateBackend(RemoteBackend):
    provider = "replicate"
    default_base_url = "https://api.replicate.com"
    default_model = DEFAULT_MODEL
    webhooks = True
    durations = (5, 10)
    # Replicate recommends data URIs only under 1 MB: 700 KiB of image is ~950 KB of base64.
    image_limits = ImageLimits(max_bytes=700 * 1024, min_side=300, max_side=1920)

    def __init__(
        self,
        *,
        inputs: Mapping[str, str] | None = None,
        extra_inputs: Mapping[str, Any] | None = None,
        durations: Sequence[int] = (),
        webhook_secret: str = "",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        match = MODEL_ID.fullmatch(self.model)
        if match is None:
            raise ValueError(
                f"A Replicate model is 'owner/name' or 'owner/name:version'; got {self.model!r}."
            )
        self.model_name, self.model_version = match["name"], match["version"] or ""
        self.mapping = InputMapping.for_model(
            model=self.model_name,
            default_model=DEFAULT_MODEL,
            inputs=inputs,
            extra_inputs=extra_inputs,
            defaults=(KLING_INPUTS, KLING_EXTRA_INPUTS),
        )
        # The model's clip lengths, when they are not Kling's 5 and 10 s.
        self.model_durations = tuple(durations) or type(self).durations
        self.webhook_signing = Webhook(_webhook_key(webhook_secret)) if webhook_secret else None
        self._warned_unverified = False

    def option_fingerprint(self) -> dict[str, Any]:
        # The model is already in it (and in ``version``); the mapping and the constants
        # (mode "pro" is 1080p) change the pixels too.
        return {
            **super().option_fingerprint(),
            **self.mapping.fingerprint(),
            "durations": list(self.model_durations),
        }

    def duration_for(self, seconds: float) -> int:
        longer = [d for d in self.model_durations if d >= seconds]
        return min(longer) if longer else max(self.model_durations)

    def classify(self, response: requests.Response, body: Any) -> ProviderFailure | None:
        failure = self.classify_status(response, body)
        if failure is not None and failure.status == 429 and failure.retry_after is None:
            # "Request was throttled. Expected available in 1 second.": the wait is in the text
            # when no Retry-After header says it.
            found = THROTTLED_FOR.search(str(failure.args[0]))
            if found:
                failure.retry_after = float(found[1])
        return failure

    def submit(self, job: RenderJob, *, callback_url: str = "", reference: str = "") -> Submitted:
        values = job_values(
            self,
            job,
            image=lambda data: data_uri(*image_for_provider(data, self.image_limits)),
            duration=self.duration_for(job.plan.seconds),  # an integer, as Replicate's schemas
        )
        body: dict[str, Any] = {"input": self.mapping.inputs(values)}
        if callback_url:
            body["webhook"] = callback_url
            # Only the end matters: the callback is a hint to poll now.
            body["webhook_events_filter"] = ["completed"]
        if self.model_version:
            body["version"] = self.model_version
            path = "/v1/predictions"
        else:
            path = f"/v1/models/{self.model_name}/predictions"
        # Replicate takes no client reference: the prediction id is recorded on the segment.
        answer = self.request("POST", path, json=body)
        if not isinstance(answer, dict) or not answer.get("id"):
            raise self.failure("transient", f"created no prediction: {answer!r:.200}")
        return Submitted(job_id=str(answer["id"]))

    def poll(self, submitted: Submitted) -> JobStatus:
        return self._status(self.request("GET", f"/v1/predictions/{submitted.job_id}"))

    def webhook(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[str, JobStatus]:
        # The callback carries the prediction, as a poll would.
        return str(body.get("id", "")), self._status(body)

    def verify_webhook(self, raw: bytes, headers: Mapping[str, str]) -> bool:
        if self.webhook_signing is None:
            if not self._warned_unverified:
                logger.warning(
                    "%s: Replicate webhooks are not verified: no webhook_secret is configured "
                    "(GET /v1/webhooks/default/secret gives it)",
                    self.alias,
                )
                self._warned_unverified = True
            return True
        # Any of the space-separated "v1,<sig>" signatures may match (several while a secret
        # is rotated); a delivery sent more than 5 minutes ago, or ahead, is refused so a
        # captured one cannot be replayed. The library raises ValueError (not its own error)
        # for a body that is not UTF-8 or a malformed signature list.
        try:
            self.webhook_signing.verify(raw, dict(headers), json_parse=False)
        except (WebhookVerificationError, ValueError):
            return False
        return True

    def _status(self, prediction: Mapping[str, Any]) -> JobStatus:
        state = prediction.get("status")
        if state in RUNNING:
            return JobStatus("running")
        if state == "succeeded":
            url = _output_url(prediction.get("output"))
            if not url:
                return JobStatus(
                    "failed", failure=self.failure("transient", "succeeded without a video")
                )
            return JobStatus("succeeded", output_url=url)
        if state == "failed":
            message = str(prediction.get("error") or "the prediction failed")
            found = ERROR_CODE.search(message)
            failure = self.failure(
                _failure_kind(message), message, code=found[1] if found else None
            )
            return JobStatus("failed", failure=failure)
        if state == "canceled":
            # By someone on the account, or past a deadline after it started.
            return JobStatus(
                "failed", failure=self.failure("invalid", "the prediction was canceled")
            )
        if state == "aborted":
            # Past its deadline before a worker took it: capacity, not the input.
            return JobStatus(
                "failed",
                failure=self.failure("transient", "the prediction was aborted before it ran"),
            )
        # A status this adapter does not know yet is most likely a new intermediate one:
        # poll again rather than fail a job that may well finish.
        logger.warning("replicate: unknown prediction status %r; polling on", state)
        return JobStatus("running")


def _webhook_key(secret: str) -> bytes:
    """The key bytes of a ``whsec_…`` secret, decoded strictly: ``Webhook`` would decode a
    mistyped secret leniently into another key, and every delivery would then be refused."""
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook_secret is Replicate's 'whsec_…' secret (base64).") from None


def _output_url(output: Any) -> str:
    """The video URL: models answer a URL, a list of URLs, or (rarely) an object of them."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return next((url for url in map(_output_url, output) if url), "")
    if isinstance(output, dict):
        return next((url for url in map(_output_url, output.values()) if url), "")
    return ""


def _failure_kind(message: str) -> FailureKind:
    """What a failed prediction's error text means: Replicate gives text, not codes (but for
    a few, like E005 for sensitive content)."""
    text = message.lower()
    if "e005" in text or any(
        word in text for word in ("nsfw", "sensitive", "flagged", "safety", "content policy")
    ):
        return "moderation"
    if any(
        words in text for words in ("interrupted", "please retry", "timed out", "out of memory")
    ):
        # The model's worker, not the input: the fallback chain may take it elsewhere.
        return "transient"
    return "invalid"
