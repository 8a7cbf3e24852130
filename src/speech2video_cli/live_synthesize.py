"""``s2v synthesize --live``: speech streamed in real-time-paced chunks, every piece's delay shown.

A file is decoded to 16 kHz and sent as PCM ``--chunk-ms`` at a time at ``--speed`` × real time;
``--audio -`` reads raw 16-bit mono PCM at ``--pcm-rate`` from stdin (resampled here to 16 kHz)
and sends it as it comes. With ``--server`` the gateway's ``SynthesizeLive`` is called, without it
the same live flow runs in this process. Each piece is written to the output as it arrives and a
line says when it came and how long after its first frame's audio was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any


def _read_audio(args: argparse.Namespace) -> bytes:
    """16 kHz 16-bit PCM of the input."""
    from services.live_audio import PCM, LiveAudioInput
    from services.live_client import pcm_of
    from speech2video.audio.io import Audio, decode
    from speech2video.errors import InputError

    if str(args.audio) == "-":
        live = LiveAudioInput(PCM, args.pcm_rate, args.max_seconds)
        raw = sys.stdin.buffer.read()
        samples = [live.push(raw), live.finish()]
        import numpy as np

        return pcm_of(Audio(np.concatenate(samples), 16_000))
    if not args.audio.is_file():
        raise InputError(f"audio file not found: {args.audio}")
    return pcm_of(decode(args.audio, max_seconds=args.max_seconds))


def run_live(args: argparse.Namespace) -> int:
    """The ``--live`` path of ``s2v synthesize``."""
    import grpc

    from services.live_client import PacedAudio, run_local, run_remote
    from speech2video.errors import S2VError

    if args.text:
        raise S2VError("--live streams speech audio: give --audio FILE (or - for stdin PCM)")
    audio = PacedAudio(_read_audio(args), args.chunk_ms / 1000.0, args.speed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    out = args.output.open("wb")

    def show(piece: Any, data: bytes) -> None:
        out.write(data)
        last = piece.first_frame + piece.num_frames - 1
        print(
            f"piece {piece.index:3d}  frames {piece.first_frame:4d}-{last:<4d} "
            f"at {piece.arrived_s:6.2f} s  latency {piece.delay_s * 1000:7.0f} ms",
            flush=True,
        )

    try:
        if args.server:
            timings = asyncio.run(
                run_remote(
                    args.server,
                    args.speaker,
                    audio,
                    token=args.token,
                    key_pose_wait_s=args.key_pose_wait,
                    on_piece=show,
                )
            )
        else:
            from services.live_stages import LocalLiveStages
            from services.synthesis_flow import LocalStages
            from services.transcription_process import TranscriptionProcess

            # recognition in a worker process, as served: the renderer keeps its pace
            worker = TranscriptionProcess(threads=1)
            try:
                timings = asyncio.run(
                    run_local(
                        LocalLiveStages(LocalStages(transcription=worker)),
                        args.speaker,
                        audio,
                        key_pose_wait_s=args.key_pose_wait,
                        on_piece=show,
                    )
                )
            finally:
                worker.close()
    except grpc.aio.AioRpcError as exc:
        raise S2VError(f"server answered {exc.code().name}: {exc.details()}") from None
    finally:
        out.close()
    s = timings.summary
    late = len(s.skipped_late if hasattr(s, "skipped_late") else s.late)
    inserted = sum(1 for e in s.insertions if e.status == "inserted")
    summary = {"frames": s.num_frames, "fps": s.fps, "seconds": round(audio.seconds, 2),
               "words": len(s.words), "key_poses_inserted": inserted, "key_poses_late": late,
               "wall_s": round(timings.wall_s, 2)}  # fmt: skip
    print(f"wrote {args.output}: {json.dumps(summary)}")
    return 0
