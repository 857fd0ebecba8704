"""What the ``forecast`` command prints: one-line errors, a quiet start-up."""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile

# TensorFlow's native start-up lines: absl's preamble, its INFO records (oneDNN, CPU
# features) and the CPU-feature line's continuation.
_TF_STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)"
    r"|I\d{4} [\d:.]+ +\d+ \S+:\d+\] "
    r"|To enable the following instructions: )"
)


# SQLAlchemy wraps a database error in lines about itself: the autoflush that raised it,
# the statement and its parameters, a link. The cause (e.g. "database or disk is full")
# is the line between them, so these are left out of the one-line message.
_DB_BOILERPLATE = re.compile(r"^(\[SQL: |\[parameters: |\(Background on this error at: )")
_AUTOFLUSH = re.compile(r" ?\(raised as a result of Query-invoked autoflush;[^)]*\)")


class CliError(Exception):
    """An error reported as one line with a non-zero exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class _NoTraceback(logging.Formatter):
    """Format a record as ``inner`` does, leaving out the exception's traceback."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:  # noqa: D102
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return self.inner.format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def quiet_console() -> None:
    """Print Prefect's log lines without tracebacks (``--debug`` keeps them).

    Only the console handlers change: the Prefect API (the UI's logs) keeps the tracebacks.
    """
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *logging.root.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler) and not isinstance(
                handler.formatter, _NoTraceback
            ):
                handler.setFormatter(_NoTraceback(handler.formatter))


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its native start-up INFO lines kept off the terminal.

    TensorFlow 2.21 logs them through absl before absl's logging is initialised, where
    ``TF_CPP_MIN_LOG_LEVEL`` does not reach, so every command would print a few lines of
    noise on stderr before its own. They are captured at the file-descriptor level; any
    other line TensorFlow writes while importing (a warning, an error) is passed on.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not _TF_STARTUP_NOISE.match(line):
                    sys.stderr.write(line)


def one_line(text: str, debug: bool = False, every_line: bool = False) -> str:
    """Say a (possibly multi-line) error in one line.

    Args:
        text: The message.
        debug: Keep every line as it is (the traceback is shown too).
        every_line: Join all lines with ``; `` (one per invalid config field) instead of
            keeping the first and pointing to ``--debug``.
    """
    if debug:
        return text.strip()
    lines: list[str] = []
    for line in _AUTOFLUSH.sub("", text).strip().splitlines():
        if not line.strip() or _DB_BOILERPLATE.match(line.strip()):
            continue
        if lines and lines[-1].endswith(":"):  # "...: MlflowException:" then its cause
            lines[-1] += " " + " ".join(line.split())
        else:
            lines.append(" ".join(line.split()))
    if len(lines) <= 1:
        return lines[0] if lines else text.strip()
    if every_line:
        return "; ".join(lines)
    return f"{lines[0]} (more with --debug)"


def redact(text: str) -> str:
    """``text`` with any URI password masked (see ``stores.tracking.uris.redact``)."""
    from pricecast.stores.tracking.uris import redact as redact_uris

    return redact_uris(text)
