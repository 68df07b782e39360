"""One line per event, to the log file and stdout, flushed at once.

Every line starts with an ISO 8601 UTC timestamp so that tools tailing the
log (podtui's log view) can merge lines from several pods.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path

LOGGER_NAME = "voice_pipeline"


class LineFormatter(logging.Formatter):
    """`2026-12-03T18:00:00.123Z INFO message`."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, dt.UTC)
        text = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = f"{text} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            line += " " + json.dumps(self.formatException(record.exc_info))
        return line


def setup_logging(log_file: Path) -> None:
    """Send the package's log lines to `log_file` (parents made) and stdout."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    formatter = LineFormatter()
    handlers: list[logging.Handler] = [
        logging.FileHandler(log_file, encoding="utf-8"),
        logging.StreamHandler(sys.stdout),
    ]
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)


def quoted(text: str) -> str:
    """Text as a double-quoted value that stays on one log line."""
    return json.dumps(text, ensure_ascii=False)
