"""The exec source: a command's output lines become events, batched, retried, restarted."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator

import pytest

from flafka.channels.memory import MemoryChannel
from flafka.errors import ConfigError
from flafka.event import Event
from flafka.sources.exec import ExecSource, LineSplitter, split_lines
from flafka.testing import build, drain, wait_until, wired_source

TIMEOUT = 5.0
SH = {"shell": "/bin/sh -c"}

SourceFactory = Callable[..., ExecSource]


@pytest.fixture
def make_source() -> Iterator[SourceFactory]:
    started: list[ExecSource] = []

    def make(ch: MemoryChannel, command: str, **props: str) -> ExecSource:
        source = build(ExecSource, {"command": command, **props}, "r1")
        wired_source(source, [ch])
        source.start()
        started.append(source)
        return source

    yield make
    for source in started:
        source.stop()


def collect(channel: MemoryChannel, count: int) -> list[bytes]:
    """Drain ``channel`` until ``count`` events were taken (fails on timeout); their bodies."""
    bodies: list[bytes] = []

    def enough() -> bool:
        bodies.extend(e.body for e in drain(channel))
        return len(bodies) >= count

    wait_until(enough, TIMEOUT, message=f"{count} events")
    return bodies


def reader_done(source: ExecSource) -> bool:
    thread = source._thread
    return thread is not None and not thread.is_alive()


def test_output_lines_become_events_in_order(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel, "printf 'a\\nb\\nc\\n'", **SH)
    wait_until(lambda: reader_done(source), TIMEOUT, message="the command to end")
    events = drain(channel)
    assert [e.body for e in events] == [b"a", b"b", b"c"]
    assert all(e.headers == {} for e in events)
    assert source.counter.event_accepted_count == 3


def test_line_endings_as_java_readline(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel, "printf 'crlf\\r\\ncr\\rlf\\n\\nlast'", **SH)
    wait_until(lambda: reader_done(source), TIMEOUT, message="the command to end")
    assert [e.body for e in drain(channel)] == [b"crlf", b"cr", b"lf", b"", b"last"]


def test_command_without_shell_is_split_on_whitespace(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel, "echo  one   two")
    wait_until(lambda: reader_done(source), TIMEOUT, message="the command to end")
    assert [e.body for e in drain(channel)] == [b"one two"]


def test_full_batch_is_sent_at_once_and_the_rest_after_the_timeout(
    channel: MemoryChannel, make_source: SourceFactory
) -> None:
    # The command stays alive, so "c" can only arrive through the batch timeout.
    source = make_source(channel, "printf 'a\\nb\\nc\\n'; exec sleep 60", batchSize="2", batchTimeout="200", **SH)
    began = time.monotonic()
    assert collect(channel, 2) == [b"a", b"b"]
    assert collect(channel, 1) == [b"c"]
    assert time.monotonic() - began >= 0.15  # "c" waited for the 200 ms timeout
    assert source.counter.append_batch_accepted_count == 2
    assert not reader_done(source)


def test_partial_batch_waits_for_its_timeout(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel, "echo only; exec sleep 60", batchSize="5", batchTimeout="60000", **SH)
    wait_until(lambda: source._process is not None, TIMEOUT)
    # The line sits in a batch that is neither full nor timed out yet.
    assert not channel.wait_for_events(0.3)
    source.stop()
    assert [e.body for e in drain(channel)] == [b"only"]  # delivered when the source stops


def test_restart_runs_the_command_again(channel: MemoryChannel, make_source: SourceFactory) -> None:
    make_source(channel, "echo run", restart="true", restartThrottle="10")
    bodies = collect(channel, 3)
    assert len(bodies) >= 3
    assert set(bodies) == {b"run"}


def test_no_restart_by_default(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel, "echo once")
    wait_until(lambda: reader_done(source), TIMEOUT, message="the command to end")
    assert [e.body for e in drain(channel)] == [b"once"]


def test_full_channel_is_retried_until_it_drains_nothing_lost(make_source: SourceFactory) -> None:
    ch = build(MemoryChannel, {"capacity": "5", "transactionCapacity": "5", "keep-alive": "0"}, "c1")
    ch.start()
    try:
        source = make_source(ch, "seq 1 53", batchSize="5", batchTimeout="50")
        # The channel fills after one batch; the next is refused several times before anyone drains.
        wait_until(lambda: source.counter.channel_write_fail >= 3, TIMEOUT, message="refused batches")
        assert ch.size() == 5
        assert collect(ch, 53) == [str(i).encode() for i in range(1, 54)]
        wait_until(lambda: reader_done(source), TIMEOUT, message="the command to end")
        assert drain(ch) == []
    finally:
        ch.stop()


def test_stop_kills_a_long_running_command_promptly(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel, "echo $$; exec sleep 60", batchSize="1", **SH)
    (pid,) = collect(channel, 1)
    began = time.monotonic()
    source.stop()
    assert time.monotonic() - began < 3.0
    assert not source._thread
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process groups from /proc")
def test_stop_kills_the_children_of_a_shell(channel: MemoryChannel, make_source: SourceFactory) -> None:
    # Without killing the process group, "sleep" would keep the pipe open and the reader blocked.
    source = make_source(channel, "echo $$; sleep 60 | cat; echo never", batchSize="1", **SH)
    (pid,) = collect(channel, 1)
    assert group_members(int(pid))
    began = time.monotonic()
    source.stop()
    assert time.monotonic() - began < 3.0
    wait_until(lambda: not group_members(int(pid)), TIMEOUT, message="the process group to end")
    assert drain(channel) == []


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, read from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def test_missing_program_does_not_kill_the_source(
    channel: MemoryChannel, make_source: SourceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "flafka.sources.exec")
    source = make_source(channel, "/nonexistent/program")
    wait_until(lambda: reader_done(source), TIMEOUT)
    assert "could not run its command" in caplog.text


def test_log_stderr(channel: MemoryChannel, make_source: SourceFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "flafka.sources.exec")
    source = make_source(channel, "echo out; echo oops >&2", logStdErr="true", **SH)
    wait_until(lambda: "oops" in caplog.text, TIMEOUT, message="the stderr line in the log")
    record = next(r for r in caplog.records if "oops" in r.getMessage())
    assert record.levelno == logging.INFO
    assert "r1" in record.getMessage()
    wait_until(lambda: reader_done(source), TIMEOUT)
    assert [e.body for e in drain(channel)] == [b"out"]


def test_charset_and_invalid_bytes(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel, "printf 'caf\\351\\n'", charset="ISO-8859-1", **SH)
    wait_until(lambda: reader_done(source), TIMEOUT)
    assert [e.body for e in drain(channel)] == [b"caf\xe9"]  # encoded back in the charset, as Flume
    bad = make_source(channel, "printf 'ok\\377\\n'", **SH)
    wait_until(lambda: reader_done(bad), TIMEOUT)
    assert [e.body for e in drain(channel)] == ["ok\ufffd".encode()]
    assert bad.counter.event_read_fail == 1


def test_stop_after_start_without_channel_activity_and_twice(channel: MemoryChannel) -> None:
    source = build(ExecSource, {"command": "sleep 60"}, "r1")
    wired_source(source, [channel])
    source.stop()  # never started
    source.start()
    source.stop()
    source.stop()


def test_config() -> None:
    with pytest.raises(ConfigError, match="command"):
        build(ExecSource, {})
    with pytest.raises(ConfigError, match="unknown character set"):
        build(ExecSource, {"command": "true", "charset": "nope"})
    config = build(ExecSource, {"command": "tail -F /x", "shell": "/bin/bash -c"}).config
    assert config.argv() == ["/bin/bash", "-c", "tail -F /x"]
    assert (
        config.restart,
        config.restart_throttle,
        config.log_stderr,
        config.events_per_transaction(),
        config.batch_timeout,
        config.charset,
    ) == (False, 10000, False, 20, 3000, "UTF-8")
    assert build(ExecSource, {"command": "a  b"}).config.argv() == ["a", "b"]


def test_events_have_no_headers_even_with_many_lines(channel: MemoryChannel, make_source: SourceFactory) -> None:
    source = make_source(channel, "seq 1 1000", batchSize="100", **SH)
    wait_until(lambda: reader_done(source), TIMEOUT)
    events = drain(channel)
    assert events == [Event(str(i).encode()) for i in range(1, 1001)]
    assert source.counter.append_batch_accepted_count == 10


class CountingSplit:
    """The splitter's only line-end scanner, counting the characters it is given."""

    def __init__(self) -> None:
        self.scanned = 0

    def __call__(self, text: str) -> list[str]:
        self.scanned += len(text)
        return split_lines(text)


def test_a_long_line_in_many_pieces_is_scanned_once() -> None:
    # A 4 MiB line arriving as 4096 reads: rescanning what was read before would scan ~8 GiB.
    split = CountingSplit()
    splitter = LineSplitter(split)
    piece = "a" * 1024
    assert all(splitter.feed(piece) == [] for _ in range(4096))
    assert splitter.feed("b\nc") == [piece * 4096 + "b"]
    assert splitter.finish() == ["c"]
    assert split.scanned <= 2 * (4096 * 1024 + 3)


@pytest.mark.parametrize(
    ("pieces", "lines"),
    [
        (["a\r", "\nb\n"], ["a", "b"]),  # \r\n split across reads is one line end
        (["a\r", "b\r", "\r\n"], ["a", "b", ""]),
        (["a\r", "", "\n"], ["a"]),  # a read that decoded to nothing (half a character)
        (["a\r"], ["a"]),  # \r then end of output
        (["x", "y", "z"], ["xyz"]),  # unterminated last line is kept
        (["", "\n", "\n"], ["", ""]),
        (["one\ntwo\r\nthree\rfour"], ["one", "two", "three", "four"]),
    ],
)
def test_line_splitter_line_ends_across_pieces(pieces: list[str], lines: list[str]) -> None:
    splitter = LineSplitter()
    out = [line for piece in pieces for line in splitter.feed(piece)]
    assert out + splitter.finish() == lines
