"""Memory and time to refuse audio bombs vs to decode the largest accepted input:
``python -m benchmarks.audio_limits`` prints a table.

Cases (each decoded as the services do, ``services.limits.decode_audio``, limit 120 s, in a fresh
process so its peak memory is its own): the 715 KB FLAC bomb (30 min, 48 kHz, 8 channels of
silence; its header gives it away), the same bomb with the header's length zeroed (only decoding
can tell: bounded decoding stops at the limit), and the largest input accepted (120 s, 48 kHz,
8 channels). Target (issue "Serving under attack"): a bomb's peak ≤ 2x the largest accepted
input's decoded size (120 s of 16 kHz mono float32 = 7.7 MB; at its 48 kHz input rate 23 MB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.table import print_table

_CHILD = r"""
import json, resource, sys, time, tracemalloc
from services.limits import Bounds, decode_audio
from speech2video.errors import InputError
data = open(sys.argv[1], "rb").read()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
start = time.perf_counter()
try:
    audio = decode_audio(data, Bounds(120.0))
    outcome = f"decoded {audio.duration:.1f} s"
except InputError as exc:
    outcome = "refused: " + str(exc).split(";")[0]
seconds = time.perf_counter() - start
traced = tracemalloc.get_traced_memory()[1]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "s": seconds, "traced_mb": traced / 2**20,
                  "rss_mb": max(peak - base, 0) / 1024}))
"""


def _flac(path: Path, seconds: float, channels: int, tone: bool) -> None:
    import numpy as np
    import soundfile

    rate = 48_000
    with soundfile.SoundFile(path, "w", rate, channels, format="FLAC", subtype="PCM_16") as f:
        for start in range(0, round(seconds * rate), rate * 10):
            n = min(rate * 10, round(seconds * rate) - start)
            t = (start + np.arange(n)) / rate
            x = (0.2 * np.sin(2 * np.pi * 220 * t) if tone else np.zeros(n)).astype(np.float32)
            f.write(np.repeat(x[:, None], channels, axis=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    from tests.fixtures.audio_bombs import without_length

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        bomb = Path(tmp) / "bomb.flac"
        _flac(bomb, 1800.0, 8, tone=False)
        hidden = Path(tmp) / "bomb_no_length.flac"
        hidden.write_bytes(without_length(bomb.read_bytes()))
        largest = Path(tmp) / "largest.flac"
        _flac(largest, 119.9, 8, tone=True)
        for name, path in [
            ("FLAC bomb: 30 min, 48 kHz, 8 ch", bomb),
            ("same, header length zeroed", hidden),
            ("largest accepted: 120 s, 48 kHz, 8 ch", largest),
        ]:
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            size = path.stat().st_size / 1e3
            rows.append((name, f"{size:.0f} KB", r["outcome"], r["s"], r["traced_mb"], r["rss_mb"]))
    print_table(
        "Audio limits: refuse before work, decode with bounded memory (limit 120 s)",
        ["input", "encoded", "outcome", "seconds", "peak traced MB", "peak RSS growth MB"],
        rows,
    )


if __name__ == "__main__":
    main()
