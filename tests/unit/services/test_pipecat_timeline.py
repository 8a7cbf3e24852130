"""The avatar's ordering of one stream's frames and audio (services/pipecat_avatar/timeline.py;
no pipecat needed)."""

from __future__ import annotations

import numpy as np
import pytest

from services.pipecat_avatar.timeline import AudioOut, ImageOut, StreamTimeline


def _feed(timeline: StreamTimeline, pcm: bytes, sizes: list[int]) -> None:
    i = 0
    for n in sizes:
        timeline.add_audio(pcm[i : i + n], source=("chunk", i))
        i += n
    if i < len(pcm):
        timeline.add_audio(pcm[i:], source=("chunk", i))


@pytest.mark.parametrize(("rate", "channels", "fps"), [(16_000, 1, 15.0), (24_000, 2, 25.0)])
def test_every_image_goes_between_the_audio_before_and_after_its_time(
    rate: int, channels: int, fps: float
) -> None:
    rng = np.random.default_rng(0)
    seconds = 1.7
    pcm = rng.integers(-9000, 9000, round(seconds * rate) * channels, dtype=np.int16).tobytes()
    tl = StreamTimeline(rate, channels)
    sizes = [int(rng.integers(1, 4000)) * 2 * channels for _ in range(200)]
    _feed(tl, pcm, sizes)
    assert tl.ready() == []  # no frame yet: nothing may go
    out: list[AudioOut | ImageOut] = []
    total = round(seconds * fps)
    for k in range(total):
        tl.add_image(k, 4, 2, bytes(24), fps)
        out += tl.ready()
    tl.finish()
    out += tl.ready()
    assert b"".join(o.data for o in out if isinstance(o, AudioOut)) == pcm
    images = [o for o in out if isinstance(o, ImageOut)]
    assert [o.index for o in images] == list(range(total))
    bounds = np.array([round(k * rate / fps) for k in range(total)])

    def frame_of(sample: int) -> int:  # the frame whose span [bound k, bound k+1) holds it
        return int(np.searchsorted(bounds, sample, side="right")) - 1

    shown = -1
    for o in out:  # each sample after the image whose span holds it, before the next
        if isinstance(o, ImageOut):
            shown = o.index
            assert o.start == bounds[o.index]
        else:
            first, last = o.start, o.start + len(o.data) // (2 * channels) - 1
            assert frame_of(first) == frame_of(last) == shown
    whole = [o for o in out if isinstance(o, AudioOut) and o.whole]
    assert whole and all(o.source[0] == "chunk" for o in whole)


def test_a_failed_stream_lets_all_audio_go_without_images() -> None:
    tl = StreamTimeline(16_000, 1)
    tl.add_audio(b"\x01\x00" * 1600, "a")
    tl.add_image(0, 2, 2, bytes(12), 15.0)
    tl.abandon()
    out = tl.ready()
    assert [type(o) for o in out] == [AudioOut] and out[0].whole and out[0].source == "a"
    tl.add_audio(b"\x02\x00" * 10, "b")
    assert tl.ready()[0].data == b"\x02\x00" * 10


def test_odd_bytes_wait_for_the_rest_of_their_sample() -> None:
    tl = StreamTimeline(16_000, 1)
    tl.add_audio(b"\x01\x02\x03", "a")
    tl.add_audio(b"\x04", "b")
    tl.add_image(0, 1, 1, bytes(3), 15.0)
    tl.finish()
    out = tl.ready()
    assert b"".join(o.data for o in out if isinstance(o, AudioOut)) == b"\x01\x02\x03\x04"
    assert tl.audio_s == pytest.approx(2 / 16_000)


def test_drop_forgets_everything_and_protocol_breaks_are_errors() -> None:
    tl = StreamTimeline(16_000, 1)
    tl.add_audio(bytes(3200), None)
    tl.add_image(0, 1, 1, bytes(3), 15.0)
    tl.drop()
    assert tl.ready() == [] and tl.held_bytes == 0
    with pytest.raises(ValueError, match="frame 5 arrived where frame 1 was due"):
        tl.add_image(5, 1, 1, bytes(3), 15.0)
    with pytest.raises(ValueError, match="bytes for 2x2 RGB"):
        tl.add_image(1, 2, 2, bytes(3), 15.0)
    with pytest.raises(ValueError, match="positive"):
        StreamTimeline(0, 1)
