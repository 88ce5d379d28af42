"""Validate one agent's components and resolve them to classes and typed configs (reference §1.3).

The result, an :class:`AgentPlan`, is everything the runtime needs to build the pipeline and nothing
it must still check. Every problem becomes a :class:`Diagnostic` whose ``component`` is the unit
Flume would drop for it (a source, channel, sink or sink group), so ``--lenient`` can drop exactly
that unit and try again.

Checks across components (a batch size against a channel's transactionCapacity, two components
claiming one directory) also run for components with bad values, on the stand-in configurations of
:meth:`~flafka.config.params.ComponentConfig.parse_all`, whenever what they compare does not depend
on a bad value: one run reports every independent problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from flafka import registry
from flafka.config.common import SinkCommonConfig, SourceCommonConfig
from flafka.config.diagnostics import Diagnostic, Location, Severity, did_you_mean
from flafka.config.model import AgentSpec, ComponentSpec
from flafka.config.params import ComponentConfig, Parsed
from flafka.config.properties import Prop
from flafka.dead_letters import BadEventPolicy
from flafka.errors import ComponentNotFound

Fingerprint = tuple[tuple[str, str], ...]
_Common = TypeVar("_Common", SourceCommonConfig, SinkCommonConfig)


def _common_keys(config_class: type[ComponentConfig]) -> tuple[str, ...]:
    return tuple(name for spec in config_class.params() for name in spec.names)


_COMMON_SOURCE_KEYS = _common_keys(SourceCommonConfig)
_COMMON_SINK_KEYS = _common_keys(SinkCommonConfig)


@dataclass(frozen=True)
class Built:
    """A resolved component: its class, typed config, and a fingerprint of its raw properties."""

    name: str
    type_name: str
    cls: type[Any]
    config: Any
    fingerprint: Fingerprint


@dataclass(frozen=True)
class SourcePlan:
    built: Built
    channels: list[str]
    selector: Built
    interceptors: list[Built]
    dead_letter_channel: str | None = None
    on_bad_event: BadEventPolicy = BadEventPolicy.DROP


@dataclass(frozen=True)
class SinkPlan:
    built: Built
    channel: str
    dead_letter_channel: str | None = None


@dataclass(frozen=True)
class GroupPlan:
    name: str
    processor: Built
    sinks: list[str]
    implicit: bool  # a sink outside any group runs in a group of its own


@dataclass
class AgentPlan:
    agent: str
    channels: dict[str, Built] = field(default_factory=dict)
    sources: dict[str, SourcePlan] = field(default_factory=dict)
    sinks: dict[str, SinkPlan] = field(default_factory=dict)
    groups: dict[str, GroupPlan] = field(default_factory=dict)


def _fingerprint(props: Mapping[str, Prop]) -> Fingerprint:
    return tuple(sorted((k, p.value) for k, p in props.items()))


class _Claim(NamedTuple):
    """A path a component needs for itself (see ComponentConfig.exclusive_paths)."""

    component: str
    key: str
    path: str  # as written (or the default)
    where: Location | None
    written: bool  # False: the key is not set and the path is its default


def _resolved(path: str) -> str:
    # The file channel locks a directory's real path: two spellings of one directory are one directory.
    return os.path.realpath(os.path.expanduser(path.strip()))


class _Planner:
    def __init__(self, spec: AgentSpec) -> None:
        self.spec = spec
        self.diagnostics: list[Diagnostic] = []
        self.plan = AgentPlan(spec.name)
        # Every channel whose type resolved, bad values or not, for the batch-size check.
        self.channel_parses: dict[str, Parsed[ComponentConfig]] = {}
        self.claims: list[_Claim] = []

    def error(self, where: Location | None, component: str, key: str | None, message: str) -> None:
        self.diagnostics.append(Diagnostic(Severity.ERROR, where, component, key, message))

    def warn(self, where: Location | None, component: str, key: str | None, message: str) -> None:
        self.diagnostics.append(Diagnostic(Severity.WARNING, where, component, key, message))

    # -- shared steps ---------------------------------------------------------------------------

    def resolve(self, kind: str, type_name: str, where: Location | None, component: str,
                key: str) -> type[Any] | None:
        try:
            return registry.resolve(kind, type_name)
        except ComponentNotFound as exc:
            self.error(where, component, key, str(exc))
        return None

    def parse(self, cls: type[Any], props: Mapping[str, Prop], component: str, key_prefix: str,
              anchor: Location | None) -> Parsed[ComponentConfig]:
        config_class: type[ComponentConfig] = cls.config_class
        parsed = config_class.parse_all(props, component)
        for d in parsed.diagnostics:
            key = f"{key_prefix}{d.key}" if d.key else (key_prefix.rstrip(".") or None)
            self.diagnostics.append(Diagnostic(d.severity, d.location or anchor, component, key, d.message))
        self.claim_paths(parsed, props, component, key_prefix, anchor)
        return parsed

    def claim_paths(self, parsed: Parsed[ComponentConfig], props: Mapping[str, Prop], component: str,
                    key_prefix: str, anchor: Location | None) -> None:
        """Note the paths the component needs for itself; :meth:`shared_paths` compares them."""
        claimed: list[set[tuple[str, str]]] = [set(v.exclusive_paths()) for v in parsed.variants]
        # Only paths every stand-in agrees on: a path made from a bad value is no one's.
        stable = [c for c in (parsed.variants[0].exclusive_paths() if claimed else [])
                  if all(c in other for other in claimed[1:])]
        for key, path in dict.fromkeys(stable):
            prop = props.get(key)
            self.claims.append(_Claim(component, key_prefix + key, path, prop.location if prop else anchor,
                                      prop is not None))

    def shared_paths(self) -> None:
        """Refuse a path that two components of this agent claim, naming both places."""
        referenced = self.referenced_channels()
        first_by_path: dict[str, _Claim] = {}
        for claim in self.claims:
            kind, _, name = claim.component.partition(".")
            if kind == "channels" and name not in referenced:  # not started: it takes nothing from anyone
                continue
            resolved = _resolved(claim.path)
            first = first_by_path.setdefault(resolved, claim)
            if first.component != claim.component:
                self.error(claim.where, claim.component, claim.key, _shared_message(claim, first, resolved))

    def referenced_channels(self) -> set[str]:
        """Channels some source or sink names (as written, valid or not)."""
        names: set[str] = set()
        for kind, keys in (("sources", ("channels", "deadLetterChannel")), ("sinks", ("channel", "deadLetterChannel"))):
            for spec in self.spec.components[kind].values():
                names.update(n for key in keys if key in spec.props for n in spec.props[key].value.split())
        return names

    def typed(self, spec: ComponentSpec, kind: str) -> tuple[type[Any], str] | None:
        """The class named by the component's ``type``, after the checks every component shares."""
        label = spec.path
        if not spec.props:
            self.error(spec.listed_at, label, None,
                       f"is listed in {self.spec.name}.{spec.kind} but has no properties")
            return None
        type_prop = spec.props.get("type")
        if type_prop is None:
            self.error(spec.anchor, label, "type", "is required")
            return None
        cls = self.resolve(kind, type_prop.value, type_prop.location, label, "type")
        return (cls, type_prop.value) if cls is not None else None

    def check_batch(self, spec: ComponentSpec, parsed: Parsed[ComponentConfig], channel: str) -> None:
        """The batch size must fit the channel's transactionCapacity (checked unless one of them is bad)."""
        channel_parsed = self.channel_parses.get(channel)
        if channel_parsed is None:
            return
        known, batch = parsed.agreed(lambda c: c.events_per_transaction())
        limit_known, limit = channel_parsed.agreed(lambda c: c.max_events_per_transaction())
        if not (known and limit_known):
            return
        if batch is not None and limit is not None and batch > limit:
            declared = type(parsed.variants[0]).batch_size_param()
            where = next((spec.props[n].location for n in (declared.names if declared else ()) if n in spec.props),
                         spec.anchor)
            self.error(where, spec.path, None,
                       f"batch size {batch} exceeds transactionCapacity {limit} of channel {channel}; "
                       f"raise channels.{channel}.transactionCapacity or lower the batch size")

    # -- components -----------------------------------------------------------------------------

    def channels(self) -> None:
        for spec in self.spec.components["channels"].values():
            typed = self.typed(spec, "channel")
            if typed is None:
                continue
            cls, type_name = typed
            props = {k: v for k, v in spec.props.items() if k != "type"}
            parsed = self.parse(cls, props, spec.path, "", spec.anchor)
            self.channel_parses[spec.name] = parsed
            if parsed.config is not None:
                self.plan.channels[spec.name] = Built(spec.name, type_name, cls, parsed.config,
                                                      _fingerprint(spec.props))

    def unknown_channel(self, spec: ComponentSpec, key: str, name: str) -> None:
        defined = list(self.spec.components["channels"])
        if name not in defined:  # a defined channel with errors of its own is reported once, there
            self.error(spec.props[key].location, spec.path, key,
                       f"channel '{name}' is not defined in {self.spec.name}.channels"
                       + did_you_mean(name, defined))

    def sinks(self) -> None:
        for spec in self.spec.components["sinks"].values():
            typed = self.typed(spec, "sink")
            if typed is None:
                continue
            cls, type_name = typed
            channel_prop = spec.props.get("channel")
            ok = True
            if channel_prop is None:
                hint = " (a sink reads one channel: 'channel', not 'channels')" if "channels" in spec.props else ""
                self.error(spec.anchor, spec.path, "channel", "is required" + hint)
                ok = False
            elif len(channel_prop.value.split()) != 1:
                self.error(channel_prop.location, spec.path, "channel",
                           f"a sink reads exactly one channel, got '{channel_prop.value}'")
                ok = False
            elif channel_prop.value not in self.plan.channels:
                self.unknown_channel(spec, "channel", channel_prop.value)
                ok = False
            common = self.common(spec, SinkCommonConfig)
            props = {k: v for k, v in spec.props.items()
                     if k not in ("type", "channel", "channels") and k not in _COMMON_SINK_KEYS}
            parsed = self.parse(cls, props, spec.path, "", spec.anchor)
            if channel_prop is not None and len(channel_prop.value.split()) == 1:
                self.check_batch(spec, parsed, channel_prop.value)
            config = parsed.config
            if config is None or common is None or not ok or channel_prop is None:
                continue
            if common.dead_letter_channel == channel_prop.value:
                self.error(spec.props["deadLetterChannel"].location, spec.path, "deadLetterChannel",
                           f"is the sink's own channel {channel_prop.value}: a bad event would come back to this "
                           "sink for ever; name another channel")
                continue
            self.plan.sinks[spec.name] = SinkPlan(
                Built(spec.name, type_name, cls, config, _fingerprint(spec.props)), channel_prop.value,
                common.dead_letter_channel,
            )

    def sources(self) -> None:
        for spec in self.spec.components["sources"].values():
            typed = self.typed(spec, "source")
            if typed is None:
                continue
            cls, type_name = typed
            errors_before = sum(d.is_error for d in self.diagnostics)
            channels = self.source_channels(spec)
            selector = self.selector(spec, channels)
            interceptors = self.interceptors(spec)
            common = self.common(spec, SourceCommonConfig)
            if common is not None and common.dead_letter_channel in channels:
                self.error(spec.props["deadLetterChannel"].location, spec.path, "deadLetterChannel",
                           f"channel {common.dead_letter_channel} is also one of the source's channels, so the "
                           "selector would write good events to it too; use a channel of its own")
            structural = ("type", "channels", "selector.", "interceptors")
            props = {k: v for k, v in spec.props.items()
                     if not k.startswith(structural) and k not in _COMMON_SOURCE_KEYS}
            parsed = self.parse(cls, props, spec.path, "", spec.anchor)
            channels_prop = spec.props.get("channels")
            for channel in dict.fromkeys(channels_prop.value.split() if channels_prop else []):
                self.check_batch(spec, parsed, channel)
            config = parsed.config
            if (config is None or selector is None or common is None
                    or sum(d.is_error for d in self.diagnostics) > errors_before):
                continue
            self.plan.sources[spec.name] = SourcePlan(
                Built(spec.name, type_name, cls, config, _fingerprint(spec.props)), channels, selector,
                interceptors, common.dead_letter_channel, common.policy(),
            )

    def common(self, spec: ComponentSpec, config_class: type[_Common]) -> _Common | None:
        """The keys every source (or sink) has; a named dead-letter channel must exist."""
        props = {k: spec.props[k] for k in _common_keys(config_class) if k in spec.props}
        config, found = config_class.parse(props, spec.path)
        self.diagnostics.extend(found)
        if config is None:
            return None
        name = config.dead_letter_channel
        if name is not None and name not in self.plan.channels:
            self.unknown_channel(spec, "deadLetterChannel", name)
            return None
        return config

    def source_channels(self, spec: ComponentSpec) -> list[str]:
        prop = spec.props.get("channels")
        if prop is None:
            hint = " (a source writes to 'channels', plural)" if "channel" in spec.props else ""
            self.error(spec.anchor, spec.path, "channels", "is required" + hint)
            return []
        names = list(dict.fromkeys(prop.value.split()))
        for name in names:
            if name not in self.plan.channels:
                self.unknown_channel(spec, "channels", name)
        return [n for n in names if n in self.plan.channels]

    def selector(self, spec: ComponentSpec, channels: list[str]) -> Built | None:
        type_prop = spec.props.get("selector.type")
        type_name = type_prop.value if type_prop else "replicating"
        where = type_prop.location if type_prop else spec.anchor
        cls = self.resolve("selector", type_name, where, spec.path, "selector.type")
        if cls is None:
            return None
        props = {k[len("selector."):]: v for k, v in spec.props.items()
                 if k.startswith("selector.") and k != "selector.type"}
        config = self.parse(cls, props, spec.path, "selector.", where).config
        if config is None:
            return None
        referenced: list[tuple[str, str]] = getattr(config, "referenced_channels", list)()
        for key, name in referenced:
            if name not in channels:
                full = f"selector.{key}"
                self.error(spec.props[full].location if full in spec.props else where, spec.path, full,
                           f"channel '{name}' is not one of this source's channels ({' '.join(channels)})"
                           + did_you_mean(name, channels))
        return Built(spec.name, type_name, cls, config, _fingerprint(props))

    def interceptors(self, spec: ComponentSpec) -> list[Built]:
        prop = spec.props.get("interceptors")
        names = prop.value.split() if prop else []
        built: list[Built] = []
        for name in names:
            prefix = f"interceptors.{name}."
            type_key = prefix + "type"
            type_prop = spec.props.get(type_key)
            if type_prop is None:
                self.error(prop.location if prop else spec.anchor, spec.path, type_key,
                           f"is required: interceptor '{name}' is listed but has no type")
                continue
            cls = self.resolve("interceptor", type_prop.value, type_prop.location, spec.path, type_key)
            if cls is None:
                continue
            props = {k[len(prefix):]: v for k, v in spec.props.items() if k.startswith(prefix) and k != type_key}
            config = self.parse(cls, props, spec.path, prefix, type_prop.location).config
            if config is not None:
                built.append(Built(name, type_prop.value, cls, config, _fingerprint(props)))
        for key, value in spec.props.items():
            if key.startswith("interceptors."):
                name = key.split(".")[1]
                if name not in names:
                    self.warn(value.location, spec.path, key,
                              f"interceptor '{name}' is not listed in {spec.path}.interceptors; ignored"
                              + did_you_mean(name, names))
        return built

    def groups(self) -> None:
        owner: dict[str, str] = {}
        for spec in self.spec.components["sinkgroups"].values():
            if not spec.props:
                self.error(spec.listed_at, spec.path, None,
                           f"is listed in {self.spec.name}.sinkgroups but has no properties")
                continue
            sinks_prop = spec.props.get("sinks")
            if sinks_prop is None:
                self.error(spec.anchor, spec.path, "sinks", "is required")
                continue
            names = list(dict.fromkeys(sinks_prop.value.split()))
            ok = True
            for name in names:
                if name not in self.spec.components["sinks"]:
                    self.error(sinks_prop.location, spec.path, "sinks",
                               f"sink '{name}' is not defined in {self.spec.name}.sinks"
                               + did_you_mean(name, list(self.spec.components["sinks"])))
                    ok = False
                elif name in owner:
                    self.error(sinks_prop.location, spec.path, "sinks",
                               f"sink '{name}' already belongs to sink group '{owner[name]}'")
                    ok = False
                elif name not in self.plan.sinks:  # its own errors are reported where it is defined
                    ok = False
                else:
                    owner[name] = spec.name
            type_prop = spec.props.get("processor.type")
            if type_prop is None:
                self.error(spec.anchor, spec.path, "processor.type",
                           "is required (Flume silently drops a group without it): default, failover or "
                           "load_balance")
                continue
            cls = self.resolve("sink_processor", type_prop.value, type_prop.location, spec.path,
                               "processor.type")
            if cls is None:
                continue
            props = {k[len("processor."):]: v for k, v in spec.props.items()
                     if k.startswith("processor.") and k != "processor.type"}
            config = self.parse(cls, props, spec.path, "processor.", type_prop.location).config
            if config is None or not ok:
                continue
            for key, message in cls.check_sinks(config, names):
                full = "sinks" if key == "sinks" else (f"processor.{key.removeprefix('processor.')}"
                                                       if key else None)
                where = spec.props[full].location if full in spec.props else type_prop.location
                self.error(where, spec.path, full, message)
            if sum(1 for d in self.diagnostics if d.component == spec.path and d.is_error):
                continue
            self.plan.groups[spec.name] = GroupPlan(
                spec.name, Built(spec.name, type_prop.value, cls, config, _fingerprint(spec.props)), names, False
            )
        default_cls = registry.resolve("sink_processor", "default")
        for name in self.plan.sinks:
            if name not in owner:
                self.plan.groups[name] = GroupPlan(
                    name, Built(name, "default", default_cls, default_cls.config_class(), ()), [name], True
                )

    def agent_level(self) -> None:
        agent = self.spec.name
        if "channels" not in self.spec.lists:
            self.error(None, agent, "channels", f"no channels are listed ({agent}.channels is missing)")
        for kind in ("sources", "sinks"):
            if kind not in self.spec.lists:
                self.warn(None, agent, kind, f"no {kind} are listed ({agent}.{kind} is missing)")
        if not self.spec.listed("sources") and not self.spec.listed("sinks"):
            self.error(None, agent, None, "has neither sources nor sinks: nothing to run")

    def unused_channels(self) -> None:
        used = {c for s in self.plan.sources.values() for c in s.channels}
        read = {s.channel for s in self.plan.sinks.values()}
        used |= read
        for kind, plans in (("sources", self.plan.sources), ("sinks", self.plan.sinks)):
            for name, component in plans.items():
                channel = component.dead_letter_channel
                if channel is None:
                    continue
                used.add(channel)
                if channel not in read:
                    spec = self.spec.components[kind][name]
                    self.warn(spec.props["deadLetterChannel"].location, spec.path, "deadLetterChannel",
                              f"no sink reads channel {channel}: bad events fill it, then are dropped (counted)")
        for name in list(self.plan.channels):
            if name not in used:
                spec = self.spec.components["channels"][name]
                self.warn(spec.anchor, spec.path, None, "no source or sink uses this channel; not started")
                del self.plan.channels[name]

    def run(self) -> tuple[AgentPlan, list[Diagnostic]]:
        self.agent_level()
        self.channels()
        self.sinks()
        self.sources()
        self.groups()
        self.shared_paths()
        if not any(d.is_error for d in self.diagnostics):
            self.unused_channels()
        return self.plan, self.diagnostics


def _shared_message(claim: _Claim, first: _Claim, resolved: str) -> str:
    """``<path> is also used by <component> <key> at <file:line> ...``: both places, so both can be fixed."""
    what = claim.path if claim.written else f"{claim.path} (the default)"
    other = f"{first.component} {first.key}" + (f" at {first.where}" if first.where else "")
    notes = [] if first.written else ["by default"]
    if first.path != claim.path:
        notes.append(f"as {first.path}")
    if resolved not in (claim.path, first.path):
        notes.append(f"both are {resolved}")
    detail = f" ({', '.join(notes)})" if notes else ""
    return f"{what} is also used by {other}{detail}; two components cannot share a directory: give each its own"


def plan_agent(spec: AgentSpec) -> tuple[AgentPlan, list[Diagnostic]]:
    """Validate ``spec`` and resolve its components; the plan is usable only without errors."""
    return _Planner(spec).run()
