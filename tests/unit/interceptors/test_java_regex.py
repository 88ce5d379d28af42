"""Java regexes run by Python's re (flafka.java_regex): what matches, and what is refused.

Every expectation below is what java.util.regex does, recorded once with OpenJDK 17.0.15 (Matcher.find()
in a loop, start and end of each match); the comment says why the case is here. Java counts UTF-16 units,
Python code points: for the one supplementary character used, the positions are written in code points.
"""

from __future__ import annotations

import re
import warnings

import pytest

from flafka.errors import ConfigError
from flafka.interceptors.base import Interceptor
from flafka.interceptors.regex_extractor import RegexExtractorInterceptor
from flafka.interceptors.regex_filter import RegexFilteringInterceptor
from flafka.interceptors.remove_header import RemoveHeaderInterceptor
from flafka.interceptors.search_replace import SearchAndReplaceInterceptor
from flafka.java_regex import JavaRegexError, compile_java_regex
from flafka.testing import parse_config

Spans = list[tuple[int, int]]


def at(*positions: int) -> Spans:
    """Empty matches at ``positions``."""
    return [(p, p) for p in positions]


# (Java pattern, text, Java's matches, why the case is here)
MATCHES: list[tuple[str, str, Spans, str]] = [
    # \w \d \s are ASCII in Java (without (?U)); Python needs re.ASCII for that
    (r"\w+", "café", [(0, 3)], "é is not a word character for \\w"),
    (r"\d", "\u0661", [], "Arabic-Indic digit one is not \\d"),
    (r"\s", "\u00a0\u2028", [], "no-break space and line separator are not \\s"),
    (r"(?i)é", "É", [], "(?i) folds ASCII only"),
    (r"(?i)k", "\u212a", [], "KELVIN SIGN is not k under (?i)"),
    (r"(?i)s", "\u017f", [], "LONG S is not s under (?i)"),
    (r"(?i)[a-c]", "B", [(0, 1)], "ranges fold ASCII case"),
    (r"(?i)[^a]", "aA", [], "a negated class folds too"),
    (r"(?i)(a)\1", "aA", [(0, 2)], "back-references fold under (?i)"),
    # \b in Java 8-18 counts letters and decimal digits of every script, unlike \w
    (r"\b", "aé b", at(0, 2, 3, 4), "é continues the word at \\b"),
    (r"\B", "aé b", at(1), "no boundary between a and é"),
    (r"\b", "x\u00b2 y", at(0, 1, 3, 4), "superscript two is not a letter or digit"),
    (r"\b", "\u2167x", at(1, 2), "roman numeral eight is not a letter or digit"),
    (r"\Bx", "ax", [(1, 2)], "plain ASCII \\B"),
    (r"\b", "a\U00010107b", at(0, 1, 2, 3), "a numeral beyond U+FFFF is no word character either"),
    (r"\b", "\u00b2\u00b2a", at(2, 3), "between two numerals there is no boundary"),
    (r"\B", "\u00bd\u00bd", at(0, 1, 2), "\\B around numerals"),
    (r"\b", "é", at(0, 1), "a lone non-ASCII letter is a word"),
    (r"(?i)\bÉté\b", "été!", [], "\\b finds the word, (?i) does not fold É"),
    # line terminators: \n \r U+0085 U+2028 U+2029, \r\n as one
    (".", "a\rb\u0085c\u2028d\u2029e\nf", [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)],
     ". matches no line terminator"),
    ("(?d).", "a\rb\n", [(0, 1), (1, 2), (2, 3)], "(?d): only \\n ends a line"),
    ("(?s).", "\r\n", [(0, 1), (1, 2)], "(?s): . matches everything"),
    ("(?s)a.b(?-s).", "a\nb\n", [], "(?-s) mid-pattern turns DOTALL off again"),
    ("(?i-s:a.)", "A\n", [], "scoped flags on and off at once"),
    ("^", "", at(0), "^ matches the empty input"),
    ("(?m)^", "", [], "a multi-line ^ never matches at the end of the input"),
    ("(?m)^", "a\nb\r\nc\rd\u0085e\n", at(0, 2, 5, 7, 9), "after each terminator, \\r\\n as one, not at the end"),
    ("(?md)^", "a\rb\n", at(0), "(?md): only after \\n"),
    ("$", "a\r\n", at(1, 3), "$ before a final \\r\\n, not between \\r and \\n"),
    ("$", "a\r", at(1, 2), "$ before a final \\r"),
    ("$", "a\u2028", at(1, 2), "$ before a final line separator"),
    ("$", "a\n\n", at(2, 3), "$ only before the last terminator"),
    ("(?d)$", "a\r", at(2), "(?d): \\r is no terminator"),
    ("(?d)$", "a\n", at(1, 2), "(?d): before a final \\n"),
    ("(?m)$", "a\r\nb\rc\nd\u0085", at(1, 4, 6, 8, 9), "(?m): before every terminator"),
    ("(?md)$", "a\r\nb\n", at(2, 4, 5), "(?md): before every \\n"),
    (r"\Z", "a\r\n", at(1, 3), "\\Z is $ without (?m)"),
    (r"a\Z", "a\r\n", [(0, 1)], "\\Z before a final \\r\\n"),
    (r"\z", "a\n", at(2), "\\z is the very end (Python's \\Z)"),
    (r"\R", "\r\n\n\r", [(0, 2), (2, 3), (3, 4)], "\\R takes \\r\\n as one line break"),
    # inline flags: to the end of the enclosing group, across |
    ("(a(?i)b)B", "aBB", [(0, 3)], "(?i) inside a group"),
    ("(a(?i)b)B", "aBb", [], "the group's end restores the flags"),
    ("a(?i)b|c", "C", [(0, 1)], "(?i) runs on across |"),
    ("a(?i)b(?-i)c", "aBc", [(0, 3)], "(?i) then (?-i)"),
    ("a(?i)b(?-i)c", "aBC", [], "(?-i) ends it"),
    ("(?i:a)A", "AA", [(0, 2)], "a scoped flag group"),
    ("(?i)", "x", at(0, 1), "a lone flag group matches the empty string"),
    # escapes Python spells differently or lacks
    (r"\0101", "A", [(0, 1)], "octal needs the leading 0 in Java"),
    (r"\0377", "\u00ff7", [(0, 1)], "three octal digits up to 377"),
    (r"\0477", "'7", [(0, 2)], "above 377 only two digits are octal"),
    (r"\cA", "\x01", [(0, 1)], "control character"),
    (r"\e", "\x1b", [(0, 1)], "escape character"),
    (r"[\e]", "\x1b", [(0, 1)], "escape character in a class"),
    (r"\x{1F600}", "\U0001f600", [(0, 1)], "code point in braces"),
    (r"\uD83D\uDE00", "\U0001f600", [(0, 1)], "a surrogate pair is one code point"),
    (".", "\U0001f600", [(0, 1)], ". takes a whole supplementary character"),
    (r"\N{LATIN SMALL LETTER A}", "a", [(0, 1)], "character by name"),
    (r"\h", "\u00a0\t\u3000x", [(0, 1), (1, 2), (2, 3)], "horizontal white space"),
    (r"\H", "\u00a0x", [(1, 2)], "not horizontal white space"),
    (r"[\H]", "\u00a0x", [(1, 2)], "\\H inside a class"),
    (r"\v", "\n\x0b\u2028\u0085x", [(0, 1), (1, 2), (2, 3), (3, 4)], "\\v is vertical white space, not U+000B"),
    (r"\V", "\nx", [(1, 2)], "not vertical white space"),
    (r"\_", "_", [(0, 1)], "a backslash before a non-letter quotes it"),
    ("\\ ", "  ", [(0, 1), (1, 2)], "an escaped space"),
    # POSIX classes (ASCII)
    (r"\p{Punct}", "!~a_", [(0, 1), (1, 2), (3, 4)], "\\p{Punct}"),
    (r"\p{Alpha}", "aé", [(0, 1)], "\\p{Alpha} is ASCII"),
    (r"\P{Alpha}", "aé1", [(1, 2), (2, 3)], "\\P{Alpha}"),
    (r"\p{ASCII}+", "abé", [(0, 2)], "\\p{ASCII}"),
    (r"\p{XDigit}", "g9F", [(1, 2), (2, 3)], "\\p{XDigit}"),
    (r"\p{Cntrl}", "\x7f", [(0, 1)], "\\p{Cntrl} includes DEL"),
    (r"\p{Graph}", " a", [(1, 2)], "\\p{Graph} excludes space"),
    (r"\p{Print}", " a", [(0, 1), (1, 2)], "\\p{Print} includes space"),
    (r"\p{Blank}", " \t\n", [(0, 1), (1, 2)], "\\p{Blank} is space and tab"),
    (r"\p{Space}", "\x0b", [(0, 1)], "\\p{Space} includes vertical tab"),
    (r"\p{Alnum}", "_a", [(1, 2)], "\\p{Alnum} excludes _"),
    (r"\p{Lower}", "aA", [(0, 1)], "\\p{Lower}"),
    (r"(?i)\p{Lower}", "aA1", [(0, 1), (1, 2)], "under (?i) \\p{Lower} takes both cases"),
    (r"(?i)\P{Lower}", "aA1", [(2, 3)], "and \\P{Lower} neither"),
    (r"(?i)\p{Upper}", "aA1", [(0, 1), (1, 2)], "\\p{Upper} likewise"),
    (r"(?i)[\P{Lower}]", "aA1", [(2, 3)], "\\P{Lower} inside a class under (?i)"),
    (r"[\p{Alpha}\d]", "a1_", [(0, 1), (1, 2)], "POSIX class and \\d in one class"),
    (r"[^\p{Alpha}]", "a1", [(1, 2)], "negated class holding a POSIX class"),
    (r"[\P{Alpha}]", "a1", [(1, 2)], "complement inside a class"),
    # classes
    (r"[\w-z]", "-", [(0, 1)], "- after a class escape is literal (Python refuses the range)"),
    (r"[a-z-0]", "-", [(0, 1)], "- after a range is literal"),
    ("[]a]", "]", [(0, 1)], "] first is a member"),
    ("[^]a]", "b", [(0, 1)], "] first after ^ is a member"),
    ("[a]]", "a]", [(0, 2)], "] after a class is literal"),
    ("[a&b]", "&", [(0, 1)], "a single & is a member"),
    ("[.]", "a.", [(1, 2)], ". in a class is literal"),
    (r"[\x41-\x43]", "B", [(0, 1)], "a range of escapes"),
    # quoting, groups, back-references, quantifiers
    (r"a\Q.b\E", "a.b axb", [(0, 3)], "\\Q...\\E quotes"),
    (r"[\Qa\E-c]", "b", [(0, 1)], "quoting is removed before parsing, even in a class"),
    (r"[\Q]\E]", "]", [(0, 1)], "a quoted ] is a member"),
    (r"\Q\E", "x", at(0, 1), "empty quote"),
    (r"(?<n>a)\k<n>", "aa", [(0, 2)], "named group and back-reference"),
    (r"(a)\1", "aa", [(0, 2)], "back-reference"),
    (r"(a)\10", "aa0", [(0, 3)], "\\10 with one group is group 1 then 0"),
    (r"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\10", "abcdefghijj", [(0, 11)], "\\10 with ten groups is group 10"),
    ("a++a", "aaa", [], "possessive quantifiers give nothing back"),
    ("(?>a+)a", "aaa", [], "nor do atomic groups"),
    ("a?+a", "a", [], "possessive ?"),
    ("a{1,2}+a", "aa", [], "possessive count"),
    ("a}", "a}", [(0, 2)], "} alone is literal"),
    ("x*", "abxd", [(0, 0), (1, 1), (2, 3), (3, 3), (4, 4)], "empty matches between characters"),
    ("a|", "b", at(0, 1), "an empty alternative"),
    (r"\t\n\r\f\a", "\t\n\r\f\x07", [(0, 5)], "escapes both dialects share"),
]


def spans(pattern: str, text: str) -> Spans:
    return [m.span() for m in compile_java_regex(pattern).finditer(text)]


@pytest.mark.parametrize(("java", "text", "expected", "why"), MATCHES, ids=[f"{c[0]!r}-{c[3]}" for c in MATCHES])
def test_matches_what_java_matches(java: str, text: str, expected: Spans, why: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re's FutureWarnings (nested set …) would mean a misread class
        assert spans(java, text) == expected, why


# (Java pattern, part of the message) for patterns Java runs and Python's re cannot run the same way
REFUSED = [
    (r"[\w&&[^\d]]", "class intersection (&&)"),
    ("[a&&]", "class intersection (&&)"),
    ("[a[bc]]", "nested and union classes"),
    ("[^a[b]]", "nested and union classes"),
    (r"\p{L}", "Unicode properties"),
    (r"\pL", "Unicode properties"),
    (r"\p{IsAlphabetic}", "Unicode properties"),
    (r"\p{InGreek}", "Unicode properties"),
    (r"\p{javaLowerCase}", "Unicode properties"),
    (r"\G", "end of the previous match"),
    (r"\X", "grapheme clusters"),
    (r"\b{g}", "grapheme-cluster boundaries"),
    (r"(?U)\w", "(?U) (Unicode character classes)"),
    ("(?iu)é", "(?u) (Unicode case folding)"),
    ("(?x)a b", "(?x) (comments mode)"),
    ("(?c)a", "(?c) (canonical equivalence)"),
    ("(?<=a|bc)x", "Python's re cannot run: look-behind requires fixed-width pattern"),
    ("{2}", "Python's re cannot run: nothing to repeat"),  # Java: an empty match everywhere
    ("a{2}{3}", "Python's re cannot run: multiple repeat"),  # Java: the second count is ignored
    (r"(a)\2", "refers to group 2, which does not exist"),  # Java: never matches
]


@pytest.mark.parametrize(("java", "message"), REFUSED)
def test_refuses_what_python_would_read_differently(java: str, message: str) -> None:
    with pytest.raises(JavaRegexError, match=re.escape(message)):
        compile_java_regex(java)


# Patterns Java itself rejects (PatternSyntaxException), some of which Python would accept with a meaning.
INVALID_IN_JAVA = [
    (r"\0", "illegal octal escape sequence"),
    (r"\08", "illegal octal escape sequence"),
    (r"\c", "illegal control escape sequence"),
    ("a{", "'{' starts a repetition count"),
    ("x{,3}", "'{' starts a repetition count"),  # Python: x{0,3}
    ("a{ 2}", "'{' starts a repetition count"),  # Python: literal text
    ("a{2,1}", "illegal repetition range"),
    (r"[\1]", "'\\1' is not allowed in a character class"),  # Python: \x01
    (r"[\b]", "'\\b' is not allowed in a character class"),  # Python: backspace
    (r"\E", "illegal/unsupported escape sequence '\\E'"),
    (r"\y", "illegal/unsupported escape sequence '\\y'"),
    (r"\U0001F600", "illegal/unsupported escape sequence '\\U'"),  # Python: the code point
    ("(?<n_1>a)", "a group name is a letter then letters or digits"),
    (r"\k<n>", "named capturing group <n> does not exist"),
    ("[]", "unclosed character class"),
    (r"\p{alpha}", "Unicode properties"),
    ("(a", "unclosed group"),
    ("a)", "unmatched closing ')'"),
]


@pytest.mark.parametrize(("java", "message"), INVALID_IN_JAVA)
def test_what_java_rejects_is_an_error(java: str, message: str) -> None:
    with pytest.raises(JavaRegexError, match=re.escape(message)):
        compile_java_regex(java)


@pytest.mark.parametrize(("python", "hint"), [("(?P<n>a)", "write (?<name>...)"), ("(?#note)a", "remove the comment")])
def test_python_only_syntax_is_refused_with_the_java_spelling(python: str, hint: str) -> None:
    with pytest.raises(JavaRegexError, match=re.escape(hint)):
        compile_java_regex(python)


def test_a_refusal_names_the_construct_and_where_it_is() -> None:
    with pytest.raises(JavaRegexError) as info:
        compile_java_regex(r"id=[\w&&[^\d]]+")
    assert str(info.value).startswith(r"'[\w&&[^\d]]' at position 3: class intersection (&&) has no equivalent")
    assert "(?![aeiou])[a-z]" in str(info.value)  # what to write instead


@pytest.mark.parametrize(
    ("cls", "key", "extra"),
    [
        (RegexFilteringInterceptor, "regex", {}),
        (RegexExtractorInterceptor, "regex", {"serializers": "s1", "serializers.s1.name": "h"}),
        (SearchAndReplaceInterceptor, "searchPattern", {}),
        (RemoveHeaderInterceptor, "matching", {}),
        (RemoveHeaderInterceptor, "fromListSeparator", {}),
    ],
)
def test_every_regex_interceptor_refuses_at_configuration(cls: type[Interceptor], key: str,
                                                          extra: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{key}: '[\\w&&[^\\d]]' at position 0: class intersection")):
        parse_config(cls, {key: r"[\w&&[^\d]]", **extra})
