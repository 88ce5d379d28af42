"""The status page as a file: what the monitoring server serves at ``/`` (drawn in Chromium by
test_status_page_chromium.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from flafka.monitoring.page import status_page


class References(HTMLParser):
    """Every URL the page's tags refer to, and the ids they carry."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: set[str] = set()
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [value or "" for name, value in attrs if name in ("src", "href", "action", "srcset")]
        if values.get("id"):
            self.ids.add(values["id"] or "")
        self.scripts += tag == "script"


def test_the_page_is_utf8_html_read_once() -> None:
    page = status_page()
    assert page is status_page()  # cached
    text = page.decode("utf-8")
    assert text.startswith("<!DOCTYPE html>")
    parser = References()
    parser.feed(text)
    assert {"agent", "health", "updated", "banner", "sources", "channels", "sinks", "links"} <= parser.ids
    assert parser.scripts == 1


def test_the_page_loads_nothing_from_elsewhere() -> None:
    """Agents run air-gapped: no stylesheet, script, font or image from any address, not even the favicon."""
    text = status_page().decode()
    parser = References()
    parser.feed(text)
    assert parser.urls == ["data:,"]  # the empty favicon, so the browser does not ask the agent for one
    assert not re.search(r"@import|url\(", text)
    # The only absolute URL is SVG's namespace name, which is never fetched.
    assert set(re.findall(r"https?://[^\s\"'`)]+", text)) == {"http://www.w3.org/2000/svg"}
