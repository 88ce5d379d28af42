"""``flafka-agent``: run (or ``--check``) the agent named by ``-n`` from Flume-format properties files.

Flume's own flags are accepted (``agent`` sub-command, ``-n``, ``-f`` repeated, ``-c``, ``-i``,
``--no-reload-conf``, ``-D...`` system properties), so a ``flume-ng agent ...`` command line can be
pointed at flafka unchanged. Exit codes: 0 ok, 1 runtime failure, 2 configuration or usage error.

``flafka-agent channel inspect DIR [DIR...]`` prints what a file channel's directories hold (see
:mod:`flafka.channels.file.inspect`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from flafka import __version__
from flafka.config.diagnostics import Diagnostic
from flafka.config.loader import LoadedConfig, load_config
from flafka.errors import ConfigError
from flafka.runtime.agent import Agent

log = logging.getLogger("flafka.agent")

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flafka-agent",
        description="Run a Flume-compatible agent from a properties file.",
        epilog="Exit codes: 0 ok, 1 runtime failure, 2 configuration or usage error.",
    )
    p.add_argument("command", nargs="?", choices=["agent"], help="accepted for flume-ng compatibility")
    p.add_argument("-n", "--name", required=True, help="name of the agent to run (the key prefix)")
    p.add_argument("-f", "--conf-file", action="append", required=True, metavar="FILE",
                   help="properties file; repeat to merge several (later files override)")
    p.add_argument("-c", "--conf", metavar="DIR", help="Flume conf directory (accepted; unused)")
    p.add_argument("-i", "--poll-interval", type=float, default=30.0, metavar="SECONDS",
                   help="how often to check the files for changes (default 30)")
    p.add_argument("--no-reload-conf", action="store_true", help="do not reload the files when they change")
    p.add_argument("--check", action="store_true",
                   help="validate the configuration (types resolved, classes imported) and exit")
    p.add_argument("--lenient", action="store_true",
                   help="Flume's behaviour: drop components with errors instead of refusing to start")
    p.add_argument("--deny-warnings", action="store_true", help="treat configuration warnings as errors")
    p.add_argument("--stop-timeout", type=float, default=8.0, metavar="SECONDS",
                   help="longest graceful stop on SIGTERM/SIGINT (default 8)")
    p.add_argument("--log-level", default=os.environ.get("FLAFKA_LOG_LEVEL", "INFO"),
                   help="DEBUG, INFO, WARNING or ERROR (default INFO, or $FLAFKA_LOG_LEVEL)")
    p.add_argument("--version", action="version", version=f"flafka {__version__}")
    return p


def _split_java_options(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Take ``-Dkey=value`` (and ignore ``-X...`` JVM options) out of argv."""
    rest: list[str] = []
    system: dict[str, str] = {}
    for arg in argv:
        if arg.startswith("-D") and len(arg) > 2:
            key, _, value = arg[2:].partition("=")
            system[key] = value
        elif arg.startswith("-X") and len(arg) > 2:
            continue
        else:
            rest.append(arg)
    return rest, system


def _print_diagnostics(diagnostics: Sequence[Diagnostic]) -> None:
    for d in diagnostics:
        print(str(d), file=sys.stderr)


def _load(args: argparse.Namespace) -> LoadedConfig:
    loaded = load_config(args.conf_file, args.name, lenient=args.lenient)
    if args.deny_warnings and loaded.diagnostics:
        raise ConfigError(loaded.diagnostics)
    return loaded


def _mtimes(paths: Sequence[str]) -> tuple[float, ...]:
    out = []
    for path in paths:
        try:
            out.append(os.stat(path).st_mtime)
        except OSError:
            out.append(-1.0)
    return tuple(out)


class _Reloader(threading.Thread):
    """Polls the configuration files' mtimes and applies a changed, valid configuration."""

    def __init__(self, agent: Agent, args: argparse.Namespace, stop: threading.Event,
                 loaded_mtimes: tuple[float, ...]) -> None:
        super().__init__(name="config-reloader", daemon=True)
        self._agent, self._args, self._stop = agent, args, stop
        self._seen = loaded_mtimes

    def _mtimes(self) -> tuple[float, ...]:
        return _mtimes(self._args.conf_file)

    def run(self) -> None:
        while not self._stop.wait(self._args.poll_interval):
            now = self._mtimes()
            if now == self._seen:
                continue
            self._seen = now
            try:
                loaded = _load(self._args)
            except ConfigError as exc:
                log.error("The changed configuration is invalid; the running one stays. problems=%d\n%s",
                          len([d for d in exc.diagnostics if d.is_error]),
                          "\n".join(str(d) for d in exc.diagnostics))
                continue
            for d in loaded.diagnostics:
                log.warning("%s", d)
            try:
                self._agent.apply(loaded.plan, timeout=self._args.stop_timeout)
            except Exception:
                log.exception("Applying the changed configuration failed.")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["channel"]:
        from flafka.channels.file.inspect import main as channel_main  # noqa: PLC0415  # only this sub-command needs it

        return channel_main(arguments[1:])
    raw, system = _split_java_options(arguments)
    try:
        args = _parser().parse_args(raw)
    except SystemExit as exc:
        return int(exc.code or 0)
    level = system.get("flume.root.logger", "").split(",")[0] or args.log_level
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    loaded_mtimes = _mtimes(args.conf_file)  # before reading: a change made while loading is seen later
    try:
        loaded = _load(args)
    except ConfigError as exc:
        _print_diagnostics(exc.diagnostics)
        errors = sum(1 for d in exc.diagnostics if d.is_error) or len(exc.diagnostics)
        print(f"flafka-agent: configuration of agent '{args.name}' has {errors} problem(s); not started.",
              file=sys.stderr)
        return EXIT_CONFIG
    _print_diagnostics(loaded.diagnostics)
    if args.check:
        plan = loaded.plan
        print(f"flafka-agent: configuration of agent '{args.name}' is valid: {len(plan.sources)} source(s), "
              f"{len(plan.channels)} channel(s), {len(plan.sinks)} sink(s), "
              f"{len(loaded.diagnostics)} warning(s).", file=sys.stderr)
        return EXIT_OK

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("Received %s; stopping gracefully (at most %.1fs).", signal.Signals(signum).name,
                 args.stop_timeout)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    agent = Agent(loaded.plan)
    try:
        agent.start()
    except Exception as exc:
        log.error("Agent %s failed to start: %s: %s", args.name, type(exc).__name__, exc)
        agent.stop(args.stop_timeout)
        return EXIT_RUNTIME
    if not args.no_reload_conf:
        _Reloader(agent, args, stop, loaded_mtimes).start()
    stop.wait()
    agent.stop(args.stop_timeout)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
