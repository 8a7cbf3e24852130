"""``s2v synthesize --speaker ID (--audio A.wav | --text "...") -o OUT.mp4 [--server HOST:PORT]``.

With ``--server`` the gateway is called over gRPC and the video pieces are written as they
arrive; without it the same flow runs in this process on the registry's models.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synthesize",
        help="speech or text of an enrolled speaker → video",
        description="Synthesize a video of SPEAKER saying the audio (or the text, through TTS). "
        "--server calls a running gateway (s2v serve up); without it everything runs here.",
    )
    p.add_argument("--speaker", required=True, help="enrolled speaker id")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--audio", type=Path, help="speech audio (any common type)")
    src.add_argument("--text", help="text to speak (TTS)")
    p.add_argument("--language", default="en", help="text language: en or zh (default en)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .mp4")
    p.add_argument("--server", default=None, help="gateway HOST:PORT (default: in-process)")
    p.add_argument("--token", default=None, help="bearer token for the gateway")
    p.add_argument("--force-word", action="append", default=[], help="always key-pose this word")
    p.add_argument("--forbid-word", action="append", default=[], help="never key-pose this word")
    p.add_argument("--seed", type=int, default=None, help="key-pose draw seed")
    p.add_argument("--max-seconds", type=float, default=120.0, help="longest input (in-process)")
    live = p.add_argument_group("live (SynthesizeLive)")
    live.add_argument(
        "--live", action="store_true", help="stream the audio in real time; print piece latencies"
    )
    live.add_argument("--chunk-ms", type=float, default=100.0, help="audio per message (100)")
    live.add_argument("--speed", type=float, default=1.0, help="x real time (0: all at once)")
    live.add_argument("--pcm-rate", type=int, default=16_000, help="stdin PCM rate (--audio -)")
    live.add_argument(
        "--key-pose-wait", type=float, default=0.0, help="s a frame waits for words (0: default)"
    )
    p.set_defaults(func=run)


async def _remote(args: argparse.Namespace, audio: bytes) -> dict:
    import grpc

    from speech2video_api.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc

    options = common_pb2.KeyPoseOptions(force_words=args.force_word, forbid_words=args.forbid_word)
    if args.seed is not None:
        options.seed = args.seed
    request = gateway_pb2.SynthesizeRequest(speaker_id=args.speaker, key_poses=options)
    if args.text:
        request.text.CopyFrom(gateway_pb2.TextInput(text=args.text, language=args.language))
    else:
        request.audio = audio
    meta = [("application", "gateway")]
    if args.token:
        meta.append(("authorization", f"Bearer {args.token}"))
    summary: dict = {}
    async with grpc.aio.insecure_channel(args.server) as channel:
        stub = gateway_pb2_grpc.Speech2VideoStub(channel)
        with args.output.open("wb") as out:
            async for reply in stub.Synthesize(request, metadata=meta):
                if reply.HasField("chunk"):
                    out.write(reply.chunk.data)
                else:
                    r = reply.result
                    summary = {
                        "frames": r.num_frames,
                        "fps": r.fps,
                        "words": len(r.words),
                        "models": [f"{m.name} v{m.version}" for m in r.lineage.models],
                    }
    return summary


async def _local(args: argparse.Namespace, audio: bytes) -> dict:
    from services.synthesis_flow import LocalStages, SynthesisInput, VideoSummary
    from services.synthesis_flow import synthesize_video as flow
    from services.synthesis_types import KeyPoseRequest

    job = SynthesisInput(
        args.speaker,
        audio,
        args.text or "",
        args.language,
        KeyPoseRequest(tuple(args.force_word), tuple(args.forbid_word), args.seed),
    )
    summary: dict = {}
    with args.output.open("wb") as out:
        async for item in flow(LocalStages(), job, args.max_seconds):
            if isinstance(item, VideoSummary):
                m = item.result.motion
                summary = {
                    "frames": m.num_frames,
                    "fps": m.fps,
                    "words": len(item.result.words),
                    "models": [f"{x['name']} v{x['version']}" for x in item.lineage.models],
                }
            else:
                out.write(item.data)
    return summary


def run(args: argparse.Namespace) -> int:
    from speech2video.errors import InputError

    if args.live:
        from speech2video_cli.live_synthesize import run_live

        return run_live(args)

    audio = b""
    if args.audio is not None:
        if not args.audio.is_file():
            raise InputError(f"audio file not found: {args.audio}")
        audio = args.audio.read_bytes()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    import grpc

    from speech2video.errors import S2VError

    try:
        summary = asyncio.run((_remote if args.server else _local)(args, audio))
    except grpc.aio.AioRpcError as exc:
        args.output.unlink(missing_ok=True)
        raise S2VError(f"server answered {exc.code().name}: {exc.details()}") from None
    except BaseException:
        args.output.unlink(missing_ok=True)
        raise
    print(f"wrote {args.output}: {json.dumps(summary)}")
    return 0
