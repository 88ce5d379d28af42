"""``flafka-agent``: run (or ``--check``) the agent named by ``-n`` from Flume-format properties files.

Flume's own flags are accepted (``agent`` sub-command, ``-n``, ``-f`` repeated, ``-c``, ``-i``,
``--no-reload-conf``, ``-D...`` system properties), so a ``flume-ng agent ...`` command line can be
pointed at flafka unchanged. Exit codes: 0 ok, 1 runtime failure (including a stop that lost events,
or a reload after which no pipeline can run), 2 configuration or usage error. SIGTERM and SIGINT stop
gracefully within ``--stop-timeout``; SIGHUP reloads the configuration at once.

``flafka-agent channel inspect DIR [DIR...]`` prints what a file channel's directories hold (see
:mod:`flafka.channels.file.inspect`); ``flafka-agent version`` prints the version as ``flume-ng version`` does.
``flafka-agent top [--url URL] [--interval S] [--once] [--no-color]`` shows a running agent's pipeline live in
the terminal, read from its monitoring server's ``/status`` (:mod:`flafka.monitoring.top`).

Monitoring (:mod:`flafka.monitoring.http`): Flume's ``-Dflume.monitoring.type=http
-Dflume.monitoring.port=P`` or flafka's ``--metrics-port P`` serve ``/metrics`` (Flume's JSON),
``/metrics/prometheus`` and ``/health``. Unlike Flume, which binds all interfaces, the server binds
127.0.0.1 unless ``--metrics-host`` says otherwise. A port that cannot be bound (in use) is a runtime
failure: exit 1, before the agent starts. Configuration in ZooKeeper (Flume's ``-z``/``-p``) is not
supported: exit 2.

Under systemd (``Type=notify``, see ``conf/flafka.service``) the agent reports readiness, reloads and its stop
through ``$NOTIFY_SOCKET`` and pings the watchdog while healthy (:mod:`flafka.runtime.systemd`).

Logs go to stderr as text by default. ``--log-format json`` writes one JSON object a line (``time``,
``level``, ``logger``, ``message``, and ``exc_info`` when there is a traceback); ``--log-file PATH`` writes
to a file rotated at ``--log-max-bytes`` keeping ``--log-backups`` old files; ``--log-config FILE`` hands
the whole setup to :func:`logging.config.fileConfig` (INI, see ``conf/logging.ini``) and cannot be combined
with the other ``--log-*`` options.
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.config
import logging.handlers
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from flafka import __version__
from flafka.arguments import non_negative_seconds, seconds
from flafka.config.diagnostics import Diagnostic
from flafka.config.loader import LoadedConfig, load_config
from flafka.errors import ConfigError, ReloadFailed
from flafka.monitoring.health import DEFAULT_STALL_AFTER, RUNNING
from flafka.monitoring.http import DEFAULT_HOST, FLUME_DEFAULT_PORT, MonitoringServer
from flafka.runtime.agent import Agent
from flafka.runtime.systemd import Notifier, Watchdog, watchdog_interval

log = logging.getLogger("flafka.agent")

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2

_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_CANNOT_RUN = -1  # queued by the reloader beside signal numbers: the agent cannot run any pipeline
_SIGNAL_CHECK = 0.2  # seconds; the longest a signal waits before the run loop acts on it


#: Shortest ``-i``. Each check stats every file; checking more often than ten times a second notices no edit
#: sooner in a way that matters (saving a file takes longer than that), and 0 or less made the reloader spin
#: on a core.
MIN_POLL_INTERVAL = 0.1


def _poll_interval(text: str) -> float:
    value = seconds(text)
    if value < MIN_POLL_INTERVAL:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_POLL_INTERVAL} seconds, got {text!r}")
    return value


_EPILOG = """\
other commands:
  flafka-agent version                       print the version (as flume-ng version)
  flafka-agent channel inspect DIR [DIR...]  what a file channel's data and checkpoint directories
                                             hold (read-only; safe on a running agent)
  flafka-agent top [--url URL] [--once]      live view of a running agent from its /status (see --help)

monitoring: -Dflume.monitoring.type=http -Dflume.monitoring.port=P (Flume's flags) or --metrics-port P
serve the status page (/), /status, /metrics (Flume's JSON), /metrics/prometheus and /health.

logs: text on stderr by default; --log-format json (one object a line), --log-file PATH (rotated), or
--log-config FILE (Python logging INI; see conf/logging.ini). systemd: Type=notify readiness, reload and
watchdog through $NOTIFY_SOCKET (see conf/flafka.service).

Exit codes: 0 ok, 1 runtime failure (including a monitoring port in use), 2 configuration or usage error.
"""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 to 65535, got {text!r}")
    return value


#: ``--log-file`` rotation defaults: 100 MiB a file, five kept (600 MiB at most on disk).
DEFAULT_LOG_MAX_BYTES, DEFAULT_LOG_BACKUPS = 100 * 1024 * 1024, 5


def _count(text: str) -> int:
    """A whole number, 0 or more (``--log-max-bytes``, ``--log-backups``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flafka-agent",
        description="Run a Flume-compatible agent from a properties file.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("command", nargs="?", choices=["agent"], help="accepted for flume-ng compatibility")
    p.add_argument("-n", "--name", required=True, help="name of the agent to run (the key prefix)")
    # Required, but checked after -z/-p so that a ZooKeeper command line gets the error that applies to it.
    p.add_argument("-f", "--conf-file", action="append", metavar="FILE",
                   help="properties file; repeat to merge several (later files override); required")
    p.add_argument("-z", "--zkConnString", metavar="HOSTS",
                   help="Flume's configuration in ZooKeeper: not supported by flafka (use -f)")
    p.add_argument("-p", "--zkBasePath", metavar="PATH", help="see -z: not supported")
    p.add_argument("-c", "--conf", metavar="DIR", help="Flume conf directory (accepted; unused)")
    p.add_argument("-i", "--poll-interval", type=_poll_interval, default=30.0, metavar="SECONDS",
                   help=f"how often to check the files for changes (default 30, at least {MIN_POLL_INTERVAL})")
    p.add_argument("--no-reload-conf", action="store_true", help="do not reload the files when they change")
    p.add_argument("--check", action="store_true",
                   help="validate the configuration (types resolved, classes imported) and exit")
    p.add_argument("--lenient", action="store_true",
                   help="Flume's behaviour: drop components with errors instead of refusing to start")
    p.add_argument("--deny-warnings", action="store_true", help="treat configuration warnings as errors")
    p.add_argument("--stop-timeout", type=non_negative_seconds, default=8.0, metavar="SECONDS",
                   help="longest graceful stop on SIGTERM/SIGINT (default 8)")
    p.add_argument("--log-level", default=None,
                   help="DEBUG, INFO, WARNING or ERROR (default INFO, or $FLAFKA_LOG_LEVEL)")
    p.add_argument("--log-format", choices=["text", "json"], default=None,
                   help="text (default) or json: one object a line with time, level, logger, message, exc_info")
    p.add_argument("--log-file", metavar="PATH",
                   help="write logs to PATH instead of stderr, rotated by size (see --log-max-bytes)")
    p.add_argument("--log-max-bytes", type=_count, default=None, metavar="BYTES",
                   help=f"rotate --log-file at this size (default {DEFAULT_LOG_MAX_BYTES}; 0: never rotate)")
    p.add_argument("--log-backups", type=_count, default=None, metavar="N",
                   help=f"rotated files kept beside --log-file (default {DEFAULT_LOG_BACKUPS})")
    p.add_argument("--log-config", metavar="FILE",
                   help="configure logging from a Python logging INI file (logging.config.fileConfig) instead; "
                        "excludes the other --log-* options")
    p.add_argument("--metrics-port", type=_port, metavar="PORT",
                   help="serve the status page (/), /status, /metrics (Flume's JSON), /metrics/prometheus and "
                        "/health on this port (0: any free port, logged); as -Dflume.monitoring.type=http "
                        "-Dflume.monitoring.port=PORT")
    p.add_argument("--metrics-host", default=DEFAULT_HOST, metavar="HOST",
                   help=f"address the monitoring server binds (default {DEFAULT_HOST}; Flume binds all "
                        "interfaces: give 0.0.0.0 for that)")
    p.add_argument("--stall-seconds", type=non_negative_seconds, default=DEFAULT_STALL_AFTER, metavar="SECONDS",
                   help="/health calls a component stalled when input waits for it and it moved nothing for this "
                        f"long (default {DEFAULT_STALL_AFTER:g})")
    p.add_argument("--version", action="version", version=f"flafka {__version__}")
    return p


def _version_text() -> str:
    """``flume-ng version``'s shape: the first line names the product and version."""
    return (f"flafka {__version__}\n"
            f"Flume-compatible agent (configuration, events and monitoring of Apache Flume 1.11)\n"
            f"Python {sys.version.split()[0]}")


def _monitoring_port(args: argparse.Namespace, system: dict[str, str]) -> int | None:
    """The port to serve monitoring on, from --metrics-port or Flume's -D flags; None for no server."""
    if args.metrics_port is not None:
        return int(args.metrics_port)
    kind = system.get("flume.monitoring.type", "")
    if not kind:
        return None
    if kind.lower() != "http":
        log.warning("Monitoring type %r is not supported by flafka (only http); the agent runs without it. "
                    "Use -Dflume.monitoring.type=http or --metrics-port for /metrics, /metrics/prometheus "
                    "and /health.", kind)
        return None
    text = system.get("flume.monitoring.port", str(FLUME_DEFAULT_PORT))
    try:
        return _port(text)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"-Dflume.monitoring.port: {exc}") from None


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


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``, ``message``, and
    ``exc_info`` / ``stack_info`` (text) when the record has them. Newlines inside a message stay escaped, so
    a multi-line message is still one line. Usable from a ``--log-config`` file as ``flafka.cli.JsonFormatter``.
    """

    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            doc["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exc_info"] = record.exc_text
        if record.stack_info:
            doc["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(doc, ensure_ascii=False)


_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _configure_logging(args: argparse.Namespace, system: dict[str, str]) -> str | None:
    """Set up the root logger from the ``--log-*`` options; a message for the user when they cannot be applied."""
    if args.log_config is not None:
        if not os.path.isfile(args.log_config):
            return f"--log-config {args.log_config}: no such file"
        try:
            # disable_existing_loggers=False: flafka's modules made their loggers at import; keep them working.
            logging.config.fileConfig(args.log_config, disable_existing_loggers=False)
        except Exception as exc:  # fileConfig raises KeyError, ValueError, ImportError, configparser errors...
            return f"--log-config {args.log_config}: {type(exc).__name__}: {exc}"
        return None
    if logging.getLogger().handlers:  # configured by a program that calls main() (as basicConfig leaves it)
        return None
    level = (system.get("flume.root.logger", "").split(",")[0] or args.log_level
             or os.environ.get("FLAFKA_LOG_LEVEL") or "INFO")
    handler: logging.Handler
    if args.log_file is None:
        handler = logging.StreamHandler(sys.stderr)
    else:
        try:
            handler = logging.handlers.RotatingFileHandler(
                args.log_file, encoding="utf-8",
                maxBytes=DEFAULT_LOG_MAX_BYTES if args.log_max_bytes is None else args.log_max_bytes,
                backupCount=DEFAULT_LOG_BACKUPS if args.log_backups is None else args.log_backups)
        except OSError as exc:
            return f"--log-file {args.log_file}: {exc.strerror or exc}"
    handler.setFormatter(JsonFormatter() if args.log_format == "json" else logging.Formatter(_TEXT_FORMAT))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])
    return None


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
    """Applies a changed, valid configuration without stopping the agent.

    It reloads when the files' mtimes move (checked every ``--poll-interval`` seconds, unless
    ``--no-reload-conf``) and at once when :meth:`request` is called (SIGHUP), even when the mtimes did
    not move and even with ``--no-reload-conf``: a SIGHUP is an explicit request. An invalid
    configuration, or one the agent refused, leaves the running pipeline as it is; when the agent can
    no longer run any pipeline, ``on_fatal`` is called and the thread ends.
    """

    def __init__(self, agent: Agent, args: argparse.Namespace, loaded_mtimes: tuple[float, ...],
                 on_fatal: Callable[[], None], notifier: Notifier | None = None) -> None:
        super().__init__(name="config-reloader", daemon=True)
        self._agent, self._args, self._on_fatal = agent, args, on_fatal
        self._notifier = notifier if notifier is not None else Notifier(None)
        self._seen = loaded_mtimes
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._requested = False
        self._closed = False

    def request(self) -> None:
        """Reload as soon as possible (after the reload under way, if any)."""
        with self._lock:
            self._requested = True
        self._wake.set()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake.set()

    def run(self) -> None:
        interval = None if self._args.no_reload_conf else self._args.poll_interval
        while True:
            self._wake.wait(interval)
            self._wake.clear()
            with self._lock:
                if self._closed:
                    return
                requested, self._requested = self._requested, False
            now = _mtimes(self._args.conf_file)
            if now == self._seen and not requested:
                continue
            self._seen = now
            self._notifier.reloading(f"Agent {self._args.name} reloading its configuration")
            if not self._reload("The configuration read on SIGHUP" if requested else "The changed configuration"):
                self._on_fatal()  # no READY=1: the agent stops (STOPPING=1 follows)
                return
            self._notifier.ready(_running_status(self._args.name, self._agent))

    def _reload(self, what: str) -> bool:
        """Load and apply the files; False when the agent cannot go on."""
        try:
            loaded = _load(self._args)
        except ConfigError as exc:
            log.error("%s is invalid; the running one stays. problems=%d\n%s", what,
                      len([d for d in exc.diagnostics if d.is_error]), "\n".join(str(d) for d in exc.diagnostics))
            return True
        for d in loaded.diagnostics:
            log.warning("%s", d)
        try:
            self._agent.apply(loaded.plan, timeout=self._args.stop_timeout)
        except ReloadFailed as exc:
            return exc.restored  # the agent logged what failed, and whether the previous pipeline runs
        except Exception:
            # Half applied, or not at all: with its state unknown the agent must not go on looking healthy.
            log.exception("Applying the configuration failed unexpectedly; the agent stops.")
            return False
        return True


def _running_status(name: str, agent: Agent) -> str:
    """systemd's STATUS= line for a running agent."""
    return (f"Agent {name} running. sources={len(agent.sources)} channels={len(agent.channels)} "
            f"sinks={len(agent.sinks)}")


def _watchdog_health(agent: Agent) -> tuple[bool, str]:
    """Whether the watchdog may vouch for ``agent``, and if not which components are not running."""
    report = agent.health()
    bad = [f"{name}={entry['state']}" for name, entry in report.components.items() if entry["state"] != RUNNING]
    return report.healthy, " ".join(bad)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["channel"]:
        from flafka.channels.file.inspect import main as channel_main  # noqa: PLC0415  # only this sub-command needs it

        return channel_main(arguments[1:])
    if arguments[:1] == ["top"]:
        from flafka.monitoring.top import main as top_main  # noqa: PLC0415  # only this sub-command needs it

        return top_main(arguments[1:])
    if arguments[:1] == ["version"]:
        print(_version_text())
        return EXIT_OK
    raw, system = _split_java_options(arguments)
    parser = _parser()
    try:
        args = parser.parse_args(raw)
        if args.zkConnString is not None or args.zkBasePath is not None:
            parser.error("configuration from ZooKeeper (-z/--zkConnString, -p/--zkBasePath) is not supported "
                         "by flafka; use -f with a properties file")
        if not args.conf_file:
            parser.error("the following arguments are required: -f/--conf-file")
        if args.log_config is not None:
            others = [flag for flag, value in (("--log-level", args.log_level), ("--log-format", args.log_format),
                                               ("--log-file", args.log_file), ("--log-max-bytes", args.log_max_bytes),
                                               ("--log-backups", args.log_backups)) if value is not None]
            if others:
                parser.error(f"--log-config configures all logging; it cannot be combined with {', '.join(others)}")
        elif args.log_file is None and (args.log_max_bytes is not None or args.log_backups is not None):
            parser.error("--log-max-bytes and --log-backups apply to --log-file, which is not given")
    except SystemExit as exc:
        return int(exc.code or 0)
    problem = _configure_logging(args, system)
    if problem:
        print(f"flafka-agent: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        args.monitoring_port = None if args.check else _monitoring_port(args, system)
    except ValueError as exc:
        print(f"flafka-agent: {exc}", file=sys.stderr)
        return EXIT_CONFIG

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

    # Signal handlers only queue the signal (SimpleQueue.put is safe there; logging and Event.set are
    # not: the main thread may hold their locks when the signal arrives). The run loop below acts on it.
    control: queue.SimpleQueue[int] = queue.SimpleQueue()
    previous = {signum: signal.signal(signum, lambda signum, frame: control.put(signum)) for signum in _SIGNALS}
    try:
        return _run(args, loaded, loaded_mtimes, control)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(args: argparse.Namespace, loaded: LoadedConfig, loaded_mtimes: tuple[float, ...],
         control: queue.SimpleQueue[int]) -> int:
    """Run the agent until SIGTERM/SIGINT (exit 0, or 1 if the stop lost events) or until a reload left
    it unable to run (exit 1); SIGHUP reloads the configuration."""
    agent = Agent(loaded.plan)
    agent.stall_after = args.stall_seconds
    notifier = Notifier.from_environment()
    monitoring: MonitoringServer | None = None
    if args.monitoring_port is not None:
        try:  # bound before the agent starts: a port in use fails the start before any event moves
            monitoring = MonitoringServer(agent, host=args.metrics_host, port=args.monitoring_port)
        except OSError as exc:
            log.error("Agent %s cannot serve monitoring on %s:%d (%s); not started, exit code 1.", args.name,
                      args.metrics_host, args.monitoring_port, exc.strerror or exc)
            return EXIT_RUNTIME
    try:
        return _run_agent(args, agent, monitoring, loaded_mtimes, control, notifier=notifier)
    finally:
        if monitoring is not None:
            monitoring.stop()
        notifier.close()


def _run_agent(args: argparse.Namespace, agent: Agent, monitoring: MonitoringServer | None,
               loaded_mtimes: tuple[float, ...], control: queue.SimpleQueue[int], *, notifier: Notifier) -> int:
    try:
        agent.start()
    except Exception as exc:
        log.error("Agent %s failed to start: %s: %s", args.name, type(exc).__name__, exc)
        notifier.status(f"Agent {args.name} failed to start: {type(exc).__name__}: {exc}")
        agent.stop(args.stop_timeout)
        return EXIT_RUNTIME
    if monitoring is not None:
        monitoring.start()
    reloader = _Reloader(agent, args, loaded_mtimes, on_fatal=lambda: control.put(_CANNOT_RUN), notifier=notifier)
    reloader.start()
    notifier.ready(_running_status(args.name, agent))  # after every component started and /health is served
    interval = watchdog_interval() if notifier.enabled else None
    watchdog = Watchdog(notifier, interval, lambda: _watchdog_health(agent)) if interval else None
    if watchdog is not None:
        watchdog.start()
    code = EXIT_OK
    while True:
        try:
            # Not a blocking get: a signal the kernel delivers to another thread only flags the main thread,
            # which runs the handler when it next runs Python code, so a get without timeout could sleep on.
            received = control.get(timeout=_SIGNAL_CHECK)
        except queue.Empty:
            continue
        if received == signal.SIGHUP:
            log.info("Agent %s received SIGHUP; reloading the configuration.", args.name)
            reloader.request()
            continue
        if received == _CANNOT_RUN:
            log.error("Agent %s cannot run its pipeline after the reload; stopping (at most %.1fs), exit code 1.",
                      args.name, args.stop_timeout)
            code = EXIT_RUNTIME
        else:
            log.info("Agent %s received %s; stopping gracefully (at most %.1fs).", args.name,
                     signal.Signals(received).name, args.stop_timeout)
        break
    if watchdog is not None:
        watchdog.stop()  # systemd stops watching at STOPPING=1
    notifier.stopping(f"Agent {args.name} stopping")
    reloader.close()
    lost = agent.stop(args.stop_timeout)
    if lost:
        log.error("Agent %s lost events at stop (see above); exit code 1. events=%d", args.name, lost)
        code = EXIT_RUNTIME
    return code


if __name__ == "__main__":
    sys.exit(main())
