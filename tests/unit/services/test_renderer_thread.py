"""The renderer app runs one render on one thread of its own, with the configured torch threads."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import pytest
import torch

from services.renderer.app import Args, _in_thread, render_threads


def _pieces(seen: list[tuple[int, int]], n: int) -> Iterator[int]:
    for i in range(n):
        seen.append((threading.get_ident(), torch.get_num_threads()))
        yield i


async def _collect(seen: list[tuple[int, int]], torch_threads: int) -> list[int]:
    return [piece async for piece in _in_thread(_pieces(seen, 6), torch_threads)]


def test_a_render_stays_on_one_thread_with_its_torch_threads() -> None:
    seen: list[tuple[int, int]] = []
    assert asyncio.run(_collect(seen, 2)) == list(range(6))
    threads = {ident for ident, _ in seen}
    assert len(threads) == 1 and threading.get_ident() not in threads
    assert [n for _, n in seen] == [1, 2, 2, 2, 2, 2]  # the first piece races the speech stages


def test_an_openvino_step_renders_with_one_torch_thread() -> None:
    """OpenVINO runs the step on its own thread: torch, copying tensors between steps, keeps
    one (a second would spin on the step's core); other engines get the configured threads."""
    from speech2video.render.renderer_inference import InferenceOptions, StreamingRenderer
    from tests.unit.render.test_renderer_inference import make_generator

    exact = StreamingRenderer(make_generator(), InferenceOptions(device="cpu", precision="fp32"))
    assert exact.engine == "onnxruntime" and render_threads(exact, 2) == 2
    assert render_threads(exact, 0) == 0  # 0: torch's setting left alone
    from speech2video.render import openvino_generator

    if openvino_generator.available():
        options = InferenceOptions(device="cpu", engine="openvino")
        assert render_threads(StreamingRenderer(make_generator(), options), 2) == 1


def test_torch_threads_default_leaves_the_setting_and_rejects_negatives() -> None:
    assert Args().torch_threads == 0
    with pytest.raises(ValueError, match="torch_threads"):
        Args(torch_threads=-1)


def test_a_cancelled_render_stops_within_a_block_of_frames() -> None:
    """The caller goes while the second piece is being rendered: the rendering thread renders
    at most the block of frames it is on, then stops (it does not finish the job for nobody)."""
    import time

    import numpy as np

    from services.renderer.app import frames_until
    from speech2video.body.motion_file import Motion

    cancelled = threading.Event()
    pulled: list[int] = []
    stopped = threading.Event()

    def pieces() -> Iterator[int]:
        try:
            motion = Motion(np.zeros((500, 106)), 15.0)
            for i, block in enumerate(frames_until(motion, cancelled, block=4)):
                assert len(block) == 4
                time.sleep(0.01)  # rendering a block's frames
                pulled.append(i)
                if (i + 1) % 2 == 0:
                    yield i
        finally:  # RenderCancelledError, or closed before it asked for the next frame
            stopped.set()

    async def caller_goes_after_the_first_piece() -> int:
        first = asyncio.Event()

        async def render() -> None:
            try:
                async for _ in _in_thread(pieces()):
                    first.set()
            finally:
                cancelled.set()  # what the renderer app does when its caller goes

        task = asyncio.ensure_future(render())
        await first.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return len(pulled)

    at_cancel = asyncio.run(caller_goes_after_the_first_piece())
    assert stopped.wait(10)
    assert len(pulled) <= at_cancel + 1 < 125  # ended by the cancel, not by running out
