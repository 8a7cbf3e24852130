"""``s2v transcribe AUDIO [--text TRANSCRIPT] [--json]``: words with start and end times."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transcribe",
        help="audio → words with start/end times (speech-to-text or forced alignment)",
        description="Transcribe speech offline with word timestamps. With --text, align the "
        "known transcript instead: every word comes back with times, or the command fails "
        "naming the words it could not place. Silence gives no words.",
    )
    p.add_argument("audio", type=Path, help="audio file (wav, flac, ogg, mp3, m4a, mp4, ...)")
    p.add_argument("--text", help="known transcript: force-align it instead of recognizing")
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"language", "engine", "words": [{"word", "start", "end", "confidence"}]}',
    )
    p.add_argument("--engine", help="speech-to-text engine (default whisper; $S2V_STT_ENGINE)")
    p.add_argument(
        "--model-dir", type=Path, help="model directory for the engine ($S2V_STT_MODEL_DIR)"
    )
    p.add_argument(
        "--align-engine",
        choices=("hybrid", "pocketsphinx", "whisper"),
        default="hybrid",
        help="forced-alignment engine used with --text (default hybrid)",
    )
    p.add_argument("--language", help="ISO language code (multilingual models only)")
    p.add_argument(
        "--max-seconds", type=float, default=600.0, help="longest audio accepted (default 600)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from speech2video.audio.io import decode
    from speech2video.audio.transcriber import Transcript, transcribe

    audio = decode(args.audio, max_seconds=args.max_seconds)
    if args.text is not None:
        from speech2video.audio.alignment import align

        result = align(
            audio,
            args.text,
            engine=args.align_engine,
            stt_engine=args.engine,
            model_dir=args.model_dir,
        )
        transcript = Transcript("en", f"align-{result.engine}", result.words)
    else:
        transcript = transcribe(
            audio, engine=args.engine, model_dir=args.model_dir, language=args.language
        )
    if args.json:
        print(json.dumps(transcript.to_dict(), ensure_ascii=False))
        return 0
    print(f"# {len(transcript.words)} words, language {transcript.language}, {transcript.engine}")
    print(f"{'start':>8} {'end':>8} {'conf':>5}  word")
    for w in transcript.words:
        print(f"{w.start:8.3f} {w.end:8.3f} {w.confidence:5.2f}  {w.word}")
    return 0
