"""Speech recognition in a worker process, for stages that run in one process.

Served, the transcription stage is a replica of its own (its own process, its own cores). In one
process (:class:`services.synthesis_flow.LocalStages`: ``s2v synthesize`` without a server, the
live benchmark) the recogniser's pure-Python and pocketsphinx stretches hold the interpreter's
lock the renderer thread needs between frames: with the recogniser in a worker process the live
renderer keeps its pace (``python -m benchmarks.live`` shows both). The worker is started
(``spawn``) on first use, builds the default engine once, and uses ``threads`` CPU threads.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Collection
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from speech2video.audio.io import Audio
from speech2video.errors import S2VError
from speech2video.motion.words import Word


def _init(threads: int) -> None:
    from speech2video.audio.whisper_engine import THREADS_ENV

    os.environ[THREADS_ENV] = str(threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _transcribe(
    samples: np.ndarray, rate: int, language: str, align_if_heard: list[str] | None
) -> list[Word]:
    from speech2video.audio.transcriber import transcribe

    refine = {} if align_if_heard is None else {"refine_if_heard": align_if_heard}
    return list(transcribe(Audio(samples, rate), language=language or None, **refine).words)


class TranscriptionProcess:
    """``transcribe`` (:func:`speech2video.audio.transcriber.transcribe`) in one worker process.

    threads: the recogniser's CPU threads there (``$S2V_STT_THREADS`` in the worker).
    """

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                1, mp_context=context, initializer=_init, initargs=(self.threads,)
            )
        return self._pool

    async def transcribe(
        self, audio: Audio, language: str, align_if_heard: Collection[str] | None = None
    ) -> list[Word]:
        """The words heard in ``audio`` (16 kHz), retimed only when one of ``align_if_heard``
        is heard (None: always). Errors of the worker (bad audio, a missing model) are raised
        here as they are in process; a worker that died is an S2VError, and the next call
        starts a new one."""
        wanted = None if align_if_heard is None else sorted(align_if_heard)
        samples = np.asarray(audio.samples, np.float32)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor(), _transcribe, samples, audio.rate, language, wanted
            )
        except BrokenProcessPool:
            self.close()
            raise S2VError(
                "the speech-recognition worker process stopped (killed or out of memory); "
                "the next request starts a new one"
            ) from None

    def close(self) -> None:
        """Stops the worker (it is also stopped when this process exits)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
