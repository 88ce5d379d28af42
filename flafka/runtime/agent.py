"""The agent: builds the pipeline of an :class:`AgentPlan`, runs it, reloads it, stops it.

Start order is channels → sink runners → source runners; stop is the reverse (reference §2.7). A
graceful stop is bounded by one deadline: sources stop taking input (the batch in hand commits or
rolls back), sinks go on until their memory channels are empty, then everything stops. What a memory
channel still holds at the deadline is reported as lost, with its count; a durable channel (file,
Kafka) keeps its events for the next start and is not drained.

A reload (:meth:`Agent.apply`) restarts only what changed: a source whose properties changed, a
sink group whose own or members' properties changed, and whatever reads or writes a channel that
had to be replaced. A memory channel whose properties changed is resized in place and keeps its
events.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flafka.channels.base import Channel
from flafka.config.plan import AgentPlan, Built, GroupPlan, SourcePlan
from flafka.interceptors.base import Interceptor
from flafka.runtime.channel_processor import ChannelProcessor
from flafka.runtime.runners import SinkRunner, SourceRunner
from flafka.runtime.sink_processors import SinkProcessor
from flafka.selectors import ChannelSelector
from flafka.sinks.base import Sink
from flafka.sources.base import Source

log = logging.getLogger(__name__)


def _instantiate(built: Built) -> Any:
    return built.cls(built.name, built.config)


@dataclass
class _Running:
    plan: AgentPlan
    channels: dict[str, Channel] = field(default_factory=dict)
    sources: dict[str, SourceRunner] = field(default_factory=dict)
    groups: dict[str, SinkRunner] = field(default_factory=dict)


class Agent:
    """A running pipeline. Thread-safe: ``apply`` and ``stop`` serialise on one lock."""

    def __init__(self, plan: AgentPlan) -> None:
        self.name = plan.agent
        self._lock = threading.Lock()
        self._state = _Running(plan)

    # -- building -------------------------------------------------------------------------------

    def _build_source(self, plan: SourcePlan, channels: dict[str, Channel]) -> SourceRunner:
        source: Source = _instantiate(plan.built)
        selector: ChannelSelector = _instantiate(plan.selector)
        selector.bind([channels[c] for c in plan.channels])
        interceptors: list[tuple[str, Interceptor]] = [(b.name, _instantiate(b)) for b in plan.interceptors]
        dead_letter_channel = channels[plan.dead_letter_channel] if plan.dead_letter_channel else None
        processor = ChannelProcessor(source.name, interceptors, selector, source.counter,
                                     dead_letter_channel=dead_letter_channel, policy=plan.on_bad_event)
        source.channel_processor = processor
        return SourceRunner(source, processor)

    def _build_group(self, plan: GroupPlan, full: AgentPlan, channels: dict[str, Channel]) -> SinkRunner:
        sinks: list[Sink] = []
        used: list[Channel] = []
        for name in plan.sinks:
            sink_plan = full.sinks[name]
            sink: Sink = _instantiate(sink_plan.built)
            sink.channel = channels[sink_plan.channel]
            if sink_plan.dead_letter_channel:
                sink.dead_letters.channel = channels[sink_plan.dead_letter_channel]
            sinks.append(sink)
            if sink.channel not in used:
                used.append(sink.channel)
        processor: SinkProcessor = _instantiate(plan.processor)
        processor.bind(sinks)
        return SinkRunner(plan.name, processor, used)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start everything; a channel that fails to start is fatal (raised), others are retried."""
        with self._lock:
            state = self._state
            for name, built in state.plan.channels.items():
                channel: Channel = _instantiate(built)
                channel.start()
                state.channels[name] = channel
            for name, group in state.plan.groups.items():
                state.groups[name] = self._build_group(group, state.plan, state.channels)
                state.groups[name].start()
            for name, source in state.plan.sources.items():
                state.sources[name] = self._build_source(source, state.channels)
                state.sources[name].start()
            log.info("Agent %s started. sources=%d channels=%d sinkgroups=%d", self.name,
                     len(state.sources), len(state.channels), len(state.groups))

    def stop(self, timeout: float = 8.0) -> int:
        """Graceful stop within ``timeout`` seconds; returns how many events non-durable channels lost."""
        deadline = time.monotonic() + timeout
        with self._lock:
            state = self._state
            # Sources get at most a third of the time: sinks need the rest to drain.
            self._stop_sources(state.sources.values(), deadline - timeout * 2 / 3)
            # Sinks drain what only memory holds; a durable channel keeps its events for the next start.
            draining = [r for r in state.groups.values() if not all(c.durable for c in r.channels)]
            for runner in draining:
                runner.drain(deadline - 0.5)
            for runner in draining:
                if runner.alive and runner.started.is_set():
                    runner.drained.wait(max(0.0, deadline - 0.5 - time.monotonic()))
            for runner in state.groups.values():
                runner.stop(max(0.1, deadline - time.monotonic()))
            left = 0
            for name, channel in state.channels.items():
                size = channel.size()
                channel.stop()
                if size and channel.durable:
                    log.info("Channel %s keeps its events for the next start. events=%d", name, size)
                elif size:
                    left += size
                    log.error("Channel %s still held events at stop; they are lost (it is not durable). "
                              "events=%d", name, size)
            state.sources.clear()
            state.groups.clear()
            state.channels.clear()
            log.info("Agent %s stopped.", self.name)
            return left

    @staticmethod
    def _stop_sources(runners: Iterable[SourceRunner], deadline: float) -> None:
        runners = list(runners)
        for runner in runners:
            runner._stopping.set()
        for runner in runners:
            runner.stop(max(0.1, deadline - time.monotonic()))

    # -- reload ---------------------------------------------------------------------------------

    def apply(self, new: AgentPlan, timeout: float = 8.0) -> None:
        """Move the running pipeline to ``new``, restarting only what changed."""
        with self._lock:
            state = self._state
            old = state.plan
            replaced: set[str] = set()
            kept: dict[str, Channel] = {}
            for name, built in new.channels.items():
                before = old.channels.get(name)
                current = state.channels.get(name)
                if before is None or current is None or before.cls is not built.cls:
                    replaced.add(name)
                elif before.fingerprint != built.fingerprint:
                    if current.reconfigure(built.config):
                        kept[name] = current
                        log.info("Channel %s reconfigured in place.", name)
                    else:
                        replaced.add(name)
                else:
                    kept[name] = current
            gone = {n for n in state.channels if n not in kept}

            def source_changed(name: str, plan: SourcePlan) -> bool:
                before = old.sources.get(name)
                uses = [*plan.channels, *([plan.dead_letter_channel] if plan.dead_letter_channel else [])]
                return (before is None or before.built.fingerprint != plan.built.fingerprint
                        or any(c in replaced or c in gone for c in uses))

            def group_changed(name: str, plan: GroupPlan) -> bool:
                before = old.groups.get(name)
                if before is None or before.processor.fingerprint != plan.processor.fingerprint:
                    return True
                if before.sinks != plan.sinks:
                    return True
                for sink in plan.sinks:
                    was, now = old.sinks.get(sink), new.sinks[sink]
                    if was is None or was.built.fingerprint != now.built.fingerprint:
                        return True
                    if any(c in replaced or c in gone for c in (now.channel, now.dead_letter_channel) if c):
                        return True
                return False

            stop_sources = [n for n in state.sources if n not in new.sources or source_changed(n, new.sources[n])]
            stop_groups = [n for n in state.groups if n not in new.groups or group_changed(n, new.groups[n])]
            deadline = time.monotonic() + timeout
            self._stop_sources([state.sources.pop(n) for n in stop_sources], deadline)
            for name in stop_groups:
                state.groups.pop(name).stop(max(0.1, deadline - time.monotonic()))
            for name in gone:
                channel = state.channels.pop(name)
                if channel.size() and not channel.durable:
                    log.error("Channel %s was removed or replaced by the reload while holding events; "
                              "they are lost. events=%d", name, channel.size())
                channel.stop()
            for name in replaced:
                channel = _instantiate(new.channels[name])
                channel.start()
                state.channels[name] = channel
            state.plan = new
            for name, group in new.groups.items():
                if name not in state.groups:
                    state.groups[name] = self._build_group(group, new, state.channels)
                    state.groups[name].start()
            for name, source in new.sources.items():
                if name not in state.sources:
                    state.sources[name] = self._build_source(source, state.channels)
                    state.sources[name].start()
            log.info("Agent %s reloaded its configuration. restarted_sources=%d restarted_sinkgroups=%d "
                     "replaced_channels=%d", self.name, len([n for n in stop_sources if n in new.sources]),
                     len([n for n in stop_groups if n in new.groups]), len(replaced))

    # -- introspection --------------------------------------------------------------------------

    @property
    def channels(self) -> dict[str, Channel]:
        return dict(self._state.channels)

    @property
    def sources(self) -> dict[str, Source]:
        return {n: r.source for n, r in self._state.sources.items()}

    @property
    def sinks(self) -> dict[str, Sink]:
        return {s.name: s for r in self._state.groups.values() for s in r.processor.sinks}

    def counters(self) -> dict[str, dict[str, str]]:
        """Flume's monitoring document: ``{"SOURCE.r1": {...}, "CHANNEL.c1": {...}, ...}``."""
        out: dict[str, dict[str, str]] = {}
        for name, source in self.sources.items():
            out[f"SOURCE.{name}"] = source.counter.snapshot()
        for name, channel in self.channels.items():
            out[f"CHANNEL.{name}"] = channel.counter.snapshot()
        for name, sink in self.sinks.items():
            out[f"SINK.{name}"] = sink.counter.snapshot()
        return out
