"""Java regular expressions (what Flume configurations hold) run by Python's ``re``, or refused.

Flume compiles its regexes with ``java.util.regex.Pattern``. :func:`translate` reads a pattern with
Java's grammar and writes the Python pattern that matches exactly the same strings, compiled with
``re.ASCII`` (Java's ``\\w``, ``\\d``, ``\\s`` and case-insensitive matching are ASCII-only by default,
as they are in Python with that flag). What Python cannot say the same way is refused with a
:class:`JavaRegexError` naming the construct and what to write instead; nothing is read differently
in silence. The Java meaning is Java 17's (checked with ``jshell``); where Java versions differ, that
is said below.

Translated:

* ``(?<name>…)``, ``\\k<name>`` → ``(?P<name>…)``, ``(?P=name)``; back-references ``\\n`` take digits
  as Java does (only while they name an existing group: ``(a)\\10`` is group 1 then ``0``).
* ``.`` does not match any of Java's line terminators (``\\n``, ``\\r``, U+0085, U+2028, U+2029), nor
  ``\\n`` alone under ``(?d)``; ``(?s)`` makes it match everything.
* ``^`` and ``$`` follow Java: ``$`` (and ``\\Z``) match before a final line terminator of any kind,
  ``\\r\\n`` counting as one; under ``(?m)`` ``^`` matches after every line terminator but never at the
  end of the input, ``$`` before every one. ``(?d)`` restricts all of this to ``\\n``. ``\\z`` is
  Python's ``\\Z``.
* ``\\b`` and ``\\B``: Java 8 to 18 put a word boundary between a letter or decimal digit of any
  script (or ``_``) and anything else, unlike ``\\w`` (ASCII). That is what flafka does. Two
  differences remain: a combining mark after a letter (``e`` + U+0301) ends the word here while Java
  continues it, and the letters and digits are those of Python's Unicode tables (Java 19 and later
  use ASCII word characters instead).
* ``\\e``, ``\\cX``, ``\\0nnn`` (octal), ``\\x{h…h}``, ``\\uD83D\\uDE00`` (a surrogate pair: one code
  point), ``\\N{NAME}``, ``\\h``, ``\\H``, ``\\v`` (vertical white space, not only U+000B), ``\\V``,
  ``\\R``, ``\\Q…\\E`` (quoting, removed first as Java does) and the POSIX classes ``\\p{Lower}``,
  ``\\p{Upper}``, ``\\p{ASCII}``, ``\\p{Alpha}``, ``\\p{Digit}``, ``\\p{Alnum}``, ``\\p{Punct}``,
  ``\\p{Graph}``, ``\\p{Print}``, ``\\p{Blank}``, ``\\p{Cntrl}``, ``\\p{XDigit}``, ``\\p{Space}`` and their
  ``\\P{…}`` complements (ASCII, as in Java; under ``(?i)`` ``\\p{Lower}`` and ``\\p{Upper}`` match
  both cases, as in Java 17).
* Inline flags ``i``, ``m``, ``s``, ``d``, anywhere in the pattern, scoped as in Java: to the end of
  the enclosing group, across ``|``.
* Possessive quantifiers and atomic groups ``(?>…)`` mean the same in Python 3.11.

Refused: class intersection ``&&`` and nested classes ``[a[b]]``; ``\\p{…}`` other than the POSIX
names (Unicode categories, scripts, blocks, ``java…`` classes); ``\\G``, ``\\X``, ``\\b{g}``; the flags
``(?u)``, ``(?U)``, ``(?x)`` and ``(?c)``; what Java itself rejects (``a{``, ``{,3}``, ``\\y``, ``\\0``, an
unknown group name …); and Python-only syntax (``(?P<name>…)``, ``(?#…)``), which Flume cannot run.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

__all__ = ["JavaRegexError", "compile_java_regex", "translate"]

_MAX_CODE_POINT = 0x10FFFF
_Ranges = tuple[tuple[int, int], ...]


class JavaRegexError(ValueError):
    """A pattern that is not valid Java, or that Python's ``re`` cannot run with Java's meaning."""


def _ranges(*items: tuple[int, int] | int | str) -> _Ranges:
    out: list[tuple[int, int]] = []
    for item in items:
        if isinstance(item, str):
            out += [(ord(c), ord(c)) for c in item]
        elif isinstance(item, int):
            out.append((item, item))
        else:
            out.append(item)
    return tuple(sorted(out))


def _span(first: str, last: str) -> tuple[int, int]:
    return ord(first), ord(last)


_LOWER = _ranges(_span("a", "z"))
_UPPER = _ranges(_span("A", "Z"))
_ALPHA = _ranges(*_UPPER, *_LOWER)
_DIGIT = _ranges(_span("0", "9"))
_PUNCT = _ranges(_span("!", "/"), _span(":", "@"), _span("[", "`"), _span("{", "~"))
# Java's POSIX classes without (?U): ASCII only.
_POSIX: dict[str, _Ranges] = {
    "Lower": _LOWER,
    "Upper": _UPPER,
    "ASCII": _ranges((0, 0x7F)),
    "Alpha": _ALPHA,
    "Digit": _DIGIT,
    "Alnum": _ranges(*_DIGIT, *_ALPHA),
    "Punct": _PUNCT,
    "Graph": _ranges((0x21, 0x7E)),
    "Print": _ranges((0x20, 0x7E)),
    "Blank": _ranges(" \t"),
    "Cntrl": _ranges((0, 0x1F), 0x7F),
    "XDigit": _ranges(*_DIGIT, _span("a", "f"), _span("A", "F")),
    "Space": _ranges(" ", (0x09, 0x0D)),
}
_HORIZONTAL = _ranges(" \t\xa0\u1680\u180e", (0x2000, 0x200A), "\u202f\u205f\u3000")
_VERTICAL = _ranges((0x0A, 0x0D), "\x85\u2028\u2029")
_LINE_TERMINATORS = "\\n\\r\\x85\\u2028\\u2029"
_LINE_BREAK = "(?>\\r\\n|[\\n\\x0b\\x0c\\r\\x85\\u2028\\u2029])"  # \R is atomic in Java too
_FLAG_LETTERS = "idmsuxUc"
_REFUSED_FLAGS = {
    "u": "(?u) (Unicode case folding): Python's re folds case by other rules; list both cases in a class, "
         "e.g. [éÉ]",
    "U": "(?U) (Unicode character classes): Java's Unicode \\w, \\d, \\s, \\b and POSIX classes differ from "
         "Python's; write the characters as a class",
    "x": "(?x) (comments mode): remove the white space and #-comments from the pattern (write a space as "
         "\\x20)",
    "c": "(?c) (canonical equivalence): Python's re has no equivalent; list the composed and decomposed "
         "forms as alternatives",
}
_GROUP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def _char(cp: int) -> str:
    """One code point as a Python pattern literal, valid inside and outside a class."""
    if cp < 0x80 and chr(cp).isalnum():
        return chr(cp)
    if 0x20 < cp < 0x7F:
        return "\\" + chr(cp)
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def _members(ranges: _Ranges) -> str:
    """``ranges`` as the inside of a Python class."""
    return "".join(_char(lo) if lo == hi else f"{_char(lo)}-{_char(hi)}" for lo, hi in ranges)


def _complement(ranges: _Ranges) -> _Ranges:
    out: list[tuple[int, int]] = []
    start = 0
    for lo, hi in ranges:
        if lo > start:
            out.append((start, lo - 1))
        start = max(start, hi + 1)
    if start <= _MAX_CODE_POINT:
        out.append((start, _MAX_CODE_POINT))
    return tuple(out)


@functools.cache
def _boundaries() -> tuple[str, str]:
    """Java 8-18's ``\\b`` and ``\\B``: word characters are ``_`` and letters and decimal digits of any script.

    Python's Unicode ``\\b`` (``(?u:\\b)``) counts the other numerals too (categories Nl and No: ², ½,
    Ⅷ …), so it is used as it is except next to one of those, where the word characters are spelled
    out. Python's ``re`` tests a class of ranges one range at a time when it holds characters beyond
    U+FFFF, so the numerals are split into a fast class below U+10000 and the rest.
    """
    numerals: list[int] = []
    for cp in range(_MAX_CODE_POINT + 1):
        c = chr(cp)
        if c.isnumeric() and not c.isdecimal() and unicodedata.category(c) in ("Nl", "No"):
            numerals.append(cp)

    def members(code_points: list[int]) -> str:
        ranges: list[tuple[int, int]] = []
        for cp in code_points:
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
        return _members(tuple(ranges))

    basic = members([cp for cp in numerals if cp < 0x10000])
    supplementary = members([cp for cp in numerals if cp >= 0x10000])
    numeral = f"(?:[{basic}]|(?=[\\U00010000-\\U0010ffff])[{supplementary}])"
    before = f"(?:(?<=(?u:\\w))(?<!{numeral}))"
    after = f"(?:(?=(?u:\\w))(?!{numeral}))"
    spelled_out = f"(?:{before}(?!{after})|(?!{before}){after})"
    boundary = (f"(?:(?u:\\b)(?:(?<!{numeral})(?!{numeral})|{spelled_out})"
                f"|(?:(?<={numeral})|(?={numeral})){spelled_out})")
    return boundary, f"(?!{boundary})"


def _remove_quoting(pattern: str) -> str:
    """Java's ``Pattern.RemoveQEQuoting``: ``\\Q…\\E`` becomes the same text with its specials escaped.

    Java does this before parsing, inside classes too (``[\\Qa\\E-c]`` is ``[a-c]``), so it is done the
    same way here.
    """
    i, n = 0, len(pattern)
    while i < n - 1:
        if pattern[i] == "\\":
            if pattern[i + 1] == "Q":
                break
            i += 2
        else:
            i += 1
    else:
        return pattern
    out = [pattern[:i]]
    i += 2
    in_quote, begin_quote = True, True
    while i < n:
        c = pattern[i]
        i += 1
        if not c.isascii() or c.isalpha():
            out.append(c)
        elif c.isdigit():
            # "\x3" + digit: a quoted digit cannot extend a back-reference or octal escape before it
            out.append(f"\\x3{c}" if begin_quote else c)
        elif c != "\\":
            out.append("\\" + c if in_quote else c)
        elif in_quote:
            if pattern[i : i + 1] == "E":
                i += 1
                in_quote = False
            else:
                out.append("\\\\")
        elif pattern[i : i + 1] == "Q":
            i += 1
            in_quote = begin_quote = True
            continue
        else:
            out.append(c)
            if i < n:
                out.append(pattern[i])
                i += 1
        begin_quote = False
    return "".join(out)


@dataclass
class _Frame:
    """An open group: the Java flags to restore when it closes and the Python scopes opened inside."""

    saved_flags: frozenset[str]
    saved_case: bool  # Python's case-insensitivity outside the group
    base_case: bool  # Python's case-insensitivity at the start of the group (after an alternative too)
    scopes: int = 0  # "(?i:" / "(?-i:" opened by inline flags, closed at "|" and ")"


@dataclass
class _Translator:
    pattern: str
    pos: int = 0
    out: list[str] = field(default_factory=list)
    flags: frozenset[str] = frozenset()
    case: bool = False  # whether the Python pattern is case-insensitive at this point of the output
    frames: list[_Frame] = field(default_factory=list)
    groups: int = 0  # capturing groups opened so far
    names: set[str] = field(default_factory=set)
    top_scopes: int = 0  # like _Frame.scopes, outside every group

    # -- errors --------------------------------------------------------------------------------------------

    def refuse(self, construct: str, at: int, why: str) -> JavaRegexError:
        return JavaRegexError(f"'{construct}' at position {at}: {why}")

    def invalid(self, message: str, at: int) -> JavaRegexError:
        return JavaRegexError(f"is not a valid Java regular expression: {message} at position {at}")

    # -- reading -------------------------------------------------------------------------------------------

    def peek(self, length: int = 1) -> str:
        return self.pattern[self.pos : self.pos + length]

    def run(self) -> str:
        n = len(self.pattern)
        while self.pos < n:
            c = self.pattern[self.pos]
            self.pos += 1
            if c == "\\":
                self.out.append(self.escape(in_class=False))
            elif c == "[":
                self.out.append(self.char_class())
            elif c == "(":
                self.open_group()
            elif c == ")":
                self.close_group()
            elif c == "|":
                self.alternative()
            elif c == ".":
                self.out.append(self.dot())
            elif c == "^":
                self.out.append(self.caret())
            elif c == "$":
                self.out.append(self.dollar())
            elif c == "{":
                self.out.append(self.repetition())
            else:
                self.out.append(c)
        if self.frames:
            raise self.invalid("unclosed group", n)
        self.out.append(")" * self.top_scopes)
        return "".join(self.out)

    # -- flags and groups ----------------------------------------------------------------------------------

    def set_case(self, case: bool) -> None:
        """Open a Python scope so that what follows has ``case``-insensitivity (closed by | and ))."""
        if case != self.case:
            self.out.append("(?i:" if case else "(?-i:")
            self.case = case
            if self.frames:
                self.frames[-1].scopes += 1
            else:
                self.top_scopes += 1

    def read_flags(self, at: int) -> tuple[frozenset[str], str]:
        """Java's ``(?on-off`` flag letters from the current position; returns the flags and ``)`` or ``:``."""
        on: set[str] = set()
        off: set[str] = set()
        minus = False
        while True:
            c = self.peek()
            self.pos += 1
            if c == "-" and not minus:
                minus = True
            elif c and c in _FLAG_LETTERS:
                (off if minus else on).add(c)
            elif c in (")", ":"):
                break
            else:
                raise self.invalid("unknown inline modifier", self.pos - 1)
        for letter in on:
            if letter in _REFUSED_FLAGS:
                raise self.refuse(self.pattern[at : self.pos], at, _REFUSED_FLAGS[letter])
        return frozenset((self.flags | on) - off), c

    def open_group(self) -> None:
        at = self.pos - 1
        if self.peek() != "?":
            self.groups += 1
            self.push("(")
            return
        self.pos += 1
        c = self.peek()
        if c in (":", "=", "!", ">"):
            self.pos += 1
            self.push(f"(?{c}")
        elif c == "<":
            self.pos += 1
            if self.peek() in ("=", "!"):
                self.push(f"(?<{self.pattern[self.pos]}")
                self.pos += 1
                return
            name = _GROUP_NAME.match(self.pattern, self.pos)
            if name is None or self.pattern[name.end() : name.end() + 1] != ">":
                raise self.invalid("a group name is a letter then letters or digits, closed by '>'", self.pos)
            if name.group() in self.names:
                raise self.invalid(f"named capturing group <{name.group()}> is already defined", self.pos)
            self.names.add(name.group())
            self.groups += 1
            self.pos = name.end() + 1
            self.push(f"(?P<{name.group()}>")
        elif c == "P":
            raise self.refuse("(?P", at, "Python's named-group syntax is not Java's; write (?<name>...) and "
                                         "\\k<name>")
        elif c == "#":
            raise self.refuse("(?#", at, "Java has no (?#...) comments; remove the comment")
        else:
            flags, end = self.read_flags(at)
            if end == ")":  # to the end of the enclosing group
                self.flags = flags
                self.set_case("i" in flags)
            else:  # (?flags:X)
                saved_flags, saved_case = self.flags, self.case
                self.flags = flags
                case = "i" in flags
                self.out.append("(?:" if case == self.case else ("(?i:" if case else "(?-i:"))
                self.frames.append(_Frame(saved_flags, saved_case, case))
                self.case = case

    def push(self, opener: str) -> None:
        self.out.append(opener)
        self.frames.append(_Frame(self.flags, self.case, self.case))

    def close_group(self) -> None:
        if not self.frames:
            raise self.invalid("unmatched closing ')'", self.pos - 1)
        frame = self.frames.pop()
        self.out.append(")" * frame.scopes + ")")
        self.flags, self.case = frame.saved_flags, frame.saved_case

    def alternative(self) -> None:
        if self.frames:
            frame = self.frames[-1]
            self.out.append(")" * frame.scopes + "|")
            frame.scopes = 0
            self.case = frame.base_case
        else:
            self.out.append(")" * self.top_scopes + "|")
            self.top_scopes = 0
            self.case = False
        self.set_case("i" in self.flags)  # Java's flags run on across '|'; Python's scopes do not

    # -- anchors and dot -----------------------------------------------------------------------------------

    def dot(self) -> str:
        if "s" in self.flags:
            return "[\\s\\S]"
        if "d" in self.flags:
            return "[^\\n]"
        return f"[^{_LINE_TERMINATORS}]"

    def caret(self) -> str:
        if "m" not in self.flags:
            return "^"
        # Java never matches a multi-line ^ at the end of the input, even after a line terminator.
        if "d" in self.flags:
            return "(?:^|(?<=\\n))(?!\\Z)"
        return "(?:^|(?<=[\\n\\x85\\u2028\\u2029])|(?<=\\r)(?!\\n))(?!\\Z)"

    def dollar(self) -> str:
        if "m" in self.flags:
            if "d" in self.flags:
                return "(?=\\n|\\Z)"
            return "(?=(?<!\\r)\\n|[\\r\\x85\\u2028\\u2029]|\\Z)"
        return self.end_but_terminator()

    def end_but_terminator(self) -> str:
        """Java's ``\\Z`` (and ``$`` without ``(?m)``): the end, or before a final line terminator."""
        if "d" in self.flags:
            return "(?=\\n?\\Z)"
        return "(?=(?:\\r\\n|(?<!\\r)\\n|[\\r\\x85\\u2028\\u2029])?\\Z)"

    def repetition(self) -> str:
        """Java reads every unescaped ``{`` outside a class as a count: ``{n}``, ``{n,}`` or ``{n,m}``."""
        at = self.pos - 1
        count = re.compile(r"([0-9]+)(,([0-9]*))?\}").match(self.pattern, self.pos)
        if count is None:
            raise self.invalid("'{' starts a repetition count ({n}, {n,} or {n,m}); write \\{ for a literal "
                               "brace", at)
        low, high = int(count.group(1)), count.group(3)
        if high and int(high) < low:
            raise self.invalid("illegal repetition range", at)
        self.pos = count.end()
        return "{" + self.pattern[at + 1 : self.pos]

    # -- escapes -------------------------------------------------------------------------------------------

    def escape(self, *, in_class: bool) -> str:
        """After a backslash: the Python text (outside a class) or class members (inside one)."""
        at = self.pos - 1
        if self.pos >= len(self.pattern):
            raise self.invalid("a pattern cannot end with '\\'", at)
        c = self.pattern[self.pos]
        self.pos += 1
        single = self.single_escape(c, at)
        if single is not None:
            return _char(single)
        if c in "dDsSwW":
            return "\\" + c  # ASCII under re.ASCII, as Java's
        ranges = self.class_escape(c, at)
        if ranges is not None:
            members, negated = ranges
            if in_class:
                return _members(_complement(members) if negated else members)
            return f"[{'^' if negated else ''}{_members(members)}]"
        if in_class:
            raise self.invalid(f"'\\{c}' is not allowed in a character class", at)
        if c in "123456789":
            return self.backreference(c, at)
        if c == "k":
            name = re.compile(r"<([A-Za-z][A-Za-z0-9]*)>").match(self.pattern, self.pos)
            if name is None:
                raise self.invalid("\\k is followed by <name>", at)
            if name.group(1) not in self.names:
                raise self.invalid(f"named capturing group <{name.group(1)}> does not exist", at)
            self.pos = name.end()
            return f"(?P={name.group(1)})"
        if c == "b" and self.peek() == "{":
            raise self.refuse("\\b{", at, "grapheme-cluster boundaries have no equivalent in Python's re")
        if c in "bB":
            return _boundaries()[0 if c == "b" else 1]
        if c == "A":
            return "\\A"
        if c == "z":
            return "\\Z"
        if c == "Z":
            return self.end_but_terminator()
        if c == "R":
            return _LINE_BREAK
        if c == "G":
            raise self.refuse("\\G", at, "the end of the previous match has no equivalent in Python's re; anchor "
                                         "with ^ or remove it")
        if c == "X":
            raise self.refuse("\\X", at, "grapheme clusters have no equivalent in Python's re; match the "
                                         "characters explicitly")
        raise self.invalid(f"illegal/unsupported escape sequence '\\{c}'", at)

    def single_escape(self, c: str, at: int) -> int | None:
        """The code point of a one-character escape (``\\t``, ``\\x41``, ``\\0101`` …), else None."""
        simple = {"t": 0x09, "n": 0x0A, "r": 0x0D, "f": 0x0C, "a": 0x07, "e": 0x1B}
        if c in simple:
            return simple[c]
        if c == "0":
            return self.octal(at)
        if c == "x":
            return self.hexadecimal(at)
        if c == "u":
            return self.unicode(at)
        if c == "c":
            if self.pos >= len(self.pattern):
                raise self.invalid("illegal control escape sequence", at)
            self.pos += 1
            return ord(self.pattern[self.pos - 1]) ^ 64
        if c == "N":
            name = re.compile(r"\{([^}]*)\}").match(self.pattern, self.pos)
            if name is None:
                raise self.invalid("\\N is followed by {NAME}", at)
            try:
                found = unicodedata.lookup(name.group(1).strip())
            except KeyError:
                raise self.invalid(f"unknown character name {{{name.group(1)}}}", at) from None
            self.pos = name.end()
            return ord(found)
        if not c.isascii() or not c.isalnum():
            return ord(c)  # a backslash before anything but a letter or digit quotes it
        return None

    def octal(self, at: int) -> int:
        digits = re.compile(r"[0-7]{1,3}").match(self.pattern, self.pos)
        if digits is None:
            raise self.invalid("illegal octal escape sequence", at)
        text = digits.group()
        if len(text) == 3 and text[0] > "3":  # \0nnn only up to \0377; else two digits and a literal
            text = text[:2]
        self.pos += len(text)
        return int(text, 8)

    def hexadecimal(self, at: int) -> int:
        braced = re.compile(r"\{([0-9a-fA-F]+)\}").match(self.pattern, self.pos)
        if braced is not None:
            value = int(braced.group(1), 16)
            if value > _MAX_CODE_POINT:
                raise self.invalid("hexadecimal code point is too big", at)
            self.pos = braced.end()
            return value
        two = re.compile(r"[0-9a-fA-F]{2}").match(self.pattern, self.pos)
        if two is None:
            raise self.invalid("illegal hexadecimal escape sequence", at)
        self.pos = two.end()
        return int(two.group(), 16)

    def unicode(self, at: int) -> int:
        four = re.compile(r"[0-9a-fA-F]{4}").match(self.pattern, self.pos)
        if four is None:
            raise self.invalid("illegal Unicode escape sequence", at)
        self.pos = four.end()
        value = int(four.group(), 16)
        if 0xD800 <= value <= 0xDBFF:  # a surrogate pair written as two escapes is one code point, as in Java
            low = re.compile(r"\\u([dD][c-fC-F][0-9a-fA-F]{2})").match(self.pattern, self.pos)
            if low is not None:
                self.pos = low.end()
                return 0x10000 + ((value - 0xD800) << 10) + (int(low.group(1), 16) - 0xDC00)
        return value

    def class_escape(self, c: str, at: int) -> tuple[_Ranges, bool] | None:
        """``\\h``, ``\\v``, ``\\p{…}`` and their complements: (ranges, negated), else None."""
        if c in "hH":
            return _HORIZONTAL, c == "H"
        if c in "vV":
            return _VERTICAL, c == "V"
        if c not in "pP":
            return None
        braced = re.compile(r"\{([^}]*)\}").match(self.pattern, self.pos)
        name = braced.group(1) if braced else self.peek()
        self.pos = braced.end() if braced else self.pos + 1
        written = self.pattern[at : self.pos]
        if name not in _POSIX:
            raise self.refuse(written, at, "Unicode properties, scripts, blocks and java... classes have no "
                                           "equivalent in Python's re; write the characters as a class (e.g. "
                                           "[a-zA-Z] for ASCII letters) or use a POSIX name such as \\p{Alpha}")
        if "i" in self.flags and name in ("Lower", "Upper"):
            name = "Alpha"  # Java 17 matches both cases under (?i) (and \P{Lower} neither)
        return _POSIX[name], c == "P"

    def backreference(self, first: str, at: int) -> str:
        number = int(first)
        # Java takes a further digit only while the number still names a group opened before this point.
        while self.peek().isdigit() and self.peek().isascii() and number * 10 + int(self.peek()) <= self.groups:
            number = number * 10 + int(self.peek())
            self.pos += 1
        if number > self.groups:
            raise self.invalid(f"\\{number} refers to group {number}, which does not exist before it (Java never "
                               "matches it)", at)
        if number > 99:
            raise self.refuse(f"\\{number}", at, "Python's re refers to at most 99 numbered groups; name the group "
                                                 "and use \\k<name>")
        return f"(?:\\{number})"  # the group keeps a following digit from joining the number

    # -- classes -------------------------------------------------------------------------------------------

    def char_class(self) -> str:
        at = self.pos - 1
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        members: list[str] = []
        n = len(self.pattern)
        while True:
            if self.pos >= n:
                raise self.invalid("unclosed character class", at)
            c = self.pattern[self.pos]
            if c == "]" and members:
                self.pos += 1
                break
            if c == "[":
                raise self.refuse(self.class_text(at), at, "nested and union classes have no equivalent in "
                                                           "Python's re; write one class with every member "
                                                           "([ab] for [a[b]]) or alternatives ((?:[a]|[^b]))")
            if self.peek(2) == "&&":
                raise self.refuse(self.class_text(at), at, "class intersection (&&) has no equivalent in Python's "
                                                           "re; list the members (e.g. [b-df-hj-np-tv-z]) or use a "
                                                           "lookahead ((?![aeiou])[a-z] for [a-z&&[^aeiou]])")
            low = self.class_atom()
            if isinstance(low, str):
                members.append(low)
                continue
            after = self.pattern[self.pos + 1 : self.pos + 2]
            if self.peek() == "-" and after not in ("]", "[", ""):
                self.pos += 1
                high = self.class_atom()
                if isinstance(high, str) or high < low:
                    raise self.invalid("illegal character range", self.pos - 1)
                members.append(f"{_char(low)}-{_char(high)}")
            else:
                members.append(_char(low))
        return f"[{'^' if negated else ''}{''.join(members)}]"

    def class_atom(self) -> int | str:
        """One class member: a code point, or class members text for ``\\d``, ``\\p{…}`` …"""
        c = self.pattern[self.pos]
        self.pos += 1
        if c != "\\":
            return ord(c)
        at = self.pos - 1
        if self.pos >= len(self.pattern):
            raise self.invalid("unclosed character class", at)
        self.pos += 1
        single = self.single_escape(self.pattern[self.pos - 1], at)
        if single is not None:
            return single
        self.pos -= 1
        return self.escape(in_class=True)

    def class_text(self, at: int) -> str:
        """The whole class starting at ``at``, nested classes included (for messages)."""
        depth, i, n = 0, at, len(self.pattern)
        while i < n:
            c = self.pattern[i]
            if c == "\\":
                i += 1
            elif c == "[":
                depth += 1
            elif c == "]" and i > at + 1 and self.pattern[i - 1] not in "[^":
                depth -= 1
                if depth == 0:
                    return self.pattern[at : i + 1]
            i += 1
        return self.pattern[at:]


def translate(pattern: str) -> str:
    """The Python pattern (to compile with ``re.ASCII``) that means what ``pattern`` means in Java."""
    return _Translator(_remove_quoting(pattern)).run()


def compile_java_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Java regex with Python's ``re``; raises :class:`JavaRegexError` saying what is wrong."""
    translated = translate(pattern)
    try:
        return re.compile(translated, re.ASCII)
    except re.error as exc:
        raise JavaRegexError(f"is a Java regular expression Python's re cannot run: {exc.msg}") from None
