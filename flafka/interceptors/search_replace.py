"""Flume's ``search_replace`` interceptor: a regex search-and-replace on the event body.

Same keys and defaults as Flume 1.11 ``SearchAndReplaceInterceptor``: the body is decoded with
``charset``, every match of ``searchPattern`` is replaced with ``replaceString`` (Java
``Matcher.replaceAll`` syntax: ``$1``, ``${name}``, ``\\$`` for a literal ``$``) and the result is
encoded back with ``charset``.

Differences from Flume:

* The regex dialect is Python's ``re``. Most Java regexes work unchanged; Java's named groups
  ``(?<name>...)`` and back-references ``\\k<name>`` are translated. Java-only constructs
  (``\\p{Alpha}``, ``\\Q...\\E``, nested character classes) are rejected at start-up with the
  regex error.
* The replacement string is checked at start-up against the pattern's groups (Java fails on the
  first matching event instead); a reference to a missing group is a configuration error.
* An event whose body has no match keeps its original bytes (Flume re-encodes every body, which
  turns undecodable bytes into U+FFFD).
* A pattern that can match the empty string follows Python's rules for empty matches next to a
  previous match (``re.sub("x*", "-", "abxd")`` gives ``-a-b--d-``, Java gives ``-a-b-d-``).

This module also holds the Java-compatibility helpers the other regex interceptors use:
:func:`compile_regex` and :func:`java_replacement`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.event import Event
from flafka.interceptors.base import Interceptor

_JAVA_NAMED = re.compile(r"\(\?<([A-Za-z][A-Za-z0-9]*)>")
_JAVA_BACKREF = re.compile(r"\\k<([A-Za-z][A-Za-z0-9]*)>")


def _translate_regex(pattern: str) -> str:
    """Rewrite Java's ``(?<name>`` and ``\\k<name>`` to Python's ``(?P<name>`` and ``(?P=name)``.

    Escaped characters and character classes are skipped so that a literal ``(?<`` stays literal.
    """
    if "(?<" not in pattern and "\\k<" not in pattern:
        return pattern
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            hit = None if in_class else _JAVA_BACKREF.match(pattern, i)
            if hit:
                out.append(f"(?P={hit.group(1)})")
                i = hit.end()
            else:
                out.append(pattern[i : i + 2])
                i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            out.append(c)
            i += 1
            # a ']' right after '[' or '[^' is a literal member, not the end of the class
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("]")
                i += 1
            continue
        elif c == "(":
            hit = _JAVA_NAMED.match(pattern, i)
            if hit:
                out.append(f"(?P<{hit.group(1)}>")
                i = hit.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def compile_regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile a regex written for Java with Python's ``re``; raises ValueError saying what is wrong."""
    try:
        return re.compile(_translate_regex(pattern), flags)
    except re.error as exc:
        raise ValueError(
            f"is not a valid regular expression ({exc}); flafka uses Python's re syntax"
        ) from None


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
            pattern = compile_regex(self.search_pattern)
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
        self._pattern = compile_regex(config.search_pattern)
        self._template = java_replacement(config.replace_string, self._pattern)
        self._charset = codecs.lookup(config.charset).name

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        subn, template, charset = self._pattern.subn, self._template, self._charset
        for event in events:
            text, count = subn(template, event.body.decode(charset, "replace"))
            if count:
                event.body = text.encode(charset, "replace")
        return events
