"""The state file: which servers devstack started (PID, port, data dir), shared by every invocation."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.errors import DevstackError
from devstack.paths import state_file
from devstack.servers.base import Record

_VERSION = 1


@contextmanager
def locked() -> Iterator[None]:
    """Serialise `up`/`down`/`restart`: parallel test workers may all run `up` at the same moment, and
    only one of them must start the servers while the others wait and then find them running."""
    lock_path = state_file().with_name(state_file().name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class State:
    def __init__(self, records: dict[str, Record] | None = None) -> None:
        self.records: dict[str, Record] = records or {}

    @classmethod
    def load(cls) -> State:
        path = state_file()
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise DevstackError(f"cannot read the state file {path}: {exc} (delete it if no server runs)") from exc
        try:
            servers = data["servers"]
            return cls({name: Record.from_json(entry) for name, entry in servers.items()})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DevstackError(f"the state file {path} is not devstack's: {exc!r}") from exc

    def save(self) -> None:
        """Write atomically (temp file + rename): `status`/`env` read it without taking the lock."""
        path = state_file()
        if not self.records:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": _VERSION, "servers": {name: rec.to_json() for name, rec in self.records.items()}}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)

    def path(self) -> Path:
        return state_file()
