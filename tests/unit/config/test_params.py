"""Declared parameters: conversion, defaults, aliases, deprecated names, prefixed groups, docs."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from flafka.config.params import ComponentConfig, param, params_table, prefixed
from flafka.testing import props


@dataclass(frozen=True, kw_only=True)
class Example(ComponentConfig):
    topic: str = param("kafka.topic", deprecated=("topic",), doc="Topic to write.")
    batch: int = param("flumeBatchSize", default=100, minimum=1, deprecated=("batchSize",), doc="Batch.")
    ratio: float = param("ratio", default=0.5, maximum=1.0)
    enabled: bool = param("enabled", default=False)
    policy: str = param("policy", default="never", choices=("never", "immediate"))
    names: list[str] = param("names", default=[])
    timeout: int | None = param("timeout", default=None)
    producer: dict[str, str] = prefixed("kafka.producer.", doc="Producer properties.")


def parse(values: dict[str, str]) -> tuple[Example | None, list[str]]:
    config, diagnostics = Example.parse(props(values), "sinks.k1")
    return config, [str(d) for d in diagnostics]


def test_defaults_and_conversion() -> None:
    config, found = parse({"kafka.topic": "t", "ratio": "0.25", "enabled": "TRUE", "policy": "Immediate",
                           "names": " a  b ", "timeout": "30", "kafka.producer.acks": "all",
                           "kafka.producer.linger.ms": "5"})
    assert found == []
    assert config == Example(topic="t", batch=100, ratio=0.25, enabled=True, policy="immediate",
                             names=["a", "b"], timeout=30, producer={"acks": "all", "linger.ms": "5"})


def test_required_bad_values_and_bounds_are_errors() -> None:
    config, found = parse({"flumeBatchSize": "0", "ratio": "x", "enabled": "yes", "policy": "nevr"})
    assert config is None
    assert found == [
        "sinks.k1 kafka.topic: is required (Topic to write)",
        "<test>: sinks.k1 flumeBatchSize: must be at least 1, got 0",
        "<test>: sinks.k1 ratio: expected a number, got 'x'",
        "<test>: sinks.k1 enabled: expected true or false, got 'yes'",
        "<test>: sinks.k1 policy: must be one of never, immediate, got 'nevr' (did you mean 'never'?)",
    ]


def test_deprecated_name_is_accepted_with_a_warning_and_the_new_name_wins() -> None:
    config, found = parse({"topic": "old", "batchSize": "5"})
    assert config is not None
    assert (config.topic, config.batch) == ("old", 5)
    assert found == ["<test>: sinks.k1 topic: warning: is deprecated, use kafka.topic",
                     "<test>: sinks.k1 batchSize: warning: is deprecated, use flumeBatchSize"]
    config, found = parse({"topic": "old", "kafka.topic": "new"})
    assert config is not None
    assert config.topic == "new"
    assert found == ["<test>: sinks.k1 topic: warning: is deprecated, use kafka.topic (ignored: the new name is set)"]


def test_unknown_key_warning_suggests_the_declared_name() -> None:
    _, found = parse({"kafka.topic": "t", "kafka.topik": "x"})
    assert found == ["<test>: sinks.k1 kafka.topik: warning: unknown property, ignored (did you mean 'kafka.topic'?)"]


def test_params_table_lists_every_declaration() -> None:
    table = params_table(Example)
    assert "| **`kafka.topic`** |  | Topic to write. (deprecated name: `topic`) |" in table
    assert "| `flumeBatchSize` | `100` | Batch. (deprecated name: `batchSize`) |" in table
    assert "| `kafka.producer.*` |  | Producer properties. |" in table
    assert "| `policy` | `never` | (one of `never`, `immediate`) |" in table


def test_check_errors_point_at_the_key() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Pair(ComponentConfig):
        low: int = param("low", default=0)
        high: int = param("high", default=10)

        def check(self) -> list[tuple[str | None, str]]:
            return [("high", "must be above low")] if self.high <= self.low else []

    _, found = Pair.parse(props({"low": "5", "high": "3"}), "channels.c1")
    assert [str(d) for d in found] == ["<test>: channels.c1 high: must be above low"]


@pytest.mark.parametrize("text", ["1.5", "", "0x10", "1e3"])
def test_integers_are_whole_decimal_numbers(text: str) -> None:
    _, found = parse({"kafka.topic": "t", "flumeBatchSize": text})
    assert found == [f"<test>: sinks.k1 flumeBatchSize: expected a whole number, got {text!r}"]


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "+Infinity", "1e999"])
def test_numbers_must_be_finite(text: str) -> None:
    # NaN passed every bound (a comparison with NaN is false): keep-alive = nan made a put wait for ever.
    config, found = parse({"kafka.topic": "t", "ratio": text})
    assert config is None
    assert len(found) == 1
    assert found[0].startswith(f"<test>: sinks.k1 ratio: must be a finite number, got {text!r}")


@pytest.mark.parametrize("text", ["1_000", "0x10", "1.5.1", ""])
def test_decimals_are_plain_decimal_numbers(text: str) -> None:
    _, found = parse({"kafka.topic": "t", "ratio": text})
    assert found == [f"<test>: sinks.k1 ratio: expected a number, got {text!r}"]


@dataclass(frozen=True, kw_only=True)
class Window(ComponentConfig):
    low: int = param("low", default=0)
    high: int = param("high", default=10)
    unit: str = param("unit", default="s", choices=("s", "ms"))
    label: str = param("label", default="x")

    def check(self) -> list[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        if self.high <= self.low:
            problems.append(("high", f"({self.high}) must be above low ({self.low})"))
        if not self.label.strip():
            problems.append(("label", "is empty"))
        return problems


def window(values: dict[str, str]) -> list[str]:
    config, found = Window.parse(props(values), "channels.c1")
    assert config is None
    return [str(d) for d in found]


def test_a_bad_value_does_not_hide_the_cross_field_checks_of_the_others() -> None:
    assert window({"unit": "hours", "label": " "}) == [
        "<test>: channels.c1 unit: must be one of s, ms, got 'hours'",
        "<test>: channels.c1 label: is empty",
    ]


@pytest.mark.parametrize("values", [{"low": "x", "high": "3"}, {"low": "5", "high": "x"}, {"high": "-1", "low": "y"}])
def test_a_cross_field_check_on_a_bad_value_is_not_reported(values: dict[str, str]) -> None:
    # "high must be above low" would hold or not depending on what the bad value was meant to be: one error only.
    found = window(values)
    assert len(found) == 1
    assert "expected a whole number" in found[0]


def test_stand_in_configurations_are_given_for_checks_across_components() -> None:
    parsed = Window.parse_all(props({"low": "x", "label": "y"}), "channels.c1")
    assert parsed.config is None
    assert parsed.agreed(lambda c: c.label) == (True, "y")  # does not depend on the bad value
    assert parsed.agreed(lambda c: c.low) == (False, None)  # does
    good = Window.parse_all(props({"low": "1"}), "channels.c1")
    assert good.config is not None
    assert good.variants == (good.config,)
