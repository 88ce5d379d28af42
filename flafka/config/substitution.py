"""``${...}`` substitution in property values (Flume 1.10+ semantics, reference §1.5).

* ``${env:VAR}``: the environment variable VAR.
* ``${VAR}``: another key of the merged configuration named VAR if there is one, else the
  environment variable VAR (Flume 1.11 looks at config keys; 1.8-1.9's EnvVarResolverProperties
  looked at the environment; flafka accepts both spellings of intent).
* ``$${x}``: the literal text ``${x}``.

Unlike Flume, which leaves an unresolvable ``${...}`` in the value verbatim (and then, say, writes to a
directory literally named ``${DATA_DIR}``), an unresolvable reference is a configuration error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from flafka.config.diagnostics import Diagnostic, Severity
from flafka.config.properties import Prop

_REF = re.compile(r"\$(\$?)\{([^{}]*)\}")
_MAX_DEPTH = 10


def substitute(
    props: Mapping[str, Prop], env: Mapping[str, str] | None = None, prefix: str = ""
) -> tuple[dict[str, Prop], list[Diagnostic]]:
    """Resolve every ``${...}`` in the values of the keys of ``props`` that start with ``prefix``.

    References may name any key; keys outside ``prefix`` (other agents) are left untouched.
    """
    environ = os.environ if env is None else env
    diagnostics: list[Diagnostic] = []
    out: dict[str, Prop] = {}

    def resolve(key: str, value: str, depth: int) -> str:
        def replace(match: re.Match[str]) -> str:
            escaped, name = match.group(1), match.group(2)
            if escaped:
                return "${" + name + "}"
            if name.startswith("env:"):
                found = environ.get(name[4:])
            elif ":" in name:
                diagnostics.append(Diagnostic(
                    Severity.ERROR, props[key].location, key, None,
                    f"'${{{name}}}': only ${{env:NAME}} and ${{NAME}} lookups are supported",
                ))
                return match.group(0)
            elif name in props and name != key and depth < _MAX_DEPTH:
                found = resolve(name, props[name].value, depth + 1)
            else:
                found = environ.get(name)
            if found is None:
                diagnostics.append(Diagnostic(
                    Severity.ERROR, props[key].location, key, None,
                    f"'${{{name}}}' is not set (no such environment variable or configuration key); "
                    "write $${...} for a literal '${'",
                ))
                return match.group(0)
            return found

        return _REF.sub(replace, value)

    for key, prop in props.items():
        if "$" in prop.value and key.startswith(prefix):
            out[key] = Prop(resolve(key, prop.value, 0), prop.location)
        else:
            out[key] = prop
    return out, diagnostics
