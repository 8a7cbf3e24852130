"""Text-to-speech with exact word times: libespeak-ng through ctypes.

espeak-ng reports a WORD event, with the sample index where the word begins, while it synthesizes;
those indices are the word onsets (exact, no recognition involved). A word ends where the next
word begins, or earlier at the first pause phoneme after it (``_``, ``_:``, ...). Mandarin is
converted to tone-numbered pinyin (pypinyin) and spoken by the voice ``cmn-latn-pinyin``, one
WORD event per character. espeak-ng carries state between calls, so the same text can come out
a few milliseconds longer or shorter from call to call; the times always match the audio returned.

The library is not thread-safe and holds global state, so one :class:`EspeakSynthesizer` per
process is created lazily on first use and every call holds a lock. espeak's native rate
(22050 Hz) is resampled to 16 kHz with :func:`speech2video.audio.io.resample`.

Paper §4.2 ("TTS Noise"): TTS audio is silent between words, which the audio-to-pose LSTM never
saw in training; white noise at ``noise_level`` (RMS, full scale = 1.0) is added by default.
"""

from __future__ import annotations

import ctypes
import re
import threading
from dataclasses import dataclass

import numpy as np

from speech2video.audio.io import SAMPLE_RATE, Audio, resample
from speech2video.errors import InputError
from speech2video.motion.words import Word

#: RMS of the white noise added to TTS audio by default (≈ -50 dBFS, paper §4.2).
DEFAULT_NOISE_LEVEL = 0.003
#: Speaking rate bounds espeak-ng accepts, words per minute.
MIN_WPM, MAX_WPM = 80, 450
DEFAULT_WPM = 160
#: Longest text accepted in one call, characters.
MAX_TEXT_CHARS = 20_000
#: Voice per language code.
VOICES: dict[str, str] = {"en": "en-us", "zh": "cmn-latn-pinyin"}

# espeak-ng constants (speak_lib.h)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_END = 5
_EVENT_MSG_TERMINATED = 6
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1


@dataclass(frozen=True)
class Synthesis:
    """Synthesized speech and the time span of every spoken word.

    audio: 16 kHz mono; words: one :class:`Word` per espeak word event (per character for
    Mandarin), ``confidence`` 1.0, times in seconds, exact to one output sample.
    """

    audio: Audio
    words: list[Word]


class _EventId(ctypes.Union):
    _fields_ = (
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),
    )


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class _RawWord:
    text_position: int  # 1-based character index into the text
    length: int  # characters
    sample: int  # onset at the native rate, counted from the start of this utterance


class EspeakSynthesizer:
    """One initialised libespeak-ng; use :func:`get_synthesizer` rather than constructing."""

    def __init__(self, library: str = "libespeak-ng.so.1") -> None:
        try:
            self._lib = ctypes.CDLL(library)
        except OSError as exc:
            raise InputError(
                f"text-to-speech needs {library} (Debian package libespeak-ng1): {exc}"
            ) from None
        lib = self._lib
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_Synth.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        )
        self._lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self._words: list[_RawWord] = []
        self._pauses: list[int] = []
        self._end: int | None = None
        self._first_sample: int | None = None
        self._callback = _Callback(self._on_audio)  # keep a reference: C holds the pointer
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_PHONEME_EVENTS)
        if rate <= 0:
            raise InputError("libespeak-ng failed to initialise (is espeak-ng-data installed?)")
        self.native_rate = int(rate)
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav: ctypes.Array, count: int, events: ctypes.Array) -> int:
        if wav and count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (count,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if self._first_sample is None:
                self._first_sample = ev.sample
            if ev.type == _EVENT_WORD and ev.length > 0:  # zero-length ones are spurious
                self._words.append(_RawWord(ev.text_position, ev.length, ev.sample))
            elif ev.type == _EVENT_PHONEME and bytes(ev.id.string).startswith(b"_"):
                self._pauses.append(ev.sample)
            elif ev.type in (_EVENT_END, _EVENT_MSG_TERMINATED):
                self._end = ev.sample
            i += 1
        return 0

    def synthesize(
        self, text: str, tokens: list[WrittenToken], voice: str, words_per_minute: int
    ) -> Synthesis:
        """Speak ``text`` with ``voice``; clean 16 kHz audio and exact spans of ``tokens`` (the
        words to report, at character positions in ``text``)."""
        with self._lock:
            self._chunks, self._words, self._pauses = [], [], []
            self._end, self._first_sample = None, None
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise InputError(f"espeak-ng has no voice {voice!r}")
            self._lib.espeak_SetParameter(_PARAM_RATE, int(words_per_minute), 0)
            data = text.encode("utf-8")
            buf = ctypes.create_string_buffer(data)
            err = self._lib.espeak_Synth(
                buf, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            self._lib.espeak_Synchronize()
            if err != 0:
                raise InputError(f"espeak-ng could not synthesize the text (error {err})")
            native = (
                np.concatenate(self._chunks).astype(np.float32) / 32768.0
                if self._chunks
                else np.zeros(0, np.float32)
            )
            raw_words, pauses = list(self._words), sorted(self._pauses)
            origin = self._first_sample or 0
        return self._assemble(tokens, native, raw_words, pauses, origin)

    def phonemes(self, text: str, voice: str = "en-us") -> list[str]:
        """espeak-ng's phoneme mnemonics for ``text`` (``"hello"`` → ``["h", "@", "l", "'oU"]``),
        stress marks kept; used as a pronunciation for words a recognizer's dictionary lacks."""
        lib = self._lib
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = (
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_int,
            ctypes.c_int,
        )
        out: list[str] = []
        with self._lock:
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise InputError(f"espeak-ng has no voice {voice!r}")
            buf = ctypes.create_string_buffer(text.encode("utf-8"))
            pointer = ctypes.c_void_p(ctypes.addressof(buf))
            while pointer.value:
                chunk = lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, ord(" ") << 8)
                if chunk is None:
                    break
                out.extend(chunk.decode("utf-8", "replace").split())
        return out

    def _assemble(
        self,
        tokens: list[WrittenToken],
        native: np.ndarray,
        raw_words: list[_RawWord],
        pauses: list[int],
        origin: int,
    ) -> Synthesis:
        samples = resample(native, self.native_rate, SAMPLE_RATE)
        total = native.shape[0]
        # espeak may emit several events for one written token ("42" → forty, two) and places
        # events on punctuation next to a word: each event belongs to the token that contains
        # its position or, failing that, the next token.
        spans: dict[int, list[int]] = {}
        for k, raw in enumerate(raw_words):
            index = next(
                (j for j, tok in enumerate(tokens) if tok.end > raw.text_position - 1), None
            )
            if index is None:
                continue
            start = raw.sample - origin
            nxt = raw_words[k + 1].sample - origin if k + 1 < len(raw_words) else total
            pause = next((p - origin for p in pauses if start < p - origin < nxt), nxt)
            end = min(max(pause, start), total)
            span = spans.setdefault(index, [start, end])
            span[1] = max(span[1], end)
        words = [
            Word(tokens[j].text, span[0] / self.native_rate, span[1] / self.native_rate, 1.0)
            for j, span in sorted(spans.items())
        ]
        return Synthesis(Audio(samples, SAMPLE_RATE), words)


@dataclass(frozen=True)
class WrittenToken:
    """A word as written: ``text`` without edge punctuation, at characters [start, end)."""

    text: str
    start: int
    end: int


_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(f"[{_HAN}]|[^\\s{_HAN}]+")
_EDGE = re.compile(r"^[\W_]+|[\W_]+$")


def written_tokens(text: str) -> list[WrittenToken]:
    """Whitespace-separated words of ``text``, each Chinese character its own word; tokens with
    no letter or digit (``--``, ``...``) are left out."""
    out = []
    for m in _TOKEN.finditer(text):
        word = _EDGE.sub("", m.group())
        if word:
            out.append(WrittenToken(word, m.start(), m.end()))
    return out


_ZH_PUNCTUATION = str.maketrans("，。！？、；：（）“”‘’《》…—", ',.!?,;:()""\'\'"".-')


def speakable(text: str, lang: str) -> tuple[str, list[WrittenToken]]:
    """What espeak is given for ``text`` and the words to report, located in that string.

    English: the text itself. Chinese: each character replaced by its tone-numbered pinyin
    syllable (pypinyin reads phrases in context; the voice ``cmn-latn-pinyin`` speaks it, since
    the ``cmn`` voice of espeak-ng 1.51 reads many characters as English), punctuation kept.
    """
    tokens = written_tokens(text)
    if lang != "zh":
        return text, tokens
    from speech2video.audio.text_encoding import hanzi_to_pinyin, is_han

    syllables = iter(hanzi_to_pinyin(text))
    parts: list[str] = []
    spoken: list[WrittenToken] = []
    length, cursor = 0, 0
    for tok in tokens:
        between = text[cursor : tok.start].translate(_ZH_PUNCTUATION)
        say = next(syllables) if is_han(tok.text) else text[tok.start : tok.end]
        piece = f" {between.strip()} " if between.strip() else " "
        parts.append(piece)
        length += len(piece)
        spoken.append(WrittenToken(tok.text, length, length + len(say)))
        parts.append(say)
        length += len(say)
        cursor = tok.end
    parts.append(text[cursor:].translate(_ZH_PUNCTUATION))
    return "".join(parts), spoken


_SYNTHESIZER: EspeakSynthesizer | None = None
_SYNTHESIZER_LOCK = threading.Lock()


def get_synthesizer() -> EspeakSynthesizer:
    """The process-wide espeak-ng instance, initialised on first use."""
    global _SYNTHESIZER
    with _SYNTHESIZER_LOCK:
        if _SYNTHESIZER is None:
            _SYNTHESIZER = EspeakSynthesizer()
        return _SYNTHESIZER


def add_noise(audio: Audio, level: float, seed: int = 0) -> Audio:
    """White Gaussian noise of RMS ``level`` (full scale 1.0) added to ``audio``; deterministic.

    audio.samples: (N,) → returned samples (N,) float32, clipped to [-1, 1].
    """
    if not np.isfinite(level) or level < 0:
        raise InputError(f"noise level must be a finite number >= 0; got {level}")
    if level == 0:
        return audio
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(audio.samples.shape[0]).astype(np.float32) * np.float32(level)
    return Audio(np.clip(audio.samples + noise, -1.0, 1.0).astype(np.float32), audio.rate)


def synthesize(
    text: str,
    lang: str = "en",
    *,
    words_per_minute: int = DEFAULT_WPM,
    noise_level: float = DEFAULT_NOISE_LEVEL,
    seed: int = 0,
) -> Synthesis:
    """Speak ``text`` (``lang`` "en" or "zh") and return 16 kHz audio with exact word times.

    ``noise_level``: RMS of white noise added to the audio (paper §4.2); 0 gives clean audio. Word
    times do not depend on it. Raises :class:`InputError` for empty or over-long text, an unknown
    language, or a rate outside [80, 450] words per minute.
    """
    if lang not in VOICES:
        raise InputError(f"unknown TTS language {lang!r}; choose one of {sorted(VOICES)}")
    if not isinstance(text, str) or not text.strip():
        raise InputError("text to speak is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"text is {len(text)} characters long; the limit is {MAX_TEXT_CHARS}")
    if not MIN_WPM <= words_per_minute <= MAX_WPM:
        raise InputError(
            f"words per minute must be in [{MIN_WPM}, {MAX_WPM}]; got {words_per_minute}"
        )
    spoken, tokens = speakable(text, lang)
    result = get_synthesizer().synthesize(spoken, tokens, VOICES[lang], words_per_minute)
    if not result.words or result.audio.samples.size == 0:
        raise InputError(f"text has nothing speakable: {text[:60]!r}")
    return Synthesis(add_noise(result.audio, noise_level, seed), result.words)
