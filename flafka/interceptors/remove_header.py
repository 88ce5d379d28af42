"""Flume's ``remove_header`` interceptor: deletes headers by name, by list or by regex.

Same keys and defaults as Flume 1.11 ``RemoveHeaderInterceptor``: ``withName`` removes one header,
``fromList`` a list of names split by the regex ``fromListSeparator``, ``matching`` every header
whose whole name matches the regex. The options combine; with none set the interceptor does
nothing. The regexes are Java's (see :mod:`flafka.java_regex`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.interceptors.base import Interceptor
from flafka.java_regex import compile_java_regex


@dataclass(frozen=True, kw_only=True)
class RemoveHeaderConfig(ComponentConfig):
    with_name: str | None = param("withName", default=None, doc="Name of one header to remove.")
    from_list: str | None = param(
        "fromList", default=None, doc="Names of headers to remove, separated by fromListSeparator."
    )
    from_list_separator: str = param(
        "fromListSeparator", default=r"\s*,\s*", doc="Regular expression separating the names in fromList."
    )
    matching: str | None = param(
        "matching", default=None, doc="Regular expression: headers whose whole name matches are removed."
    )

    def check(self) -> Iterable[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        for key, regex in (("fromListSeparator", self.from_list_separator), ("matching", self.matching)):
            if regex is None:
                continue
            try:
                compile_java_regex(regex)
            except ValueError as exc:
                problems.append((key, str(exc)))
        return problems

    def names(self) -> tuple[str, ...]:
        """Every header name given by ``withName`` and ``fromList``, without duplicates."""
        names: dict[str, None] = {}
        if self.with_name is not None:
            names[self.with_name] = None
        if self.from_list is not None:
            for name in compile_java_regex(self.from_list_separator).split(self.from_list):
                if name:
                    names[name] = None
        return tuple(names)


class RemoveHeaderInterceptor(Interceptor):
    """Removes the headers named by ``withName``/``fromList`` and those matching ``matching``."""

    config_class = RemoveHeaderConfig
    config: RemoveHeaderConfig

    def __init__(self, name: str, config: RemoveHeaderConfig) -> None:
        super().__init__(name, config)
        self._names = config.names()
        self._matching = compile_java_regex(config.matching) if config.matching is not None else None

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        names = self._names
        fullmatch = self._matching.fullmatch if self._matching is not None else None
        if not names and fullmatch is None:
            return events
        for event in events:
            headers = event.headers
            for name in names:
                headers.pop(name, None)
            if fullmatch is not None:
                for key in [key for key in headers if fullmatch(key)]:
                    del headers[key]
        return events
