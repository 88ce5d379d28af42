"""Where devstack keeps its files, and the knobs read from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from devstack.errors import DevstackError

PACKAGE_DIR = Path(__file__).resolve().parent
POM = PACKAGE_DIR / "pom.xml"

DEFAULT_START_TIMEOUT = 60.0


def cache_root() -> Path:
    """Jar sets and the default state file live here (survives reboots, unlike the server data)."""
    override = os.environ.get("FLAFKA_DEVSTACK_CACHE")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "flafka-devstack"


def state_file() -> Path:
    """The JSON file recording what runs (PIDs, ports, data dirs); `$FLAFKA_DEVSTACK_STATE` overrides it."""
    override = os.environ.get("FLAFKA_DEVSTACK_STATE")
    if override:
        return Path(override).expanduser()
    return cache_root() / "state.json"


def start_timeout() -> float:
    """Seconds a server gets to answer after start (`$FLAFKA_DEVSTACK_TIMEOUT`, default 60)."""
    raw = os.environ.get("FLAFKA_DEVSTACK_TIMEOUT")
    if not raw:
        return DEFAULT_START_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise DevstackError(f"FLAFKA_DEVSTACK_TIMEOUT={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise DevstackError(f"FLAFKA_DEVSTACK_TIMEOUT={raw!r} must be positive")
    return value
