"""``flafka-agent`` with Flume's HTTP monitoring JSON, for bench/compare_flume.py only.

    python bench/flume/flafka_metrics.py -Dflume.monitoring.type=http -Dflume.monitoring.port=PORT \\
        -f agent.properties -n a --no-reload-conf

flafka has the counters with Flume's names (``Agent.counters()``) but no monitoring server yet, and the
benchmark must read each agent's own counters the same way, while it runs, from outside its process (so
the agent's CPU and memory are measured as they are in production). This runs ``flafka.cli.main`` unchanged
in this process, with one extra thread: an HTTP server on 127.0.0.1:PORT whose ``GET /metrics`` answers the
document Flume's ``-Dflume.monitoring.type=http`` server answers (``{"SOURCE.r1": {...}, "CHANNEL.c1": ...,
"SINK.k1": ...}``, every value a string). The port comes from the same ``-D`` options Flume reads, so both
agents get the same command-line tail. Unlike Flume's server (0.0.0.0) it binds loopback only.

The thread costs the agent nothing between requests; each request snapshots the counters (a few dozen
attribute reads) under the GIL, as Flume's Jetty thread reads its counters.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# compare_flume.py sets PYTHONPATH to the flafka tree under test (--flafka-root); run by hand without it,
# the repository this file is in is the one measured, not whatever flafka pip installed.
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(1, str(Path(__file__).resolve().parents[2]))

from flafka import cli
from flafka.config.plan import AgentPlan
from flafka.runtime.agent import Agent

# The agents this process built: the CLI builds one (a reload applies new plans to the same one).
_AGENTS: list[Agent] = []


class _RecordedAgent(Agent):
    """An Agent that registers itself, so the metrics thread can find the one the CLI builds."""

    def __init__(self, plan: AgentPlan) -> None:
        super().__init__(plan)
        _AGENTS.append(self)


class _MetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the name http.server dispatches to
        if self.path.split("?")[0] not in ("/metrics", "/"):
            self.send_error(404)
            return
        document: dict[str, dict[str, str]] = {}
        for agent in list(_AGENTS):
            document.update(agent.counters())
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # the base class's signature
        # One request every few ms would otherwise write a line each to the agent's stderr.
        return


def _system_properties(argv: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for arg in argv:
        if arg.startswith("-D") and "=" in arg:
            key, _, value = arg[2:].partition("=")
            out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    system = _system_properties(arguments)
    server: ThreadingHTTPServer | None = None
    if system.get("flume.monitoring.type", "").lower() == "http":
        port = int(system.get("flume.monitoring.port", "41414"))
        server = ThreadingHTTPServer(("127.0.0.1", port), _MetricsHandler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="bench-metrics-http", daemon=True).start()
    cli.Agent = _RecordedAgent  # type: ignore[attr-defined]  # the CLI looks the class up in its module at run time
    try:
        return cli.main(arguments)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    sys.exit(main())
