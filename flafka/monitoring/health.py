"""The agent's health, as ``GET /health`` answers it.

One entry per component, keyed as in Flume's monitoring document (``SOURCE.r1``, ``CHANNEL.c1``,
``SINK.k1``), each with a ``state``:

- ``running``: started, and moving events or with nothing to move;
- ``failing``: its last start or ``process()`` call raised; ``since`` (ISO 8601 UTC) is the first failure
  after the last success and ``last_error`` the last exception. A sink's state is its sink group's: one
  thread drives the group. A file channel is failing while its counter says ``Unhealthy``;
- ``stalled``: input is waiting and the component moved nothing (its counters' delivered, dead-lettered and
  dropped events did not grow) for ``stall_after`` seconds (default 60), without raising: a sink whose
  channel holds events (a Kafka channel: whose consumers lag) while its destination hangs or its calls keep
  backing off, a Kafka source whose partitions lag while its channel stays full. ``since`` is when it last
  moved events (or started), ``last_error`` says for how long;
- ``starting``: its start has not returned yet (and has not failed).

Sources and sinks also show ``dead_lettered`` and ``dropped`` (bad events sent to the dead-letter channel or
dropped: their counters' ``EventDeadLetterCount`` and ``EventDropCount``) and ``on_bad_event``, the policy
that decides between them: a source's ``onBadEvent`` (``deadLetter``, ``drop``, ``stop``); a sink's
``deadLetter`` when it has a dead-letter channel, else ``drop``.

The agent is healthy (HTTP 200) when every component is ``running``; otherwise 503.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from flafka.channels.base import Channel
from flafka.channels.file.inspect import format_ms
from flafka.kafka.lag import ReportsLag
from flafka.runtime.runners import Runner, SinkRunner, SourceRunner

RUNNING, FAILING, STALLED, STARTING = "running", "failing", "stalled", "starting"

#: Seconds without progress, input waiting, after which a component is ``stalled``.
DEFAULT_STALL_AFTER = 60.0


@dataclass(frozen=True)
class Health:
    """The report: ``components`` maps ``TYPE.name`` to its entry (a JSON object)."""

    components: dict[str, dict[str, Any]]

    @property
    def healthy(self) -> bool:
        return all(entry["state"] == RUNNING for entry in self.components.values())

    def document(self) -> dict[str, Any]:
        return {"status": "healthy" if self.healthy else "unhealthy", "components": self.components}


def _lagging(component: object) -> bool:
    return isinstance(component, ReportsLag) and any(records > 0 for records in component.consumer_lag().values())


def _holds_events(channels: list[Channel]) -> bool:
    return any(channel.size() > 0 or _lagging(channel) for channel in channels)


def _runner_entry(runner: Runner, input_waiting: Callable[[], bool], stall_after: float,
                  now: float) -> dict[str, Any]:
    if runner.failing:
        return {"state": FAILING, "since": format_ms(int(runner.failing_since * 1000)),
                "last_error": runner.last_error}
    if not runner.started.is_set():
        return {"state": STARTING}
    idle = now - runner.last_progress
    if idle >= stall_after and input_waiting():
        return {"state": STALLED, "since": format_ms(int(runner.last_progress * 1000)),
                "last_error": f"input waiting, no progress for {idle:.0f} s"}
    return {"state": RUNNING}


def _bad_events(counter: object, policy: str) -> dict[str, Any]:
    return {"dead_lettered": getattr(counter, "event_dead_letter_count", 0),
            "dropped": getattr(counter, "event_drop_count", 0), "on_bad_event": policy}


def health(sources: Mapping[str, SourceRunner], groups: Mapping[str, SinkRunner],
           channels: Mapping[str, Channel], stall_after: float = DEFAULT_STALL_AFTER) -> Health:
    """The health of these runners and channels (read without locks: each value is one attribute read)."""
    now = time.time()
    out: dict[str, dict[str, Any]] = {}
    for name, source_runner in sources.items():
        source = source_runner.source
        entry = _runner_entry(source_runner, partial(_lagging, source), stall_after, now)
        out[f"SOURCE.{name}"] = {**entry, **_bad_events(source.counter, source_runner.processor.policy.value)}
    for name, channel in channels.items():
        unhealthy = channel.counter.snapshot().get("Unhealthy", "0") != "0"
        out[f"CHANNEL.{name}"] = ({"state": FAILING, "last_error": "the file channel reports itself unhealthy"}
                                  if unhealthy else {"state": RUNNING})
    for group_name, group in groups.items():
        entry = _runner_entry(group, partial(_holds_events, group.channels), stall_after, now)
        for sink in getattr(group.processor, "sinks", ()):  # a processor never bound has none
            policy = "deadLetter" if sink.dead_letters.channel is not None else "drop"
            out[f"SINK.{sink.name}"] = {**entry, "sinkgroup": group_name, **_bad_events(sink.counter, policy)}
    return Health(out)
