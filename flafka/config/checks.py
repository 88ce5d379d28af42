"""Small value checks shared by component configurations."""

from __future__ import annotations


def is_text_encoding(name: str) -> bool:
    """True when Python knows ``name`` as a text encoding (a Java charset name usually is one)."""
    try:
        "\n".encode(name)
    except LookupError:
        return False
    return True
