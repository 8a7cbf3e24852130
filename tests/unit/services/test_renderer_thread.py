"""The renderer app runs one render on one thread of its own, with the configured torch threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import torch

from services.renderer.app import Args, _in_thread


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


def test_torch_threads_default_leaves_the_setting_and_rejects_negatives() -> None:
    assert Args().torch_threads == 0
    with pytest.raises(ValueError, match="torch_threads"):
        Args(torch_threads=-1)
