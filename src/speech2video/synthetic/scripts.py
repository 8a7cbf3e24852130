"""What the demo speaker reads: built-in English sentences, and how utterances are drawn.

Topics vary (news, sports, economy, science, everyday life), as in the paper's recordings
(§3.1); most sentences hold one or two key words of the demo dictionary (huge, tiny, up, down,
me, you, wave, everyone, no), placed a few words apart so their key poses do not collide.
"""

from __future__ import annotations

import numpy as np

from speech2video.errors import InputError

SENTENCES: tuple[str, ...] = (
    # news
    "The city council approved a huge new budget for public schools.",
    "Officials say the storm will move up the coast tonight.",
    "Prices went down in most regions during the spring.",
    "The mayor thanked everyone who helped clean the river.",
    "Reporters asked the minister a tiny question about taxes.",
    "There was no sign of damage after the small earthquake.",
    "The new bridge opens next week after three years of work.",
    "Crowds gathered to wave at the parade on Main Street.",
    "Let me explain what happened at the meeting this morning.",
    "Voters will decide the question in the autumn election.",
    "The police closed the road while crews cleared the snow.",
    "A huge crowd waited outside the station for the results.",
    # sports
    "The home team scored late and the fans jumped up in joy.",
    "She ran the final lap with a huge lead over the others.",
    "Our coach told everyone to keep their heads up.",
    "The striker missed by a tiny margin in the last minute.",
    "No one expected the young player to win the title.",
    "The referee waved play on and the crowd went wild.",
    "You could feel the tension in the stadium all evening.",
    "They went down two goals before a brave comeback.",
    "The tennis final lasted nearly four hours in the heat.",
    "Fans stood to wave their scarves as the team arrived.",
    # economy
    "The central bank kept interest rates steady this quarter.",
    "Exports went up sharply while imports fell a little.",
    "Small firms saw a tiny rise in orders last month.",
    "Analysts expect a huge demand for electric cars next year.",
    "Unemployment came down to its lowest level in a decade.",
    "The market opened higher and stayed up until the close.",
    "Let me show you how the numbers changed over time.",
    "No major bank reported a loss in the first half.",
    "Energy prices remain high for families across the country.",
    "Investors reacted calmly to the news from the treasury.",
    "Everyone agrees that wages must keep pace with prices.",
    # science
    "Astronomers found a huge planet orbiting a distant star.",
    "The cells are tiny, but each one holds a full genome.",
    "Warm air rises up and cool air sinks down to the ground.",
    "Researchers asked everyone in the study to sleep eight hours.",
    "A sound wave travels faster through water than through air.",
    "There is no evidence that the virus spreads through food.",
    "The telescope sends back a new image every night.",
    "Give me a minute to describe how the experiment worked.",
    "You can see the comet low in the western sky tonight.",
    "Engineers built a tiny robot that swims through blood vessels.",
    "The glacier has shrunk by a huge amount since nineteen eighty.",
    # everyday
    "I woke up early and made coffee for the whole family.",
    "Could you pass me the salt and the pepper, please?",
    "My neighbour likes to wave from her garden every morning.",
    "We walked down to the harbour to watch the boats.",
    "There is no milk left, so I will buy some later.",
    "The kitten is tiny, but it already rules the house.",
    "Thank you for coming, it means a lot to all of us.",
    "We cooked a huge dinner and invited everyone we know.",
    "The children climbed up the hill to fly their kites.",
    "Please sit down and tell me about your trip.",
    "Our garden grows tomatoes, beans and a few small peppers.",
    "The train was late again, so I read a book on the platform.",
    "Everyone laughed when the dog stole the birthday cake.",
    "You should try the new bakery near the library.",
    "It rained all day, and we stayed inside with a film.",
    "The lift broke down, so we took the stairs to the top.",
    "He answered no to every question on the quiz.",
    "We always wave goodbye to the bus driver.",
    "My sister painted the kitchen a bright shade of yellow.",
    "The weather turned cold and the leaves began to fall.",
)

#: The phrase the speaker says in a key word's ``pose_<word>`` recording.
POSE_PHRASES: dict[str, str] = {
    "huge": "Huge.",
    "tiny": "Tiny.",
    "up": "Up.",
    "down": "Down.",
    "me": "Me.",
    "you": "You.",
    "wave": "Wave.",
    "everyone": "Everyone.",
    "no": "No.",
}

#: Characters espeak speaks per second at 160 words per minute (measured on the sentences).
_CHARS_PER_SECOND_AT_160 = 17.0


def estimated_seconds(text: str, words_per_minute: int) -> float:
    """Rough spoken length of ``text`` at a speaking rate (for choosing utterances)."""
    return len(text) / _CHARS_PER_SECOND_AT_160 * 160.0 / words_per_minute


def choose_utterances(
    count: int,
    seconds: tuple[float, float],
    words_per_minute: list[int],
    rng: np.random.Generator,
) -> list[str]:
    """Draw ``count`` utterance texts whose estimated length lies in ``seconds``.

    Sentences are taken in a shuffled order and joined (two or more) when one is too short;
    once every sentence has been used, a new shuffle starts. words_per_minute: the rate of
    each utterance (len == count).
    """
    if count < 1:
        raise InputError(f"utterance count must be >= 1; got {count}")
    if len(words_per_minute) != count:
        raise InputError(f"need one speaking rate per utterance; got {len(words_per_minute)}")
    lo, hi = seconds
    order: list[int] = []
    out: list[str] = []
    for wpm in words_per_minute:
        target = float(rng.uniform(lo, hi))
        parts: list[str] = []
        tries = 0
        while tries < 4 * len(SENTENCES):
            if not order:
                order = list(rng.permutation(len(SENTENCES)))
            candidate = SENTENCES[order.pop()]
            tries += 1
            text = " ".join([*parts, candidate])
            if estimated_seconds(text, wpm) > hi and parts:
                continue  # too long with this one: try another to finish the utterance
            parts.append(candidate)
            if estimated_seconds(text, wpm) >= min(target, hi):
                break
        out.append(" ".join(parts))
    return out
