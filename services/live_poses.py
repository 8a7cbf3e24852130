"""AudioToPose.PredictPosesStream: 16 kHz PCM chunks in, final pose frames out (live synthesis).

The stage side of the live path: one :class:`speech2video.motion.pose_stream.PoseStream` per
call carries the LSTM state across chunks, so the frames equal ``PredictPoses`` on the whole
audio with the same gain, each sent once the model's 200 ms look-ahead has arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from services.convert import lineage_to_pb, motion_to_pb
from services.limits import Bounds, check_fps, check_number
from services.multiplexing import request_models
from services.pcm import pcm16_samples
from speech2video import synthesis
from speech2video.audio.features import SAMPLE_RATE
from speech2video.errors import InputError
from speech2video.model_set import AUDIO_TO_POSE, BODY_MODEL
from speech2video_api.v1 import audio_to_pose_pb2 as pb

#: Bytes of PCM one request may carry (10 s at 16 kHz).
MAX_CHUNK_BYTES = 10 * SAMPLE_RATE * 2
MAX_GAIN = 1e4


def pcm_samples(data: bytes) -> np.ndarray:
    """16-bit little-endian PCM (an even number of bytes) → (n,) float32 in [-1, 1)."""
    return pcm16_samples(data)


async def pose_replies(
    requests: AsyncIterator[pb.PredictPosesStreamRequest],
    grpc_context: Any,
    models_getter: Any,
    bounds: Bounds,
) -> AsyncIterator[pb.PredictPosesStreamResponse]:
    """The replies of one PredictPosesStream call (see audio_to_pose.proto)."""
    from speech2video.motion.pose_stream import PoseStream

    first = await anext(aiter(requests), None)
    if first is None:
        raise InputError("the request stream is empty")
    gain = float(first.gain) or 1.0
    check_number(gain, "gain", 1.0 / MAX_GAIN, MAX_GAIN)
    check_fps(first.fps, optional=True)
    models = await request_models(models_getter, grpc_context)
    profile = models.get(BODY_MODEL)
    fps = float(first.fps) or profile.fps
    stream = PoseStream(models.get(AUDIO_TO_POSE), fps, gain)
    limit = int(bounds.max_seconds * SAMPLE_RATE)
    received, carry = 0, b""

    async def chunks() -> AsyncIterator[pb.PredictPosesStreamRequest]:
        yield first
        async for request in requests:
            yield request

    async for request in chunks():
        if len(request.pcm) > MAX_CHUNK_BYTES:
            raise InputError(f"pcm: {len(request.pcm)} bytes; the limit is {MAX_CHUNK_BYTES}")
        data = carry + request.pcm
        even = len(data) - len(data) % 2
        data, carry = data[:even], data[even:]
        received += even // 2
        if received > limit:
            raise InputError(f"pcm: more than {bounds.max_seconds:g} s of audio")
        if not data:
            continue
        frames = await asyncio.to_thread(stream.push, pcm_samples(data))
        if len(frames):
            motion = synthesis.speaker_motion(frames, fps, profile)
            yield pb.PredictPosesStreamResponse(poses=motion_to_pb(motion))
    if received == 0:
        raise InputError("pcm: the stream carried no audio")
    last = pb.PredictPosesStreamResponse(
        lineage=lineage_to_pb(models.lineage(AUDIO_TO_POSE, BODY_MODEL))
    )
    frames = await asyncio.to_thread(stream.flush)
    if len(frames):
        last.poses.CopyFrom(motion_to_pb(synthesis.speaker_motion(frames, fps, profile)))
    yield last
