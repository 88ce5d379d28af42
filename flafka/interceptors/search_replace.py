"""Flume's ``search_replace`` interceptor: a regex search-and-replace on the event body.

Same keys and defaults as Flume 1.11 ``SearchAndReplaceInterceptor``: the body is decoded with
``charset``, every match of ``searchPattern`` is replaced with ``replaceString`` (Java
``Matcher.replaceAll`` syntax: ``$1``, ``${name}``, ``\\$`` for a literal ``$``) and the result is
encoded back with ``charset``.

Differences from Flume:

* The regex is Java's, run by Python's ``re`` through :mod:`flafka.java_regex`: what Python cannot
  mean the same way (class intersection, Unicode properties …) is a configuration error saying what
  to write instead.
* The replacement string is checked at start-up against the pattern's groups (Java fails on the
  first matching event instead); a reference to a missing group is a configuration error.
* An event whose body has no match keeps its original bytes (Flume re-encodes every body, which
  turns undecodable bytes into U+FFFD).
* A pattern that can match the empty string follows Python's rules for empty matches next to a
  previous match (``re.sub("x*", "-", "abxd")`` gives ``-a-b--d-``, Java gives ``-a-b-d-``).

This module also holds :func:`java_replacement` (Java's replacement-string syntax).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.interceptors.base import Interceptor
from flafka.java_regex import compile_java_regex


def java_replacement(replacement: str, pattern: re.Pattern[str]) -> str:
    """Translate a Java ``Matcher.replaceAll`` replacement into a Python ``re.sub`` template.

    Java rules: ``$n`` is group n (further digits are taken while the number stays a valid group
    of ``pattern``), ``${name}`` a named group, a backslash makes the next character literal;
    anything else is literal. Raises ValueError with Java's message for an invalid replacement.
    """
    groups = pattern.groups
    names = pattern.groupindex
    out: list[str] = []
    i, n = 0, len(replacement)
    while i < n:
        c = replacement[i]
        if c == "\\":
            i += 1
            if i == n:
                raise ValueError("character to be escaped is missing")
            literal = replacement[i]
            out.append("\\\\" if literal == "\\" else literal)
            i += 1
        elif c == "$":
            i += 1
            if i == n:
                raise ValueError("Illegal group reference: group index is missing")
            if replacement[i] == "{":
                end = i + 1
                while end < n and replacement[end].isascii() and replacement[end].isalnum():
                    end += 1
                name = replacement[i + 1 : end]
                if not name:
                    raise ValueError("named capturing group has 0 length name")
                if end == n or replacement[end] != "}":
                    raise ValueError("named capturing group is missing trailing '}'")
                if name[0].isdigit():
                    raise ValueError(f"capturing group name {{{name}}} starts with digit character")
                if name not in names:
                    raise ValueError(f"No group with name {{{name}}}")
                out.append(f"\\g<{name}>")
                i = end + 1
            else:
                digit = replacement[i]
                if not ("0" <= digit <= "9"):
                    raise ValueError("Illegal group reference")
                number = int(digit)
                i += 1
                while i < n and "0" <= replacement[i] <= "9":
                    longer = number * 10 + int(replacement[i])
                    if longer > groups:
                        break
                    number = longer
                    i += 1
                if number > groups:
                    raise ValueError(f"No group {number}")
                out.append(f"\\g<{number}>")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _check_charset(charset: str) -> str | None:
    try:
        codecs.lookup(charset)
    except LookupError:
        return f"unknown charset {charset!r}"
    return None


@dataclass(frozen=True, kw_only=True)
class SearchReplaceConfig(ComponentConfig):
    search_pattern: str = param("searchPattern", doc="Regular expression to search the body for.")
    replace_string: str = param(
        "replaceString",
        default="",
        doc="Replacement for each match, in Java syntax (`$1` and `${name}` for groups, `\\$` for a "
        "literal `$`); omit it to delete the matches.",
    )
    charset: str = param("charset", default="UTF-8", doc="Character set of the event body.")

    def check(self) -> Iterable[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        try:
            pattern = compile_java_regex(self.search_pattern)
        except ValueError as exc:
            problems.append(("searchPattern", str(exc)))
        else:
            try:
                java_replacement(self.replace_string, pattern)
            except ValueError as exc:
                problems.append(("replaceString", f"is not a valid replacement: {exc}"))
        charset_problem = _check_charset(self.charset)
        if charset_problem:
            problems.append(("charset", charset_problem))
        return problems


class SearchAndReplaceInterceptor(Interceptor):
    """Replaces every match of ``searchPattern`` in the body with ``replaceString``."""

    config_class = SearchReplaceConfig
    config: SearchReplaceConfig

    def __init__(self, name: str, config: SearchReplaceConfig) -> None:
        super().__init__(name, config)
        self._pattern = compile_java_regex(config.search_pattern)
        self._template = java_replacement(config.replace_string, self._pattern)
        self._charset = codecs.lookup(config.charset).name

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        subn, template, charset = self._pattern.subn, self._template, self._charset
        for event in events:
            text, count = subn(template, event.body.decode(charset, "replace"))
            if count:
                event.body = text.encode(charset, "replace")
        return events
