"""Veo through the Gemini API, as PROVIDERS.md documents it: ``x-goog-api-key`` auth,
``POST /v1beta/models/{model}:predictLongRunning`` answering ``{"name": "models/…/operations/…"}``,
the operation polled at ``GET /v1beta/{name}`` until ``done``, the video at
``response.generateVideoResponse.generatedSamples[0].video.uri``, a file that is only handed
out with the key, safety refusals as ``raiMediaFilteredCount``/``raiMediaFilteredReasons``, and
errors as ``{"error": {"code", "message", "status"}}``."""

import base64
import binascii
import io
from typing import Any

from PIL import Image, UnidentifiedImageError

from .server import Answer, BadRequest, FakeJob, FakeProvider, Recorded

API_KEY = "AIza-veo-test"
MODELS = {"veo-3.1-generate-preview", "veo-3.1-fast-generate-preview", "veo-3.0-generate-001"}
INSTANCE_FIELDS = {"prompt", "image", "lastFrame", "referenceImages", "video"}
PARAMETER_FIELDS = {
    "aspectRatio",
    "resolution",
    "durationSeconds",
    "negativePrompt",
    "seed",
    "personGeneration",
    "numberOfVideos",
}
REFUSAL = (
    "Unable to generate the video: the prompt or the image may violate Gemini API's usage "
    "guidelines. You will not be charged for blocked videos."
)
HTTP_STATUS = {
    "INVALID_ARGUMENT": 400,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
}


class FakeVeo(FakeProvider):
    routes = (
        ("POST", r"/v1beta/models/(?P<model>[^/:]+):predictLongRunning", "create"),
        ("GET", r"/v1beta/models/(?P<model>[^/:]+)/operations/(?P<op_id>[^/]+)", "operation"),
        # Generated files, handed out with the key only (``serve_file`` cannot see headers).
        ("GET", r"/v1beta/files/(?P<file_id>[^/:]+):download", "download"),
    )

    def __init__(self, mp4: bytes) -> None:
        super().__init__(mp4)
        # Set to make the next creation fail with this gRPC status name (e.g. quota).
        self.refuse_with = ""

    def error(self, status_name: str, message: str, **extra: Any) -> Answer:
        status = HTTP_STATUS[status_name]
        return (
            status,
            {"error": {"code": status, "message": message, "status": status_name, **extra}},
            {},
        )

    def check_key(self, request: Recorded) -> None:
        key = request.headers.get("x-goog-api-key")
        if not key:
            raise BadRequest(
                *self.error(
                    "PERMISSION_DENIED",
                    "Method doesn't allow unregistered callers (callers without established "
                    "identity). Please use API Key or other form of API consumer identity.",
                )[:2]
            )
        if key != API_KEY:
            raise BadRequest(
                *self.error(
                    "INVALID_ARGUMENT",
                    "API key not valid. Please pass a valid API key.",
                    details=[
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                        }
                    ],
                )[:2]
            )

    def invalid(self, message: str) -> BadRequest:
        return BadRequest(*self.error("INVALID_ARGUMENT", message)[:2])

    def create(self, request: Recorded, model: str) -> Answer:
        self.check_key(request)
        if model not in MODELS:
            return self.error(
                "NOT_FOUND",
                f"models/{model} is not found for API version v1beta, or is not supported "
                "for predictLongRunning.",
            )
        body = request.body

        def error(message: str) -> Answer:
            return self.error("INVALID_ARGUMENT", message)

        self.require_fields(
            body, required={"instances"}, allowed={"instances", "parameters"}, error=error
        )
        instances = body["instances"]
        if not isinstance(instances, list) or len(instances) != 1:
            raise self.invalid("instances must hold exactly one instance")
        instance = instances[0]
        self.require_fields(instance, required={"prompt"}, allowed=INSTANCE_FIELDS, error=error)
        if "image" in instance:
            self.check_image(instance["image"])
        parameters = body.get("parameters", {})
        self.require_fields(parameters, required=set(), allowed=PARAMETER_FIELDS, error=error)
        self.check_parameters(parameters)
        if self.refuse_with:
            name, self.refuse_with = self.refuse_with, ""
            return self.error(name, f"refused: {name}")
        job = self.new_job(body, prefix="op")
        job.extra["model"] = model
        return 200, {"name": f"models/{model}/operations/{job.id}"}, {}

    def check_image(self, image: Any) -> None:
        if isinstance(image, dict) and "inlineData" in image:
            raise self.invalid("`inlineData` isn't supported by this model.")
        self.require_fields(
            image,
            required={"bytesBase64Encoded", "mimeType"},
            allowed={"bytesBase64Encoded", "mimeType"},
            error=lambda message: self.error("INVALID_ARGUMENT", f"image: {message}"),
        )
        try:
            data = base64.b64decode(image["bytesBase64Encoded"], validate=True)
            with Image.open(io.BytesIO(data)) as decoded:
                format_ = decoded.format
        except (binascii.Error, UnidentifiedImageError, TypeError):
            raise self.invalid("image.bytesBase64Encoded is not a base64 image") from None
        if f"image/{(format_ or '').lower()}" != image["mimeType"]:
            raise self.invalid("image.mimeType does not match the image")

    def check_parameters(self, parameters: dict[str, Any]) -> None:
        if parameters.get("aspectRatio", "16:9") not in ("16:9", "9:16"):
            raise self.invalid("aspectRatio must be 16:9 or 9:16")
        resolution = parameters.get("resolution", "720p")
        if resolution not in ("720p", "1080p"):
            raise self.invalid("resolution must be 720p or 1080p")
        duration = parameters.get("durationSeconds", 8)
        if type(duration) is not int or duration not in (4, 6, 8):
            raise self.invalid("durationSeconds must be 4, 6 or 8")
        if resolution == "1080p" and duration != 8:
            raise self.invalid("1080p needs durationSeconds 8")
        seed = parameters.get("seed", 0)
        if type(seed) is not int or not 0 <= seed < 2**32:
            raise self.invalid("seed must be an unsigned 32-bit integer")

    def output_url(self, job: FakeJob) -> str:
        return f"{self.url}/v1beta/files/{job.id}:download?alt=media"

    def operation(self, request: Recorded, model: str, op_id: str) -> Answer:
        self.check_key(request)
        job = self.jobs.get(op_id)
        if job is None or job.extra.get("model") != model:
            return self.error("NOT_FOUND", f"Operation models/{model}/operations/{op_id} not found")
        name = f"models/{model}/operations/{job.id}"
        outcome = self.advance(job)
        if outcome == "running":
            return 200, {"name": name}, {}  # ``done`` is left out until it is true
        body: dict[str, Any] = {"name": name, "done": True}
        video_response: dict[str, Any]
        if outcome == "success":
            video_response = {"generatedSamples": [{"video": {"uri": self.output_url(job)}}]}
        elif outcome == "moderation":
            video_response = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [REFUSAL]}
        else:
            body["error"] = {"code": 13, "message": "Video generation failed: internal error."}
            return 200, body, {}
        body["response"] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
            "generateVideoResponse": video_response,
        }
        return 200, body, {}

    def download(self, request: Recorded, file_id: str) -> Answer:
        self.check_key(request)
        if request.query.get("alt") != ["media"]:
            return self.error("INVALID_ARGUMENT", "download needs alt=media")
        status, content, headers = self.serve_file(f"{file_id}.mp4")
        if status != 200:
            return self.error("NOT_FOUND", f"File {file_id} not found")
        return status, content, headers
