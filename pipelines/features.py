"""Stage ``features``: 28-D audio features per recording, and text inputs from its words.

A recording's words come from the speaker folder's ``transcripts/<rec>.json`` when there is one
(synthetic speakers have exact ones; an operator may supply corrected ones). Otherwise, with
``features.transcribe_missing`` (the default), the project's speech-to-text transcribes the
recording (words retimed by forced alignment) and the words go to
``data/interim/features/words/<rec>.json`` with ``"source": "stt"``: a real speaker enrolled from
plain video gets a text-to-pose model too. Every recording's words used are written there, so
later stages read one place. When ``train_audio_to_pose.embedding`` names a speech embedding
(``audio/speech_embedding.py``), its rows per recording go to
``data/interim/features/embedding/<name>/<rec>.npy`` (one row per audio-feature row).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipelines.recordings import (
    EMBEDDING_DIR,
    FEATURES_DIR,
    INGEST_DIR,
    ingested_recordings,
    speaker_info,
)
from pipelines.stage_io import StageError, load_params, run_stage, stage_output


def main() -> None:
    from speech2video.audio.features import compute_features
    from speech2video.audio.io import decode
    from speech2video.audio.speech_embedding import embedding_dim, speech_embedding
    from speech2video.audio.text_encoding import encode_words
    from speech2video.errors import InputError
    from speech2video.motion.words import load_words, save_words

    params = load_params()
    p = dict(params.get("features") or {})
    transcribe_missing = bool(p.get("transcribe_missing", True))
    embedding = str((params.get("train_audio_to_pose") or {}).get("embedding") or "")
    if embedding:
        try:
            embedding_dim(embedding)
        except InputError as exc:
            raise StageError(f"params.yaml train_audio_to_pose.embedding: {exc}") from None
    speaker_dir = params["speaker_dir"]
    language = speaker_info(speaker_dir).get("language", "en")
    transcripts = Path(speaker_dir) / "transcripts"
    with stage_output(FEATURES_DIR) as out:
        (out / "text").mkdir()
        (out / "words").mkdir()
        emb_dir = out / EMBEDDING_DIR.relative_to(FEATURES_DIR) / embedding
        if embedding:
            emb_dir.mkdir(parents=True)
        for rec in ingested_recordings():
            audio = decode(INGEST_DIR / rec / "audio.wav")
            feats = compute_features(audio.samples)
            np.save(out / f"{rec}.npy", feats)
            if embedding:
                np.save(
                    emb_dir / f"{rec}.npy", speech_embedding(audio.samples, len(feats), embedding)
                )
            words_file = transcripts / f"{rec}.json"
            if words_file.is_file():
                try:
                    words, source = load_words(words_file), "transcript"
                except InputError as exc:
                    raise StageError(f"{words_file}: {exc}") from None
            elif transcribe_missing:
                words, source = _transcribe(audio, language, rec), "stt"
            else:
                continue  # no transcript for this recording: audio features only
            if not words:
                continue
            save_words(out / "words" / f"{rec}.json", words, language=language, source=source)
            np.save(out / "text" / f"{rec}.npy", encode_words(words, feats.shape[0], language))


def _transcribe(audio, language: str, rec: str) -> list:  # (Audio, str, str) -> list[Word]
    """The recording's words by speech-to-text; a failing engine names the recording."""
    from speech2video.audio.transcriber import transcribe
    from speech2video.errors import S2VError

    try:
        return transcribe(audio, language=language).words
    except S2VError as exc:
        raise StageError(f"recording {rec}: speech-to-text failed ({exc})") from None


if __name__ == "__main__":
    run_stage("features", main)
