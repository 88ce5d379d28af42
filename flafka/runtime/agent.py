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
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from flafka.channels.base import Channel
from flafka.config.plan import AgentPlan, Built, GroupPlan, SourcePlan
from flafka.errors import FlafkaError, ReloadFailed
from flafka.event import Event
from flafka.interceptors.base import Interceptor
from flafka.kafka.lag import ReportsLag
from flafka.monitoring.counters import Counter
from flafka.monitoring.health import DEFAULT_STALL_AFTER, Health, health
from flafka.monitoring.registry import FLUME_TYPES, MetricsRegistry
from flafka.runtime.channel_processor import ChannelProcessor
from flafka.runtime.runners import Runner, SinkRunner, SourceRunner, call_by
from flafka.runtime.sink_processors import SinkProcessor
from flafka.selectors import ChannelSelector
from flafka.sinks.base import Sink
from flafka.sources.base import Source

log = logging.getLogger(__name__)

_MOVE_BATCH = 10_000  # most events one transaction moves into a replacement channel without a limit of its own


def _instantiate(built: Built) -> Any:
    return built.cls(built.name, built.config)


def _channel_share(timeout: float) -> float:
    """The end of a stop's ``timeout`` kept for closing channels (a Kafka channel's clients)."""
    return min(1.0, timeout / 8)


def _stop_by(name: str, channel: Channel, deadline: float) -> bool:
    return call_by(deadline, f"Channel {name}", "stop",
                   lambda: channel.stop_within(max(0.0, deadline - time.monotonic())))


_START_WAIT = 30.0  # most seconds "Agent started" waits for the runners' components (a Kafka client's first metadata)
_START_POLL = 0.05  # how often a wait for a runner's start looks whether the start failed instead

# Counters in every component's stop line, zero or not; the others are shown when not zero.
_MAIN_TOTALS = {
    "SOURCE": ("EventReceivedCount", "EventAcceptedCount"),
    "CHANNEL": ("EventPutSuccessCount", "EventTakeSuccessCount", "ChannelSize"),
    "SINK": ("EventDrainAttemptCount", "EventDrainSuccessCount"),
}
_NOT_TOTALS = {"Type", "StartTime", "StopTime", "ChannelFillPercentage"}


def _await_starts(runners: list[Runner], deadline: float) -> list[str]:
    """Wait until each runner's components started or failed a start, or ``deadline``; the names still starting.

    A failed start is logged by the runner, which retries it in the background: no need to wait for it.
    """
    waiting: list[str] = []
    for runner in runners:
        while not runner.started.wait(min(_START_POLL, max(0.0, deadline - time.monotonic()))):
            if runner.failing or not runner.alive or time.monotonic() >= deadline:
                waiting.append(f"{runner.kind}:{runner.name}")
                break
    return waiting


def _log_totals(component: str, counter: Counter) -> None:
    """One INFO line with ``component``'s totals: its main counters and every other one that is not zero."""
    snapshot = counter.snapshot()
    main = _MAIN_TOTALS.get(counter.type_name, ())
    fields = [f"{k}={snapshot[k]}" for k in main if k in snapshot]
    fields += [f"{k}={v}" for k, v in snapshot.items()
               if k not in main and k not in _NOT_TOTALS and v not in ("0", "0.0")]
    log.info("Component stopped. component=%s %s", component, " ".join(fields))


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
        self.metrics = MetricsRegistry()
        self.stall_after = DEFAULT_STALL_AFTER  # seconds: /health's "stalled"

    # -- metrics --------------------------------------------------------------------------------

    @staticmethod
    def _source_counters(runner: SourceRunner) -> dict[str, Counter]:
        name = runner.name
        out: dict[str, Counter] = {f"SOURCE.{name}": runner.source.counter,
                                   f"SELECTOR.{name}": runner.processor.selector_counter}
        for (interceptor, _), counter in zip(runner.processor.interceptors, runner.processor.interceptor_counters,
                                             strict=True):
            out[f"INTERCEPTOR.{name}.{interceptor}"] = counter
        return out

    @staticmethod
    def _group_counters(runner: SinkRunner) -> dict[str, Counter]:
        out: dict[str, Counter] = {f"SINK_PROCESSOR.{runner.name}": runner.processor.counter}
        out.update({f"SINK.{sink.name}": sink.counter for sink in runner.processor.sinks})
        return out

    def _register(self, counters: dict[str, Counter]) -> None:
        for key, counter in counters.items():
            self.metrics.register(key, counter)

    def _unregister(self, counters: dict[str, Counter]) -> None:
        for key, counter in counters.items():
            self.metrics.unregister(key, counter)

    @staticmethod
    def _start_channel(channel: Channel) -> None:
        channel.counter.start()
        channel.start()

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
        runner = SourceRunner(source, processor)
        self._register(self._source_counters(runner))
        return runner

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
        runner = SinkRunner(plan.name, processor, used)
        self._register(self._group_counters(runner))
        return runner

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, start_timeout: float = _START_WAIT) -> None:
        """Start everything; a channel that fails to start is fatal (raised), others are retried.

        Sources and sink groups start in their runners' threads: "Agent started" is logged once each of
        them started, or failed a first time (its runner logs why and retries), or ``start_timeout``
        seconds passed; the components still starting then are named in it (``not_started``).
        """
        with self._lock:
            state = self._state
            for name, built in state.plan.channels.items():
                channel: Channel = _instantiate(built)
                self._start_channel(channel)
                state.channels[name] = channel
                self.metrics.register(f"CHANNEL.{name}", channel.counter)
            for name, group in state.plan.groups.items():
                state.groups[name] = self._build_group(group, state.plan, state.channels)
                state.groups[name].start()
            for name, source in state.plan.sources.items():
                state.sources[name] = self._build_source(source, state.channels)
                state.sources[name].start()
            waiting = _await_starts([*state.groups.values(), *state.sources.values()],
                                    time.monotonic() + start_timeout)
            counts = (len(state.sources), len(state.channels), len(state.groups))
            if waiting:
                log.warning("Agent %s started; some components are not running yet (they retry; see their errors "
                            "above). sources=%d channels=%d sinkgroups=%d not_started=%s", self.name, *counts,
                            ",".join(waiting))
            else:
                log.info("Agent %s started. sources=%d channels=%d sinkgroups=%d", self.name, *counts)

    def stop(self, timeout: float = 8.0) -> int:
        """Graceful stop within ``timeout`` seconds; returns how many events non-durable channels lost.

        Every step is bounded by the one deadline: sources get at most a third of the time, sinks drain
        memory channels until shortly before the deadline, channels get the rest to close. A component
        still busy at its step's end is left to finish in the background (logged). What a memory
        channel holds when it stops, including a batch a sink had taken but not committed, is lost and
        counted.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            state = self._state
            self._stop_sources(state.sources.values(), deadline - timeout * 2 / 3)
            for name, runner in state.sources.items():
                _log_totals(f"SOURCE.{name}", runner.source.counter)
            channels_from = deadline - _channel_share(timeout)
            # Sinks drain what only memory holds; a durable channel keeps its events for the next start.
            self._drain([r for r in state.groups.values() if not all(c.durable for c in r.channels)],
                        channels_from)
            self._stop_groups(list(state.groups.values()), channels_from)
            for group in state.groups.values():
                for sink in group.processor.sinks:
                    _log_totals(f"SINK.{sink.name}", sink.counter)
            left = 0
            for name, channel in state.channels.items():
                left += self._stop_channel(name, channel, deadline, "at stop")
                _log_totals(f"CHANNEL.{name}", channel.counter)
            state.sources.clear()
            state.groups.clear()
            state.channels.clear()
            log.info("Agent %s stopped. lost_events=%d", self.name, left)
            return left

    @staticmethod
    def _stop_sources(runners: Iterable[SourceRunner], deadline: float) -> None:
        runners = list(runners)
        for runner in runners:
            runner._stopping.set()
        for runner in runners:
            runner.stop(max(0.0, deadline - time.monotonic()))

    @staticmethod
    def _drain(runners: list[SinkRunner], deadline: float) -> None:
        """Let ``runners`` deliver until their channels are empty or ``deadline`` passes."""
        for runner in runners:
            runner.drain(deadline)
        for runner in runners:
            if runner.alive and runner.started.is_set():
                runner.drained.wait(max(0.0, deadline - time.monotonic()))

    @staticmethod
    def _stop_groups(runners: list[SinkRunner], deadline: float) -> None:
        for runner in runners:
            runner._stopping.set()
        for runner in runners:
            runner.stop(max(0.0, deadline - time.monotonic()))

    @staticmethod
    def _stop_channel(name: str, channel: Channel, deadline: float, when: str) -> int:
        """Stop ``channel`` by ``deadline``; returns the events lost with it (0 for a durable channel).

        Counted after the stop: a stopped memory channel refuses commits, so a batch a sink still holds
        is counted with the events in the queue instead of being lost uncounted.
        """
        _stop_by(name, channel, deadline)
        channel.counter.stop()
        size = channel.size()
        if not size:
            return 0
        if channel.durable:
            log.info("Channel %s keeps its events for the next start. events=%d", name, size)
            return 0
        log.error("Channel %s still held events %s; they are lost (it is not durable). events=%d",
                  name, when, size)
        return size

    # -- reload ---------------------------------------------------------------------------------

    def apply(self, new: AgentPlan, timeout: float = 8.0) -> int:
        """Move the running pipeline to ``new``, restarting only what changed; returns the events lost.

        Replacement channels start first, while the old pipeline still runs: if one cannot start, the
        reload is refused and nothing old was touched (unless an old durable channel being replaced may
        hold what the new one needs, such as its directories: then the affected parts stop, the start is
        tried again, and on failure the old parts are restarted). :class:`ReloadFailed` says which, and
        whether the previous pipeline runs (``restored``).

        Events that only a memory channel being replaced holds are moved into its replacement before
        anything new starts (so they keep their place ahead of new events); events of a removed memory
        channel, or that could not be moved, are drained by its old sinks while time is left. What
        remains at the deadline is lost, logged and counted.
        """
        with self._lock:
            state = self._state
            old = state.plan
            replaced: set[str] = set()
            kept: dict[str, Channel] = {}
            reconfigured: list[str] = []  # given back their configuration if the reload is refused
            for name, built in new.channels.items():
                before = old.channels.get(name)
                current = state.channels.get(name)
                if before is None or current is None or before.cls is not built.cls:
                    replaced.add(name)
                elif before.fingerprint != built.fingerprint:
                    if current.reconfigure(built.config):
                        kept[name] = current
                        reconfigured.append(name)
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
            fresh, failed = self._start_channels(new, replaced)
            conflicts = [n for n in gone if state.channels[n].durable]
            if failed and not conflicts:
                self._discard(fresh, deadline)
                self._unconfigure(reconfigured, old)
                raise self._refused(failed, restarted=False)

            sources = {n: state.sources.pop(n) for n in stop_sources}
            groups = {n: state.groups.pop(n) for n in stop_groups}
            self._stop_sources(sources.values(), deadline - timeout * 2 / 3)
            channels_from = deadline - _channel_share(timeout)
            going = {n: state.channels[n] for n in gone}
            stopped: set[str] = set()
            if failed:
                # An old channel may hold what the new one needs (its directories): stop them, try again. A
                # removed memory channel has nowhere else to go than its old sinks: let them drain it first.
                self._hand_over({n: c for n, c in going.items() if n not in new.channels}, {},
                                list(groups.values()), channels_from)
                self._stop_groups(list(groups.values()), channels_from)
                for name in conflicts:
                    self._stop_channel(name, going[name], deadline, "when the reload stopped it")
                    stopped.add(name)
                more, failed = self._start_channels(new, set(failed))
                fresh.update(more)
                if failed:
                    self._discard(fresh, deadline)
                    self._unconfigure(reconfigured, old)
                    self._restore(old, {n: going[n] for n in conflicts}, groups, sources, failed)
                    raise self._refused(failed, restarted=True)
            else:
                self._hand_over(going, fresh, list(groups.values()), channels_from)
                self._stop_groups(list(groups.values()), channels_from)

            lost = 0
            for name, channel in going.items():
                if name in fresh and not channel.durable and channel.size():
                    self._move(name, channel, fresh[name], deadline)  # batches a stopped sink rolled back
                if name not in stopped:
                    lost += self._stop_channel(name, channel, deadline, "when the reload removed it")
                self.metrics.unregister(f"CHANNEL.{name}", channel.counter)
                del state.channels[name]
            state.channels.update(fresh)
            for name, channel in fresh.items():
                self.metrics.register(f"CHANNEL.{name}", channel.counter)
            state.plan = new
            for source_runner in sources.values():
                self._unregister(self._source_counters(source_runner))
            for group_runner in groups.values():
                self._unregister(self._group_counters(group_runner))
            try:
                for name, group in new.groups.items():
                    if name not in state.groups:
                        state.groups[name] = self._build_group(group, new, state.channels)
                        state.groups[name].start()
                for name, source in new.sources.items():
                    if name not in state.sources:
                        state.sources[name] = self._build_source(source, state.channels)
                        state.sources[name].start()
            except Exception as exc:
                # Old parts are gone and their events moved: there is nothing to go back to.
                log.error("Agent %s could not build its new pipeline: %s: %s", self.name, type(exc).__name__, exc,
                          exc_info=exc)
                raise ReloadFailed(f"the new pipeline could not be built: {type(exc).__name__}: {exc}",
                                   restored=False) from exc
            log.info("Agent %s reloaded its configuration. restarted_sources=%d restarted_sinkgroups=%d "
                     "replaced_channels=%d lost_events=%d", self.name,
                     len([n for n in stop_sources if n in new.sources]),
                     len([n for n in stop_groups if n in new.groups]), len(replaced), lost)
            return lost

    def _start_channels(self, plan: AgentPlan, names: set[str]) -> tuple[dict[str, Channel], dict[str, Exception]]:
        """Instances of ``plan``'s channels ``names``, started; and the exception of each that failed."""
        started: dict[str, Channel] = {}
        failed: dict[str, Exception] = {}
        for name in sorted(names):
            try:
                channel: Channel = _instantiate(plan.channels[name])
                self._start_channel(channel)
            except Exception as exc:
                failed[name] = exc
                continue
            started[name] = channel
        return started, failed

    @staticmethod
    def _discard(channels: dict[str, Channel], deadline: float) -> None:
        """Stop channels of a refused reload (nothing was put into them)."""
        for name, channel in channels.items():
            _stop_by(name, channel, deadline)

    def _unconfigure(self, names: list[str], old: AgentPlan) -> None:
        """Give channels reconfigured in place by a refused reload their previous configuration back."""
        for name in names:
            self._state.channels[name].reconfigure(old.channels[name].config)

    def _refused(self, failed: dict[str, Exception], *, restarted: bool) -> ReloadFailed:
        what = "; ".join(f"channel {n}: {type(e).__name__}: {e}" for n, e in failed.items())
        log.error("Agent %s refused the new configuration: a channel could not start; the previous pipeline %s. %s",
                  self.name, "runs again" if restarted else "goes on running", what)
        return ReloadFailed(f"a channel could not start: {what}", restored=True)

    def _restore(self, plan: AgentPlan, channels: dict[str, Channel], groups: dict[str, SinkRunner],
                 sources: dict[str, SourceRunner], failed: dict[str, Exception]) -> None:
        """Run again the old parts a refused reload stopped; raises ReloadFailed if a channel cannot start."""
        state = self._state
        for name, channel in channels.items():
            try:
                self._start_channel(channel)
            except Exception as exc:
                what = "; ".join(f"channel {n}: {type(e).__name__}: {e}" for n, e in failed.items())
                log.error("Agent %s cannot run: the new configuration failed (%s) and the previous channel %s "
                          "could not start again. %s: %s", self.name, what, name, type(exc).__name__, exc)
                raise ReloadFailed(f"channel {name} of the previous configuration could not start again: "
                                   f"{type(exc).__name__}: {exc}", restored=False) from exc
        for name in groups:
            state.groups[name] = self._build_group(plan.groups[name], plan, state.channels)
            state.groups[name].start()
        for name in sources:
            state.sources[name] = self._build_source(plan.sources[name], state.channels)
            state.sources[name].start()

    def _hand_over(self, going: dict[str, Channel], fresh: dict[str, Channel], groups: list[SinkRunner],
                   deadline: float) -> None:
        """Empty the memory channels being removed: into their replacement, else through their old sinks."""
        left: list[Channel] = []
        for name, channel in going.items():
            if channel.durable or not channel.size():
                continue
            if name in fresh:
                self._move(name, channel, fresh[name], deadline)
            if channel.size():
                left.append(channel)
        if left:
            self._drain([r for r in groups if any(c in left for c in r.channels)], deadline)

    @staticmethod
    def _move(name: str, old: Channel, new: Channel, deadline: float) -> int:
        """Move ``old``'s events into ``new``, one transaction per batch, until empty or ``deadline``.

        The put into ``new`` commits before the take from ``old`` does: an event is in one of them at any
        time (in both only if the take's commit fails, never in neither). Runs in a helper thread so that
        a put waiting on a server (Kafka) cannot overrun the deadline.
        """
        take_limit = old.transaction_capacity() or _MOVE_BATCH
        put_limit = min(new.transaction_capacity() or _MOVE_BATCH, _MOVE_BATCH)
        moved = [0]
        refused: list[FlafkaError] = []

        def run() -> None:
            try:
                move()
            except FlafkaError as exc:  # full, or its server unreachable: the rest stays where it is
                refused.append(exc)

        def move() -> None:
            while time.monotonic() < deadline:
                # Several takes per put: a memory channel's small transactionCapacity must not cost one
                # file channel fsync per hundred events. Rolled back in reverse, the takes keep their order.
                with ExitStack() as takes:
                    events: list[Event] = []
                    while len(events) < put_limit:
                        take = takes.enter_context(old.transaction())
                        taken = take.take_batch(min(take_limit, put_limit - len(events)), 0.0)
                        if not taken:
                            break
                        events.extend(taken)
                    if not events:
                        return
                    with new.transaction() as put:
                        put.put_batch(events)
                moved[0] += len(events)

        call_by(deadline, f"Channel {name}", "move its events into its replacement", run)
        if moved[0]:
            log.info("Channel %s moved its events into its replacement. events=%d to=%s", name, moved[0],
                     type(new).__name__)
        if old.size():
            log.warning("Channel %s could not move all its events into its replacement. moved=%d left=%d%s",
                        name, moved[0], old.size(), f" error={refused[0]}" if refused else "")
        return moved[0]

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

    def health(self) -> Health:
        """Each component's health, as ``GET /health`` answers it (see :mod:`flafka.monitoring.health`)."""
        state = self._state
        return health(dict(state.sources), dict(state.groups), dict(state.channels), self.stall_after)

    def kafka_lag(self) -> dict[str, Mapping[tuple[str, int], int]]:
        """Consumer lag per (topic, partition) of each component that reads Kafka, keyed as in :meth:`counters`."""
        lag = {f"SOURCE.{name}": source.consumer_lag() for name, source in self.sources.items()
               if isinstance(source, ReportsLag)}
        lag.update({f"CHANNEL.{name}": channel.consumer_lag() for name, channel in self.channels.items()
                    if isinstance(channel, ReportsLag)})
        return lag

    @property
    def plan(self) -> AgentPlan:
        """The configuration running now."""
        return self._state.plan

    def counters(self) -> dict[str, dict[str, str]]:
        """Flume's monitoring document: ``{"SOURCE.r1": {...}, "CHANNEL.c1": {...}, ...}``."""
        return self.metrics.snapshot(FLUME_TYPES)
