"""Streaming audio-to-pose: audio chunks in, final pose frames out (paper §3.4 model).

:class:`PoseStream` carries the feature extractor's tail and the LSTM state ``(h, c)`` across
chunks, and returns each video frame's pose as soon as the LSTM has reached that frame's output
step (``motion/lstm.py``: the frame time plus the 200 ms delay). Over a whole stream the frames
equal ``model.predict(compute_features(audio, gain=gain), fps)``. Latency: a frame is final
about ``delay_s`` + 15 ms of audio after its time (the 25 ms window ends 15 ms past its hop).

Threads: a stream makes many small LSTM calls (10 steps per 100 ms chunk). On a busy CPU they
run far steadier with ``torch.set_num_threads(1)`` (measured here on 2 shared cores: ~1.7 ms
per 100 ms chunk with one thread; with two, ~1.2 ms when idle but stalls of tens of ms under
load). Setting it is the serving process's choice, not this module's.

A model with a speech embedding (``motion/readout.py``) streams its LSTM's output for every part:
the embedding's encoder needs whole windows of audio, so its mouth readout is for whole
utterances (``predict``), and a live stream moves the mouth as the paper's model does.
"""

from __future__ import annotations

import numpy as np
import torch

from speech2video.audio.features import FEATURE_DIM, FEATURE_RATE, StreamingFeatureExtractor
from speech2video.errors import InputError
from speech2video.motion.lstm import LSTMState, SequenceToPoseLSTM, num_output_frames


class PoseStream:
    """Push 16 kHz audio chunks, get pose frames ``(k, 106)`` that became final; then flush."""

    def __init__(self, model: SequenceToPoseLSTM, fps: float, gain: float = 1.0) -> None:
        cfg = model.config
        if cfg.lstm_input_dim != FEATURE_DIM or cfg.phones or cfg.input_rate != FEATURE_RATE:
            raise InputError(
                f"PoseStream needs an audio model ({FEATURE_DIM}-D input at {FEATURE_RATE:g} Hz);"
                f" got input_dim {cfg.input_dim} at {cfg.input_rate:g} Hz"
            )
        num_output_frames(0, fps, cfg.input_rate)  # validates fps
        self.model = model.eval()
        self.fps = float(fps)
        self.gain = float(gain)
        self._features = StreamingFeatureExtractor(gain)
        self._reset()

    def _reset(self) -> None:
        self._state: LSTMState | None = None
        self._steps_done = 0
        self._frames_emitted = 0
        self._pending = torch.zeros((0, self.model.config.output_dim))
        self._pending_start = 0

    @property
    def frames_emitted(self) -> int:
        """Pose frames returned so far in this stream."""
        return self._frames_emitted

    def push(self, samples: np.ndarray) -> np.ndarray:
        """samples: (n,) float 16 kHz audio → (k, 106) float32 frames now final (k may be 0)."""
        self._run(self._features.push(samples))
        limit = num_output_frames(self._steps_done, self.fps, self.model.config.input_rate)
        return self._emit(limit)

    def flush(self) -> np.ndarray:
        """End of audio: (k, 106) float32 remaining frames; the stream is then ready to reuse."""
        self._run(self._features.flush())
        total = num_output_frames(self._steps_done, self.fps, self.model.config.input_rate)
        if total > self._frames_emitted:
            pad = self._step(total - 1) + 1 - self._steps_done
            if pad > 0:
                row = self.model.padding_row().numpy()
                self._run(np.broadcast_to(row, (pad, row.shape[0])))
        frames = self._emit(total)
        self._reset()
        return frames

    def _step(self, frame: int) -> int:
        cfg = self.model.config
        return int(np.floor(frame * cfg.input_rate / self.fps + 0.5)) + cfg.delay_steps

    def _run(self, rows: np.ndarray) -> None:
        if rows.shape[0] == 0:
            return
        x = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))[None]
        with torch.inference_mode():
            out = self.model(x, self._state)
        self._state = out.state
        self._pending = torch.cat([self._pending, out.poses[0]])
        self._steps_done += rows.shape[0]

    def _emit(self, limit: int) -> np.ndarray:
        picked = []
        while self._frames_emitted < limit:
            step = self._step(self._frames_emitted)
            if step >= self._steps_done:
                break
            picked.append(step - self._pending_start)
            self._frames_emitted += 1
        poses = self._pending[picked].numpy().astype(np.float32, copy=True)
        next_step = self._step(self._frames_emitted)
        keep_from = min(next_step - self._pending_start, self._pending.shape[0])
        if keep_from > 0:
            self._pending = self._pending[keep_from:]
            self._pending_start += keep_from
        return poses.reshape(-1, self.model.config.output_dim)
