"""Header escapes in configured text: ``%{name}`` becomes the value of the event's header ``name``.

This is the header part of Flume's ``BucketPath`` escapes (``%{header}``; a missing header becomes the
empty string, as in Flume). A header name is made of ASCII letters, digits, ``_``, dots and dashes, as
Flume's pattern ``%\\{([\\w.-]+)\\}`` with Java's ASCII ``\\w``; anything else after ``%{`` is left as
written. The whole escape table (time escapes, ``%[localhost]``, rounding) is
:class:`flafka.bucket_path.BucketPath`, which builds on :data:`HEADER_ESCAPE`.

The text is parsed once; the returned function only joins strings, and text without ``%{`` costs
nothing per event::

    topic_of = compile_header_escapes("logs-%{app}")
    topic_of({"app": "web"})  # "logs-web"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

__all__ = ["HEADER_ESCAPE", "compile_header_escapes", "has_header_escapes"]

#: One ``%{name}`` escape; group 1 is the header name. ASCII: Java's ``\w`` leaves ``%{café}`` as written.
HEADER_ESCAPE: Final = re.compile(r"%\{([\w.-]+)\}", re.ASCII)


def has_header_escapes(text: str) -> bool:
    """True when ``text`` holds at least one ``%{name}`` escape."""
    return "%{" in text and HEADER_ESCAPE.search(text) is not None


def compile_header_escapes(text: str) -> Callable[[Mapping[str, str]], str]:
    """A function giving ``text`` with every ``%{name}`` replaced by ``headers.get(name, "")``."""
    parts = HEADER_ESCAPE.split(text) if "%{" in text else [text]
    if len(parts) == 1:
        return lambda headers: text
    literals = parts[0::2]  # one more literal than names: text before, between and after the escapes
    names = parts[1::2]
    if len(names) == 1:
        name = names[0]
        before, after = literals
        if not before and not after:
            return lambda headers: headers.get(name, "")
        return lambda headers: before + headers.get(name, "") + after
    first = literals[0]
    pairs = tuple(zip(names, literals[1:], strict=True))

    def expand(headers: Mapping[str, str]) -> str:
        get = headers.get
        out = [first]
        for header, literal in pairs:
            out.append(get(header, ""))
            out.append(literal)
        return "".join(out)

    return expand
