"""Core pipeline figures on CPU: ``python -m benchmarks.core`` prints a table.

Measures, for 60 s of speech-like audio at 30 fps: the 28-D features, the audio-to-pose LSTM
(paper size: 2 x 300 cells, 200 ms delay), key-pose insertion with 20 key words, the open skeleton's
forward kinematics and the skeleton painter; the streaming path per 100 ms chunk; the Whisper
speech embedding and the model with its mouth readout (``embedding: whisper``, the default of
``params.yaml``; a readout with untrained weights, which costs the same); and the peak memory of
the process. Targets (issue "Foundation"): features + LSTM + insertion for 60 s
≤ 0.3 s (≥ 200x real time), peak memory ≤ 500 MB, a 100 ms streaming chunk ≤ 5 ms.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.table import best_of, peak_rss_mb, print_table

SECONDS = 60.0
FPS = 30.0
RATE = 16_000


def speech_like_audio(seconds: float, seed: int = 0) -> np.ndarray:
    """(N,) float32: syllable-rate modulated harmonics with pauses (no speech engine needed)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    pitch = 120 + 20 * np.sin(2 * np.pi * 0.3 * t)
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(pitch) / RATE) / k for k in range(1, 6))
    envelope = np.clip(np.sin(2 * np.pi * 4.0 * t), 0, None) * (np.sin(2 * np.pi * 0.2 * t) > -0.5)
    audio = 0.2 * envelope * voiced + 0.01 * rng.normal(size=t.size)
    return audio.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import torch

    from speech2video.audio.features import compute_features
    from speech2video.audio.speech_embedding import speech_embedding
    from speech2video.body.body_model import load_body_model
    from speech2video.body.camera import PinholeCamera
    from speech2video.motion.keypose_dictionary import KeyPoseDictionary, KeyPoseEntry
    from speech2video.motion.keypose_insertion import KeyPoseInserter
    from speech2video.motion.lstm import SequenceToPoseLSTM, audio_to_pose_config
    from speech2video.motion.pose_stream import PoseStream
    from speech2video.motion.words import Word
    from speech2video.render.skeleton_painter import SkeletonPainter

    torch.set_num_threads(args.threads)
    audio = speech_like_audio(SECONDS)
    model = SequenceToPoseLSTM(audio_to_pose_config()).eval()
    features = compute_features(audio)
    rng = np.random.default_rng(1)
    entries = {
        "huge": KeyPoseEntry("huge", 1.0, rng.normal(size=(1, 106)).astype(np.float32), False),
        "wave": KeyPoseEntry("wave", 1.0, rng.normal(size=(20, 106)).astype(np.float32), True),
    }
    inserter = KeyPoseInserter(KeyPoseDictionary("bench", entries), FPS)
    words = [Word("huge" if i % 2 else "wave", 1.0 + 2.9 * i, 1.4 + 2.9 * i) for i in range(20)]
    poses = model.predict(features, FPS)

    t_feat = best_of(lambda: compute_features(audio), args.repeats)
    t_lstm = best_of(lambda: model.predict(features, FPS), args.repeats)
    t_ins = best_of(lambda: inserter.insert(poses, words, seed=0), args.repeats)

    def stream_all() -> list[float]:
        import time

        stream = PoseStream(model, FPS)
        times = []
        chunk = RATE // 10
        for i in range(0, audio.size, chunk):
            start = time.perf_counter()
            stream.push(audio[i : i + chunk])
            times.append(time.perf_counter() - start)
        stream.flush()
        return times

    chunk_times = np.array(stream_all()[5:])
    with_readout = SequenceToPoseLSTM(audio_to_pose_config(embedding="whisper")).eval()
    with_readout.readout.ready.fill_(1.0)
    emb = speech_embedding(audio, len(features))  # loads the model once
    rows_in = np.concatenate([features, emb], axis=1)
    t_emb = best_of(lambda: speech_embedding(audio, len(features)), args.repeats)
    t_read = best_of(lambda: with_readout.predict(rows_in, FPS), args.repeats)
    body = load_body_model("skeleton")
    t_body = best_of(lambda: body.forward(poses), args.repeats)
    joints = body.forward(poses[:30])
    camera = PinholeCamera.framing(256, 256)
    painter = SkeletonPainter(256, 256)
    j2, l2 = camera.project(joints.joints), camera.project(joints.landmarks)
    t_paint = best_of(lambda: [painter.paint(j2[i], l2[i]) for i in range(30)], 3) / 30

    total = t_feat + t_lstm + t_ins
    rows = [
        ("features, 60 s audio", f"{t_feat * 1000:.1f} ms", f"{SECONDS / t_feat:.0f}x"),
        ("LSTM 2x300, 60 s (6000 steps)", f"{t_lstm * 1000:.1f} ms", f"{SECONDS / t_lstm:.0f}x"),
        ("key-pose insertion, 20 words", f"{t_ins * 1000:.2f} ms", f"{SECONDS / t_ins:.0f}x"),
        ("features + LSTM + insertion", f"{total * 1000:.1f} ms", f"{SECONDS / total:.0f}x"),
        ("Whisper embedding, 60 s audio", f"{t_emb * 1000:.1f} ms", f"{SECONDS / t_emb:.0f}x"),
        ("LSTM + mouth readout, 60 s", f"{t_read * 1000:.1f} ms", f"{SECONDS / t_read:.0f}x"),
        ("streaming, 100 ms chunk (median)", f"{np.median(chunk_times) * 1000:.2f} ms",
         f"{0.1 / np.median(chunk_times):.0f}x"),
        ("streaming, 100 ms chunk (p95)", f"{np.percentile(chunk_times, 95) * 1000:.2f} ms",
         f"{0.1 / np.percentile(chunk_times, 95):.0f}x"),
        ("open skeleton forward, 1800 frames", f"{t_body * 1000:.1f} ms",
         f"{SECONDS / t_body:.0f}x"),
        ("skeleton painter, 256², per frame", f"{t_paint * 1000:.2f} ms", f"{1 / t_paint:.0f} fps"),
        ("peak memory (RSS)", f"{peak_rss_mb():.0f} MB", ""),
    ]  # fmt: skip
    print_table(
        f"Core pipeline on CPU ({args.threads} threads), {SECONDS:.0f} s of audio at {FPS:.0f} fps",
        ("stage", "time", "vs real time"),
        rows,
    )


if __name__ == "__main__":
    main()
