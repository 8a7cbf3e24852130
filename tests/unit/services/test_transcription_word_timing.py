"""The Transcription app's ``word_timing`` / ``align_if_heard`` request fields: validated, and
mapped onto the core ``transcribe``'s refinement arguments."""

from __future__ import annotations

import pytest

from services.transcription.app import _word_timing
from speech2video.errors import InputError
from speech2video_api.v1 import transcription_pb2 as pb


def test_each_timing_maps_to_the_core_arguments() -> None:
    assert _word_timing(pb.TranscribeRequest()) == {}  # aligned, as before the field
    recogniser = pb.TranscribeRequest(word_timing=pb.WORD_TIMING_RECOGNISER)
    assert _word_timing(recogniser) == {"refine_times": False}
    if_heard = pb.TranscribeRequest(
        word_timing=pb.WORD_TIMING_ALIGNED_IF_HEARD, align_if_heard=["huge", "Wave"]
    )
    assert _word_timing(if_heard) == {"refine_if_heard": ["huge", "Wave"]}


@pytest.mark.parametrize(
    ("request_", "needle"),
    [
        (pb.TranscribeRequest(word_timing=7), "word_timing 7"),
        (pb.TranscribeRequest(align_if_heard=["huge"]), "only read with"),
        (
            pb.TranscribeRequest(
                word_timing=pb.WORD_TIMING_ALIGNED_IF_HEARD, align_if_heard=["w"] * 4097
            ),
            "align_if_heard: 4097 given; the limit is 4096",
        ),
        (
            pb.TranscribeRequest(
                word_timing=pb.WORD_TIMING_ALIGNED_IF_HEARD, align_if_heard=["x" * 65]
            ),
            "align_if_heard has 65 characters",
        ),
    ],
)
def test_bad_timing_fields_are_input_errors_naming_them(
    request_: pb.TranscribeRequest, needle: str
) -> None:
    with pytest.raises(InputError, match=needle):
        _word_timing(request_)


def test_words_to_align_are_the_key_words_the_options_leave() -> None:
    from services.synthesis_types import KeyPoseRequest

    keys = {"huge", "wave", "no"}
    assert KeyPoseRequest().words_to_align(keys) == frozenset(keys)
    assert KeyPoseRequest(forbid=("Wave!",)).words_to_align(keys) == {"huge", "no"}
    assert KeyPoseRequest(disabled=True).words_to_align(keys) == frozenset()
