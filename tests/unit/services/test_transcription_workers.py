"""The Transcription app's worker processes: results, errors, and a stop that kills at once.

Real spawned processes; the calls are standard-library functions (picklable by reference), and one
test runs the real Whisper engine in a worker against the in-process path.
"""

from __future__ import annotations

import operator
import os
import threading
import time
from collections.abc import Iterator

import pytest

from services.transcription.workers import WorkerLostError, WorkerPool
from speech2video.audio.transcriber import TranscriptionCancelledError


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool(1)
    yield pool
    pool.close()


def _never() -> bool:
    return False


def _raise_alignment_error() -> None:
    from speech2video.audio.alignment import AlignmentError

    raise AlignmentError("could not place: zebra", ["zebra"])


def test_a_call_runs_in_a_worker_process(pool: WorkerPool) -> None:
    assert pool.run(operator.add, 2, 3, should_stop=_never) == 5
    assert pool.run(os.getpid, should_stop=_never) != os.getpid()


def test_an_error_comes_back_and_the_worker_stays(pool: WorkerPool) -> None:
    pid = pool.run(os.getpid, should_stop=_never)
    with pytest.raises(ZeroDivisionError):
        pool.run(operator.truediv, 1, 0, should_stop=_never)
    assert pool.run(os.getpid, should_stop=_never) == pid


def test_a_stop_kills_the_busy_worker_and_a_fresh_one_takes_its_place(pool: WorkerPool) -> None:
    before = pool.replaced
    old = pool.run(os.getpid, should_stop=_never)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    with pytest.raises(TranscriptionCancelledError):
        pool.run(time.sleep, 60, should_stop=stop.is_set)  # would hold the worker for a minute
    assert pool.replaced == before + 1
    with pytest.raises(ProcessLookupError):
        os.kill(old, 0)  # the busy worker is gone, not left computing
    fresh = pool.run(os.getpid, should_stop=_never)  # waits for the replacement to be warm
    assert fresh != old


def test_a_worker_that_dies_fails_its_call_and_is_replaced(pool: WorkerPool) -> None:
    before = pool.replaced
    with pytest.raises(WorkerLostError):
        pool.run(os._exit, 3, should_stop=_never)
    assert pool.replaced == before + 1
    assert pool.run(operator.mul, 6, 7, should_stop=_never) == 42


def test_a_stop_before_a_worker_is_free_ends_the_wait() -> None:
    one = WorkerPool(1)
    try:
        busy = threading.Thread(
            target=one.run, args=(time.sleep, 1.0), kwargs={"should_stop": _never}
        )
        busy.start()
        time.sleep(0.1)
        with pytest.raises(TranscriptionCancelledError):
            one.run(operator.add, 1, 1, should_stop=lambda: True)
        busy.join()
    finally:
        one.close()


def test_whisper_in_a_worker_gives_the_in_process_words() -> None:
    from speech2video.audio.transcriber import get_transcriber, transcribe
    from speech2video.audio.tts import synthesize

    speech = synthesize(
        "Every path gives the same words for the same speech.", words_per_minute=150
    )
    stt = WorkerPool(1, get_transcriber, (None,))
    try:
        remote = stt.run(transcribe, speech.audio, language="en", should_stop=_never)
    finally:
        stt.close()
    local = transcribe(speech.audio, language="en")
    assert remote.words == local.words
    assert len(remote.words) >= 8 and remote.words[0].word.lower() == "every"


def test_an_error_that_cannot_be_unpickled_comes_back_as_its_base_class(pool: WorkerPool) -> None:
    """AlignmentError(message, words) cannot be rebuilt from its args: it comes back as an
    InputError with its message (INVALID_ARGUMENT for the caller), not as a lost worker."""
    from speech2video.errors import InputError

    with pytest.raises(InputError, match="could not place: zebra"):
        pool.run(_raise_alignment_error, should_stop=_never)
    assert pool.run(operator.add, 1, 2, should_stop=_never) == 3
