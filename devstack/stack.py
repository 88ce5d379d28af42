"""The operations behind the commands: up, down, restart, status, env, fetch."""

from __future__ import annotations

import shlex
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from devstack import proc
from devstack.errors import DevstackError
from devstack.jars import ensure_jars
from devstack.paths import start_timeout
from devstack.servers import SERVERS, Record, expand, with_dependents, with_requirements
from devstack.servers.base import Say
from devstack.state import State, locked


def _ordered(state: State) -> list[Record]:
    """Recorded servers in start order; ones this checkout does not know (written by a newer one) last."""
    known = [state.records[name] for name in SERVERS if name in state.records]
    return known + [rec for name, rec in state.records.items() if name not in SERVERS]


def _stop(rec: Record, say: Say) -> bool:
    """Stop one server by PID; True when it needed SIGKILL."""
    if not rec.alive():
        return False
    started = time.monotonic()
    killed = proc.stop(rec.pid, rec.config)
    how = "killed (SIGKILL after SIGTERM timed out)" if killed else "stopped"
    say(f"{rec.name}: {how} pid {rec.pid} in {time.monotonic() - started:.1f}s")
    return killed


def _discard(rec: Record, state: State, say: Say) -> None:
    """Stop a server and forget it: data dir removed, state entry dropped (saved at once)."""
    _stop(rec, say)
    shutil.rmtree(rec.data_dir, ignore_errors=True)
    state.records.pop(rec.name, None)
    state.save()


def fetch(names: Iterable[str], say: Say) -> None:
    for jar_set in dict.fromkeys(SERVERS[name].jar_set for name in with_requirements(names)):
        ensure_jars(jar_set, say)


def _launch(rec: Record, state: State, java: str, timeout: float, say: Say, *, verb: str) -> None:
    """Start one server from its (already written) config and wait until it answers."""
    server = SERVERS[rec.name]
    deps = {dep: state.records[dep] for dep in server.requires}
    server.before_start(rec, deps, timeout, say)
    lib = ensure_jars(server.jar_set, say)
    popen = server.spawn(java, lib, rec)
    state.records[rec.name] = rec
    state.save()  # recorded before the wait: an interrupted command still leaves it stoppable
    took = server.wait_ready(popen, rec, timeout)
    say(f"{rec.name}: {verb} at {server.describe(rec)} (pid {rec.pid}, answered after {took:.1f}s)")


def up(names: Iterable[str], say: Say) -> State:
    """Start `names` (and what they require) unless already running.

    A recorded server whose process is gone is started again in place (same port and data: the rest
    of the stack, e.g. ZooKeeper's view of the topics, still matches it). On any failure the servers
    this call started from scratch are removed again, so a failed `up` leaves nothing half-started.
    """
    order = with_requirements(names)
    timeout = start_timeout()
    with locked():
        state = State.load()
        created: list[Record] = []  # started from scratch by this call: removed again on failure
        revived: list[Record] = []  # started again in place: stopped on failure, data kept
        fresh: set[str] = set()
        java: str | None = None
        try:
            for name in order:
                server = SERVERS[name]
                rec = state.records.get(name)
                renewed = [dep for dep in server.requires if dep in fresh]
                if rec is not None and renewed:
                    # Its dependency is a new, empty server (e.g. a fresh ZooKeeper): the old broker's
                    # data belongs to another cluster id and would refuse to start against it.
                    say(f"{name}: starting from scratch, {', '.join(renewed)} was started anew")
                    _discard(rec, state, say)
                    rec = None
                elif rec is not None and not rec.alive() and not Path(rec.config).is_file():
                    say(f"{name}: recorded pid {rec.pid} is gone and so is {rec.data_dir}; starting anew")
                    _discard(rec, state, say)
                    rec = None
                if rec is not None:
                    server.check_compatible(rec)
                    if rec.alive():
                        say(f"{name}: already running at {server.describe(rec)} (pid {rec.pid})")
                        continue
                    say(f"{name}: recorded pid {rec.pid} is gone; starting it again with its data")
                    java = java or proc.find_java()
                    revived.append(rec)
                    _launch(rec, state, java, timeout, say, verb="up again")
                    continue

                java = java or proc.find_java()
                ensure_jars(server.jar_set, say)  # before the data dir, so a failed fetch leaves none
                data_dir = Path(tempfile.mkdtemp(prefix=f"flafka-devstack-{name}-"))
                rec = Record(name=name, pid=0, port=proc.free_port(), data_dir=str(data_dir), config="")
                created.append(rec)  # from here on a failure must remove data_dir (and the process)
                prepared = server.configure(data_dir, rec.port, {dep: state.records[dep] for dep in server.requires})
                rec.config, rec.extra = str(prepared.config), prepared.extra
                _launch(rec, state, java, timeout, say, verb="up")
                fresh.add(name)
        except BaseException:
            for rec in reversed(created):
                _discard(rec, state, say)
            for rec in reversed(revived):
                _stop(rec, say)
            raise
        return state


def down(names: Iterable[str], say: Say) -> None:
    """Stop the named servers (and those needing them), or every recorded one; dependents stop first."""
    with locked():
        state = State.load()
        chosen = list(names)
        if chosen:
            targets = [state.records[name] for name in with_dependents(chosen) if name in state.records]
        else:
            targets = _ordered(state)
        if not targets:
            say("nothing to stop")
            return
        for rec in reversed(targets):
            _discard(rec, state, say)
            say(f"{rec.name}: removed {rec.data_dir}")


def restart(names: Iterable[str], say: Say) -> State:
    """Stop and start servers in place: same port, same data dir, same config (e.g. a broker restart
    in the middle of a stream). No names = every recorded server. Servers left running that need a
    restarted one are waited for until they answer again (the DataNode after a NameNode restart)."""
    timeout = start_timeout()
    with locked():
        state = State.load()
        chosen = expand(names)
        missing = [name for name in chosen if name not in state.records]
        if missing:
            raise DevstackError(f"not started by devstack: {', '.join(missing)} (use `python -m devstack up`)")
        targets = [state.records[name] for name in SERVERS if name in state.records and (not chosen or name in chosen)]
        for rec in reversed(targets):
            _stop(rec, say)
        java = proc.find_java()
        for rec in targets:
            try:
                _launch(rec, state, java, timeout, say, verb="restarted")
            except BaseException:
                # Keep the record and data (they may matter to the test); only the process goes.
                _stop(rec, say)
                raise
        restarted = {rec.name for rec in targets}
        for name in with_dependents(restarted):
            dependent = state.records.get(name)
            if name not in restarted and dependent is not None and dependent.alive():
                _wait_answering(dependent, timeout, say)
        return state


def _wait_answering(rec: Record, timeout: float, say: Say) -> None:
    """Wait until a server that kept running answers again after a server it needs was restarted.

    E.g. the DataNode after `restart namenode`: HDFS takes writes only once the DataNode has registered
    with the new NameNode and reported its blocks (until then the NameNode stays in safe mode).
    """
    server = SERVERS[rec.name]
    started = time.monotonic()
    deadline = started + timeout
    while not server.probe(rec):
        if time.monotonic() >= deadline:
            raise DevstackError(
                f"{rec.name} (pid {rec.pid}) did not answer within {timeout:.0f}s after the restart of what it "
                f"requires\n{server.log_tail(rec)}"
            )
        time.sleep(0.25)
    say(f"{rec.name}: answering again after {time.monotonic() - started:.1f}s")


@dataclass(frozen=True)
class ServerStatus:
    record: Record
    alive: bool
    answering: bool

    def line(self) -> str:
        rec = self.record
        state = "up" if self.answering else "down"
        note = " (process alive but not answering)" if self.alive and not self.answering else ""
        return f"{rec.name:<12} pid {rec.pid:<8} port {rec.port:<6} {state:<5} {rec.data_dir}{note}"


def status() -> list[ServerStatus]:
    result = []
    for rec in _ordered(State.load()):
        alive = rec.alive()
        server = SERVERS.get(rec.name)
        answering = alive and (server.probe(rec) if server is not None else True)
        result.append(ServerStatus(rec, alive, answering))
    return result


def env_lines(state: State | None = None) -> list[str]:
    """`export NAME=value` lines for every running server, in start order."""
    lines = []
    for rec in _ordered(state or State.load()):
        server = SERVERS.get(rec.name)
        if server is None or not rec.alive():
            continue
        lines += [f"export {key}={shlex.quote(value)}" for key, value in server.env(rec).items()]
    return lines
