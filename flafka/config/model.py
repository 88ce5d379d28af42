"""The keys of one agent, grouped into components (reference §1.2), before any type is resolved."""

from __future__ import annotations

from dataclasses import dataclass, field

from flafka.config.diagnostics import Diagnostic, Location, Severity, did_you_mean
from flafka.config.properties import Prop

#: Plural key → singular label, in Flume's order.
KINDS = {"channels": "channel", "sources": "source", "sinks": "sink", "sinkgroups": "sinkgroup"}
_LISTS = (*KINDS, "configfilters")


@dataclass
class ComponentSpec:
    """The properties of one listed component, keys relative to ``<agent>.<kind>.<name>.``."""

    kind: str  # "sources", "channels", "sinks" or "sinkgroups"
    name: str
    props: dict[str, Prop] = field(default_factory=dict)
    listed_at: Location | None = None

    @property
    def path(self) -> str:
        return f"{self.kind}.{self.name}"

    @property
    def anchor(self) -> Location | None:
        """Where to point at when a problem concerns the component as a whole."""
        if "type" in self.props:
            return self.props["type"].location
        if self.props:
            return min((p.location for p in self.props.values()), key=lambda loc: (loc.file, loc.line))
        return self.listed_at


@dataclass
class AgentSpec:
    """What the properties say about one agent."""

    name: str
    lists: dict[str, tuple[list[str], Location]] = field(default_factory=dict)
    components: dict[str, dict[str, ComponentSpec]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )

    def listed(self, kind: str) -> list[str]:
        return self.lists.get(kind, ([], Location("", 0)))[0]


def agent_names(props: dict[str, Prop]) -> list[str]:
    """Agents that have a sources/channels/sinks list in ``props``."""
    names = {key.split(".", 1)[0] for key in props if key.count(".") == 1 and key.split(".", 1)[1] in KINDS}
    return sorted(names)


def collect_agent(props: dict[str, Prop], agent: str) -> tuple[AgentSpec, list[Diagnostic]]:
    """Group the ``<agent>.*`` keys of ``props`` into an :class:`AgentSpec`."""
    spec = AgentSpec(agent)
    diagnostics: list[Diagnostic] = []
    stray: dict[str, dict[str, ComponentSpec]] = {kind: {} for kind in KINDS}
    prefix = agent + "."
    for key, prop in props.items():
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if rest in _LISTS:
            names = list(dict.fromkeys(prop.value.split()))
            if rest == "configfilters":
                if names:
                    diagnostics.append(Diagnostic(
                        Severity.ERROR, prop.location, key, None,
                        "config filters are not supported yet; use ${env:NAME} substitution",
                    ))
                continue
            spec.lists[rest] = (names, prop.location)
            continue
        kind, _, tail = rest.partition(".")
        name, _, subkey = tail.partition(".")
        if kind == "configfilters":
            continue
        if kind not in KINDS or not name or not subkey:
            hint = did_you_mean(kind, _LISTS) if kind not in KINDS else ""
            diagnostics.append(Diagnostic(
                Severity.WARNING, prop.location, key, None,
                f"not a valid key for agent {agent} (expected {agent}.<sources|channels|sinks|sinkgroups>."
                f"<name>.<property>); ignored{hint}",
            ))
            continue
        if subkey == "config":  # Flume's obscure configuration-stub class name: meaningless here
            continue
        stray[kind].setdefault(name, ComponentSpec(kind, name)).props[subkey] = prop

    for kind in KINDS:
        names, where_listed = spec.lists.get(kind, ([], None))
        for name in names:
            component = stray[kind].pop(name, None) or ComponentSpec(kind, name)
            component.listed_at = where_listed
            spec.components[kind][name] = component
        for name, component in stray[kind].items():
            first = component.anchor
            diagnostics.append(Diagnostic(
                Severity.WARNING, first, f"{kind}.{name}", None,
                f"has properties but is not listed in {agent}.{kind} ({' '.join(names) or 'empty'}); "
                f"ignored",
            ))
    return spec, diagnostics
