"""The live status page that the monitoring server serves at ``/``: one self-contained HTML file.

``static/status.html`` has its CSS and script inline and loads nothing else (agents run air-gapped); it reads
``status`` relative to its own address every second (``/status`` when served at ``/``, so it also works behind
a path prefix) and draws sources → channels → sinks from that document (see :mod:`flafka.monitoring.http`).
"""

from __future__ import annotations

import functools
from importlib import resources

#: Where the page lives inside the package (package data: ``monitoring/static/*.html``).
PAGE = ("static", "status.html")


@functools.cache
def status_page() -> bytes:
    """The page's bytes (UTF-8 HTML), read once from the installed package."""
    return resources.files("flafka.monitoring").joinpath(*PAGE).read_bytes()
