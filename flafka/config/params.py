"""Declared component parameters: one declaration drives parsing, checking and the docs.

A component's configuration is a frozen dataclass whose fields are declared with :func:`param` (one
Flume key) or :func:`prefixed` (every key under a prefix, e.g. ``kafka.consumer.``)::

    @dataclass(frozen=True, kw_only=True)
    class StaticConfig(ComponentConfig):
        key: str = param("key", default="key", doc="Header name.")
        preserve_existing: bool = param("preserveExisting", default=True, doc="Keep an existing value.")

The field's annotation is the type the text value is converted to (``str``, ``int``, ``float``,
``bool``, ``list[str]`` for space-separated lists, ``X | None`` for optional values, and
``dict[str, str]`` for prefixed groups). :meth:`ComponentConfig.parse` turns the properties of one
component into an instance and reports every problem (bad value, missing key, unknown key with a
"did you mean", deprecated name) as a :class:`~flafka.config.diagnostics.Diagnostic` with its line.

Every independent problem of a component is reported in one run: a bad value does not hide the cross-field
checks (:meth:`ComponentConfig.check`) of the other values. Those run on stand-in configurations that hold the
good values and, for each bad one, a few different stand-ins (its default, a low and a high value); only the
problems every stand-in agrees on are reported, so no error follows from a value the user did not write
(see :meth:`ComponentConfig.parse_all`).
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, TypeVar

from flafka.config.diagnostics import Diagnostic, Location, Severity, did_you_mean
from flafka.config.properties import Prop

_META = "flafka.param"


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Marks a parameter without a default: the user must set it.
REQUIRED: Any = _Required()
# What Java's Integer.parseInt and Double.parseDouble read (parseInt takes any script's decimal digits, as
# int() does). Python's int() and float() also take "1_000", and float() "nan" and "inf": not numbers here.
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
C = TypeVar("C", bound="ComponentConfig")


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """The declaration of one parameter (or one prefixed group of parameters)."""

    key: str
    attr: str = ""
    kind: Any = str
    optional: bool = False
    default: Any = REQUIRED
    aliases: tuple[str, ...] = ()
    deprecated: tuple[str, ...] = ()
    doc: str = ""
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    parse: Callable[[str], Any] | None = None
    prefix: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED and not self.prefix

    @property
    def names(self) -> tuple[str, ...]:
        return (self.key, *self.aliases, *self.deprecated)

    def default_text(self) -> str:
        if self.required or self.prefix:
            return ""
        if self.default is None:
            return "—"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, list | tuple):
            return " ".join(str(v) for v in self.default)
        return str(self.default)


def param(
    key: str,
    *,
    default: Any = REQUIRED,
    aliases: Iterable[str] = (),
    deprecated: Iterable[str] = (),
    doc: str = "",
    choices: Iterable[str] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    parse: Callable[[str], Any] | None = None,
) -> Any:
    """Declare a field bound to the Flume key ``key``.

    ``aliases`` are other accepted spellings (e.g. the Flume 1.6 name of a 1.7 property) that are not
    worth a warning; ``deprecated`` names are accepted with a warning naming ``key``. ``choices`` are
    matched case-insensitively and normalised to the declared spelling.
    """
    spec = ParamSpec(
        key=key,
        default=default,
        aliases=tuple(aliases),
        deprecated=tuple(deprecated),
        doc=doc,
        choices=tuple(choices) if choices is not None else None,
        minimum=minimum,
        maximum=maximum,
        parse=parse,
    )
    if default is REQUIRED:
        return field(metadata={_META: spec})
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={_META: spec})
    return field(default=default, metadata={_META: spec})


def prefixed(prefix: str, *, doc: str = "") -> Any:
    """Declare a ``dict[str, str]`` field holding every key that starts with ``prefix`` (stripped)."""
    return field(default_factory=dict, metadata={_META: ParamSpec(key=prefix, doc=doc, prefix=True)})


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def parse_int(text: str) -> int:
    """A whole decimal number as Java's ``Integer.parseInt`` reads it (surrounding blanks allowed)."""
    stripped = text.strip()
    if not _INT_RE.fullmatch(stripped):
        raise ValueError(f"expected a whole number, got {text!r}")
    return int(stripped)


def parse_float(text: str) -> float:
    """A finite decimal number (``1``, ``0.5``, ``2e3``); NaN and infinities are refused.

    ``nan`` would pass every bound check (a comparison with NaN is false) and ``inf`` is no duration
    or size anyone means, so both are errors here rather than surprises at run time.
    """
    stripped = text.strip()
    if not _FLOAT_RE.fullmatch(stripped):
        if stripped.lstrip("+-").lower() in ("nan", "inf", "infinity"):
            raise ValueError(f"must be a finite number, got {text!r}")
        raise ValueError(f"expected a number, got {text!r}")
    value = float(stripped)
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {text!r} (too large)")
    return value


def _parse_list(text: str) -> list[str]:
    return text.split()


_CONVERTERS: dict[Any, Callable[[str], Any]] = {
    bool: _parse_bool,
    int: parse_int,
    float: parse_float,
    str: str,
    list[str]: _parse_list,
}


@dataclass(frozen=True, kw_only=True)
class ComponentConfig:
    """Base of every component's typed configuration."""

    #: True for configurations that take any key (custom components without a declaration).
    accepts_any_key: ClassVar[bool] = False
    #: The declared key of the parameter holding the events per channel transaction, if there is one:
    #: :meth:`events_per_transaction` returns its value, and the planner points at it when it is too big.
    batch_size_key: ClassVar[str | None] = None

    @classmethod
    def params(cls) -> list[ParamSpec]:
        """The declared parameters of this configuration class, in declaration order."""
        cached = cls.__dict__.get("_flafka_params")
        if cached is not None:
            return typing.cast(list[ParamSpec], cached)
        hints = typing.get_type_hints(cls)
        specs: list[ParamSpec] = []
        for f in dataclasses.fields(cls):
            spec = f.metadata.get(_META)
            if spec is None:
                continue
            kind, optional = _unwrap_optional(hints[f.name])
            specs.append(dataclasses.replace(spec, attr=f.name, kind=kind, optional=optional))
        setattr(cls, "_flafka_params", specs)  # noqa: B010  # frozen dataclass: cache on the class
        return specs

    @classmethod
    def parse(cls, props: Mapping[str, Prop], component: str) -> tuple[Self | None, list[Diagnostic]]:
        """Build a config from ``props`` (keys relative to the component); None when it has errors."""
        parsed = cls.parse_all(props, component)
        return parsed.config, parsed.diagnostics

    @classmethod
    def parse_all(cls, props: Mapping[str, Prop], component: str) -> Parsed[Self]:
        """Like :meth:`parse`, also returning the stand-in configurations for checks across components.

        When values are bad, :meth:`check` and :meth:`check_warnings` still run, on stand-ins built
        from the good values and, for each bad or missing one, its default, a low and a high value of
        its type. A problem is reported only when every stand-in yields it (so it does not depend on
        what the bad value would have been) and it is not about a key that already has an error.
        """
        diagnostics: list[Diagnostic] = []
        values: dict[str, Any] = {}
        used: set[str] = set()
        bad: list[ParamSpec] = []

        def report(severity: Severity, key: str | None, message: str, where: Location | None) -> None:
            diagnostics.append(Diagnostic(severity, where, component, key, message))

        for spec in cls.params():
            if spec.prefix:
                group = {k[len(spec.key) :]: p.value for k, p in props.items() if k.startswith(spec.key)}
                used.update(spec.key + k for k in group)
                values[spec.attr] = group
                continue
            present = [name for name in spec.names if name in props]
            if not present:
                if spec.required:
                    report(Severity.ERROR, spec.key, "is required" + _doc_hint(spec), None)
                    bad.append(spec)
                continue
            used.update(present)
            chosen = spec.key if spec.key in present else present[0]
            prop = props[chosen]
            for name in present:
                if name in spec.deprecated:
                    report(
                        Severity.WARNING,
                        name,
                        f"is deprecated, use {spec.key}"
                        + (" (ignored: the new name is set)" if name != chosen else ""),
                        props[name].location,
                    )
            try:
                values[spec.attr] = _convert(spec, prop.value)
            except ValueError as exc:
                report(Severity.ERROR, chosen, str(exc), prop.location)
                bad.append(spec)

        if not cls.accepts_any_key:
            known = [name for spec in cls.params() for name in spec.names]
            for key, prop in props.items():
                if key in used or any(key.startswith(s.key) for s in cls.params() if s.prefix):
                    continue
                report(Severity.WARNING, key, "unknown property, ignored" + did_you_mean(key, known),
                       prop.location)
        elif "properties" in {f.name for f in dataclasses.fields(cls)}:
            values["properties"] = {k: p.value for k, p in props.items()}

        def where_is(key: str | None) -> Location | None:
            if key is not None and key in props:
                return props[key].location
            return next((props[n].location for s in cls.params() if s.key == key for n in s.names
                         if n in props), None)

        if bad:
            variants = _stand_ins(cls, values, bad)
            bad_keys = {name for spec in bad for name in spec.names}
            checks: tuple[tuple[Severity, Callable[[Self], Iterable[tuple[str | None, str]]]], ...] = (
                (Severity.ERROR, lambda c: c.check()), (Severity.WARNING, lambda c: c.check_warnings()))
            for severity, method in checks:
                for checked_key, message in _agreed(variants, method):
                    if checked_key not in bad_keys:
                        report(severity, checked_key, message, where_is(checked_key))
            return Parsed(None, diagnostics, variants)
        try:
            config = cls(**values)
        except (TypeError, ValueError) as exc:
            report(Severity.ERROR, None, str(exc), None)
            return Parsed(None, diagnostics, ())
        for checked_key, message in config.check():
            report(Severity.ERROR, checked_key, message, where_is(checked_key))
        for checked_key, message in config.check_warnings():
            report(Severity.WARNING, checked_key, message, where_is(checked_key))
        if any(d.is_error for d in diagnostics):
            return Parsed(None, diagnostics, (config,))
        return Parsed(config, diagnostics, (config,))

    def check(self) -> Iterable[tuple[str | None, str]]:
        """Cross-field checks: yield ``(key, message)`` for each error (``key`` relative to the component)."""
        return ()

    def check_warnings(self) -> Iterable[tuple[str | None, str]]:
        """Like :meth:`check`, for problems that do not stop the agent (reported as warnings)."""
        return ()

    def events_per_transaction(self) -> int | None:
        """Events per channel transaction this component uses (checked against transactionCapacity)."""
        spec = self.batch_size_param()
        return None if spec is None else typing.cast(int, getattr(self, spec.attr))

    @classmethod
    def batch_size_param(cls) -> ParamSpec | None:
        """The declaration :attr:`batch_size_key` names."""
        if cls.batch_size_key is None:
            return None
        for spec in cls.params():
            if spec.key == cls.batch_size_key:
                return spec
        raise TypeError(f"{cls.__qualname__}.batch_size_key names {cls.batch_size_key!r}, which it does not declare")

    def max_events_per_transaction(self) -> int | None:
        """For channel configurations: the transactionCapacity sources and sinks must fit in."""
        return None

    def exclusive_paths(self) -> list[tuple[str, str]]:
        """``(key, path)`` for each filesystem path this component needs for itself.

        The planner refuses two components of one agent that claim the same path (after ``~``,
        relative paths and symbolic links are resolved), naming both; a component may list a path
        more than once.
        """
        return []


@dataclass(frozen=True)
class Parsed(Generic[C]):
    """What :meth:`ComponentConfig.parse_all` found.

    ``variants`` are configurations to run checks across components on (the batch size against a
    channel's transactionCapacity, shared directories): the config itself when every value is good,
    else the stand-ins (none when they could not be built). A value computed from them counts only
    when every variant gives the same one.
    """

    config: C | None
    diagnostics: list[Diagnostic]
    variants: tuple[C, ...]

    def agreed(self, probe: Callable[[C], Any]) -> tuple[bool, Any]:
        """``(True, value)`` when ``probe`` gives the same value for every variant, else ``(False, None)``."""
        if not self.variants:
            return False, None
        results = [probe(v) for v in self.variants]
        return (True, results[0]) if all(r == results[0] for r in results[1:]) else (False, None)


@dataclass(frozen=True, kw_only=True)
class RawConfig(ComponentConfig):
    """Configuration of a custom component that declares no parameters: every key, as text."""

    accepts_any_key: ClassVar[bool] = True
    properties: dict[str, str] = field(default_factory=dict)


def _stand_in_values(spec: ParamSpec) -> list[Any] | None:
    """The default, a low and a high value of ``spec``'s type; None for a type without known values."""
    first = [] if spec.required else [list(spec.default) if isinstance(spec.default, list) else spec.default]
    if spec.parse is not None:
        return None
    if spec.choices:
        return [*first, spec.choices[0], spec.choices[-1]]
    if spec.kind is bool:
        return [*first, False, True]
    if spec.kind in (int, float):  # the extremes: a check that holds for both does not depend on the value
        low = spec.minimum if spec.minimum is not None else -(2**31)
        high = spec.maximum if spec.maximum is not None else 2**31 - 1
        return [*first, *(spec.kind(v) for v in (low, high))]
    if spec.kind is str:
        return [*first, "", "x"]
    if spec.kind == list[str]:
        return [*first, [], ["x"]]
    return None


def _stand_ins(cls: type[C], values: Mapping[str, Any], bad: list[ParamSpec]) -> tuple[C, ...]:
    """Configurations of ``cls`` with ``values`` and each stand-in of the ``bad`` parameters in turn."""
    choices = [(spec.attr, _stand_in_values(spec)) for spec in bad]
    if any(options is None for _, options in choices):
        return ()
    variants: list[C] = []
    for i in range(3):
        substituted = {attr: options[min(i, len(options) - 1)] for attr, options in choices if options}
        try:
            variants.append(cls(**{**values, **substituted}))
        except Exception:  # a stand-in the class refuses: no stand-ins, no extra checks
            return ()
    return tuple(variants)


def _agreed(variants: tuple[C, ...], method: Callable[[C], Iterable[tuple[str | None, str]]]
            ) -> list[tuple[str | None, str]]:
    """The problems ``method`` yields for every one of ``variants``, in the first one's order."""
    if not variants:
        return []
    found: list[list[tuple[str | None, str]]] = []
    for config in variants:
        try:
            found.append(list(method(config)))
        except Exception:  # a check that cannot cope with a stand-in: report nothing of it
            return []
    return [problem for problem in found[0] if all(problem in other for other in found[1:])]


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def _doc_hint(spec: ParamSpec) -> str:
    return f" ({spec.doc.rstrip('.')})" if spec.doc else ""


def _convert(spec: ParamSpec, text: str) -> Any:
    if spec.parse is not None:
        return spec.parse(text)
    if spec.choices is not None:
        lowered = {c.lower(): c for c in spec.choices}
        hit = lowered.get(text.strip().lower())
        if hit is None:
            raise ValueError(
                f"must be one of {', '.join(spec.choices)}, got {text!r}"
                + did_you_mean(text.strip(), spec.choices)
            )
        return hit
    converter = _CONVERTERS.get(spec.kind)
    if converter is None:
        raise TypeError(f"parameter {spec.key}: no converter for {spec.kind!r}")
    value = converter(text)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise ValueError(f"must be at least {_num(spec.minimum)}, got {_num(value)}")
        if spec.maximum is not None and value > spec.maximum:
            raise ValueError(f"must be at most {_num(spec.maximum)}, got {_num(value)}")
    return value


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def params_table(config_class: type[ComponentConfig]) -> str:
    """A Markdown table of the declared parameters (used to generate docs/properties.md)."""
    rows = ["| Property | Default | Description |", "|---|---|---|"]
    for spec in config_class.params():
        name = f"`{spec.key}*`" if spec.prefix else f"`{spec.key}`"
        if spec.required:
            name = f"**{name}**"
        extra = []
        if spec.choices:
            extra.append("one of " + ", ".join(f"`{c}`" for c in spec.choices))
        if spec.aliases:
            extra.append("also accepted: " + ", ".join(f"`{a}`" for a in spec.aliases))
        if spec.deprecated:
            extra.append("deprecated name: " + ", ".join(f"`{a}`" for a in spec.deprecated))
        doc = spec.doc + ("" if not extra else (" " if spec.doc else "") + "(" + "; ".join(extra) + ")")
        default = spec.default_text()
        rows.append(f"| {name} | {'`' + default + '`' if default else ''} | {doc} |")
    return "\n".join(rows)
