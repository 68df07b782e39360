"""A rule-based responder and the speech grammar built from its phrases.

The grammar matters: PocketSphinx's general language model hears espeak-ng's
synthetic voice poorly, while a JSGF grammar of the phrases answered here is
recognised well.
"""

from __future__ import annotations

import datetime as dt
import itertools

GREETINGS = ("hello", "hi", "good morning", "good evening")
REQUESTS = ("how are you", "what time is it", "tell me a joke")
CLOSINGS = ("thank you", "goodbye")

JOKES = (
    "Why did the robot go on holiday? It needed to recharge.",
    "I would tell you a joke about sound, but it might fall on deaf ears.",
)


def grammar() -> str:
    """The JSGF grammar of every phrase the responder knows.

    An utterance is an optional greeting, then an optional request or closing,
    so "hello how are you" is one sentence of the grammar.
    """
    rest = REQUESTS + CLOSINGS
    return (
        "#JSGF V1.0;\n"
        "grammar voice;\n"
        "public <utterance> = [<greeting>] [<request>];\n"
        f"<greeting> = {' | '.join(GREETINGS)};\n"
        f"<request> = {' | '.join(rest)};\n"
    )


class Responder:
    """Answers a transcript: greeting, time, a joke, how are you, else echo."""

    def __init__(self) -> None:
        self._jokes = itertools.cycle(JOKES)

    def reply(self, text: str, now: dt.datetime | None = None) -> str:
        """The reply to `text`, one or two short sentences."""
        heard = " ".join(text.lower().split())
        parts = []
        if any(heard.startswith(greeting) for greeting in GREETINGS):
            parts.append("Hello!")
        if "how are you" in heard:
            parts.append("I am fine, thank you.")
        if "time" in heard:
            now = now or dt.datetime.now()
            parts.append(f"It is {now:%H:%M}.")
        if "joke" in heard:
            parts.append(next(self._jokes))
        if "goodbye" in heard:
            parts.append("Goodbye!")
        elif "thank you" in heard and not parts:
            parts.append("You are welcome.")
        if not parts:
            return f"You said: {text}" if text.strip() else "I heard nothing."
        return " ".join(parts)
