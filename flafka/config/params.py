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

A nested component (an event serializer, a spooldir deserializer, an HTTP handler, a regex_extractor
serializer, ...) is declared with :func:`nested` (one, named by a key) or :func:`nested_list` (several,
named in a list)::

    serializer: Nested[EventSerializer] = nested("sink.serializer", kind="serializer", default="TEXT")

Its type is resolved through :mod:`flafka.registry` (aliases, Flume class names, import paths, with a
"did you mean") and its options, the keys under ``sink.serializer.``, are parsed by the nested class's
own ``config_class``, from the same properties, so a problem in them is reported with its full key
(``sink.serializer.appendNewline``) and its line, exactly as a top-level key's. The field holds a
:class:`Nested`: the class, its parsed config, and :meth:`Nested.build` to make an instance.

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

from flafka import registry
from flafka.config.diagnostics import Diagnostic, Location, Severity, did_you_mean, suggest
from flafka.config.properties import Prop
from flafka.errors import ComponentNotFound

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
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NestedSpec:
    """How a nested component is declared: its registry kind and where its keys are."""

    kind: str  #: registry kind (``serializer``, ``deserializer``, ``http_handler``, ...)
    options: str  #: prefix of its options; for a list, of its items (``serializers.`` + name + ``.``)
    many: bool = False  #: a list: the parameter's value names the items
    item_default: str = ""  #: for a list: the type of an item without a type key
    type_key: str = "type"  #: for a list: the key under an item's prefix that names its type
    item_label: str = "name"  #: for a list: how the docs write an item's name (``serializers.<s>.type``)
    type_doc: str = ""
    options_doc: str = ""


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
    nested: NestedSpec | None = None

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


@dataclass(frozen=True)
class Nested(Generic[T]):
    """A nested component: the class its type key named and the configuration of its options.

    ``T`` is the base class of its kind (``EventSerializer``, ...). ``prefix`` is where its options
    are, relative to the component (``sink.serializer.``); ``name`` is the name it is listed under in
    a :func:`nested_list` (empty otherwise). ``warnings`` are the warnings its options got (also
    reported by the planner), for a component that logs them when it starts.
    """

    kind: str
    type_name: str  #: as written, or the default
    cls: type[T]
    config: Any
    prefix: str
    name: str = ""
    warnings: tuple[Diagnostic, ...] = field(default=(), compare=False)

    def build(self, *args: Any, **kwargs: Any) -> T:
        """A new instance: ``cls(config, *args, **kwargs)``."""
        factory: Callable[..., T] = self.cls
        return factory(self.config, *args, **kwargs)

    def with_config(self, config: Any) -> Nested[T]:
        """The same class with another configuration (e.g. one a deprecated top-level key overrides)."""
        return dataclasses.replace(self, config=config)


def nested(
    key: str,
    *,
    kind: str,
    default: Any = REQUIRED,
    options: str | None = None,
    aliases: Iterable[str] = (),
    deprecated: Iterable[str] = (),
    doc: str = "",
    options_doc: str = "",
) -> Any:
    """Declare a :class:`Nested` field: ``key`` names the type (``default`` when unset), the keys under
    ``options`` (default ``key + "."``) configure it."""
    prefix = options if options is not None else key + "."
    spec = ParamSpec(key=key, default=default, aliases=tuple(aliases), deprecated=tuple(deprecated), doc=doc,
                     nested=NestedSpec(kind, prefix, options_doc=options_doc))
    if default is REQUIRED:
        return field(metadata={_META: spec})
    return field(default_factory=lambda: default_nested(kind, default, prefix), metadata={_META: spec})


def nested_list(
    key: str,
    *,
    kind: str,
    item_default: str,
    type_key: str = "type",
    default: list[str] | Any = REQUIRED,
    doc: str = "",
    type_doc: str = "",
    options_doc: str = "",
    item_label: str = "name",
) -> Any:
    """Declare a ``list[Nested[T]]`` field: ``key`` lists names (space-separated); the item ``<name>`` has
    its type in ``<key>.<name>.<type_key>`` (``item_default`` when unset) and its options under
    ``<key>.<name>.``, as the interceptors of a source."""
    spec = ParamSpec(key=key, default=default, doc=doc,
                     nested=NestedSpec(kind, key + ".", many=True, item_default=item_default, type_key=type_key,
                                       item_label=item_label, type_doc=type_doc, options_doc=options_doc))
    if default is REQUIRED:
        return field(metadata={_META: spec})
    names = list(default)
    return field(default_factory=lambda: [default_nested(kind, item_default, f"{key}.{n}.", n) for n in names],
                 metadata={_META: spec})


def nested_config_class(cls: type[Any]) -> type[ComponentConfig]:
    """The configuration class of a nested component class (one that declares none takes any key)."""
    config_class: type[ComponentConfig] = getattr(cls, "config_class", RawConfig)
    return config_class


def default_nested(kind: str, type_name: str, prefix: str, name: str = "") -> Nested[Any]:
    """``type_name`` of ``kind`` with every option at its default (raises if it cannot be resolved or has
    required options)."""
    cls = registry.resolve(kind, type_name)
    return Nested(kind, type_name, cls, nested_config_class(cls)(), prefix, name)


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
    def parse_all(cls, props: Mapping[str, Prop], component: str, key_prefix: str = "") -> Parsed[Self]:
        """Like :meth:`parse`, also returning the stand-in configurations for checks across components.

        When values are bad, :meth:`check` and :meth:`check_warnings` still run, on stand-ins built
        from the good values and, for each bad or missing one, its default, a low and a high value of
        its type. A problem is reported only when every stand-in yields it (so it does not depend on
        what the bad value would have been) and it is not about a key that already has an error.

        ``key_prefix`` is put before every key the diagnostics name (in their key and in their
        messages): a nested component's keys are shown as its parent's (``sink.serializer.`` + key).
        """
        diagnostics: list[Diagnostic] = []
        values: dict[str, Any] = {}
        used: set[str] = set()
        bad: list[ParamSpec] = []
        stand_ins: dict[str, list[Any]] = {}

        def report(severity: Severity, key: str | None, message: str, where: Location | None) -> None:
            shown = key_prefix + key if key else (key_prefix.removesuffix(".") or None)
            diagnostics.append(Diagnostic(severity, where, component, shown, message))

        for spec in cls.params():
            if spec.prefix:
                group = {k[len(spec.key) :]: p.value for k, p in props.items() if k.startswith(spec.key)}
                used.update(spec.key + k for k in group)
                values[spec.attr] = group
                continue
            if spec.nested is not None:
                found = _parse_nested(spec, spec.nested, props, component, key_prefix)
                diagnostics.extend(found.diagnostics)
                used.update(found.used)
                if found.ok:
                    values[spec.attr] = found.value
                else:
                    bad.append(spec)
                    if found.stand_in is not None:
                        stand_ins[spec.attr] = [found.stand_in]
                continue
            present = [name for name in spec.names if name in props]
            if not present:
                if spec.required:
                    report(Severity.ERROR, spec.key, "is required" + _doc_hint(spec), None)
                    bad.append(spec)
                continue
            used.update(present)
            chosen = _chosen(spec, present, props, report, key_prefix)
            prop = props[chosen]
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
                hit = suggest(key, known)
                report(Severity.WARNING, key,
                       "unknown property, ignored" + (f" (did you mean '{key_prefix}{hit}'?)" if hit else ""),
                       prop.location)
        elif "properties" in {f.name for f in dataclasses.fields(cls)}:
            values["properties"] = {k: p.value for k, p in props.items()}

        def where_is(key: str | None) -> Location | None:
            if key is not None and key in props:
                return props[key].location
            return next((props[n].location for s in cls.params() if s.key == key for n in s.names
                         if n in props), None)

        if bad:
            variants = _stand_ins(cls, values, bad, stand_ins)
            shown_bad = {d.key for d in diagnostics if d.is_error}
            bad_keys = {name for spec in bad for name in spec.names}
            checks: tuple[tuple[Severity, Callable[[Self], Iterable[tuple[str | None, str]]]], ...] = (
                (Severity.ERROR, lambda c: c.check()), (Severity.WARNING, lambda c: c.check_warnings()))
            for severity, method in checks:
                for checked_key, message in _agreed(variants, method):
                    if checked_key not in bad_keys and (key_prefix + (checked_key or "")) not in shown_bad:
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


Report = Callable[[Severity, "str | None", str, "Location | None"], None]


def _chosen(spec: ParamSpec, present: list[str], props: Mapping[str, Prop], report: Report, key_prefix: str) -> str:
    """Which of the names of ``spec`` set in ``props`` counts (its key wins); warns of deprecated names."""
    chosen = spec.key if spec.key in present else present[0]
    for name in present:
        if name in spec.deprecated:
            report(
                Severity.WARNING,
                name,
                f"is deprecated, use {key_prefix}{spec.key}"
                + (" (ignored: the new name is set)" if name != chosen else ""),
                props[name].location,
            )
    return chosen


@dataclass
class _NestedParse:
    """What parsing one nested parameter found; ``stand_in`` replaces a bad value in cross-field checks."""

    value: Any = None
    ok: bool = True
    diagnostics: list[Diagnostic] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    stand_in: Any = None


def _parse_nested(spec: ParamSpec, how: NestedSpec, props: Mapping[str, Prop], component: str,
                  key_prefix: str) -> _NestedParse:
    return _NestedParser(spec, how, props, component, key_prefix).parse()


class _NestedParser:
    """Parses one :func:`nested` or :func:`nested_list` parameter of a component."""

    def __init__(self, spec: ParamSpec, how: NestedSpec, props: Mapping[str, Prop], component: str,
                 key_prefix: str) -> None:
        self.spec, self.how, self.props = spec, how, props
        self.component, self.key_prefix = component, key_prefix
        self.found = _NestedParse()

    def report(self, severity: Severity, key: str | None, message: str, where: Location | None) -> None:
        self.found.diagnostics.append(
            Diagnostic(severity, where, self.component, self.key_prefix + (key or self.spec.key), message))

    def parse(self) -> _NestedParse:
        spec, how, props, found = self.spec, self.how, self.props, self.found
        present = [name for name in spec.names if name in props]
        found.used.update(present)
        found.used.update(k for k in props if k.startswith(how.options))
        prop = props[_chosen(spec, present, props, self.report, self.key_prefix)] if present else None
        if prop is None and spec.required:
            self.report(Severity.ERROR, spec.key, "is required" + _doc_hint(spec), None)
            found.ok = False
            return found
        where = prop.location if prop is not None else None
        if not how.many:
            type_name = prop.value.strip() if prop is not None else spec.default
            found.value = self.one(type_name, spec.default, prefix=how.options, name="", type_key=spec.key,
                                   where=where)
            found.ok = found.value is not None
            return found
        names = list(dict.fromkeys(prop.value.split())) if prop is not None else list(spec.default)
        items = []
        for name in names:
            type_key = f"{how.options}{name}.{how.type_key}"
            type_prop = props.get(type_key)
            item = self.one(type_prop.value.strip() if type_prop else how.item_default, how.item_default,
                            prefix=f"{how.options}{name}.", name=name, type_key=type_key,
                            where=type_prop.location if type_prop else where)
            found.ok = found.ok and item is not None
            items.append(item)
        self.unlisted(names)
        found.value = items
        if not found.ok:
            found.stand_in = []
        return found

    def one(self, type_name: str, default: Any, *, prefix: str, name: str, type_key: str,
            where: Location | None) -> Nested[Any] | None:
        """One nested component: resolve ``type_name``, parse the keys under ``prefix`` with its config class."""
        kind, found = self.how.kind, self.found
        try:
            cls = registry.resolve(kind, type_name)
        except ComponentNotFound as exc:
            self.report(Severity.ERROR, type_key, str(exc), where)
            found.stand_in = _stand_in_nested(kind, default, prefix, name)
            return None
        options = {k[len(prefix):]: p for k, p in self.props.items() if k.startswith(prefix) and k != type_key}
        parsed = nested_config_class(cls).parse_all(options, self.component, self.key_prefix + prefix)
        # A key the nested class requires has no line of its own: point at the key that chose the class.
        shown = [d if d.location is not None else dataclasses.replace(d, location=where) for d in parsed.diagnostics]
        found.diagnostics.extend(shown)
        if parsed.config is None:
            found.stand_in = (_stand_in_nested(kind, type_name, prefix, name)
                              or _stand_in_nested(kind, default, prefix, name))
            return None
        return Nested(kind, type_name, cls, parsed.config, prefix, name, tuple(d for d in shown if not d.is_error))

    def unlisted(self, names: list[str]) -> None:
        """Warn of keys under the list's prefix that belong to no listed item."""
        how, label = self.how, registry.label(self.how.kind)
        for key, prop in self.props.items():
            if not key.startswith(how.options) or any(key.startswith(f"{how.options}{n}.") for n in names):
                continue
            name = key[len(how.options):].partition(".")[0]
            if name in names:
                message = (f"unknown property, ignored (the keys of {label} '{name}' are under "
                           f"{self.key_prefix}{how.options}{name}.)")
            else:
                message = (f"{label} '{name}' is not listed in {self.key_prefix}{self.spec.key}; ignored"
                           + did_you_mean(name, names))
            self.report(Severity.WARNING, key, message, prop.location)


def _stand_in_nested(kind: str, type_name: Any, prefix: str, name: str) -> Nested[Any] | None:
    """``type_name`` with its default options, or None when that cannot be had."""
    if type_name is REQUIRED:
        return None
    try:
        return default_nested(kind, type_name, prefix, name)
    except Exception:  # unresolvable, or options without defaults: no stand-in, no cross-field checks
        return None


def _stand_in_values(spec: ParamSpec) -> list[Any] | None:
    """The default, a low and a high value of ``spec``'s type; None for a type without known values."""
    if spec.nested is not None:  # a nested value's stand-in comes from its parse (see _parse_nested)
        return None
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


def _stand_ins(cls: type[C], values: Mapping[str, Any], bad: list[ParamSpec],
               known: Mapping[str, list[Any]]) -> tuple[C, ...]:
    """Configurations of ``cls`` with ``values`` and each stand-in of the ``bad`` parameters in turn
    (``known``: the stand-ins of some, by attribute)."""
    choices = [(spec.attr, known[spec.attr] if spec.attr in known else _stand_in_values(spec)) for spec in bad]
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
        how = spec.nested
        if how is not None and how.many:
            item = f"{how.options}<{how.item_label}>."
            rows.append(f"| `{item}{how.type_key}` | `{how.item_default}` | {how.type_doc} |")
            rows.append(f"| `{item}*` |  | {how.options_doc} |")
        elif how is not None:
            rows.append(f"| `{how.options}*` |  | {how.options_doc} |")
    return "\n".join(rows)
