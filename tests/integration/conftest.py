"""Integration tests run against the real servers of `devstack/` (DESIGN.md: never mocks).

The session fixture `devstack` uses the servers named by $FLAFKA_KAFKA_BOOTSTRAP (and $FLAFKA_ZOOKEEPER)
when set, e.g. after `eval "$(python -m devstack up)"`; otherwise it runs `python -m devstack up kafka`
itself and `down` at the end, for the servers it started only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.kafka_tools import KafkaTools

REPO_ROOT = Path(__file__).resolve().parents[2]
_HERE = Path(__file__).resolve().parent
_UP_TIMEOUT = 600  # a first run also downloads the jars through Maven

def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A hook in this conftest sees every collected item, not only this directory's: filter by path.
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class Devstack:
    kafka_bootstrap: str  # host:port of the broker
    zookeeper: str | None  # host:port of ZooKeeper (None when only FLAFKA_KAFKA_BOOTSTRAP was given)
    kafka_zk_connect: str | None  # the broker's zookeeper.connect, with its chroot if any


def _devstack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_UP_TIMEOUT,
        check=False,
    )


def _running() -> set[str]:
    """Servers devstack already runs (they are reused, and left running at the end)."""
    out = _devstack("status").stdout
    return {m.group(1) for m in re.finditer(r"^(\S+)\s.*\bup\b", out, re.MULTILINE)}


def _parse_env(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        m = re.fullmatch(r"export (\w+)=(.*)", line.strip())
        if m:
            env[m.group(1)] = m.group(2).strip("'")
    return env


@pytest.fixture(scope="session")
def devstack() -> Iterator[Devstack]:
    bootstrap = os.environ.get("FLAFKA_KAFKA_BOOTSTRAP")
    if bootstrap:
        yield Devstack(
            kafka_bootstrap=bootstrap,
            zookeeper=os.environ.get("FLAFKA_ZOOKEEPER") or None,
            kafka_zk_connect=os.environ.get("FLAFKA_KAFKA_ZK_CONNECT") or None,
        )
        return

    before = _running()
    up = _devstack("up", "kafka")
    ours = [name for name in ("kafka", "zookeeper") if name not in before]
    try:
        if up.returncode != 0:
            pytest.fail(f"`python -m devstack up kafka` failed (exit {up.returncode}):\n{up.stderr}", pytrace=False)
        env = _parse_env(_devstack("env").stdout)
        yield Devstack(
            kafka_bootstrap=env["FLAFKA_KAFKA_BOOTSTRAP"],
            zookeeper=env.get("FLAFKA_ZOOKEEPER"),
            kafka_zk_connect=env.get("FLAFKA_KAFKA_ZK_CONNECT"),
        )
    finally:
        if ours:
            down = _devstack("down", *ours)
            if down.returncode != 0:
                sys.stderr.write(f"`python -m devstack down` failed:\n{down.stderr}\n")


@pytest.fixture(scope="session")
def kafka(devstack: Devstack) -> KafkaTools:
    """Topic creation, producing and reading back against the devstack broker."""
    return KafkaTools(devstack.kafka_bootstrap)

