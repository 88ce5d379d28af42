"""Log a repeated failure once per kind, with a count, instead of once per event."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class OncePerKind:
    """Logs the first occurrence of each kind of failure, then a summary at most every ``interval``.

    ``kind`` is any short string (usually the exception class name plus where it happened). The
    count of suppressed repeats is logged with the next message of the same kind after ``interval``
    seconds, so an operator sees both that it happened and how often.
    """

    def __init__(self, logger: logging.Logger, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock  # seconds, monotonic; a test passes its own to cross the interval without waiting
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, int]] = {}

    def log(self, level: int, kind: str, message: str, *, exc_info: BaseException | None = None) -> None:
        now = self._clock()
        with self._lock:
            last, suppressed = self._seen.get(kind, (0.0, -1))
            if suppressed >= 0 and now - last < self._interval:
                self._seen[kind] = (last, suppressed + 1)
                return
            self._seen[kind] = (now, 0)
        if suppressed > 0:
            message = f"{message} repeated={suppressed}"
        self._logger.log(level, message, exc_info=exc_info if suppressed < 0 else None)
