"""Speech recognition in child processes that a stop ends at once.

CTranslate2 decodes one 30 s Whisper window in a single native call that no Python thread can
interrupt (2–4 s on 2 CPU cores with beam search), so a thread-based stop check lets a caller that
has gone keep a core busy until the window ends. Here each worker is a spawned process that holds
its own engine: a call whose ``should_stop`` says True kills its worker at once (SIGKILL) and a
fresh worker is started in the background to take its place. The worker runs the core library's
own functions (``transcribe``, ``align``) on the same input, so the words are those of any other
path.

A worker whose parent dies sees its pipe close and exits; a worker that dies by itself makes its
call fail with :class:`WorkerLostError` and is replaced.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import queue
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from speech2video.audio.transcriber import TranscriptionCancelledError

logger = logging.getLogger("ray.serve")
#: Seconds between two stop checks while a worker computes.
POLL_S = 0.05


class WorkerLostError(RuntimeError):
    """A worker process died during a call (not by a stop)."""


def _worker_main(conn: Connection, warm: Callable[..., Any] | None, warm_args: tuple) -> None:
    """A worker's loop: warm up, then run ``(fn, args, kwargs)`` messages until the pipe closes."""
    if warm is not None:
        warm(*warm_args)
    conn.send(("ready", None))
    while True:
        try:
            fn, args, kwargs = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        try:
            conn.send(("ok", fn(*args, **kwargs)))
        except Exception as exc:  # every failure goes back to the caller
            conn.send(("error", travelling(exc)))


def travelling(exc: Exception) -> Exception:
    """``exc`` if it survives a pickle round trip, else the nearest of its bases that a message
    alone builds (an InputError stays an InputError: the caller still gets INVALID_ARGUMENT)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # e.g. an __init__ with more arguments than the message
        pass
    for base in type(exc).__mro__[1:]:
        if issubclass(base, Exception):
            try:
                substitute = base(str(exc))
                pickle.loads(pickle.dumps(substitute))
                return substitute
            except Exception:
                continue
    return RuntimeError(str(exc))


class _Worker:
    def __init__(self, warm: Callable[..., Any] | None, warm_args: tuple) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(child, warm, warm_args), daemon=True, name="s2v-stt-worker"
        )
        self.process.start()
        child.close()

    def wait_ready(self) -> None:
        try:
            kind, _ = self.conn.recv()
        except (EOFError, OSError):
            kind = "died"
        if kind != "ready":
            self.process.join(5)
            code = self.process.exitcode
            raise WorkerLostError(f"a transcription worker failed to start (exit {code})")

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class WorkerPool:
    """``size`` worker processes; :meth:`run` runs a function in an idle one.

    warm: a top-level function each new worker calls first (e.g. loading the engine), so a call
    never pays for it; fn and its arguments must be picklable (top-level functions, plain data).
    """

    def __init__(
        self, size: int, warm: Callable[..., Any] | None = None, warm_args: tuple = ()
    ) -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least one worker; got {size}")
        self._warm, self._warm_args = warm, warm_args
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._closed = False
        workers = [_Worker(warm, warm_args) for _ in range(size)]
        for worker in workers:  # started together, waited for together
            worker.wait_ready()
            self._idle.put(worker)
        self.replaced = 0  # workers killed by a stop or lost, and started again

    def run(
        self, fn: Callable[..., Any], *args: Any, should_stop: Callable[[], bool], **kwargs: Any
    ) -> Any:
        """``fn(*args, **kwargs)`` in a worker; raises TranscriptionCancelledError within
        :data:`POLL_S` of ``should_stop`` saying True (the worker is killed and replaced)."""
        worker = self._take(should_stop)
        try:
            worker.conn.send((fn, args, kwargs))
            while not worker.conn.poll(POLL_S):
                if should_stop():
                    self._replace(worker)
                    worker = None
                    raise TranscriptionCancelledError("transcription stopped: the caller is gone")
                if not worker.process.is_alive():
                    self._replace(worker)
                    worker = None
                    raise WorkerLostError("the transcription worker died")
            kind, value = worker.conn.recv()
        except (EOFError, OSError):
            self._replace(worker)
            worker = None
            raise WorkerLostError("the transcription worker died") from None
        finally:
            if worker is not None:
                self._idle.put(worker)
        if kind == "error":
            raise value
        return value

    def _take(self, should_stop: Callable[[], bool]) -> _Worker:
        while True:
            if should_stop():
                raise TranscriptionCancelledError("transcription stopped: the caller is gone")
            try:
                return self._idle.get(timeout=POLL_S)
            except queue.Empty:
                continue

    def _replace(self, worker: _Worker | None) -> None:
        """Kill ``worker`` now; a fresh one joins the pool once warm (in the background)."""
        if worker is not None:
            worker.kill()
        self.replaced += 1

        def start() -> None:
            try:
                fresh = _Worker(self._warm, self._warm_args)
                fresh.wait_ready()
            except Exception:  # logged; the pool runs one worker short
                logger.exception("could not start a replacement transcription worker")
                return
            if self._closed:
                fresh.kill()
            else:
                self._idle.put(fresh)

        threading.Thread(target=start, daemon=True, name="s2v-stt-respawn").start()

    def close(self) -> None:
        """Kill the idle workers (busy ones end with their calls' processes)."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return
