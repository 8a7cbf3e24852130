"""Text → per-step LSTM input: vocabulary-free word vectors, pinyin for Chinese."""

from __future__ import annotations

import numpy as np
import pytest

from speech2video.audio.text_encoding import (
    TEXT_DIM,
    encode_token,
    encode_words,
    hanzi_to_pinyin,
    text_to_pose_config,
    word_units,
)
from speech2video.errors import InputError
from speech2video.motion.words import Word


def test_token_vectors_are_unit_deterministic_and_spelling_keyed() -> None:
    v = encode_token("gesture")
    assert v.shape == (TEXT_DIM,) and v.dtype == np.float32
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-6)
    assert np.array_equal(v, encode_token("Gesture!"))  # case, punctuation ignored
    assert float(encode_token("gesture") @ encode_token("gestures")) > 0.5  # shared n-grams
    unrelated = [float(v @ encode_token(w)) for w in ("banana", "quickly", "zebra", "sky")]
    assert max(abs(c) for c in unrelated) < 0.5
    assert not encode_token("...").any()


def test_encoding_is_stable_across_processes() -> None:
    # a model trained in one process must see the same inputs in another (no salted hash())
    import os
    import subprocess
    import sys

    code = (
        "from speech2video.audio.text_encoding import encode_token as e; "
        "print(e('hi').tobytes().hex())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == encode_token("hi").tobytes().hex()


def test_words_held_over_their_spans_and_pauses_are_zero() -> None:
    words = [Word("hello", 0.10, 0.35), Word("world", 0.50, 0.80)]
    x = encode_words(words, 100)
    assert x.shape == (100, TEXT_DIM) and x.dtype == np.float32
    assert not x[:10].any() and not x[35:50].any() and not x[80:].any()
    assert np.array_equal(x[10], encode_token("hello")) and np.array_equal(x[34], x[10])
    assert np.array_equal(x[50], encode_token("world")) and np.array_equal(x[79], x[50])
    short = encode_words(words, 60)  # cut inside "world": truncated, not an error
    assert short.shape == (60, TEXT_DIM) and np.array_equal(short[59], x[59])


def test_chinese_homophones_share_an_input() -> None:
    assert hanzi_to_pinyin("他她") == ["ta1", "ta1"]
    assert hanzi_to_pinyin("银行行长") == ["yin2", "hang2", "hang2", "zhang3"]
    x = encode_words([Word("他", 0.0, 0.2), Word("她", 0.3, 0.5), Word("好", 0.6, 0.8)], 80, "zh")
    assert np.array_equal(x[5], x[35]) and not np.array_equal(x[5], x[65])
    assert np.array_equal(x[5], encode_token("ta1"))


def test_multi_character_word_split_evenly() -> None:
    units = word_units([Word("银行", 1.0, 1.4)], "zh")
    assert [(u.word, u.start, u.end) for u in units] == [
        ("yin2", 1.0, pytest.approx(1.2)),
        ("hang2", pytest.approx(1.2), pytest.approx(1.4)),
    ]
    with pytest.raises(InputError, match="language"):
        word_units([], "de")


def test_text_model_is_the_shared_lstm_with_text_input() -> None:
    import torch

    from speech2video.motion.lstm import SequenceToPoseLSTM

    config = text_to_pose_config(hidden=8)
    assert config.input_dim == TEXT_DIM and config.hidden == 8
    model = SequenceToPoseLSTM(config)
    x = encode_words([Word("hello", 0.0, 0.3)], 50)
    out = model(torch.from_numpy(x)[None])
    assert out.poses.shape == (1, 50, config.output_dim)
