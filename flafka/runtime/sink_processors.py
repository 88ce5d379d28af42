"""Sink processors: how one runner thread drives the sinks of a group (reference §2.6, §3.12).

* ``default``: exactly one sink.
* ``failover``: the live sink with the highest ``priority.<sink>`` delivers; a sink that raises is
  penalised for ``min(maxpenalty, 2^n s)`` and the next one is tried in the same call; penalised
  sinks are retried first once their penalty expires.
* ``load_balance``: round robin (or random) over the sinks not backed off; a sink that raises is
  skipped for this call and, with ``backoff = true``, excluded for ``min(selector.maxTimeOut, 2^n s)``.

Each processor counts, in ``SINK_PROCESSOR.<group>``, its sinks' failed ``process()`` calls, the sinks it
penalised or excluded, and (failover) how often another sink took over delivery.

Unlike Flume, sinks without a failover priority are ranked in configuration order (Flume used the
hash order of their names, which users could not predict).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flafka.component import Component
from flafka.config.params import ComponentConfig, param, parse_int, prefixed
from flafka.errors import DeliveryError
from flafka.logging_once import OncePerKind
from flafka.monitoring.counters import SinkProcessorCounter
from flafka.sinks.base import Sink
from flafka.sources.base import Status

log = logging.getLogger(__name__)


class SinkProcessor(Component):
    """Base: ``bind`` receives the group's sinks in configuration order; ``process`` delivers once."""

    sinks: list[Sink]

    def __init__(self, name: str, config: Any) -> None:
        super().__init__(name, config)
        self.sinks = []
        self.counter = SinkProcessorCounter(name)

    @classmethod
    def check_sinks(cls, config: ComponentConfig, sink_names: Sequence[str]) -> list[tuple[str | None, str]]:
        """Problems with this processor over ``sink_names`` as ``(key, message)`` pairs."""
        return []

    def bind(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)
        self._once = OncePerKind(log)
        self.clock: Callable[[], float] = time.monotonic

    def start(self) -> None:
        for sink in self.sinks:
            sink.start()

    def stop(self) -> None:
        for sink in self.sinks:
            try:
                sink.stop()
            except Exception as exc:  # one sink failing to stop must not keep the others running
                log.error("Sink %s failed to stop: %s", sink.name, exc)

    def process(self) -> Status:
        raise NotImplementedError

    def _failed(self, sink: Sink, exc: Exception, *, backed_off: bool = False) -> None:
        with self.counter.lock:
            self.counter.sink_fail_count += 1
            self.counter.sink_backoff_count += 1 if backed_off else 0
        self._once.log(
            logging.WARNING,
            f"{sink.name}:{type(exc).__name__}",
            f"Sink {sink.name} failed; the batch was rolled back and will be retried. "
            f"{type(exc).__name__}: {exc}",
        )


@dataclass(frozen=True, kw_only=True)
class DefaultProcessorConfig(ComponentConfig):
    pass


class DefaultSinkProcessor(SinkProcessor):
    config_class = DefaultProcessorConfig

    @classmethod
    def check_sinks(cls, config: ComponentConfig, sink_names: Sequence[str]) -> list[tuple[str | None, str]]:
        if len(sink_names) != 1:
            return [("processor.type", f"default takes exactly one sink, the group has {len(sink_names)}; "
                                       "use failover or load_balance")]
        return []

    def process(self) -> Status:
        try:
            return self.sinks[0].process()
        except Exception:
            with self.counter.lock:
                self.counter.sink_fail_count += 1
            raise


@dataclass(frozen=True, kw_only=True)
class FailoverConfig(ComponentConfig):
    priority: dict[str, str] = prefixed("priority.", doc="`priority.<sink>`: higher number = preferred sink.")
    max_penalty: int = param("maxpenalty", default=30000, minimum=0, doc="Longest penalty of a failed sink, ms.")


class FailoverSinkProcessor(SinkProcessor):
    config_class = FailoverConfig
    config: FailoverConfig

    @classmethod
    def check_sinks(cls, config: ComponentConfig, sink_names: Sequence[str]) -> list[tuple[str | None, str]]:
        assert isinstance(config, FailoverConfig)
        problems: list[tuple[str | None, str]] = []
        seen: dict[int, str] = {}
        for sink, text in config.priority.items():
            key = f"processor.priority.{sink}"
            if sink not in sink_names:
                problems.append((key, f"sink '{sink}' is not in this group ({', '.join(sink_names)})"))
                continue
            try:
                value = parse_int(text)
            except ValueError as exc:
                problems.append((key, str(exc)))
                continue
            if value in seen:
                problems.append((key, f"priority {value} is also given to sink '{seen[value]}'"))
            seen[value] = sink
        return problems

    def bind(self, sinks: Sequence[Sink]) -> None:
        super().bind(sinks)
        fallback = -1
        ranked: list[tuple[int, int, Sink]] = []
        for order, sink in enumerate(sinks):
            text = self.config.priority.get(sink.name)
            if text is None:
                priority, fallback = fallback, fallback - 1
            else:
                priority = parse_int(text)
            ranked.append((priority, -order, sink))
        ranked.sort(key=lambda t: (t[0], t[1]), reverse=True)
        self._ranked = [s for _, _, s in ranked]
        self._live = list(self._ranked)
        self._failed_sinks: dict[str, tuple[float, int]] = {}  # name -> (retry at, consecutive failures)
        self._serving: str | None = None  # the sink that delivered last

    def _delivered_by(self, sink: Sink) -> None:
        if self._serving is not None and sink.name != self._serving:
            with self.counter.lock:
                self.counter.failover_count += 1
        self._serving = sink.name

    def _penalise(self, sink: Sink, exc: Exception) -> None:
        _, failures = self._failed_sinks.get(sink.name, (0.0, 0))
        failures += 1
        penalty = min(self.config.max_penalty, (2**failures) * 1000) / 1000.0
        self._failed_sinks[sink.name] = (self.clock() + penalty, failures)
        if sink in self._live:
            self._live.remove(sink)
        self._failed(sink, exc, backed_off=True)

    def _restore(self, sink: Sink) -> None:
        self._failed_sinks.pop(sink.name, None)
        self._live = [s for s in self._ranked if s.name not in self._failed_sinks]

    def process(self) -> Status:
        now = self.clock()
        for sink in [s for s in self._ranked if s.name in self._failed_sinks]:
            if self._failed_sinks[sink.name][0] > now:
                continue
            try:
                status = sink.process()
            except Exception as exc:
                self._penalise(sink, exc)
                continue
            if status is Status.READY:
                self._restore(sink)
                log.info("Failover sink %s is back in service.", sink.name)
                self._delivered_by(sink)
                return status
        while self._live:
            sink = self._live[0]
            try:
                status = sink.process()
            except Exception as exc:
                self._penalise(sink, exc)
                continue
            if status is Status.READY:
                self._delivered_by(sink)
            return status
        raise DeliveryError("all sinks of the failover group failed; retrying after their penalties")


@dataclass(frozen=True, kw_only=True)
class LoadBalanceConfig(ComponentConfig):
    backoff: bool = param("backoff", default=False, doc="Exclude a failed sink for a growing time.")
    selector: str = param("selector", default="round_robin", choices=("round_robin", "random"),
                          doc="Order in which sinks are tried.")
    max_timeout: int = param("selector.maxTimeOut", default=30000, minimum=0,
                             doc="Longest exclusion of a failed sink, ms (with backoff).")


class LoadBalancingSinkProcessor(SinkProcessor):
    config_class = LoadBalanceConfig
    config: LoadBalanceConfig

    @classmethod
    def check_sinks(cls, config: ComponentConfig, sink_names: Sequence[str]) -> list[tuple[str | None, str]]:
        if len(sink_names) < 2:
            return [("sinks", f"load_balance needs at least two sinks, the group has {len(sink_names)}")]
        return []

    def bind(self, sinks: Sequence[Sink]) -> None:
        super().bind(sinks)
        self._position = 0
        self._random = random.Random()
        self._excluded: dict[str, tuple[float, int]] = {}  # name -> (until, consecutive failures)

    def _order(self) -> list[Sink]:
        now = self.clock()
        available = [s for s in self.sinks if self._excluded.get(s.name, (0.0, 0))[0] <= now]
        if self.config.selector == "random":
            self._random.shuffle(available)
            return available
        if not available:
            return available
        start = self._position % len(available)
        self._position += 1
        return available[start:] + available[:start]

    def process(self) -> Status:
        for sink in self._order():
            try:
                status = sink.process()
            except Exception as exc:
                self._failed(sink, exc, backed_off=self.config.backoff)
                if self.config.backoff:
                    _, failures = self._excluded.get(sink.name, (0.0, 0))
                    failures = min(failures + 1, 16)
                    wait = min(self.config.max_timeout, 1000 * 2**failures) / 1000.0
                    self._excluded[sink.name] = (self.clock() + wait, failures)
                continue
            self._excluded.pop(sink.name, None)
            return status
        raise DeliveryError("all sinks of the load_balance group failed")
