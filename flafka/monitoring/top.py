"""``flafka-agent top``: a terminal view of a running agent, read from its monitoring server's ``/status``.

Each refresh fetches ``<url>/status`` (see :mod:`flafka.monitoring.http`) and prints one table: a row per
source (its interceptors and selector indented under it), per channel, per sink group and per sink (indented
under its group). Rates are Δcount / Δtime between the previous snapshot and this one (the document's
``time_ms``), so the first screen shows totals and ``-`` for rates. Below the table, one line per failing or
stalled component says since when and why.

:func:`render` is pure (two documents in, text out); :func:`main` is the thin loop around it. The document's
counter values are decimal strings (Flume's style); a missing counter counts as 0 and unknown keys are ignored.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from flafka.arguments import non_negative_seconds
from flafka.monitoring.http import DEFAULT_HOST, FLUME_DEFAULT_PORT

DEFAULT_URL = f"http://{DEFAULT_HOST}:{FLUME_DEFAULT_PORT}"
#: Seconds one fetch of ``/status`` may take; the server answers from memory, so more means it is stuck.
FETCH_TIMEOUT = 5.0

Document = Mapping[str, Any]

# ANSI colours by state; "starting" is dim (grey), as on the status page.
_RESET = "\x1b[0m"
_STATE_COLOURS = {"running": "\x1b[32m", "starting": "\x1b[2m", "failing": "\x1b[1;31m", "stalled": "\x1b[33m"}
_ALERT = "\x1b[1;33m"  # a non-zero dead-letter or drop count
_CLEAR = "\x1b[H\x1b[2J"


@dataclass(frozen=True, slots=True)
class _Counts:
    """Which counters of one kind of component fill the table's columns."""

    into: str | None  # events/s in and the IN total
    out: str | None  # events/s out and the OUT total
    dead_letters: str | None = None
    dropped: str | None = None
    errors: tuple[str, ...] = ()


_SOURCE = _Counts("EventReceivedCount", "EventAcceptedCount", "EventDeadLetterCount", "EventDropCount",
                  ("EventReadFail", "ChannelWriteFail", "GenericProcessingFail"))
_INTERCEPTOR = _Counts("EventReceivedCount", "EventEmittedCount", errors=("FailCount",))
# An unrouted event matched no channel of a multiplexing selector and went nowhere: it shows as dropped.
_SELECTOR = _Counts(None, "EventRoutedCount", dropped="EventUnroutedCount", errors=("OptionalWriteFail",))
_CHANNEL = _Counts("EventPutSuccessCount", "EventTakeSuccessCount")
_GROUP = _Counts(None, None, errors=("SinkFailCount",))
_SINK = _Counts("EventDrainAttemptCount", "EventDrainSuccessCount", "EventDeadLetterCount", "EventDropCount",
                ("EventWriteFail", "ChannelReadFail", "ConnectionFailedCount"))


@dataclass(frozen=True, slots=True)
class _Row:
    key: str  # unique within a document: "SOURCE.r1", "INTERCEPTOR.r1.i1", ... (matches rows across snapshots)
    label: str  # indented name
    type: str
    state: str
    counters: Mapping[str, str]
    counts: _Counts
    lag: int | None = None
    fill: str = ""


def _number(counters: Mapping[str, str], key: str | None) -> int:
    """A counter's value; missing or unreadable counts as 0 (older agents, other component types)."""
    if key is None:
        return 0
    try:
        return int(counters.get(key, "0"))
    except (TypeError, ValueError):
        try:
            return int(float(counters[key]))
        except (TypeError, ValueError, OverflowError):
            return 0


def _lag(entries: Any) -> int | None:
    if not entries:
        return None
    return sum(int(entry.get("records", 0)) for entry in entries)


def _fill(counters: Mapping[str, str]) -> str:
    if _number(counters, "ChannelCapacity") <= 0:
        return "-"  # no bounded capacity (Flume writes Double.MAX_VALUE then)
    try:
        percent = float(counters.get("ChannelFillPercentage", "0"))
    except (TypeError, ValueError):
        return "-"
    return f"{percent:.1f}%" if math.isfinite(percent) else "-"


def _rows(document: Document) -> list[_Row]:
    rows: list[_Row] = []
    for source in document.get("sources", []):
        name = source.get("name", "?")
        rows.append(_Row(f"SOURCE.{name}", name, source.get("type", ""), source.get("state", ""),
                         source.get("counters", {}), _SOURCE, _lag(source.get("lag"))))
        for interceptor in source.get("interceptors", []):
            rows.append(_Row(f"INTERCEPTOR.{name}.{interceptor.get('name', '?')}", f"  {interceptor.get('name', '?')}",
                             interceptor.get("type", ""), "", interceptor.get("counters", {}), _INTERCEPTOR))
        selector = source.get("selector")
        if selector:
            rows.append(_Row(f"SELECTOR.{name}", "  selector", selector.get("type", ""), "",
                             selector.get("counters", {}), _SELECTOR))
    for channel in document.get("channels", []):
        counters = channel.get("counters", {})
        rows.append(_Row(f"CHANNEL.{channel.get('name', '?')}", channel.get("name", "?"), channel.get("type", ""),
                         channel.get("state", ""), counters, _CHANNEL, _lag(channel.get("lag")), _fill(counters)))
    for group in document.get("sinkgroups", []):
        sinks = group.get("sinks", [])
        indent = ""
        if len(sinks) != 1 or group.get("processor", "default") != "default":
            rows.append(_Row(f"SINKGROUP.{group.get('name', '?')}", group.get("name", "?"),
                             group.get("processor", ""), group.get("state", ""), group.get("counters", {}), _GROUP))
            indent = "  "
        for sink in sinks:
            rows.append(_Row(f"SINK.{sink.get('name', '?')}", indent + sink.get("name", "?"), sink.get("type", ""),
                             sink.get("state", ""), sink.get("counters", {}), _SINK))
    return rows


def _compact(value: int) -> str:
    """Totals in at most 6 characters: 999999, then 1.23M, 12.3M, 123M, 1.23G ..."""
    if abs(value) < 1_000_000:
        return str(value)
    for unit, scale in (("G", 1e9), ("M", 1e6)):
        if abs(value) >= scale:
            scaled = value / scale
            return f"{scaled:.3g}{unit}" if scaled < 1000 else f"{scaled:.0f}{unit}"
    return str(value)  # pragma: no cover  # unreachable: 1e6 <= value covered above


def _rate(previous: _Row | None, current: _Row, key: str | None, seconds: float | None) -> str:
    if key is None:
        return ""
    if previous is None or not seconds or seconds <= 0:
        return "-"
    delta = _number(current.counters, key) - _number(previous.counters, key)
    if delta < 0:
        return "-"  # restarted or reloaded between the snapshots: counters began again at 0
    rate = delta / seconds
    return f"{rate:.1f}" if rate < 100 else _compact(round(rate))


def _total(row: _Row, key: str | None) -> str:
    return "" if key is None else _compact(_number(row.counters, key))


def _clock(time_ms: Any) -> str:
    try:
        return datetime.fromtimestamp(int(time_ms) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return "?"


#: (title, width) of the columns right of NAME, in order; cells are right-aligned except TYPE and STATE.
_COLUMNS = (("TYPE", 11), ("STATE", 8), ("IN/s", 7), ("OUT/s", 7), ("IN", 7), ("OUT", 7), ("FILL", 6), ("LAG", 7),
            ("DLQ", 6), ("DROP", 6), ("ERR", 6))
_LEFT = frozenset({"TYPE", "STATE"})
#: Columns left out, in this order, while the table is wider than the screen with NAME at its narrowest: the
#: totals first (the rates say more on a live screen), then TYPE, FILL and LAG. State, rates, dead letters, drops
#: and errors always stay.
_DROP_ORDER = ("IN", "OUT", "TYPE", "FILL", "LAG")
_MIN_NAME = 6


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _layout(width: int, longest_name: int) -> tuple[int, list[tuple[str, int]]]:
    """NAME's width and the columns kept for a screen ``width`` characters wide."""
    columns = list(_COLUMNS)
    for title in _DROP_ORDER:
        if _MIN_NAME + sum(w + 1 for _, w in columns) <= width:
            break
        columns = [column for column in columns if column[0] != title]
    room = width - sum(w + 1 for _, w in columns)
    return max(_MIN_NAME, min(room, max(longest_name, 4))), columns


def render(previous: Document | None, current: Document, width: int = 120, color: bool = False) -> str:
    """One screen for the snapshot ``current``; rates against ``previous`` (``None``: totals only, rates ``-``).

    The NAME column takes what ``width`` leaves after the other columns, down to 6 characters (longer names
    are cut with ``…``); narrower still, the columns in ``_DROP_ORDER`` are left out. With ``color``, states are
    coloured and non-zero dead-letter/drop counts highlighted.
    """
    rows = _rows(current)
    before = {row.key: row for row in _rows(previous)} if previous is not None else {}
    seconds: float | None = None
    if previous is not None:
        try:
            seconds = (int(current.get("time_ms", 0)) - int(previous.get("time_ms", 0))) / 1000
        except (TypeError, ValueError):
            seconds = None
    name_width, columns = _layout(width, max((len(r.label) for r in rows), default=0))

    def paint(text: str, code: str | None) -> str:
        return f"{code}{text}{_RESET}" if color and code else text

    healthy = current.get("healthy")
    health = "healthy" if healthy else "UNHEALTHY"
    lines = [
        f"flafka agent {current.get('agent', '?')} - "
        + paint(health, _STATE_COLOURS["running"] if healthy else _STATE_COLOURS["failing"])
        + f" - {_clock(current.get('time_ms'))}"
        + ("" if previous is not None else " - rates from the next refresh"),
        "",
    ]
    header = [_cut("NAME", name_width).ljust(name_width)]
    header += [title.ljust(w) if title in _LEFT else title.rjust(w) for title, w in columns]
    lines.append(" ".join(header).rstrip())
    for row in rows:
        old = before.get(row.key)
        counts = row.counts
        dead, dropped = _number(row.counters, counts.dead_letters), _number(row.counters, counts.dropped)
        errors = sum(_number(row.counters, key) for key in counts.errors)
        cells = {
            "TYPE": row.type,
            "STATE": row.state,
            "IN/s": _rate(old, row, counts.into, seconds),
            "OUT/s": _rate(old, row, counts.out, seconds),
            "IN": _total(row, counts.into),
            "OUT": _total(row, counts.out),
            "FILL": row.fill,
            "LAG": "" if row.lag is None else _compact(row.lag),
            "DLQ": "" if counts.dead_letters is None else _compact(dead),
            "DROP": "" if counts.dropped is None else _compact(dropped),
            "ERR": "" if not counts.errors else _compact(errors),
        }
        out = [_cut(row.label, name_width).ljust(name_width)]
        for title, w in columns:
            text = _cut(cells[title], w)
            if title in _LEFT:
                out.append(paint(text.ljust(w), _STATE_COLOURS.get(row.state) if title == "STATE" else None))
            elif (title == "DLQ" and dead) or (title == "DROP" and dropped):
                out.append(paint(text.rjust(w), _ALERT))
            else:
                out.append(text.rjust(w))
        lines.append(" ".join(out).rstrip())
    problems = [
        (component, kind)
        for kind, components in (("source", current.get("sources", [])), ("channel", current.get("channels", [])),
                                 ("sink group", current.get("sinkgroups", [])))
        for component in components
    ]
    problems += [(sink, "sink") for group in current.get("sinkgroups", []) for sink in group.get("sinks", [])]
    notes = [
        paint(f"{kind} {component.get('name', '?')} {component['state']}", _STATE_COLOURS[component["state"]])
        + f" since {component.get('since', '?')}: {component.get('last_error', '')}"
        for component, kind in problems
        if component.get("state") in ("failing", "stalled")
    ]
    if notes:
        lines.append("")
        lines.extend(notes)
    return "\n".join(lines) + "\n"


# -- the loop -----------------------------------------------------------------------------------------------


class Unreachable(Exception):
    """``/status`` could not be read; the message is the one line shown to the user."""


_HINT = "is the agent running with --metrics-port or -Dflume.monitoring.type=http?"


def status_url(url: str) -> str:
    """``http://h:p`` (or ``h:p``) → ``http://h:p/status``."""
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/") + "/status"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return _reason(exc.reason) if isinstance(exc.reason, BaseException) else str(exc.reason)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within {FETCH_TIMEOUT:g} s"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def fetch_status(url: str, timeout: float = FETCH_TIMEOUT) -> dict[str, Any]:
    """GET ``url`` (the full ``.../status`` address) and decode it; :class:`Unreachable` on any failure."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise Unreachable(f"{url} answered HTTP {exc.code} {exc.reason}; is it a flafka agent's monitoring "
                          "server (with /status)?") from exc
    except (OSError, ValueError) as exc:  # URLError, refused, timeout; ValueError: a malformed URL
        raise Unreachable(f"cannot reach {url}: {_reason(exc)}; {_HINT}") from exc
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise Unreachable(f"{url} did not answer a JSON status document") from exc
    if not isinstance(document, dict):
        raise Unreachable(f"{url} did not answer a JSON status document")
    return document


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flafka-agent top",
        description="A live terminal view of a running agent, read from its monitoring server's /status.",
        epilog="With --once, top reads /status twice, --interval apart, prints one screen with rates and exits "
               "(--interval 0: one read, totals only). Exit codes: 0 ok (also on Ctrl-C), 1 the endpoint cannot "
               "be read (--once), 2 usage error.",
    )
    p.add_argument("--url", default=DEFAULT_URL,
                   help=f"the agent's monitoring server (default {DEFAULT_URL}; /status is appended)")
    p.add_argument("--interval", type=non_negative_seconds, default=1.0, metavar="SECONDS",
                   help="seconds between refreshes (default 1)")
    p.add_argument("--once", action="store_true", help="print one screen and exit (see below)")
    p.add_argument("--no-color", action="store_true", help="no ANSI colours (also when NO_COLOR is set)")
    return p


def run(url: str, interval: float, once: bool, color: bool, out: TextIO, *, tty: bool,
        width: Callable[[], int], fetch: Callable[[str], dict[str, Any]] = fetch_status,
        sleep: Callable[[float], None] = time.sleep, screens: int | None = None) -> int:
    """The loop: fetch, render, print, wait. ``screens`` bounds the live mode (tests); ``None`` runs until
    interrupted. Returns the exit code."""
    target = status_url(url)
    if once:
        try:
            first = fetch(target)
            second = None
            if interval > 0:
                sleep(interval)
                second = fetch(target)
        except Unreachable as exc:
            print(f"flafka-agent top: {exc}", file=sys.stderr)
            return 1
        out.write(render(first, second, width(), color) if second is not None else render(None, first, width(), color))
        out.flush()
        return 0
    last: dict[str, Any] | None = None  # the last document read
    rate_base: dict[str, Any] | None = None  # the snapshot rates are taken against: none right after an outage
    shown = 0
    while screens is None or shown < screens:
        try:
            last = fetch(target)
            screen = render(rate_base, last, width(), color)
            rate_base = last
        except Unreachable as exc:
            rate_base = None  # rates again from two snapshots taken after the outage, not across it
            error = f"{exc} (retrying every {interval:g} s)"
            screen = ("\x1b[1;31m" + error + _RESET if color else error) + "\n"
            if last is not None:  # the last good table without its header line, so it is not taken as live
                screen += f"last data, from {_clock(last.get('time_ms'))}:\n"
                screen += render(None, last, width(), color=False).split("\n", 1)[1]
        out.write((_CLEAR if tty else "\n" if shown else "") + screen)
        out.flush()
        shown += 1
        if screens is None or shown < screens:
            sleep(interval)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    tty = sys.stdout.isatty()
    color = tty and not args.no_color and not os.environ.get("NO_COLOR")
    try:
        return run(args.url, args.interval, args.once, color, sys.stdout, tty=tty,
                   width=lambda: shutil.get_terminal_size((120, 24)).columns)
    except KeyboardInterrupt:
        if tty:
            sys.stdout.write("\n")
        return 0
