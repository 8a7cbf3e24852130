"""The project's own text-to-speech (espeak-ng, :mod:`speech2video.audio.tts`) as a Pipecat
``TTSService``: local, no cloud service, no model download.

Each text is spoken whole (espeak-ng gives a sentence in a few tens of milliseconds, once warmed
at set-up) in a thread of the service's own (shut down at the end), then pushed as
``TTSAudioRawFrame``s of ``chunk_ms`` of 16-bit mono PCM at the pipeline's output rate (espeak's
16 kHz resampled by Pipecat when that differs). The paper's faint white noise (``noise_level``,
§4.2) is kept by default: the avatar's motion model was trained on speech without dead silence
between words.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pipecat.frames.frames import CancelFrame, EndFrame, ErrorFrame, Frame
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService

from services.pcm import pcm16_bytes
from speech2video.audio.tts import DEFAULT_NOISE_LEVEL, DEFAULT_WPM, synthesize
from speech2video.errors import S2VError

#: espeak-ng's output rate in this project (speech2video.audio.tts).
ESPEAK_RATE = 16_000


class EspeakTTSService(TTSService):
    """Text → speech with espeak-ng, in this process.

    Args:
        language: "en" or "zh" (:data:`speech2video.audio.tts.VOICES`).
        words_per_minute: speaking rate, 80 to 450.
        noise_level: RMS of the white noise added (0: clean audio).
        chunk_ms: length of each audio frame pushed.
        **kwargs: passed to ``TTSService`` (e.g. ``sample_rate``; default the pipeline's).
    """

    def __init__(
        self,
        *,
        language: str = "en",
        words_per_minute: int = DEFAULT_WPM,
        noise_level: float = DEFAULT_NOISE_LEVEL,
        chunk_ms: int = 40,
        settings: TTSSettings | None = None,
        **kwargs: Any,
    ) -> None:
        default_settings = TTSSettings(model=None, voice=language, language=None)
        if settings is not None:
            default_settings.apply_update(settings)
        super().__init__(
            push_start_frame=True, push_stop_frames=True, settings=default_settings, **kwargs
        )
        if chunk_ms <= 0:
            raise ValueError(f"chunk_ms must be positive; got {chunk_ms}")
        self._language, self._wpm, self._noise = language, words_per_minute, noise_level
        self._chunk_bytes = ESPEAK_RATE * chunk_ms // 1000 * 2
        self._executor: ThreadPoolExecutor | None = None

    def can_generate_metrics(self) -> bool:
        return True

    async def setup(self, setup: FrameProcessorSetup) -> None:
        """Loads espeak-ng and speaks a word (the first call of a process takes seconds:
        longer than Pipecat waits for a context's first audio)."""
        await super().setup(setup)
        self._ensure_executor()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._speak, "ready")

    def _ensure_executor(self) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="espeak-tts")

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        self._shutdown()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        self._shutdown()

    async def cleanup(self) -> None:
        await super().cleanup()
        self._shutdown()

    def _shutdown(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _speak(self, text: str) -> bytes:
        spoken = synthesize(
            text, self._language, words_per_minute=self._wpm, noise_level=self._noise
        )
        return pcm16_bytes(spoken.audio.samples)

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        """``text`` spoken: ``TTSAudioRawFrame``s (an ``ErrorFrame`` for unspeakable text)."""
        self._ensure_executor()
        try:
            await self.start_tts_usage_metrics(text)
            loop = asyncio.get_running_loop()
            pcm = await loop.run_in_executor(self._executor, self._speak, text)
        except S2VError as exc:
            await self.stop_ttfb_metrics()
            yield ErrorFrame(error=f"espeak-ng TTS: {exc}")
            return
        step = self._chunk_bytes

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(pcm), step):
                yield pcm[i : i + step]

        async for frame in self._stream_audio_frames_from_iterator(
            chunks(), in_sample_rate=ESPEAK_RATE, context_id=context_id
        ):
            await self.stop_ttfb_metrics()
            yield frame
