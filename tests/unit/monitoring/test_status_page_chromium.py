"""The status page drawn by headless Chromium: against a local stand-in serving /status documents that change
between requests, and against a real in-process agent's monitoring server.

Chromium is a test dependency (Debian package ``chromium``, installed by CI): without it these tests fail and
say how to install it. Each run is bounded by a timeout, uses a fresh profile directory and loopback only;
``--virtual-time-budget`` lets the page's one-second refreshes run several times before the DOM is dumped.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import textwrap
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from flafka.config.loader import plan_from_properties
from flafka.config.properties import parse_properties
from flafka.monitoring.http import MonitoringServer
from flafka.runtime.agent import Agent
from flafka.testing import wait_until
from tests.unit.monitoring.status_documents import StatusServer, counting

#: Seconds one Chromium run may take (it takes one or two on this machine).
CHROMIUM_TIMEOUT = 90
#: Virtual milliseconds the page runs before the DOM is dumped or the screenshot taken: five refreshes.
VIRTUAL_TIME_MS = 5000
WIDTH, HEIGHT = 1400, 900
HEADER_PX = 60  # the page's header line (agent, health, time) is shorter than this


def chromium(tmp_path: Path, url: str, *output: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("chromium is not installed; install it with `apt-get install -y --no-install-recommends "
                    "chromium` (CI does so in .ci/run)")
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-extensions", "--disable-background-networking", "--disable-component-update",
               f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}",
               f"--virtual-time-budget={VIRTUAL_TIME_MS}", *output, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT, check=False,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done


# -- the dumped DOM as a tree ------------------------------------------------------------------------------

_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                   "wbr"})


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.texts) + "".join(child.text for child in self.children)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, tag: str | None = None, **attrs: str) -> list[Node]:
        """Descendants (and self) with that tag and attributes (``data_counter`` for data-counter; ``class_``
        matches one of the classes)."""
        wanted = {name.rstrip("_").replace("_", "-"): value for name, value in attrs.items()}
        return [node for node in self.walk()
                if (tag is None or node.tag == tag)
                and all(value in node.classes() if name == "class" else node.attrs.get(name) == value
                        for name, value in wanted.items())]

    def one(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find(tag, **attrs)
        assert len(found) == 1, f"{len(found)} elements with {attrs}"
        return found[0]

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].texts.append(data)


def dom(tmp_path: Path, url: str) -> Node:
    builder = _Builder()
    builder.feed(chromium(tmp_path, url, "--dump-dom").stdout)
    return builder.root


def box(page: Node, component_id: str) -> Node:
    return page.one(id=component_id)


def counter(page: Node, component_id: str, label: str) -> str:
    return box(page, component_id).one(data_counter=label).text


# -- the screenshot as pixels ------------------------------------------------------------------------------


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB triples of an 8-bit RGB or RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, chunks, header = 8, bytearray(), b""
    while position < len(data):
        (length,), kind = struct.unpack(">I", data[position:position + 4]), data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks += body
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0), f"unexpected PNG format {depth=} {interlace=}"
    assert colour in (2, 6), f"unexpected PNG colour type {colour}"
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(bytes(chunks))
    rows: list[bytes] = []
    above = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind == 1:  # Sub
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, above, strict=True))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + above[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b, c = above[i], above[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        else:
            assert kind == 0, f"unknown PNG filter {kind}"
        rows.append(bytes(line) if channels == 3 else bytes(v for i, v in enumerate(line) if i % 4 != 3))
        above = line
    return width, height, rows


def near(rgb: tuple[int, int, int], pixel: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, pixel, strict=True))


# The page's state colours (its CSS variables --running, --failing, --stalled).
GREEN, RED, AMBER = (0x1A, 0x7F, 0x37), (0xCF, 0x22, 0x2E), (0xD4, 0xA7, 0x2C)


def colour_columns(rows: list[bytes], width: int, colour: tuple[int, int, int]) -> list[int]:
    """How many pixels near ``colour`` each third of the image (sources, channels, sinks) holds."""
    thirds = [0, 0, 0]
    for row in rows:
        for x in range(width):
            if near(colour, (row[3 * x], row[3 * x + 1], row[3 * x + 2])):
                thirds[min(2, x * 3 // width)] += 1
    return thirds


# -- against a stand-in serving documents -------------------------------------------------------------------


@pytest.fixture
def stand_in() -> Iterator[StatusServer]:
    with StatusServer(counting) as server:
        yield server


def test_every_component_is_drawn_with_its_state_counters_and_links(tmp_path: Path, stand_in: StatusServer) -> None:
    page = dom(tmp_path, stand_in.url + "/")
    served = stand_in.requests
    assert served >= 3, "the page refreshes every second"
    assert set(stand_in.paths) == {"/", "/status"}  # nothing else: no favicon, no external resource
    assert page.one(id="agent").text == "a1"
    assert page.one(id="health").attrs["data-healthy"] == "false"
    assert "unreachable" not in page.one(tag="body").classes()
    expected = {"SOURCE.r1": "running", "CHANNEL.c1": "running", "CHANNEL.c2": "failing", "CHANNEL.dlq": "starting",
                "SINKGROUP.g1": "running", "SINK.k1": "stalled"}
    assert {component: box(page, component).attrs["data-state"] for component in expected} == expected
    # The last or next-to-last document served (a refresh may be in flight when the DOM is dumped); then rates:
    # each document is two seconds and 100 received events after the one before.
    received = int(counter(page, "SOURCE.r1", "received"))
    assert received in (1200 + 100 * (served - 1), 1200 + 100 * (served - 2))
    assert counter(page, "SOURCE.r1", "in/s") == "50.0"
    assert counter(page, "SOURCE.r1", "Kafka lag") == "42"
    assert counter(page, "CHANNEL.c1", "taken") == "1150"
    assert counter(page, "SINK.k1", "delivered") == "1150"
    assert box(page, "CHANNEL.c1").one(tag="div", class_="bar").attrs["data-fill"] == "0.4"
    # Non-zero dead-lettered and dropped counts are highlighted, zero ones are not.
    assert "alert" in box(page, "SOURCE.r1").one(data_counter="dead-lettered").classes()
    assert "alert" not in box(page, "SOURCE.r1").one(data_counter="dropped").classes()
    assert "alert" in box(page, "SINK.k1").one(data_counter="dropped").classes()
    assert "no progress for 61 s" in box(page, "SINK.k1").text
    assert "the file channel reports itself unhealthy" in box(page, "CHANNEL.c2").text
    assert "timestamp" in box(page, "SOURCE.r1").one(id="INTERCEPTOR.r1.i1").text
    assert "txn [1]" in box(page, "SOURCE.r1").text  # lag per partition
    assert "1190 routed · 2 optional write failures" in box(page, "SOURCE.r1").text
    links = {(path.attrs["data-from"], path.attrs["data-to"], path.attrs.get("class", ""))
             for path in page.one(id="links").find(tag="path")}
    assert links == {("SOURCE.r1", "CHANNEL.c1", ""), ("SOURCE.r1", "CHANNEL.c2", ""), ("CHANNEL.c1", "SINK.k1", ""),
                     ("SOURCE.r1", "CHANNEL.dlq", "dead-letters")}
    assert "failovers 1 · sink failures 3" in page.one(id="SINKGROUP.g1").text
    assert all(path.attrs["d"].startswith("M") for path in page.one(id="links").find(tag="path"))


def test_a_stopped_agent_is_shown_unreachable_with_the_last_data(tmp_path: Path) -> None:
    with StatusServer(counting, stop_after=2) as server:
        page = dom(tmp_path, server.url + "/")
        assert server.stopped.is_set()
    assert "unreachable" in page.one(tag="body").classes()
    assert page.one(id="banner").text.startswith("agent unreachable")
    assert counter(page, "SOURCE.r1", "received") == "1300"  # the second and last document, greyed by CSS


def test_the_page_works_behind_a_path_prefix(tmp_path: Path) -> None:
    with StatusServer(counting, prefix="/agents/a1") as server:
        page = dom(tmp_path, server.url + "/")
    assert set(server.paths) == {"/agents/a1/", "/agents/a1/status"}
    assert box(page, "SOURCE.r1").attrs["data-state"] == "running"


def test_the_screenshot_shows_the_state_colours_in_their_columns(tmp_path: Path, stand_in: StatusServer) -> None:
    shot = tmp_path / "status-page.png"
    chromium(tmp_path, stand_in.url + "/", f"--screenshot={shot}")
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    assert len({row[i:i + 3] for row in rows[::10] for i in range(0, 3 * width, 30)}) > 20, "a blank image"
    # Below the header line, whose "unhealthy" is red too: r1 (sources) and c1 (channels) run: green; c2
    # (channels) fails: red; k1 (sinks) stalls: amber. A box's marker is a 6 px border and a badge: > 500 pixels.
    pipeline = rows[HEADER_PX:]
    green, red, amber = (colour_columns(pipeline, width, colour) for colour in (GREEN, RED, AMBER))
    assert [n > 500 for n in green] == [True, True, False], green
    assert [n > 500 for n in red] == [False, True, False], red
    assert [n > 500 for n in amber] == [False, False, True], amber
    assert sum(green) + sum(red) + sum(amber) < width * (height - HEADER_PX) // 10, "state colours only as markers"
    shutil.copyfile(shot, Path("/tmp/status-page.png"))  # for a person to look at


# -- against a real agent -----------------------------------------------------------------------------------

PIPELINE = """
a.sources = r1
a.channels = c1
a.sinks = k1
a.sources.r1.type = seq
a.sources.r1.totalEvents = 2000
a.sources.r1.channels = c1
a.sources.r1.interceptors = i1
a.sources.r1.interceptors.i1.type = timestamp
a.channels.c1.type = memory
a.channels.c1.capacity = 10000
a.sinks.k1.type = null
a.sinks.k1.channel = c1
"""


def test_a_real_agent_is_drawn_running_with_counters_that_moved(tmp_path: Path) -> None:
    agent = Agent(plan_from_properties(parse_properties(textwrap.dedent(PIPELINE), "t.properties"), "a").plan)
    server = MonitoringServer(agent, port=0)
    agent.start()
    server.start()
    try:
        wait_until(lambda: agent.counters()["SINK.k1"]["EventDrainSuccessCount"] == "2000",
                   message="all events delivered")
        page = dom(tmp_path, server.url + "/")
    finally:
        server.stop()
        agent.stop(2)
    assert page.one(id="agent").text == "a"
    assert page.one(id="health").attrs["data-healthy"] == "true"
    for component in ("SOURCE.r1", "CHANNEL.c1", "SINK.k1"):
        assert box(page, component).attrs["data-state"] == "running", component
    assert int(counter(page, "SOURCE.r1", "received")) == 2000
    assert int(counter(page, "CHANNEL.c1", "put")) == 2000
    assert int(counter(page, "SINK.k1", "delivered")) == 2000
    assert "2000 → 2000" in box(page, "SOURCE.r1").one(id="INTERCEPTOR.r1.i1").text
    links = {(path.attrs["data-from"], path.attrs["data-to"]) for path in page.one(id="links").find(tag="path")}
    assert links == {("SOURCE.r1", "CHANNEL.c1"), ("CHANNEL.c1", "SINK.k1")}
    assert "single" in page.one(id="SINKGROUP.k1").classes()  # Flume's implicit group of one sink: no frame

