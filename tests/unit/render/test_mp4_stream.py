"""Fragmented-MP4 pieces: they concatenate to one playable H.264 + AAC file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from speech2video.audio.io import Audio
from speech2video.errors import InputError
from speech2video.render.mp4_stream import Mp4StreamEncoder, encode_pieces


def _frames(n: int, size: int = 32) -> list[np.ndarray]:
    return [np.full((size, size, 3), (i * 7) % 255, np.uint8) for i in range(n)]


def test_pieces_concatenate_to_a_playable_mp4_with_audio() -> None:
    import av

    audio = Audio((np.sin(np.arange(16_000 * 2) / 9) * 0.1).astype(np.float32), 16_000)
    pieces = list(encode_pieces(_frames(30), 15.0, 10, audio))
    assert pieces[-1].last and not any(p.last for p in pieces[:-1])
    assert sum(p.num_frames for p in pieces) == 30
    assert len(pieces) >= 3 and all(p.data for p in pieces)
    with av.open(io.BytesIO(b"".join(p.data for p in pieces))) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        assert sum(1 for _ in container.decode(video=0)) == 30
    with av.open(io.BytesIO(b"".join(p.data for p in pieces))) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    assert abs(samples - audio.samples.size) <= 2048


def test_a_chunk_is_flushed_by_the_next_one() -> None:
    encoder = Mp4StreamEncoder(15.0, 32, 32)
    head = encoder.write_chunk(_frames(5))
    second = encoder.write_chunk(_frames(5))
    end = encoder.finish()
    assert head.data == b""  # the header waits for the first fragment (delay_moov)
    assert b"ftyp" in second.data[:16] and b"moov" in second.data and b"moof" in second.data
    assert end.last and b"moof" in end.data


def test_audio_priming_keeps_the_frame_rate_constant(tmp_path: Path) -> None:
    """The AAC encoder's priming samples go to an edit list (the header is written with the first
    fragment), so the video's frame times stay even and the file probes as constant rate."""
    from speech2video.render.video_io import probe

    audio = Audio((np.sin(np.arange(16_000 * 3) / 9) * 0.1).astype(np.float32), 16_000)
    data = b"".join(p.data for p in encode_pieces(_frames(30), 15.0, 10, audio, 4))
    path = tmp_path / "stream.mp4"
    path.write_bytes(data)
    info = probe(path)
    assert not info.variable_frame_rate and info.fps == 15.0 and info.frames == 30


def test_bad_input_is_refused() -> None:
    with pytest.raises(InputError, match="even"):
        Mp4StreamEncoder(15.0, 33, 32)
    with pytest.raises(InputError, match="no frames"):
        list(encode_pieces([], 15.0, 5))
    encoder = Mp4StreamEncoder(15.0, 32, 32)
    with pytest.raises(InputError, match="must be"):
        encoder.write_chunk([np.zeros((16, 16, 3), np.uint8)])
    encoder.close()


def test_each_piece_holds_its_own_chunk_and_the_first_is_small() -> None:
    import av

    audio = Audio((np.sin(np.arange(16_000 * 3) / 9) * 0.1).astype(np.float32), 16_000)
    pieces = list(encode_pieces(_frames(33), 15.0, 10, audio, first_chunk_frames=4))
    assert [(p.first_frame, p.num_frames) for p in pieces] == [(0, 4), (4, 10), (14, 10), (24, 9)]
    data = b""
    for piece in pieces:  # what has arrived so far decodes to exactly the frames announced
        data += piece.data
        with av.open(io.BytesIO(data)) as container:
            decoded = sum(1 for _ in container.decode(video=0))
        assert decoded == piece.first_frame + piece.num_frames
