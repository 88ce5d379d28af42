"""Java .properties parsing: the edge cases Flume configs rely on, with line numbers kept."""

from __future__ import annotations

from pathlib import Path

from flafka.config.properties import Prop, merge, parse_properties, read_properties_file


def values(text: str) -> dict[str, str]:
    return {k: p.value for k, p in parse_properties(text, "f").items()}


def lines(text: str) -> dict[str, int]:
    return {k: p.location.line for k, p in parse_properties(text, "f").items()}


def test_separators_equals_colon_and_blank() -> None:
    assert values("a=1\nb : 2\nc   3\nd=\n") == {"a": "1", "b": "2", "c": "3", "d": ""}


def test_comments_with_hash_and_bang_and_hash_colon() -> None:
    text = "# comment\n! other\n#: not metadata\n  # indented\na = 1\n"
    assert values(text) == {"a": "1"}
    assert lines(text) == {"a": 5}


def test_continuation_lines_drop_leading_blanks_and_keep_first_line_number() -> None:
    text = "x = 1\nlist = a \\\n       b \\\n       c\ny = 2\n"
    assert values(text)["list"] == "a b c"
    assert lines(text) == {"x": 1, "list": 2, "y": 5}


def test_even_number_of_backslashes_does_not_continue() -> None:
    text = "a = x\\\\\nb = 2\n"
    assert values(text) == {"a": "x\\", "b": "2"}


def test_escapes_unicode_and_unknown_escape_yields_the_character() -> None:
    # \d is "d" in Java properties: regexes must double their backslashes (reference §1.1)
    text = "t = a\\tb\nu = \\u0041\\u00e9\nr1 = (\\d)\nr2 = (\\\\d)\n"
    assert values(text) == {"t": "a\tb", "u": "Aé", "r1": "(d)", "r2": "(\\d)"}


def test_escaped_separator_in_key() -> None:
    assert values("a\\=b = c\n") == {"a=b": "c"}


def test_last_duplicate_wins_and_its_line_is_kept() -> None:
    text = "a = 1\nb = 2\na = 3\n"
    assert values(text) == {"a": "3", "b": "2"}
    assert lines(text)["a"] == 3


def test_values_are_trimmed_and_crlf_line_endings() -> None:
    text = "a = padded   \r\nb=2\r\n"
    assert values(text) == {"a": "padded", "b": "2"}
    assert lines(text) == {"a": 1, "b": 2}


def test_files_merge_in_order_later_overrides(tmp_path: Path) -> None:
    first = tmp_path / "a.properties"
    second = tmp_path / "b.properties"
    first.write_text("k = 1\nonly.first = x\n")
    second.write_text("\nk = 2\n")
    merged = merge([read_properties_file(first), read_properties_file(second)])
    assert merged["k"].value == "2"
    assert str(merged["k"].location) == f"{second}:2"
    assert merged["only.first"] == Prop("x", merged["only.first"].location)
    assert merged["only.first"].location.file == str(first)


def test_utf8_file_and_latin1_fallback(tmp_path: Path) -> None:
    utf8 = tmp_path / "u.properties"
    utf8.write_bytes("a = café\n".encode())
    latin = tmp_path / "l.properties"
    latin.write_bytes("a = café\n".encode("iso-8859-1"))
    assert read_properties_file(utf8)["a"].value == "café"
    assert read_properties_file(latin)["a"].value == "café"


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_key(tmp_path: Path) -> None:
    conf = tmp_path / "bom.properties"
    conf.write_bytes(b"\xef\xbb\xbfa1.sources = r1\n# comment\na1.channels = c1\n")
    found = read_properties_file(conf)
    assert list(found) == ["a1.sources", "a1.channels"]
    assert (found["a1.sources"].value, found["a1.sources"].location.line) == ("r1", 1)
    assert found["a1.channels"].location.line == 3


def test_a_byte_order_mark_is_dropped_before_the_latin1_fallback_too(tmp_path: Path) -> None:
    conf = tmp_path / "bom-latin1.properties"
    conf.write_bytes(b"\xef\xbb\xbfa = caf\xe9\n")  # a BOM, then a byte that is not UTF-8
    found = read_properties_file(conf)
    assert list(found) == ["a"]
    assert (found["a"].value, found["a"].location.line) == ("café", 1)


def test_a_byte_order_mark_in_text() -> None:
    assert lines("\ufeffa = 1\nb = 2\n") == {"a": 1, "b": 2}
