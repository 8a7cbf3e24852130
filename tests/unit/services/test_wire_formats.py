"""What travels between the stages: raw float32 poses and 16-bit PCM speech, and their checks."""

from __future__ import annotations

import numpy as np
import pytest

from services.convert import motion_from_pb, motion_to_pb, pcm_grid, pcm_to_pb
from services.limits import Bounds, pcm_audio, request_audio
from services.synthesis_flow import wav_bytes
from speech2video.audio.io import Audio, decode
from speech2video.body.motion_file import Motion
from speech2video.errors import InputError
from speech2video_api.v1 import common_pb2


def _motion(frames: int = 30) -> Motion:
    rng = np.random.default_rng(0)
    return Motion(rng.normal(size=(frames, 106)).astype(np.float32), 15.0, speaker="alice")


def test_raw_poses_round_trip_exactly_and_fill_no_values() -> None:
    motion = _motion()
    seq = motion_to_pb(motion)
    assert len(seq.values) == 0 and len(seq.data) == 30 * 106 * 4
    back = motion_from_pb(common_pb2.PoseSequence.FromString(seq.SerializeToString()))
    np.testing.assert_array_equal(back.poses, motion.poses)
    assert back.fps == 15.0 and back.speaker == "alice"


def test_the_product_form_fills_values_and_reads_back_the_same() -> None:
    motion = _motion()
    seq = motion_to_pb(motion, raw=False)
    assert len(seq.data) == 0 and len(seq.values) == 30 * 106
    np.testing.assert_array_equal(
        motion_from_pb(seq).poses, motion_from_pb(motion_to_pb(motion)).poses
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.values.extend([0.0] * 106), "not both"),
        (lambda s: setattr(s, "data", s.data[:-3]), "whole float32"),
        (lambda s: setattr(s, "data", s.data[:-4]), "num_frames x 106"),
        (lambda s: setattr(s, "num_frames", 31), "num_frames x 106"),
        (
            lambda s: setattr(s, "data", np.full(30 * 106, np.nan, "<f4").tobytes()),
            "finite",
        ),
    ],
)
def test_bad_raw_poses_are_refused_naming_the_problem(change, message: str) -> None:
    seq = motion_to_pb(_motion())
    change(seq)
    with pytest.raises(InputError, match=message):
        motion_from_pb(seq)


def test_pcm_is_lossless_for_samples_on_the_16_bit_grid() -> None:
    rng = np.random.default_rng(1)
    audio = pcm_grid(Audio(rng.uniform(-0.9, 0.9, 16_000).astype(np.float32), 16_000))
    back = pcm_audio(pcm_to_pb(audio), Bounds(10))
    np.testing.assert_array_equal(back.samples, audio.samples)


def test_a_16_bit_wav_decoded_is_already_on_the_grid() -> None:
    """So passing a caller's 16-bit WAV as PCM changes no sample: stages hear what they heard
    when they decoded it themselves."""
    rng = np.random.default_rng(2)
    decoded = decode(wav_bytes(Audio(rng.uniform(-0.5, 0.5, 8_000).astype(np.float32), 16_000)))
    np.testing.assert_array_equal(pcm_grid(decoded).samples, decoded.samples)


@pytest.mark.parametrize(
    ("pcm", "message"),
    [
        (common_pb2.PcmAudio(data=b"\0\0", sample_rate=44_100), "sample_rate must be 16000"),
        (common_pb2.PcmAudio(data=b"\0\0\0", sample_rate=16_000), "whole 16-bit samples"),
        (common_pb2.PcmAudio(data=b"", sample_rate=16_000), "empty"),
        (common_pb2.PcmAudio(data=b"\0" * 2 * 16_000 * 3, sample_rate=16_000), "limit is 2 s"),
    ],
)
def test_bad_pcm_is_refused_naming_the_field(pcm: common_pb2.PcmAudio, message: str) -> None:
    with pytest.raises(InputError, match=message):
        pcm_audio(pcm, Bounds(2))


def test_a_request_sets_encoded_audio_or_pcm() -> None:
    pcm = common_pb2.PcmAudio(data=b"\0\0" * 160, sample_rate=16_000)
    assert request_audio(b"", pcm, Bounds(5)).samples.shape == (160,)
    with pytest.raises(InputError, match="not both"):
        request_audio(b"RIFF", pcm, Bounds(5))
    with pytest.raises(InputError, match="needs audio or pcm"):
        request_audio(b"", None, Bounds(5))
