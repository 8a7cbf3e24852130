"""Recognition in a worker process (services/transcription_process.py): the real default engine
runs in a spawned process and gives the words the in-process call gives; its errors come back."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from services.synthesis_flow import LocalStages
from services.transcription_process import TranscriptionProcess
from speech2video.audio.io import Audio
from speech2video.audio.transcriber import transcribe
from speech2video.errors import InputError


def test_worker_process_recognises_like_the_process_itself(spoken_sentence) -> None:
    worker = TranscriptionProcess(threads=1)
    try:
        stages = LocalStages(transcription=worker)
        words = asyncio.run(stages.transcribe(spoken_sentence.audio, "en", ()))
        here = transcribe(spoken_sentence.audio, refine_if_heard=()).words
        assert [w.word for w in words] == [w.word for w in here] and len(words) >= 3
        np.testing.assert_allclose([w.start for w in words], [w.start for w in here], atol=0.02)
        aligned = asyncio.run(worker.transcribe(spoken_sentence.audio, "en"))
        assert [w.word for w in aligned] == [w.word for w in words]
        with pytest.raises(InputError, match="16 kHz"):
            asyncio.run(worker.transcribe(Audio(np.zeros(8000, np.float32), 8000), "en"))
    finally:
        worker.close()
    assert worker._pool is None


def test_a_dead_worker_is_a_clean_error_and_the_next_call_starts_another(spoken_sentence) -> None:
    import os
    import signal

    from speech2video.errors import S2VError

    worker = TranscriptionProcess(threads=1)
    try:
        assert asyncio.run(worker.transcribe(spoken_sentence.audio, "en", ()))
        (pid,) = list(worker._pool._processes)  # type: ignore[union-attr]
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(S2VError, match="worker process stopped"):
            asyncio.run(worker.transcribe(spoken_sentence.audio, "en", ()))
        assert asyncio.run(worker.transcribe(spoken_sentence.audio, "en", ()))
    finally:
        worker.close()
