"""The servers the demo needs (Kafka, ZooKeeper, HDFS, HBase and its Thrift server), from ``devstack``.

Servers already running (their ``FLAFKA_*`` variables exported, or recorded by ``python -m devstack``) are
used and left running. Otherwise the demo starts its own set under a private state file and stops exactly that
set at the end, so it never stops servers somebody else started.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

__all__ = ["NEEDED", "Servers", "parse_env"]

NEEDED = ("FLAFKA_KAFKA_BOOTSTRAP", "FLAFKA_HDFS_URL", "FLAFKA_HBASE_THRIFT")


def parse_env(text: str) -> dict[str, str]:
    """The ``export NAME=value`` lines devstack prints, as a dict."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            env[name] = value
    return env


class Servers:
    """Context manager: ``env`` holds the servers' addresses while it is open."""

    def __init__(self, say: object = print) -> None:
        self.env: dict[str, str] = {}
        self._say = say
        self._state: Path | None = None

    def _devstack(self, *args: str, state: Path | None = None, check: bool = True) -> str:
        env = dict(os.environ)
        if state is not None:
            env["FLAFKA_DEVSTACK_STATE"] = str(state)
        done = subprocess.run([sys.executable, "-m", "devstack", *args], env=env, stdout=subprocess.PIPE,
                              stderr=None, text=True, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"`python -m devstack {' '.join(args)}` failed (exit {done.returncode}); its "
                               f"messages are above")
        return done.stdout

    def __enter__(self) -> Servers:
        if all(os.environ.get(name) for name in NEEDED):
            self.env = {name: os.environ[name] for name in os.environ if name.startswith("FLAFKA_")}
            self._note("using the servers named by FLAFKA_* in the environment")
            return self
        running = parse_env(self._devstack("env", check=False))
        if all(running.get(name) for name in NEEDED):
            self.env = running
            self._note("using the running devstack servers")
            return self
        self._state = Path(tempfile.mkdtemp(prefix="flafka-demo-devstack-")) / "state.json"
        self._note("starting Kafka, ZooKeeper, HDFS and HBase (python -m devstack up; about a minute, longer the "
                   "first time: the jars come from Maven)")
        try:
            self.env = parse_env(self._devstack("up", state=self._state))
            self.env.update(parse_env(self._devstack("up", "hbase", state=self._state)))
        except BaseException:
            self._devstack("down", state=self._state, check=False)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._state is not None:
            self._note("stopping the servers the demo started")
            self._devstack("down", state=self._state, check=False)

    def _note(self, text: str) -> None:
        say = self._say
        if callable(say):
            say(text)
