"""Command-line argument types shared by ``flafka-agent``'s commands (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse

from flafka.config.params import parse_float


def seconds(text: str) -> float:
    """A finite number of seconds (``1``, ``0.5``, ``2e3``)."""
    try:
        return parse_float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def non_negative_seconds(text: str) -> float:
    """A finite number of seconds, 0 or more."""
    value = seconds(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {text!r}")
    return value
