"""Keys every source or every sink accepts, whatever its type (flafka extensions).

The planner takes these out of a component's properties before the component's own configuration
parses the rest, so custom components get them too without declaring them.
"""

from __future__ import annotations

from dataclasses import dataclass

from flafka.config.params import ComponentConfig, param
from flafka.dead_letters import BadEventPolicy

__all__ = ["SinkCommonConfig", "SourceCommonConfig"]


def _policy(text: str) -> BadEventPolicy:
    by_name = {p.value.lower(): p for p in BadEventPolicy}
    policy = by_name.get(text.strip().lower())
    if policy is None:
        raise ValueError(f"must be one of {', '.join(p.value for p in BadEventPolicy)}, got {text!r}")
    return policy


@dataclass(frozen=True, kw_only=True)
class SourceCommonConfig(ComponentConfig):
    """Keys of every source, besides Flume's ``channels``, ``selector.*`` and ``interceptors``."""

    dead_letter_channel: str | None = param(
        "deadLetterChannel", default=None,
        doc="flafka extension: a channel of this agent (not one of the source's `channels`) that receives the "
            "source's bad events: those an interceptor raises on, and those a channel can never hold (larger than "
            "a memory channel's byte capacity). Each carries header `flafka.error` (why) and "
            "`flafka.error.component`. A sink reading it can write them anywhere (a Kafka topic, files).")
    on_bad_event: BadEventPolicy | None = param(
        "onBadEvent", default=None, choices=tuple(p.value for p in BadEventPolicy),
        parse=_policy,
        doc="flafka extension: what happens to bad events. `deadLetter`: to deadLetterChannel; `drop`: dropped; "
            "either way counted (EventDeadLetterCount, EventDropCount) and logged once per kind, and the rest of "
            "the batch is delivered. `stop`: the batch fails and is retried, holding the source (Flume's "
            "behaviour). Unset: `deadLetter` when deadLetterChannel is set, else `drop`.")

    def policy(self) -> BadEventPolicy:
        if self.on_bad_event is not None:
            return self.on_bad_event
        return BadEventPolicy.DEAD_LETTER if self.dead_letter_channel else BadEventPolicy.DROP

    def check(self) -> list[tuple[str | None, str]]:
        if self.on_bad_event is BadEventPolicy.DEAD_LETTER and not self.dead_letter_channel:
            return [("onBadEvent", "is deadLetter but deadLetterChannel is not set: name the channel that receives "
                                   "bad events")]
        return []


@dataclass(frozen=True, kw_only=True)
class SinkCommonConfig(ComponentConfig):
    """Keys of every sink, besides Flume's ``channel``."""

    dead_letter_channel: str | None = param(
        "deadLetterChannel", default=None,
        doc="flafka extension: a channel of this agent (not the sink's own `channel`) that receives the events "
            "this sink can never write (e.g. a header its serializer cannot encode), with header `flafka.error` "
            "saying why; unset: they are dropped. Either way they are counted (EventWriteFail, "
            "EventDeadLetterCount or EventDropCount), logged once per kind, and never hold the batch.")
