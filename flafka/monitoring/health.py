"""The agent's health, as ``GET /health`` answers it.

One entry per component, keyed as in Flume's monitoring document (``SOURCE.r1``, ``CHANNEL.c1``,
``SINK.k1``), each with a ``state``:

- ``running``: started, and its last ``process()`` call (a source's, or its sink group's) returned;
- ``failing``: its last start or ``process()`` call raised; ``since`` (ISO 8601 UTC) is the first failure
  after the last success and ``last_error`` the last exception. A sink's state is its sink group's: one
  thread drives the group. A file channel is failing while its counter says ``Unhealthy``;
- ``starting``: its start has not returned yet (and has not failed).

Sources and sinks also show ``dead_lettered`` and ``dropped``: bad events sent to the dead-letter channel
or dropped (their counters' ``EventDeadLetterCount`` and ``EventDropCount``).

The agent is healthy (HTTP 200) when every component is ``running``; otherwise 503.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flafka.channels.base import Channel
from flafka.channels.file.inspect import format_ms
from flafka.runtime.runners import Runner, SinkRunner, SourceRunner

RUNNING, FAILING, STARTING = "running", "failing", "starting"


@dataclass(frozen=True)
class Health:
    """The report: ``components`` maps ``TYPE.name`` to its entry (a JSON object)."""

    components: dict[str, dict[str, Any]]

    @property
    def healthy(self) -> bool:
        return all(entry["state"] == RUNNING for entry in self.components.values())

    def document(self) -> dict[str, Any]:
        return {"status": "healthy" if self.healthy else "unhealthy", "components": self.components}


def _runner_entry(runner: Runner) -> dict[str, Any]:
    if runner.failing:
        return {"state": FAILING, "since": format_ms(int(runner.failing_since * 1000)),
                "last_error": runner.last_error}
    return {"state": RUNNING if runner.started.is_set() else STARTING}


def _bad_events(counter: object) -> dict[str, Any]:
    return {"dead_lettered": getattr(counter, "event_dead_letter_count", 0),
            "dropped": getattr(counter, "event_drop_count", 0)}


def health(sources: Mapping[str, SourceRunner], groups: Mapping[str, SinkRunner],
           channels: Mapping[str, Channel]) -> Health:
    """The health of these runners and channels (read without locks: each value is one attribute read)."""
    out: dict[str, dict[str, Any]] = {}
    for name, source_runner in sources.items():
        out[f"SOURCE.{name}"] = {**_runner_entry(source_runner), **_bad_events(source_runner.source.counter)}
    for name, channel in channels.items():
        unhealthy = channel.counter.snapshot().get("Unhealthy", "0") != "0"
        out[f"CHANNEL.{name}"] = ({"state": FAILING, "last_error": "the file channel reports itself unhealthy"}
                                  if unhealthy else {"state": RUNNING})
    for group_name, group in groups.items():
        entry = _runner_entry(group)
        for sink in getattr(group.processor, "sinks", ()):  # a processor never bound has none
            out[f"SINK.{sink.name}"] = {**entry, "sinkgroup": group_name, **_bad_events(sink.counter)}
    return Health(out)
