"""The base of every HTTP video provider: create a job, poll it (or take its webhook), download
the MP4 before it expires.

One ``requests.Session`` per backend instance (connection reuse), a timeout on every call,
retries with exponential backoff and full jitter on 429, 5xx, timeouts and connection errors
(``Retry-After`` honoured), and every error classified once, here, into what the rendering
core acts on (``ProviderFailure.kind``):

- ``transient``: try again later (the task is re-scheduled; the same provider job resumes);
- ``moderation``: the provider refused the content: final, shown to the merchant with the
  provider's reason, never retried on another provider with the same prompt;
- ``invalid``: bad parameters or input: final;
- ``auth``: a wrong or expired key: final until the operator fixes it;
- ``funds``: the account is out of credit: final.

A provider adapter is a small subclass: how to authenticate, what to send, where the job id
and the status are in the answers, and which of its error codes mean what.
"""

import base64
import io
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urljoin, urlsplit

import requests
from django.utils import timezone
from PIL import Image

from videokit.job import RenderError, RenderJob

from .base import RenderBackend

logger = logging.getLogger(__name__)

FailureKind = Literal["transient", "moderation", "invalid", "auth", "funds"]
FINAL_KINDS: frozenset[str] = frozenset({"moderation", "invalid", "auth", "funds"})
# Provider outputs are short clips; anything bigger is not one.
MAX_OUTPUT_BYTES = 512 * 1024 * 1024


class ProviderFailure(RenderError):
    """A provider call that did not work, classified. ``final`` failures are not retried."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.provider = provider
        self.status = status
        self.code = code
        self.retry_after = retry_after

    @property
    def final(self) -> bool:
        return self.kind in FINAL_KINDS

    def __str__(self) -> str:
        where = f"{self.provider}: " if self.provider else ""
        code = f" [{self.code}]" if self.code else ""
        return f"{where}{self.args[0]}{code}"


@dataclass(frozen=True, slots=True)
class Submitted:
    """A provider job as created: its id, and whatever else polling needs (status URLs)."""

    job_id: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobStatus:
    """Where a provider job stands."""

    state: Literal["running", "succeeded", "failed"]
    output_url: str = ""
    failure: ProviderFailure | None = None
    progress: float | None = None  # 0..1 where the provider reports it
    # Headers the download needs (Veo wants the API key on the file too).
    download_headers: dict[str, str] = field(default_factory=dict)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


class RemoteBackend(RenderBackend):
    """Base of the HTTP providers. Subclasses set ``provider`` and ``default_base_url`` and
    implement ``create`` (the request body and endpoint), ``status`` (parse a poll answer) and
    ``classify`` (their error codes); most of the rest is shared."""

    synchronous: ClassVar[bool] = False
    default_base_url: ClassVar[str] = ""
    default_model: ClassVar[str] = ""
    # Whether the provider calls a webhook when a job changes (else: polling only).
    webhooks: ClassVar[bool] = False
    # Seconds of output the provider can make, closest first; a plan asks for one of them.
    durations: ClassVar[tuple[int, ...]] = (5,)

    def __init__(
        self,
        *,
        alias: str,
        api_key: str = "",
        base_url: str = "",
        model: str = "",
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        poll_interval: float = 5.0,
    ) -> None:
        self.alias = alias
        self.api_key = api_key
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.model = model or self.default_model
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.poll_interval = poll_interval
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "Scenecart/1.0"

    @property
    def version(self) -> str:
        return f"{self.provider}:{self.model}"

    def __repr__(self) -> str:
        # Never the key.
        return f"<{type(self).__name__} {self.alias!r} {self.base_url} {self.model}>"

    def option_fingerprint(self) -> dict[str, Any]:
        # The endpoint and key do not change pixels; the provider and model do.
        return {"provider": self.provider, "model": self.model}

    def estimate_cost(self, job: RenderJob) -> Decimal:
        # Prices live in SCENECART_PRICES (they change more often than code).
        return Decimal("0")

    def render(self, job: RenderJob, out_path: Path) -> None:
        raise RenderError(
            f"{self.alias} is a remote provider: its segments are submitted and polled by the "
            "render.remote workers, not rendered in place."
        )

    # --- What a provider adapter implements ------------------------------------------------

    def submit(self, job: RenderJob, *, callback_url: str = "", reference: str = "") -> Submitted:
        """Create the provider job. ``reference`` is the segment key: providers that take a
        client reference (Kling's ``external_task_id``) get it."""
        raise NotImplementedError

    def poll(self, submitted: Submitted) -> JobStatus:
        raise NotImplementedError

    def webhook(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[str, JobStatus]:
        """The job id and status a provider's callback carries."""
        raise NotImplementedError(f"{self.provider} sends no webhooks.")

    def verify_webhook(self, raw: bytes, headers: Mapping[str, str]) -> bool:
        """Whether a callback really comes from the provider, for providers that sign them
        (Replicate, fal). Unsigned providers: True. A callback is only ever a hint to poll
        now: its body is never trusted, the job's state is read back from the provider."""
        return True

    def webhook_reply(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """What to answer a handshake callback (MiniMax's ``challenge``); None otherwise."""
        return None

    def classify(self, response: requests.Response, body: Any) -> ProviderFailure | None:
        """The failure an answer means (HTTP status and provider error codes), or None."""
        return self.classify_status(response, body)

    # --- Shared parts ----------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def failure(self, kind: FailureKind, message: str, **extra: Any) -> ProviderFailure:
        return ProviderFailure(kind, message, provider=self.provider, **extra)

    def classify_status(self, response: requests.Response, body: Any) -> ProviderFailure | None:
        """The generic reading of an HTTP status."""
        status = response.status_code
        if status < 400:
            return None
        message = _message_of(body) or response.reason or f"HTTP {status}"
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if status in (401, 403):
            return self.failure("auth", message, status=status)
        if status == 402:
            return self.failure("funds", message, status=status)
        if status == 429 or status >= 500 or status == 408:
            return self.failure("transient", message, status=status, retry_after=retry_after)
        return self.failure("invalid", message, status=status)

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        """One API call, with retries of transient failures; the decoded JSON body.

        Raises ``ProviderFailure`` (classified) when it does not work out.
        """
        if not url.startswith("http"):
            url = f"{self.base_url}{url}"
        headers = {**self.auth_headers(), **kwargs.pop("headers", {})}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.request(
                    method, url, headers=headers, timeout=self.timeout, **kwargs
                )
                body = _json_or_none(response)
                failure = self.classify(response, body)
            except requests.Timeout as exc:
                failure = self.failure("transient", f"timed out after {self.timeout:g} s: {exc}")
            except requests.ConnectionError as exc:
                failure = self.failure("transient", f"could not connect: {exc}")
            if failure is None:
                if body is None:
                    raise self.failure("transient", f"answered {response.status_code} without JSON")
                return body
            if failure.final or attempt > self.retries:
                raise failure
            delay = self.delay(attempt, failure.retry_after)
            logger.warning(
                "%s %s %s: %s; retry %d of %d in %.1f s",
                self.provider, method, url, failure, attempt, self.retries, delay,
            )  # fmt: skip
            time.sleep(delay)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with full jitter, or the provider's ``Retry-After``."""
        if retry_after is not None:
            return min(retry_after, self.max_backoff * 4)
        return random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))

    def download(self, status: JobStatus, dest: Path) -> Path:
        """Fetch the output promptly (provider URLs expire), streamed, with a size cap. An
        expired or missing output is a final failure of this job."""
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._get_output(status) as response:
                    if response.status_code in (403, 404, 410):
                        raise self.failure(
                            "invalid",
                            f"the output is gone (HTTP {response.status_code}); it expired "
                            "before it was fetched",
                            status=response.status_code,
                        )
                    if response.status_code >= 400:
                        raise self.failure(
                            "transient",
                            f"download answered HTTP {response.status_code}",
                            status=response.status_code,
                            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                        )
                    partial = dest.with_name(dest.name + ".part")
                    try:
                        _stream_to(response, partial)
                    except BaseException:
                        partial.unlink(missing_ok=True)
                        raise
                    partial.replace(dest)
                    return dest
            except (requests.Timeout, requests.ConnectionError) as exc:
                failure = self.failure("transient", f"download failed: {exc}")
            except ProviderFailure as exc:
                failure = exc
            if failure.final or attempt > self.retries:
                raise failure
            time.sleep(self.delay(attempt, failure.retry_after))

    def _get_output(self, status: JobStatus) -> requests.Response:
        """GET the output, following redirects by hand: the download headers (Veo's API key)
        go to the output's own host only, never to the host a redirect points at."""
        url, headers = status.output_url, dict(status.download_headers)
        origin = urlsplit(url).netloc
        for _ in range(5):
            response = self.session.get(
                url, headers=headers, timeout=self.timeout, stream=True, allow_redirects=False
            )
            if not response.is_redirect:
                return response
            url = urljoin(url, response.headers["Location"])
            response.close()
            if urlsplit(url).netloc != origin:
                headers = {}
        raise self.failure("transient", "the output redirects too often")

    def duration_for(self, seconds: float) -> int:
        """The shortest provider duration that covers the plan (the clip is trimmed to the
        plan when normalized). A plan longer than any clip the provider makes is refused
        before anything is paid for: the clip would fail verification after the download."""
        longer = [d for d in self.durations if d >= seconds - 0.01]
        if not longer:
            raise self.failure(
                "invalid",
                f"makes clips of at most {max(self.durations)} s; this segment is {seconds:g} s",
            )
        return min(longer)


# --- Product images in the forms providers take -----------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_bytes: int = 10 * 1024 * 1024
    min_side: int = 300
    max_side: int = 4096
    min_aspect: float = 0.4
    max_aspect: float = 2.5
    formats: tuple[str, ...] = ("PNG", "JPEG")


def image_for_provider(data: bytes, limits: ImageLimits) -> tuple[bytes, str]:
    """The product image (a transparent cutout PNG) as a provider accepts it: flattened on
    white (providers reject or mangle alpha), padded into the allowed aspect range, scaled
    into the side limits, and JPEG-compressed until it fits the byte limit. (bytes, mime)."""
    with Image.open(io.BytesIO(data)) as source:
        image = source.convert("RGBA")
    flat = Image.new("RGB", image.size, "white")
    flat.paste(image, mask=image.getchannel("A"))
    width, height = flat.size
    aspect = width / height
    if aspect < limits.min_aspect or aspect > limits.max_aspect:
        target = limits.min_aspect if aspect < limits.min_aspect else limits.max_aspect
        new_w, new_h = (
            (round(height * target), height) if aspect < target else (width, round(width / target))
        )
        canvas = Image.new("RGB", (new_w, new_h), "white")
        canvas.paste(flat, ((new_w - width) // 2, (new_h - height) // 2))
        flat = canvas
    longest, shortest = max(flat.size), min(flat.size)
    scale = 1.0
    if longest > limits.max_side:
        scale = limits.max_side / longest
    elif shortest < limits.min_side:
        scale = limits.min_side / shortest
    if scale != 1.0:
        flat = flat.resize(
            (max(1, round(flat.width * scale)), max(1, round(flat.height * scale))),
            Image.Resampling.LANCZOS,
        )
    if "PNG" in limits.formats:
        buffer = io.BytesIO()
        flat.save(buffer, "PNG", optimize=True)
        if buffer.tell() <= limits.max_bytes:
            return buffer.getvalue(), "image/png"
    for quality in (92, 85, 75, 60):
        buffer = io.BytesIO()
        flat.save(buffer, "JPEG", quality=quality)
        if buffer.tell() <= limits.max_bytes:
            return buffer.getvalue(), "image/jpeg"
    raise RenderError(f"The product image does not fit the provider's {limits.max_bytes} bytes.")


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def raw_base64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _stream_to(response: requests.Response, path: Path) -> None:
    size = 0
    with path.open("wb") as handle:
        for chunk in response.iter_content(1024 * 1024):
            size += len(chunk)
            if size > MAX_OUTPUT_BYTES:
                raise ProviderFailure("invalid", "the output is larger than 512 MB")
            handle.write(chunk)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _message_of(body: Any) -> str:
    """A provider's error text, wherever it keeps it."""
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "msg", "failure"):
            value = body.get(key)
            if isinstance(value, dict):
                return _message_of(value)
            if value:
                return str(value)
        base = body.get("base_resp")
        if isinstance(base, dict) and base.get("status_msg"):
            return str(base["status_msg"])
    return ""
