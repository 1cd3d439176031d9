"""``ScenePlan``: what one segment shows, as plain data — the contract between deciding a scene
(``personalization.plans``) and drawing or prompting it (the compositor, the AI providers).

Plans are plain data: their canonical JSON is part of a segment's cache key, so anything that
does not change the pixels stays out of them.
"""

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

WeatherKind = Literal["none", "rain", "snow", "sun", "haze", "heat"]
SegmentKind = Literal["hero", "scene", "offer", "outro"]
SEGMENT_KINDS: tuple[SegmentKind, ...] = ("hero", "scene", "offer", "outro")

CameraKind = Literal["push-in", "pan-left", "pan-right", "orbit", "rise"]


@dataclass(frozen=True, slots=True)
class Light:
    temperature_k: int  # color temperature of the key light
    direction_deg: int  # where the key light comes from: 0 = right, 90 = top, 180 = left
    intensity: float  # 0..1


@dataclass(frozen=True, slots=True)
class CameraMove:
    kind: CameraKind
    strength: float  # 0..1, how far the move travels over the segment


@dataclass(frozen=True, slots=True)
class ScenePlan:
    kind: SegmentKind
    seconds: float
    prompt: str
    negative_prompt: str
    backdrop: str
    palette: tuple[str, ...]  # sky/top, ground/bottom, accent: #RRGGBB
    weather: WeatherKind
    light: Light
    camera: CameraMove
    caption: str
    subcaption: str = ""
    brand_colors: tuple[str, str] = ("#1F2937", "#F59E0B")
    extras: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ScenePlan":
        data = dict(data)
        data["light"] = Light(**data["light"])
        data["camera"] = CameraMove(**data["camera"])
        data["palette"] = tuple(data["palette"])
        data["brand_colors"] = tuple(data["brand_colors"])
        return cls(**data)
