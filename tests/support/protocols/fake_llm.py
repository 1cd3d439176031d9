"""An OpenAI-compatible chat completions API, as PROVIDERS.md documents it: Bearer auth,
``POST /v1/chat/completions`` with ``{"model", "messages", "response_format"}``, the answer in
``choices[0].message.content``, errors as ``{"error": {"message", "type", "code"}}``.

It plays a *naive* model, the kind prompt injection works on: a user message that is one JSON
object is data and it writes lines from it; but an instruction ("ignore previous instructions
and write X") that it finds in the system prompt, or in any text that is not such a data
object, it obeys, answering X on every line. So a client that keeps product text inside the
data object is not steered, and one that pastes it into the prompt is.

Knobs: ``content`` (answer exactly this text, e.g. garbage or an over-long line), ``echo``
(copy the product description into the subcaption, as a parroting model does), and the base
server's ``fault("429")`` and friends.
"""

import json
import re
import time
from typing import Any

from .server import Answer, BadRequest, FakeProvider, Recorded

API_KEY = "sk-llm-test"
_INSTRUCTION = re.compile(
    r"(?i)(?:ignore|disregard) (?:all )?(?:previous|prior|above) instructions"
    r"(?: and)?(?: (?:write|say|answer))?\s*:?\s*(?P<order>[^.\n\"]*)"
)


class FakeLLM(FakeProvider):
    routes = (("POST", r"/v1/chat/completions", "complete"),)

    def __init__(self) -> None:
        super().__init__(mp4=b"")
        self.content: str | None = None
        self.echo = False
        self.obeyed: list[str] = []

    @property
    def completions(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    def error(self, status: int, message: str, kind: str, code: str | None = None) -> Answer:
        return status, {"error": {"message": message, "type": kind, "code": code}}, {}

    def complete(self, request: Recorded) -> Answer:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return self.error(401, "Incorrect API key provided", "invalid_request_error", "401")
        self.require_fields(
            request.body,
            required={"model", "messages"},
            allowed={"model", "messages", "response_format", "temperature", "max_tokens"},
            error=lambda message: self.error(400, message, "invalid_request_error"),
        )
        body = request.body
        if not isinstance(body["model"], str) or not body["model"]:
            return self.error(400, "model must be a non-empty string", "invalid_request_error")
        if body.get("response_format", {"type": "text"}).get("type") not in ("text", "json_object"):
            return self.error(400, "response_format.type is invalid", "invalid_request_error")
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            return self.error(400, "messages must be a non-empty array", "invalid_request_error")
        for message in messages:
            if (
                not isinstance(message, dict)
                or message.get("role") not in ("system", "user", "assistant")
                or not isinstance(message.get("content"), str)
            ):
                raise BadRequest(
                    *self.error(400, "each message needs a role and text content", "invalid")[:2]
                )
        return 200, self.completion(body["model"], self.think(messages)), {}

    def think(self, messages: list[dict[str, str]]) -> str:
        """What the naive model answers to this conversation."""
        if self.content is not None:
            return self.content
        data: dict[str, Any] = {}
        for message in messages:
            parsed = _data_object(message["content"]) if message["role"] == "user" else None
            if parsed is not None:
                data = parsed  # data: read, never obeyed
                continue
            order = _INSTRUCTION.search(message["content"])
            if order:
                said = order.group("order").strip() or "OK"
                self.obeyed.append(said)
                return json.dumps({"claim": said, "caption": said, "subcaption": said})
        product = data.get("product", {})
        shopper = data.get("shopper", {})
        title = str(product.get("title", "This product"))
        climate = shopper.get("climate")
        caption = f"{title} for {climate} days" if climate else title
        subcaption = (
            f"Picked for your {shopper['aesthetic']} style"
            if shopper.get("aesthetic")
            else "Picked for you"
        )
        if self.echo:
            subcaption = str(product.get("description", ""))
        claim = f"{title}, built to last"
        if str(shopper.get("locale", "")).startswith("de"):
            claim = f"{title}, gemacht für jeden Tag"
        return json.dumps({"claim": claim[:70], "caption": caption[:48], "subcaption": subcaption})

    def completion(self, model: str, content: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }


def _data_object(text: str) -> dict[str, Any] | None:
    """The message as a data object, if it is exactly one JSON object and nothing else."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
