"""``s2v tts TEXT -o OUT.wav --words WORDS.json``: speech with exact word times (espeak-ng)."""

from __future__ import annotations

import argparse
from pathlib import Path

from speech2video.audio.tts import DEFAULT_NOISE_LEVEL, DEFAULT_WPM


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tts",
        help="text → 16 kHz speech WAV + word times JSON",
        description="Synthesize speech offline with espeak-ng (English, or Mandarin via "
        "pinyin) and write the word times it reports. The WAV carries white noise at --noise "
        f"RMS (default {DEFAULT_NOISE_LEVEL}, paper §4.2: the audio-to-pose model never saw "
        "perfectly silent pauses); --noise 0 writes clean audio. Word times do not depend on it.",
    )
    p.add_argument("text", help="text to speak")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language (default en)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output WAV (16 kHz mono)")
    p.add_argument(
        "--words",
        type=Path,
        required=True,
        help='output words JSON: {"language", "engine", "words": [{word, start, end, ...}]}',
    )
    p.add_argument(
        "--noise",
        type=float,
        default=DEFAULT_NOISE_LEVEL,
        help=f"white-noise RMS, full scale 1.0 (default {DEFAULT_NOISE_LEVEL}; 0 = none)",
    )
    p.add_argument(
        "--wpm", type=int, default=DEFAULT_WPM, help=f"words per minute (default {DEFAULT_WPM})"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from speech2video.audio.io import write_wav
    from speech2video.audio.tts import synthesize
    from speech2video.motion.words import save_words

    result = synthesize(args.text, args.lang, words_per_minute=args.wpm, noise_level=args.noise)
    for path in (args.output, args.words):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(args.output, result.audio)
    save_words(args.words, result.words, language=args.lang, engine="espeak-ng")
    print(
        f"wrote {args.output} ({result.audio.duration:.2f} s) and {args.words} "
        f"({len(result.words)} words)"
    )
    return 0
