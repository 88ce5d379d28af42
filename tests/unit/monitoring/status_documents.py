"""Stand-ins for a running agent's /status, shared by the live views' tests: a sample document (every state,
a dead-letter channel, missing and extra counters), ``later()`` to move it on in time, and ``StatusServer``, a
local HTTP server serving the status page and a document per request."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flafka.monitoring.page import status_page

#: The /status document of the brief: a Kafka source with an interceptor and a selector feeding two channels
#: (c2 failing) and dead-lettering to a third (dlq, starting, no sink), a failover group whose sink is stalled.
#: Counters that do not apply are missing on purpose.
DOCUMENT: dict[str, Any] = {
    "agent": "a1",
    "time_ms": 1764144000000,  # 2025-11-26 08:00:00 UTC
    "healthy": False,
    "sources": [
        {"name": "r1", "type": "kafka", "state": "running", "channels": ["c1", "c2"], "dead_letter_channel": "dlq",
         "counters": {"Type": "SOURCE", "EventReceivedCount": "1200", "EventAcceptedCount": "1190",
                      "EventDeadLetterCount": "10", "EventDropCount": "0", "GenericProcessingFail": "2",
                      "ChannelWriteFail": "1", "SomethingNew": "7"},
         "lag": [{"topic": "txn", "partition": 0, "records": 12}, {"topic": "txn", "partition": 1, "records": 30}],
         "interceptors": [{"name": "i1", "type": "timestamp",
                           "counters": {"EventReceivedCount": "1200", "EventEmittedCount": "1195", "FailCount": "5",
                                        "TimeMillis": "3"}}],
         "selector": {"type": "replicating", "counters": {"EventRoutedCount": "1190", "EventUnroutedCount": "0",
                                                                "OptionalWriteFail": "2"}}},
    ],
    "channels": [
        {"name": "c1", "type": "memory", "state": "running", "lag": [],
         "counters": {"ChannelSize": "40", "ChannelCapacity": "10000", "ChannelFillPercentage": "0.4",
                      "EventPutSuccessCount": "1190", "EventTakeSuccessCount": "1150"}},
        {"name": "c2", "type": "file", "state": "failing", "since": "2026-11-26T08:00:00.000Z",
         "last_error": "the file channel reports itself unhealthy", "lag": [], "counters": {}},
        {"name": "dlq", "type": "memory", "state": "starting", "lag": [],  # no sink: kept for a person to look at
         "counters": {"ChannelSize": "10", "ChannelCapacity": "100", "ChannelFillPercentage": "10.0",
                      "EventPutSuccessCount": "10"}},
    ],
    "sinkgroups": [
        {"name": "g1", "processor": "failover", "state": "running",
         "counters": {"FailoverCount": "1", "SinkFailCount": "3"},
         "sinks": [{"name": "k1", "type": "hdfs", "channel": "c1", "state": "stalled",
                    "since": "2026-11-26T08:01:00.000Z", "last_error": "input waiting, no progress for 61 s",
                    "counters": {"EventDrainAttemptCount": "1160", "EventDrainSuccessCount": "1150",
                                 "EventWriteFail": "0", "EventDeadLetterCount": "0", "EventDropCount": "4",
                                 "ConnectionFailedCount": "1"}}]},
    ],
}


def later(document: dict[str, Any], seconds: float, **changes: tuple[str, str, str]) -> dict[str, Any]:
    """A copy of ``document`` ``seconds`` later; ``changes``: label -> (component id, counter, new value)."""
    out = copy.deepcopy(document)
    out["time_ms"] = document["time_ms"] + round(seconds * 1000)
    components = {f"SOURCE.{s['name']}": s for s in out["sources"]}
    components |= {f"CHANNEL.{c['name']}": c for c in out["channels"]}
    components |= {f"SINK.{k['name']}": k for g in out["sinkgroups"] for k in g["sinks"]}
    for component, counter, value in changes.values():
        components[component]["counters"][counter] = value
    return out


class StatusServer:
    """A tiny local agent stand-in on 127.0.0.1: the status page at ``<prefix>/`` and ``document(n)`` at
    ``<prefix>/status`` for the n-th request (from 1). After ``stop_after`` answers to /status it stops: the next
    request is dropped unanswered and the listening socket is closed, so later ones are refused."""

    def __init__(self, document: Callable[[int], dict[str, Any]], prefix: str = "",
                 stop_after: int | None = None) -> None:
        self.requests = 0
        self.paths: list[str] = []  # every path asked for, in order
        self._document, self._prefix, self._stop_after = document, prefix, stop_after
        self._lock = threading.Lock()
        self.stopped = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.paths.append(self.path)
                if self.path == f"{prefix}/":
                    self._answer(200, "text/html; charset=utf-8", status_page())
                elif self.path == f"{prefix}/status":
                    with server._lock:
                        server.requests += 1
                        number = server.requests
                    if stop_after is not None and number > stop_after:
                        self.close_connection = True
                        server.stop_in_background()
                        return
                    self._answer(200, "application/json", json.dumps(document(number)).encode())
                else:
                    self._answer(404, "text/plain", b"not found\n")

            def _answer(self, code: int, content_type: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="status-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self._prefix}"

    def __enter__(self) -> StatusServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if not self.stopped.is_set():
            self._server.shutdown()
            self._server.server_close()
            self.stopped.set()
        self._thread.join(5)

    def stop_in_background(self) -> None:
        threading.Thread(target=self.stop, name="status-server-stop", daemon=True).start()


def counting(number: int) -> dict[str, Any]:
    """DOCUMENT as it is at the n-th request: two seconds later each time, r1 having received 100 more events
    (50 events/s)."""
    return later(DOCUMENT, 2 * (number - 1), a=("SOURCE.r1", "EventReceivedCount", str(1200 + 100 * (number - 1))))
