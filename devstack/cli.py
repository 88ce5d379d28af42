"""Command line: `python -m devstack {up,down,status,env,restart,fetch} [server ...]`, `... hadoop TOOL ARGS`."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

from devstack import hadoop, stack
from devstack.errors import DevstackError
from devstack.paths import state_file
from devstack.servers import ON_DEMAND, SERVERS


def _say(message: str) -> None:
    # Progress goes to stderr: stdout of `up` and `env` is meant for `eval`.
    print(f"devstack: {message}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    known = ", ".join(SERVERS)
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Run the real Apache servers flafka is tested against, on 127.0.0.1, from pinned jars.",
        epilog=(
            f"Servers: {known}. State file: {state_file()} ($FLAFKA_DEVSTACK_STATE). "
            "FLAFKA_KAFKA_ZK_CHROOT=/kafka at `up` puts the broker under that ZooKeeper chroot."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    servers_help = f"servers ({known}); none = all but {', '.join(sorted(ON_DEMAND))} (started only when named)"
    p = sub.add_parser("up", help="fetch jars once, start servers (and what they need), wait until they answer")
    p.add_argument("servers", nargs="*", help=servers_help)
    p = sub.add_parser("down", help="stop servers by PID (dependents first) and remove their data")
    p.add_argument("servers", nargs="*", help=servers_help)
    p = sub.add_parser("restart", help="stop and start servers keeping their port and data")
    p.add_argument("servers", nargs="*", help=servers_help)
    p = sub.add_parser("fetch", help="only fetch (and cache) the jars")
    p.add_argument("servers", nargs="*", help=servers_help)
    sub.add_parser("status", help="one line per recorded server; exit 0 when all of them are up")
    sub.add_parser("env", help="print `export FLAFKA_...=...` lines for the running servers (for eval)")
    p = sub.add_parser(
        "hadoop",
        help="run a Hadoop tool from the hdfs jars against the devstack HDFS ($HADOOP_CONF_DIR if set)",
        description=f"Aliases: {', '.join(f'{alias}={cls}' for alias, cls in hadoop.TOOLS.items())}.",
    )
    p.add_argument("tool", help="an alias (fs, debug, dfsadmin, ...) or a main class")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the tool's own arguments")
    return parser


def _run(args: argparse.Namespace) -> int:
    command: str = args.command
    if command == "up":
        started = time.monotonic()
        state = stack.up(args.servers, _say)
        _say(f"ready in {time.monotonic() - started:.1f}s")
        for line in stack.env_lines(state):
            print(line)
        return 0
    if command == "down":
        stack.down(args.servers, _say)
        return 0
    if command == "restart":
        stack.restart(args.servers, _say)
        return 0
    if command == "fetch":
        stack.fetch(args.servers, _say)
        return 0
    if command == "status":
        statuses = stack.status()
        if not statuses:
            print("no server recorded (start them with `python -m devstack up`)")
            return 1
        for entry in statuses:
            print(entry.line())
        return 0 if all(entry.answering for entry in statuses) else 1
    if command == "hadoop":
        # The tool's output and exit code are the command's: nothing captured, nothing added.
        cmd = hadoop.command(args.tool, args.args, hadoop.conf_dir())
        return subprocess.run(cmd, check=False).returncode
    if command == "env":
        lines = stack.env_lines()
        if not lines:
            _say("no server is running (start them with `python -m devstack up`)")
            return 1
        for line in lines:
            print(line)
        return 0
    raise AssertionError(command)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM/SIGHUP (a CI job cancelled, a test runner's timeout) into an exception, so a
    # half-done `up` still stops the servers it started instead of leaving them orphaned.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
    try:
        return _run(args)
    except DevstackError as exc:
        print(f"devstack: error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("devstack: interrupted", file=sys.stderr, flush=True)
        return 130
