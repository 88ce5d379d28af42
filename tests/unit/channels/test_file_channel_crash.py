"""The file channel killed with SIGKILL at random moments, in a child process.

Each child opens the channel on the same directories (replaying what the previous child left;
every other child without ``fsyncPerTransaction``: a process crash loses nothing either way), then
puts batches and takes some, printing what it did: ``P`` after a put commit returned, ``T?``
before a take commit and ``T!`` after it returned. The test kills it at a random line or a random
time (possibly during the replay). A final drain then checks the guarantees: nothing committed is
lost, nothing taken and committed comes back, nothing is delivered twice or invented, a put batch is
all-or-nothing, and the order is the commit order.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import flafka
from flafka.channels.file import FileChannel
from flafka.channels.file.checkpoint import DirectoryInUse
from flafka.testing import build, drain

CHILD_TIMEOUT = 20.0
ROUNDS = 20

CHILD = r'''
import random
import sys

from flafka.channels.file import FileChannel
from flafka.event import Event
from flafka.testing import build

mode, root, round_ = sys.argv[1], sys.argv[2], int(sys.argv[3])
props = {"checkpointDir": root + "/checkpoint", "dataDirs": root + "/data1," + root + "/data2",
         "capacity": "100000", "transactionCapacity": "100", "maxFileSize": "16000", "keep-alive": "0",
         "checkpointInterval": "20", "fsyncPerTransaction": "true" if round_ % 2 == 0 else "false"}
channel = build(FileChannel, props, "crash")
channel.start()
print("started", flush=True)


def body(round_, batch, i, k):
    return b"r%d-b%d-i%d-of%d." % (round_, batch, i, k) + b"." * ((round_ * 7 + batch * 13 + i) % 300)


if mode == "mixed":
    rng = random.Random(round_)
    for batch in range(1_000_000):
        if rng.random() < 0.1:
            tx = channel.transaction()
            tx.put_batch([Event(b"rolled-back", {})])
            tx.rollback()
            tx.close()
        k = rng.randint(1, 30)
        with channel.transaction() as tx:
            tx.put_batch([Event(body(round_, batch, i, k), {"round": str(round_)}) for i in range(k)])
        print("P %d %d %d" % (round_, batch, k), flush=True)
        if rng.random() < 0.5:
            tx = channel.transaction()
            taken = tx.take_batch(rng.randint(1, 40))
            print("T? " + " ".join(e.body.split(b".")[0].decode() for e in taken), flush=True)
            tx.commit()
            tx.close()
            print("T!", flush=True)
elif mode == "take-and-hold":
    with channel.transaction() as tx:
        taken = tx.take_batch(int(sys.argv[4]))
    print("took " + " ".join(e.body.decode() for e in taken), flush=True)
    tx = channel.transaction()
    held = tx.take_batch(int(sys.argv[5]))
    print("holding " + " ".join(e.body.decode() for e in held), flush=True)
    sys.stdin.read()
elif mode == "put-and-hold":
    tx = channel.transaction()
    tx.put_batch([Event(b"never committed %d" % i) for i in range(5)])
    print("holding", flush=True)
    sys.stdin.read()
elif mode == "hold":
    sys.stdin.read()
'''


def props(root: Path) -> dict[str, str]:
    return {"checkpointDir": str(root / "checkpoint"), "dataDirs": f"{root / 'data1'},{root / 'data2'}",
            "capacity": "100000", "transactionCapacity": "100", "maxFileSize": "16000", "keep-alive": "0"}


class Child:
    """A child process running CHILD; its stdout lines arrive on ``lines`` (None at EOF)."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        script = tmp_path / "child.py"
        if not script.exists():
            script.write_text(CHILD)
        env = dict(os.environ, PYTHONPATH=str(Path(flafka.__file__).resolve().parents[1]))
        self.proc = subprocess.Popen([sys.executable, str(script), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._ended = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode().rstrip("\n"))
        self.lines.put(None)

    def next_line(self) -> str | None:
        try:
            line = self.lines.get(timeout=CHILD_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"child printed nothing for {CHILD_TIMEOUT}s") from None
        if line is None:
            self._ended = True
        else:
            self.seen.append(line)
        return line

    def wait_for(self, prefix: str) -> str:
        while True:
            line = self.next_line()
            if line is None:
                raise AssertionError(f"child ended before printing {prefix!r}: {self.stderr()}")
            if line.startswith(prefix):
                return line

    def kill(self) -> list[str]:
        """SIGKILL the child; every line it printed before dying."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(CHILD_TIMEOUT)
        while not self._ended:
            self.next_line()
        self._reader.join(CHILD_TIMEOUT)
        return self.seen

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")

    def close(self) -> None:
        self.kill()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def children(tmp_path: Path) -> Iterator[list[Child]]:
    made: list[Child] = []
    yield made
    for child in made:
        child.close()


def spawn(children: list[Child], tmp_path: Path, *args: str) -> Child:
    child = Child(tmp_path, *args)
    children.append(child)
    return child


@dataclass
class Ledger:
    """What the children reported: committed put batches, and every delivery of every event in order."""

    batches: dict[tuple[int, int], int] = field(default_factory=dict)  # (round, batch) -> events
    deliveries: dict[str, list[str]] = field(default_factory=dict)  # event -> "taken", "unsure", "final"

    def record(self, lines: list[str]) -> None:
        pending: list[str] | None = None
        for line in lines:
            if line.startswith("P "):
                _, round_, batch, k = line.split()
                self.batches[int(round_), int(batch)] = int(k)
            elif line.startswith("T?"):
                pending = line.split()[1:]
            elif line == "T!":
                assert pending is not None
                self.deliver(pending, "taken")
                pending = None
        if pending is not None:  # killed between a take's commit call and its "T!": it may have committed
            self.deliver(pending, "unsure")

    def deliver(self, names: list[str], how: str) -> None:
        for name in names:
            self.deliveries.setdefault(name, []).append(how)


def key(name: str) -> tuple[int, int, int, int]:
    """``r3-b7-i2-of5`` -> (3, 7, 2, 5)."""
    r, b, i, of = name.split("-")
    return int(r[1:]), int(b[1:]), int(i[1:]), int(of[2:])


def test_sigkill_at_random_moments_loses_nothing_committed_and_repeats_nothing(
        tmp_path: Path, children: list[Child]) -> None:
    rng = random.Random(1234)
    ledger = Ledger()
    for round_ in range(ROUNDS):
        child = spawn(children, tmp_path, "mixed", str(tmp_path), str(round_))
        if round_ % 4 == 3:
            # A random moment, possibly during start-up and replay.
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(timeout=rng.uniform(0.05, 0.6))
        else:
            child.wait_for("started")
            for _ in range(rng.randint(0, 40)):
                if child.next_line() is None:
                    break
        lines = child.kill()
        assert child.proc.returncode == -signal.SIGKILL, child.stderr()
        ledger.record(lines)
    assert len(ledger.batches) > 100, "the children committed too little to test anything"

    channel = build(FileChannel, props(tmp_path), "final")
    channel.start()
    try:
        delivered = [e.body.split(b".")[0].decode() for e in drain(channel)]
        # A kill can only tear the newest segment: its last records (truncated there) or, during a roll, its
        # header (the new segment held nothing yet and is deleted).
        assert all("truncated the segment there" in p or "deleted the segment" in p
                   for p in channel.replay_problems), channel.replay_problems
    finally:
        channel.stop()

    assert "rolled-back" not in delivered
    assert len(set(delivered)) == len(delivered), "an event was delivered twice by the final drain"
    ledger.deliver(delivered, "final")
    for name, history in ledger.deliveries.items():
        # Only a take whose commit may not have happened can be followed by another delivery.
        assert all(how == "unsure" for how in history[:-1]), f"{name} delivered again: {history}"
    everything = set(ledger.deliveries)
    committed = {f"r{r}-b{b}-i{i}-of{k}" for (r, b), k in ledger.batches.items() for i in range(k)}
    assert committed <= everything, f"committed events lost: {sorted(committed - everything)[:5]}"
    batches: dict[tuple[int, int], set[int]] = {}
    for name in everything:
        r, b, i, k = key(name)
        batches.setdefault((r, b), set()).add(i)
    for (r, b), seen in batches.items():
        k = key(next(n for n in everything if n.startswith(f"r{r}-b{b}-")))[3]
        assert seen == set(range(k)), f"batch r{r}-b{b} is partly there: {sorted(seen)} of {k}"
    assert [key(n) for n in delivered] == sorted(key(n) for n in delivered), "not in commit order"


def test_an_open_take_of_a_killed_process_is_delivered_again_and_its_committed_take_is_not(
        tmp_path: Path, children: list[Child]) -> None:
    channel = build(FileChannel, props(tmp_path), "setup")
    channel.start()
    from flafka.event import Event

    with channel.transaction() as tx:
        tx.put_batch([Event(b"e%d" % i) for i in range(10)])
    channel.stop()
    child = spawn(children, tmp_path, "take-and-hold", str(tmp_path), "0", "3", "4")
    assert child.wait_for("took") == "took e0 e1 e2"
    assert child.wait_for("holding") == "holding e3 e4 e5 e6"
    child.kill()
    channel = build(FileChannel, props(tmp_path), "after")
    channel.start()
    try:
        assert [e.body for e in drain(channel)] == [b"e%d" % i for i in range(3, 10)]
    finally:
        channel.stop()


def test_an_uncommitted_put_of_a_killed_process_never_appears(tmp_path: Path, children: list[Child]) -> None:
    child = spawn(children, tmp_path, "put-and-hold", str(tmp_path), "0")
    child.wait_for("holding")
    child.kill()
    channel = build(FileChannel, props(tmp_path), "after")
    channel.start()
    try:
        assert drain(channel) == []
    finally:
        channel.stop()


def test_a_second_process_cannot_open_the_directories(tmp_path: Path, children: list[Child]) -> None:
    child = spawn(children, tmp_path, "hold", str(tmp_path), "0")
    child.wait_for("started")
    channel = build(FileChannel, props(tmp_path), "second")
    with pytest.raises(DirectoryInUse) as info:
        channel.start()
    assert str(info.value) == (
        f"channel directory {tmp_path / 'checkpoint'} is in use by another process (pid {child.proc.pid}); "
        "each file channel needs its own checkpointDir and dataDirs")
    child.kill()
    channel.start()  # the kernel released the dead process's locks
    channel.stop()
