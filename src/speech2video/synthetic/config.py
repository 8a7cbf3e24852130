"""Settings of a synthetic demo speaker, and the named presets ``tiny`` (CI) and ``demo``."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from speech2video.errors import InputError


@dataclass(frozen=True)
class DemoSpeakerConfig:
    """How big and how fast the generated speaker is.

    utterance_seconds: (min, max) target length of each utterance's speech, seconds
    words_per_minute: (min, max) TTS speaking rate, drawn per recording
    lead_s, tail_s: silence (with the TTS noise) before and after each recording's speech
    clip_hold_s: how long the speaker holds a still key pose in its ``pose_<word>`` recording
    jaw_lead_s: the mouth leads the sound by this much (the jaw opens before the voice starts)
    """

    name: str
    width: int
    height: int
    num_utterances: int
    utterance_seconds: tuple[float, float]
    fps: float = 15.0
    words_per_minute: tuple[int, int] = (150, 175)
    noise_level: float = 0.003
    lead_s: float = 0.3
    tail_s: float = 0.4
    clip_hold_s: float = 1.0
    jaw_lead_s: float = 0.07
    speaker: str = "demo"
    language: str = "en"

    def __post_init__(self) -> None:
        if not self.name:
            raise InputError("config name must be non-empty")
        if not (16 <= self.width <= 4096 and 16 <= self.height <= 4096):
            raise InputError(f"image size must be 16..4096 pixels; got {self.width}x{self.height}")
        if self.num_utterances < 1:
            raise InputError(f"num_utterances must be >= 1; got {self.num_utterances}")
        lo, hi = self.utterance_seconds
        if not (math.isfinite(lo) and math.isfinite(hi) and 0.5 <= lo <= hi <= 60):
            raise InputError(f"utterance_seconds must be 0.5 <= min <= max <= 60; got {lo}, {hi}")
        if not (math.isfinite(self.fps) and 1 <= self.fps <= 120):
            raise InputError(f"fps must be in [1, 120]; got {self.fps}")
        wlo, whi = self.words_per_minute
        if not 80 <= wlo <= whi <= 450:
            raise InputError(f"words_per_minute must be 80 <= min <= max <= 450; got {wlo}, {whi}")
        for name in ("noise_level", "lead_s", "tail_s", "clip_hold_s", "jaw_lead_s"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and 0 <= value <= 10):
                raise InputError(f"{name} must be a number in [0, 10]; got {value}")
        if self.language != "en":
            raise InputError(f"the demo speaker speaks English only; got {self.language!r}")


PRESETS: dict[str, DemoSpeakerConfig] = {
    "tiny": DemoSpeakerConfig("tiny", 128, 128, num_utterances=4, utterance_seconds=(2.4, 3.6)),
    "demo": DemoSpeakerConfig("demo", 256, 256, num_utterances=40, utterance_seconds=(4.0, 8.0)),
}


def get_config(name: str, **overrides: object) -> DemoSpeakerConfig:
    """A preset by name (``tiny`` or ``demo``), with optional field overrides."""
    if name not in PRESETS:
        raise InputError(f"unknown demo speaker config {name!r}; choose one of {sorted(PRESETS)}")
    try:
        return replace(PRESETS[name], **overrides)
    except TypeError as exc:
        raise InputError(f"bad demo speaker config override: {exc}") from None
