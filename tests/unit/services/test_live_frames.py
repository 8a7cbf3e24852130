"""Raw frames of a live stream: MP4 pieces decoded as they come, each with its audio."""

from __future__ import annotations

import asyncio

import numpy as np

from services.live_audio import PCM
from services.live_frames import FrameAudio, PieceDecoder, raw_frame
from speech2video.render.mp4_stream import encode_pieces


def test_pieces_fed_one_by_one_decode_to_every_frame() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (1, 1, 3), np.uint8)
    frames = [np.clip(base + i * 4, 0, 255).repeat(64, 0).repeat(64, 1) for i in range(30)]
    decoder = PieceDecoder()
    got = []
    for piece in encode_pieces(frames, 25.0, 8, None, 4):
        decoder.feed(piece.data)
        got.extend(decoder.ready())
    got.extend(asyncio.run(decoder.rest()))
    assert len(got) == 30 and got[0].shape == (64, 64, 3)
    err = np.abs(np.stack(got).astype(int) - np.stack(frames).astype(int)).mean()
    assert err < 6, err  # H.264 at the renderer's quality


def test_each_frame_carries_its_span_of_the_audio() -> None:
    audio = FrameAudio(PCM, 16_000, 10)
    samples = (np.arange(16_000) % 1000).astype("<i2")
    audio.push(samples.tobytes())
    audio.push(None)
    frame = np.zeros((4, 4, 3), np.uint8)
    spans = [raw_frame(frame, i, 25.0, audio) for i in range(25)]
    assert all(len(s.audio_pcm) == 640 * 2 for s in spans) and spans[3].time_s == 0.12
    assert np.frombuffer(spans[1].audio_pcm, "<i2")[0] == 640 and spans[0].width == 4


def test_each_piece_decodes_before_the_next_arrives() -> None:
    """No demuxer probing, no read waiting for a full buffer: a piece's frames come out of it
    alone (FFmpeg's default probe of ~5 MB held 256² frames back ~20 frames, and a read that
    waited for a full buffer held each piece's last frame until the next piece)."""
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (1, 1, 3), np.uint8)
    frames = [np.clip(base + i * 4, 0, 255).repeat(256, 0).repeat(256, 1) for i in range(16)]

    async def scenario() -> list[int]:
        decoder, counts = PieceDecoder(), []
        for piece in encode_pieces(frames, 15.0, 5, None, 1):
            decoder.feed(piece.data)
            got = await decoder.frames_of(piece.num_frames, timeout_s=5.0)
            assert len(got) == piece.num_frames, (piece.first_frame, len(got))
            counts.append(len(got))
        assert not await decoder.rest()
        return counts

    assert asyncio.run(scenario()) == [1, 5, 5, 5]
