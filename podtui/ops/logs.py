"""Log tails of pods, as both front ends use them: open, filter, order by time.

The CLI's `podtui logs` and the dashboard's log panes both open a `LogTail`
per pod with `pod_tail`, keep or drop lines with a `LineFilter`, and order the
lines of several pods by the ISO timestamp each service log line starts with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podtui.errors import PodtuiError

if TYPE_CHECKING:
    from podtui.ops.fleet import PodSession
    from podtui.remote.logs import LogTail

TIMESTAMP = re.compile(
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\s"
)
"""An ISO 8601 timestamp and the space after it, at the start of a line."""


def pod_tail(session: PodSession, *, lines: int = 100, follow: bool = True) -> LogTail:
    """A tail of the service's log on one pod (the environment's `log_file`)."""
    from podtui.remote.logs import LogTail

    return LogTail(
        session.connection,
        session.agent,
        session.environment.log_file,
        lines=lines,
        follow=follow,
        max_attempts=None if follow else 3,
    )


def split_timestamp(line: str) -> tuple[str, str]:
    """A line's leading timestamp (with its space) and the rest; '' if none."""
    match = TIMESTAMP.match(line)
    if match is None:
        return "", line
    return match.group(), line[match.end() :]


def time_key(line: str, fallback: str) -> str:
    """What orders lines of several pods: their timestamp, else `fallback`.

    ISO timestamps in one format sort as text, so no parsing is needed.
    """
    stamp, _ = split_timestamp(line)
    return stamp.replace(" ", "T", 1).rstrip() if stamp else fallback


@dataclass(frozen=True)
class LineFilter:
    """Keep lines that match a regular expression, or those that do not."""

    pattern: re.Pattern[str]
    invert: bool = False

    @classmethod
    def parse(cls, text: str, *, invert: bool = False) -> LineFilter:
        """A filter from user input; a bad expression says what is wrong."""
        try:
            return cls(re.compile(text), invert)
        except re.error as error:
            raise PodtuiError(
                f"{text!r} is not a valid regular expression: {error}",
                hint="escape special characters such as ( [ . * with a backslash",
            ) from None

    def keeps(self, line: str) -> bool:
        return (self.pattern.search(line) is None) is self.invert

    def apply(self, lines: list[str]) -> list[str]:
        search = self.pattern.search
        if self.invert:
            return [line for line in lines if search(line) is None]
        return [line for line in lines if search(line) is not None]
