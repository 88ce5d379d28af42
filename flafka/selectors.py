"""Channel selectors: which of a source's channels each event goes to (reference §2.4, §3.11).

``route(events)`` groups a batch by channel in one pass and returns the required channels first,
then the optional ones; the channel processor puts each group in its own transaction. A route whose
channel is ``None`` holds events the selector sends nowhere (a multiplexing value with no mapping and
no default): the channel processor counts them in ``EventDropCount`` and logs them once, where Flume
drops them silently.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from flafka.channels.base import Channel
from flafka.component import Component
from flafka.config.params import ComponentConfig, param, prefixed
from flafka.event import Event

Route = tuple[Channel | None, list[Event], bool]  # channel (None: nowhere), its events, required?


@dataclass(frozen=True, kw_only=True)
class SelectorConfig(ComponentConfig):
    """Base of selector configurations."""

    def referenced_channels(self) -> list[tuple[str, str]]:
        """(key, channel name) pairs this configuration names; each must be one of the source's channels."""
        return []


class ChannelSelector(Component):
    """Base: ``bind`` receives the source's channels, ``route`` splits a batch among them."""

    config_class = SelectorConfig
    channels: list[Channel]

    def bind(self, channels: Sequence[Channel]) -> None:
        self.channels = list(channels)

    def route(self, events: list[Event]) -> list[Route]:
        raise NotImplementedError

    def describe(self, event: Event) -> str:
        """What about ``event`` decided its route, for log lines."""
        return repr(event)


def _by_name(channels: Sequence[Channel], names: Sequence[str]) -> list[Channel]:
    index = {c.name: c for c in channels}
    return [index[n] for n in names if n in index]


@dataclass(frozen=True, kw_only=True)
class ReplicatingConfig(SelectorConfig):
    optional: list[str] = param("optional", default=[], doc="Space-separated channels written best-effort.")

    def referenced_channels(self) -> list[tuple[str, str]]:
        return [("optional", name) for name in self.optional]


class ReplicatingSelector(ChannelSelector):
    """Every event to every channel; ``optional`` channels may fail without failing the batch."""

    config_class = ReplicatingConfig
    config: ReplicatingConfig

    def bind(self, channels: Sequence[Channel]) -> None:
        super().bind(channels)
        optional = set(self.config.optional)
        self._required = [c for c in channels if c.name not in optional]
        self._optional = [c for c in channels if c.name in optional]

    def route(self, events: list[Event]) -> list[Route]:
        routes: list[Route] = [(c, events, True) for c in self._required]
        return routes + [(c, events, False) for c in self._optional]


@dataclass(frozen=True, kw_only=True)
class MultiplexingConfig(SelectorConfig):
    header: str = param("header", default="flume.selector.header", doc="Header whose value picks the channels.")
    mapping: dict[str, str] = prefixed("mapping.", doc="`mapping.<value>`: required channels for that value.")
    optional: dict[str, str] = prefixed("optional.", doc="`optional.<value>`: optional channels for that value.")
    default: list[str] = param("default", default=[],
                               doc="Required channels for a missing or unmapped value; unset: such events are "
                                   "dropped, counted in the source's EventDropCount and logged (Flume drops them "
                                   "silently).")

    def check_warnings(self) -> list[tuple[str | None, str]]:
        if self.default:
            return []
        return [("default", "is not set: events whose header is missing or has a value with no mapping go to no "
                            "channel and are dropped (counted in EventDropCount, logged once); set "
                            "selector.default to keep them")]

    def referenced_channels(self) -> list[tuple[str, str]]:
        refs = [("default", n) for n in self.default]
        for value, names in self.mapping.items():
            refs += [(f"mapping.{value}", n) for n in names.split()]
        for value, names in self.optional.items():
            refs += [(f"optional.{value}", n) for n in names.split()]
        return refs


class MultiplexingSelector(ChannelSelector):
    """Routes by the exact (case-sensitive) value of one header."""

    config_class = MultiplexingConfig
    config: MultiplexingConfig

    def bind(self, channels: Sequence[Channel]) -> None:
        super().bind(channels)
        config = self.config
        self._default = _by_name(channels, config.default)
        self._required = {v: _by_name(channels, n.split()) for v, n in config.mapping.items()}
        self._optional: dict[str, list[Channel]] = {}
        for value, names in config.optional.items():
            already = self._required.get(value, self._default)
            self._optional[value] = [c for c in _by_name(channels, names.split()) if c not in already]

    def route(self, events: list[Event]) -> list[Route]:
        header = self.config.header
        groups: dict[str | None, list[Event]] = {}
        for event in events:
            value = event.headers.get(header)
            if value is not None and not value.strip():
                value = None
            group = groups.get(value)
            if group is None:
                groups[value] = [event]
            else:
                group.append(event)
        required: dict[str, tuple[Channel, list[Event]]] = {}
        optional: dict[str, tuple[Channel, list[Event]]] = {}
        nowhere: list[Event] = []
        for value, group in groups.items():
            targets = self._required.get(value, self._default) if value is not None else self._default
            for channel in targets:
                required.setdefault(channel.name, (channel, []))[1].extend(group)
            extra = self._optional.get(value, []) if value is not None else []
            for channel in extra:
                optional.setdefault(channel.name, (channel, []))[1].extend(group)
            if not targets and not extra:
                nowhere.extend(group)
        routes: list[Route] = [(c, evs, True) for c, evs in required.values()]
        routes += [(c, evs, False) for c, evs in optional.values()]
        if nowhere:
            routes.append((None, nowhere, False))
        return routes

    def describe(self, event: Event) -> str:
        return f"{self.config.header}={event.headers.get(self.config.header)!r}"


@dataclass(frozen=True, kw_only=True)
class LoadBalancingConfig(SelectorConfig):
    policy: str = param("policy", default="round_robin", choices=("round_robin", "random"),
                        doc="How the one channel of each event is chosen.")


class LoadBalancingSelector(ChannelSelector):
    """Each event to exactly one channel, round robin or random (Flume 1.10+)."""

    config_class = LoadBalancingConfig
    config: LoadBalancingConfig

    def bind(self, channels: Sequence[Channel]) -> None:
        super().bind(channels)
        self._position = 0
        self._random = random.Random()

    def route(self, events: list[Event]) -> list[Route]:
        channels = self.channels
        count = len(channels)
        groups: list[list[Event]] = [[] for _ in channels]
        if self.config.policy == "random":
            pick = self._random.randrange
            for event in events:
                groups[pick(count)].append(event)
        else:
            start = self._position
            for i, event in enumerate(events):
                groups[(start + i) % count].append(event)
            self._position = (start + len(events)) % count
        return [(c, g, True) for c, g in zip(channels, groups, strict=True) if g]


