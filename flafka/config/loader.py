"""From ``-f`` files and an agent name to a validated :class:`~flafka.config.plan.AgentPlan`.

Strict by default: any error stops the load and every problem is reported at once. ``lenient``
gives Flume's behaviour instead: a component with an error is dropped (with a warning), and what
depended on it is dropped in turn, until what is left is consistent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jproperties

from flafka.config.diagnostics import Diagnostic, Location, Severity, did_you_mean
from flafka.config.model import KINDS, agent_names, collect_agent
from flafka.config.plan import AgentPlan, plan_agent
from flafka.config.properties import Prop, merge, read_properties_file
from flafka.config.substitution import substitute
from flafka.errors import ConfigError


@dataclass
class LoadedConfig:
    plan: AgentPlan
    diagnostics: list[Diagnostic]  # warnings only (a load with errors raises)


def read_files(paths: Sequence[str]) -> tuple[dict[str, Prop], list[Diagnostic]]:
    """Parse and merge ``paths`` in order; unreadable files are errors."""
    parts: list[dict[str, Prop]] = []
    diagnostics: list[Diagnostic] = []
    for path in paths:
        try:
            parts.append(read_properties_file(path))
        except OSError as exc:
            diagnostics.append(Diagnostic(Severity.ERROR, Location(str(path), 0), "", None,
                                          f"cannot read configuration file: {exc.strerror or exc}"))
        except jproperties.ParseError as exc:
            diagnostics.append(Diagnostic(Severity.ERROR, Location(str(path), int(exc.line_number or 0)), "",
                                          None, f"not a valid properties file: {exc.message}"))
    return merge(parts), diagnostics


def _component_of(agent: str, key: str) -> tuple[str, str | None]:
    rest = key.removeprefix(agent + ".")
    kind, _, tail = rest.partition(".")
    name, _, subkey = tail.partition(".")
    if kind in KINDS and name:
        return f"{kind}.{name}", subkey or None
    return rest, None


def plan_from_properties(
    props: Mapping[str, Prop], agent: str, *, lenient: bool = False, env: Mapping[str, str] | None = None,
    sources: Sequence[str] = (),
) -> LoadedConfig:
    """Validate the properties for ``agent``; raises :class:`ConfigError` listing every problem."""
    resolved, found = substitute(props, env, prefix=agent + ".")
    diagnostics = [
        Diagnostic(d.severity, d.location, *_component_of(agent, d.component), d.message) for d in found
    ]
    if agent not in agent_names(resolved):
        known = agent_names(resolved)
        where = ", ".join(sources) or "the configuration"
        listing = (f" (agents found: {', '.join(known)})" if known
                   else " (no agent has a sources, channels or sinks list)")
        diagnostics.append(Diagnostic(Severity.ERROR, None, "", None,
                                      f"agent '{agent}' is not defined in {where}{listing}"
                                      + did_you_mean(agent, known)))
        raise ConfigError(diagnostics)
    spec, found = collect_agent(resolved, agent)
    diagnostics += found
    dropped: list[Diagnostic] = []
    while True:
        plan, found = plan_agent(spec)
        errors = [d for d in diagnostics + found if d.is_error]
        if not errors:
            return LoadedConfig(plan, diagnostics + dropped + found)
        droppable = {d.component for d in errors if d.component.partition(".")[0] in KINDS}
        if not lenient or any(d.component not in droppable for d in errors):
            raise ConfigError(diagnostics + dropped + found)
        for d in errors:
            dropped.append(Diagnostic(Severity.WARNING, d.location, d.component, d.key,
                                      f"{d.message} -- component dropped (--lenient)"))
        for path in droppable:
            kind, _, name = path.partition(".")
            spec.components[kind].pop(name, None)
            listed, listed_at = spec.lists.get(kind, ([], Location("", 0)))
            spec.lists[kind] = ([n for n in listed if n != name], listed_at)


def load_config(
    paths: Sequence[str], agent: str, *, lenient: bool = False, env: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Read ``paths`` (merged in order) and validate the configuration of ``agent``."""
    props, diagnostics = read_files(paths)
    if any(d.is_error for d in diagnostics):
        raise ConfigError(diagnostics)
    return plan_from_properties(props, agent, lenient=lenient, env=env, sources=[str(p) for p in paths])
