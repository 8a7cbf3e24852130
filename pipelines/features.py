"""Stage ``features``: 28-D audio features per recording; text inputs where transcripts exist."""

from __future__ import annotations

import numpy as np

from pipelines.recordings import FEATURES_DIR, INGEST_DIR, ingested_recordings, speaker_info
from pipelines.stage_io import load_params, run_stage, stage_output


def main() -> None:
    from speech2video.audio.features import compute_features
    from speech2video.audio.io import decode
    from speech2video.audio.text_encoding import encode_words
    from speech2video.motion.words import load_words

    params = load_params()
    speaker_dir = params["speaker_dir"]
    language = speaker_info(speaker_dir).get("language", "en")
    transcripts = f"{speaker_dir}/transcripts"
    with stage_output(FEATURES_DIR) as out:
        (out / "text").mkdir()
        for rec in ingested_recordings():
            audio = decode(INGEST_DIR / rec / "audio.wav")
            feats = compute_features(audio.samples)
            np.save(out / f"{rec}.npy", feats)
            words_file = f"{transcripts}/{rec}.json"
            try:
                words = load_words(words_file)
            except ValueError:
                continue  # no transcript for this recording: audio features only
            np.save(out / "text" / f"{rec}.npy", encode_words(words, feats.shape[0], language))


if __name__ == "__main__":
    run_stage("features", main)
