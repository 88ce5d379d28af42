"""The keys every source and sink accept for bad events: deadLetterChannel and onBadEvent."""

from __future__ import annotations

import pytest

from flafka.config.loader import LoadedConfig, plan_from_properties
from flafka.config.properties import parse_properties
from flafka.dead_letters import BadEventPolicy
from flafka.errors import ConfigError

BASE = """\
a.sources = r1
a.channels = c1 dl
a.sinks = k1 kd
a.sources.r1.type = seq
a.sources.r1.channels = c1
a.channels.c1.type = memory
a.channels.dl.type = memory
a.sinks.k1.type = null
a.sinks.k1.channel = c1
a.sinks.kd.type = null
a.sinks.kd.channel = dl
"""


def load(extra: str, base: str = BASE) -> LoadedConfig:
    return plan_from_properties(parse_properties(base + extra, "agent.properties"), "a")


def errors(extra: str, base: str = BASE) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load(extra, base)
    return [str(d) for d in raised.value.diagnostics if d.is_error]


def test_dead_letter_channel_and_policy_reach_the_plan() -> None:
    loaded = load("a.sources.r1.deadLetterChannel = dl\na.sinks.k1.deadLetterChannel = dl\n")
    assert loaded.diagnostics == []
    source = loaded.plan.sources["r1"]
    assert (source.dead_letter_channel, source.on_bad_event) == ("dl", BadEventPolicy.DEAD_LETTER)
    assert loaded.plan.sinks["k1"].dead_letter_channel == "dl"


@pytest.mark.parametrize(("extra", "policy"), [
    ("", BadEventPolicy.DROP),
    ("a.sources.r1.onBadEvent = STOP\n", BadEventPolicy.STOP),
    ("a.sources.r1.deadLetterChannel = dl\na.sources.r1.onBadEvent = drop\n", BadEventPolicy.DROP),
])
def test_on_bad_event_defaults_to_drop_without_a_dead_letter_channel(extra: str, policy: BadEventPolicy) -> None:
    assert load(extra).plan.sources["r1"].on_bad_event is policy


def test_every_dead_letter_mistake_is_reported_with_its_line() -> None:
    found = errors("a.sources.r1.deadLetterChannel = dlq\n"       # line 12
                   "a.sinks.k1.deadLetterChannel = c1\n"          # line 13
                   "a.sinks.kd.onBadEvent = drop\n")              # line 14: sinks have no policy (warning)
    assert found == [
        "agent.properties:13: sinks.k1 deadLetterChannel: is the sink's own channel c1: a bad event would come back "
        "to this sink for ever; name another channel",
        "agent.properties:12: sources.r1 deadLetterChannel: channel 'dlq' is not defined in a.channels "
        "(did you mean 'dl'?)",
    ]


def test_a_source_may_not_dead_letter_into_one_of_its_own_channels() -> None:
    found = errors("a.sources.r1.channels = c1 dl\na.sources.r1.deadLetterChannel = dl\n")
    assert found == ["agent.properties:13: sources.r1 deadLetterChannel: channel dl is also one of the source's "
                     "channels, so the selector would write good events to it too; use a channel of its own"]


def test_policy_dead_letter_needs_the_channel_and_a_bad_policy_is_named() -> None:
    assert errors("a.sources.r1.onBadEvent = deadLetter\n") == [
        "agent.properties:12: sources.r1 onBadEvent: is deadLetter but deadLetterChannel is not set: name the "
        "channel that receives bad events"]
    assert errors("a.sources.r1.onBadEvent = skip\n") == [
        "agent.properties:12: sources.r1 onBadEvent: must be one of deadLetter, drop, stop, got 'skip'"]


def test_a_dead_letter_channel_nobody_reads_is_a_warning() -> None:
    base = BASE.replace("a.sinks = k1 kd", "a.sinks = k1").replace("a.sinks.kd.type = null\na.sinks.kd.channel = dl\n",
                                                                   "")
    loaded = load("a.sources.r1.deadLetterChannel = dl\n", base)
    assert [str(d) for d in loaded.diagnostics] == [
        "agent.properties:10: sources.r1 deadLetterChannel: warning: no sink reads channel dl: bad events fill it, "
        "then are dropped (counted)"]
    assert "dl" in loaded.plan.channels  # started all the same: it is used
