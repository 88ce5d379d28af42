"""``flafka-agent top``: the pure render() of /status documents, the loop, and the CLI against a local server."""

from __future__ import annotations

import copy
import io
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from flafka.cli import main
from flafka.monitoring import top
from flafka.monitoring.top import Unreachable, render
from tests.unit.monitoring.status_documents import DOCUMENT, StatusServer, counting, later

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def table(screen: str) -> dict[str, dict[str, str]]:
    """The table of a rendered screen: row name (indent stripped) -> column title -> cell. A left-aligned
    cell (NAME, TYPE, STATE) starts where its title starts, a right-aligned one ends where its title ends;
    an empty cell is ""."""
    lines = _ANSI.sub("", screen).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("NAME"))
    titles = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", lines[at])]
    rows: dict[str, dict[str, str]] = {}
    for line in lines[at + 1:]:
        if not line.strip():
            break
        cells = dict.fromkeys((title for title, _, _ in titles), "")
        for token in re.finditer(r"\S+", line):
            column = next((title for title, start, end in titles
                           if (title in ("NAME", "TYPE", "STATE") and token.start() == start)
                           or (title not in ("NAME", "TYPE", "STATE") and token.end() == end)), None)
            if column is None and token.start() <= titles[0][2] + 2:
                column = "NAME"  # an indented name (interceptor, selector, sink in a group)
            assert column is not None, f"cell {token.group()!r} under no title in {line!r}"
            cells[column] = token.group()
        rows[cells["NAME"]] = cells
    return rows


# -- render -------------------------------------------------------------------------------------------------


def test_first_screen_shows_totals_and_no_rates() -> None:
    screen = render(None, DOCUMENT, width=160)
    header = screen.splitlines()[0]
    assert "a1" in header
    assert "UNHEALTHY" in header
    assert "2025-11-26 08:00:00 UTC" in header
    rows = table(screen)
    assert list(rows) == ["r1", "i1", "selector", "c1", "c2", "dlq", "g1", "k1"]  # configuration order, nested
    r1 = rows["r1"]
    assert (r1["TYPE"], r1["STATE"], r1["IN/s"], r1["OUT/s"], r1["IN"], r1["OUT"]) == \
           ("kafka", "running", "-", "-", "1200", "1190")
    assert (r1["LAG"], r1["DLQ"], r1["DROP"], r1["ERR"]) == ("42", "10", "0", "3")  # lag summed; 2 + 1 failures
    assert (rows["i1"]["IN"], rows["i1"]["OUT"], rows["i1"]["ERR"]) == ("1200", "1195", "5")
    assert rows["c1"]["FILL"] == "0.4%"
    assert (rows["selector"]["OUT"], rows["selector"]["DROP"], rows["selector"]["ERR"]) == ("1190", "0", "2")
    assert (rows["dlq"]["STATE"], rows["dlq"]["IN"], rows["dlq"]["FILL"]) == ("starting", "10", "10.0%")
    assert rows["g1"]["ERR"] == "3"
    assert (rows["k1"]["IN"], rows["k1"]["OUT"], rows["k1"]["DROP"], rows["k1"]["ERR"]) == ("1160", "1150", "4", "1")


def test_rates_are_count_deltas_over_the_time_between_snapshots() -> None:
    after = later(DOCUMENT, 2.0, a=("SOURCE.r1", "EventReceivedCount", "1400"),
                  b=("SOURCE.r1", "EventAcceptedCount", "1291"), c=("SINK.k1", "EventDrainSuccessCount", "1450"),
                  d=("CHANNEL.c1", "EventPutSuccessCount", "1291"))
    rows = table(render(DOCUMENT, after, width=160))
    assert (rows["r1"]["IN/s"], rows["r1"]["OUT/s"]) == ("100", "50.5")  # from 100 events/s on, whole numbers
    assert (rows["c1"]["IN/s"], rows["c1"]["OUT/s"]) == ("50.5", "0.0")
    assert rows["k1"]["OUT/s"] == "150"
    assert rows["i1"]["IN/s"] == "0.0"
    assert "rates from the next refresh" not in render(DOCUMENT, after)


def test_a_counter_that_went_back_or_a_new_component_has_no_rate() -> None:
    after = later(DOCUMENT, 1.0, a=("SOURCE.r1", "EventReceivedCount", "5"))  # the agent reloaded: counters anew
    after["channels"].append({"name": "c3", "type": "memory", "state": "starting",
                              "counters": {"EventPutSuccessCount": "9"}})
    rows = table(render(DOCUMENT, after, width=160))
    assert rows["r1"]["IN/s"] == "-"
    assert rows["r1"]["OUT/s"] == "0.0"
    assert (rows["c3"]["IN/s"], rows["c3"]["IN"], rows["c3"]["STATE"]) == ("-", "9", "starting")
    same_time = later(DOCUMENT, 0.0)
    assert table(render(DOCUMENT, same_time))["r1"]["IN/s"] == "-"  # no time passed: no rate, no division by 0


def test_missing_counters_count_as_zero_and_extra_keys_are_ignored() -> None:
    bare = {"agent": "a2", "time_ms": 1764144000000, "healthy": True,
            "sources": [{"name": "r9", "type": "seq", "state": "running", "channels": ["c9"], "counters": {},
                         "lag": [], "interceptors": [], "future": {"x": 1}}],
            "channels": [{"name": "c9", "type": "memory", "state": "running", "lag": [],
                          "counters": {"ChannelCapacity": "0", "ChannelFillPercentage": "1.7976931348623157E308"}}],
            "sinkgroups": [{"name": "g9", "processor": "default", "state": "running", "counters": {},
                            "sinks": [{"name": "k9", "type": "null", "channel": "c9", "state": "running",
                                       "counters": {"EventDrainSuccessCount": "not a number"}}]}],
            "new_top_level_key": []}
    screen = render(None, bare)
    assert "healthy" in screen.splitlines()[0]
    assert "UNHEALTHY" not in screen
    rows = table(screen)
    assert list(rows) == ["r9", "c9", "k9"]  # a default group of one sink is not a row of its own
    assert (rows["r9"]["IN"], rows["r9"]["DLQ"], rows["r9"]["DROP"], rows["r9"]["ERR"], rows["r9"]["LAG"]) == \
           ("0", "0", "0", "0", "")
    assert rows["c9"]["FILL"] == "-"  # no bounded capacity
    assert rows["k9"]["OUT"] == "0"


def test_failing_and_stalled_components_say_since_when_and_why() -> None:
    screen = render(None, DOCUMENT)
    rows = table(screen)
    assert rows["c2"]["STATE"] == "failing"
    assert rows["k1"]["STATE"] == "stalled"
    assert "channel c2 failing since 2026-11-26T08:00:00.000Z: the file channel reports itself unhealthy" in screen
    assert "sink k1 stalled since 2026-11-26T08:01:00.000Z: input waiting, no progress for 61 s" in screen
    assert "r1 running since" not in screen


def test_narrow_screens_cut_names_and_keep_the_alarm_columns() -> None:
    long = copy.deepcopy(DOCUMENT)
    long["channels"][0]["name"] = "transactions-memory-channel"
    wide = render(None, long, width=200)
    assert "transactions-memory-channel" in wide
    for width in (100, 80, 60):
        screen = render(None, long, width=width)
        table_lines = screen.split("\n\n")[1].splitlines()
        assert all(len(line) <= width for line in table_lines), (width, screen)
        rows = table(screen)
        assert "transactions-memory-channel" not in rows
        cut = next(name for name in rows if name.startswith("trans"))
        assert cut.endswith("…")
        assert (rows["r1"]["STATE"], rows["r1"]["DLQ"], rows["k1"]["DROP"], rows["k1"]["ERR"]) == \
               ("running", "10", "4", "1")
    assert "IN/s" in render(None, long, width=60)
    assert " IN " not in render(None, long, width=60).split("\n\n")[1].splitlines()[0] + " "  # totals went first


def test_colour_marks_states_and_non_zero_dead_letters_only_when_asked() -> None:
    plain = render(None, DOCUMENT, color=False)
    assert "\x1b[" not in plain
    coloured = render(None, DOCUMENT, color=True)
    assert "\x1b[32mrunning" in coloured
    assert "\x1b[1;31mfailing" in coloured
    assert "\x1b[33mstalled" in coloured
    r1_line = next(line for line in coloured.splitlines() if line.startswith("r1"))
    assert re.search(r"\x1b\[1;33m +10\x1b\[0m", r1_line)  # 10 dead-lettered: highlighted
    assert not re.search(r"\x1b\[1;33m +0\x1b\[0m", r1_line)  # 0 dropped: not
    assert _ANSI.sub("", coloured) == plain  # colour adds no width


# -- the loop ------------------------------------------------------------------------------------------------


class Script:
    """A fetch that answers a list of documents (or raises Unreachable for None), and a sleep that records."""

    def __init__(self, answers: list[dict[str, Any] | None]) -> None:
        self.answers, self.slept, self.urls = list(answers), list[float](), list[str]()

    def fetch(self, url: str) -> dict[str, Any]:
        self.urls.append(url)
        answer = self.answers.pop(0)
        if answer is None:
            raise Unreachable(f"cannot reach {url}: connection refused")
        return answer

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_live_mode_redraws_a_tty_and_shows_the_error_with_the_last_data() -> None:
    script = Script([DOCUMENT, later(DOCUMENT, 1.0, a=("SOURCE.r1", "EventReceivedCount", "1300")), None,
                     later(DOCUMENT, 3.0, a=("SOURCE.r1", "EventReceivedCount", "1500"))])
    out = io.StringIO()
    code = top.run("127.0.0.1:9", 0.5, False, False, out, tty=True, width=lambda: 120, fetch=script.fetch,
                   sleep=script.sleep, screens=4)
    assert code == 0
    assert script.urls == ["http://127.0.0.1:9/status"] * 4
    assert script.slept == [0.5] * 3  # between screens, not after the last
    screens = out.getvalue().split("\x1b[H\x1b[2J")
    assert screens[0] == ""
    assert len(screens) == 5
    assert table(screens[2])["r1"]["IN/s"] == "100"
    assert screens[3].startswith("cannot reach http://127.0.0.1:9/status: connection refused (retrying every 0.5 s)")
    assert "last data, from 2025-11-26 08:00:01 UTC" in screens[3]
    assert table(screens[3])["r1"]["IN"] == "1300"
    assert table(screens[4])["r1"]["IN/s"] == "-"  # after an outage, rates start again from two snapshots


def test_live_mode_without_a_tty_prints_successive_blocks() -> None:
    script = Script([DOCUMENT, DOCUMENT])
    out = io.StringIO()
    top.run("http://h:1/", 1.0, False, False, out, tty=False, width=lambda: 120, fetch=script.fetch,
            sleep=script.sleep, screens=2)
    assert script.urls == ["http://h:1/status"] * 2
    assert "\x1b" not in out.getvalue()
    assert out.getvalue().count("flafka agent a1") == 2


def test_once_reads_twice_interval_apart_unless_the_interval_is_zero() -> None:
    script = Script([DOCUMENT, later(DOCUMENT, 2.0, a=("SOURCE.r1", "EventReceivedCount", "1300"))])
    out = io.StringIO()
    assert top.run("h:1", 2.0, True, False, out, tty=False, width=lambda: 120, fetch=script.fetch,
                   sleep=script.sleep) == 0
    assert script.slept == [2.0]
    assert table(out.getvalue())["r1"]["IN/s"] == "50.0"
    script = Script([DOCUMENT])
    out = io.StringIO()
    assert top.run("h:1", 0, True, False, out, tty=False, width=lambda: 120, fetch=script.fetch,
                   sleep=script.sleep) == 0
    assert script.slept == []
    assert table(out.getvalue())["r1"]["IN/s"] == "-"


# -- the CLI against a local server --------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[StatusServer]:
    with StatusServer(counting) as running:
        yield running


def test_cli_once_prints_one_screen_and_exits_0(server: StatusServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["top", "--once", "--interval", "0", "--url", server.url]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert server.requests == 1
    assert "\x1b" not in out  # not a terminal: no colour, no clearing
    rows = table(out)
    assert set(rows) == {"r1", "i1", "selector", "c1", "c2", "dlq", "g1", "k1"}
    assert (rows["r1"]["IN"], rows["r1"]["IN/s"]) == ("1200", "-")


def test_cli_once_with_an_interval_shows_rates(server: StatusServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["top", "--once", "--interval", "0.05", "--no-color", "--url", server.url + "/"]) == 0
    assert server.requests == 2
    assert table(capsys.readouterr().out)["r1"]["IN/s"] == "50.0"  # the documents' own clock: +2 s, +100 events


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_unreachable_endpoint_is_one_clear_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # bound and released: nothing listens there
    assert main(["top", "--once", "--url", url]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"flafka-agent top: cannot reach {url}/status: connection refused; is the agent running with "
                   "--metrics-port or -Dflume.monitoring.type=http?\n")


def test_cli_a_server_without_status_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with StatusServer(counting, prefix="/elsewhere") as other:
        url = other.url.removesuffix("/elsewhere")
        assert main(["top", "--once", "--url", url]) == 1
    assert capsys.readouterr().err == (f"flafka-agent top: {url}/status answered HTTP 404 Not Found; is it a flafka "
                                       "agent's monitoring server (with /status)?\n")


def test_cli_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["top", "--interval", "-1"]) == 2
    assert "must be 0 or more seconds" in capsys.readouterr().err
    assert main(["top", "--bogus"]) == 2


def test_ctrl_c_exits_0_quietly(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(top, "run", interrupted)
    assert main(["top"]) == 0
    assert capsys.readouterr().err == ""
