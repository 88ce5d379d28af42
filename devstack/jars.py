"""Fetching the pinned server jars with Maven, once, into a per-set cache directory."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from devstack.errors import DevstackError
from devstack.paths import POM, cache_root

_POM_NS = "{http://maven.apache.org/POM/4.0.0}"
# Written last into a fetched lib dir: a dir without it (an interrupted copy) is never used.
_MARKER = ".complete"
_MVN_TAIL_LINES = 30


def pom_properties(pom: Path = POM) -> dict[str, str]:
    """The <properties> of the pom, so versions are written once (in the pom) and read here."""
    try:
        root = ET.parse(pom).getroot()
    except (OSError, ET.ParseError) as exc:
        raise DevstackError(f"cannot read {pom}: {exc}") from exc
    props = root.find(f"{_POM_NS}properties")
    if props is None:
        return {}
    return {child.tag.removeprefix(_POM_NS): (child.text or "").strip() for child in props}


def jar_set_version(jar_set: str) -> str:
    """The version a jar set is named by: the pom property `<set>.version` (e.g. kafka.version)."""
    version = pom_properties().get(f"{jar_set}.version")
    if not version:
        raise DevstackError(f"{POM} has no <{jar_set}.version> property")
    return version


def lib_dir(jar_set: str) -> Path:
    return cache_root() / f"{jar_set}-{jar_set_version(jar_set)}" / "lib"


def _pom_digest() -> str:
    # An edited pom (a new exclusion, another logging jar) must not reuse a stale copy of the
    # same version, so the copy is keyed by the pom's content too.
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def ensure_jars(jar_set: str, say: Callable[[str], None]) -> Path:
    """Return the lib dir of `jar_set` (a Maven profile in the pom), copying the jars there if needed.

    Maven keeps its own cache in ~/.m2, so a re-copy after a pom edit costs seconds, not a download.
    """
    lib = lib_dir(jar_set)
    digest = _pom_digest()
    marker = lib / _MARKER
    if marker.is_file() and marker.read_text().strip() == digest:
        return lib

    mvn = shutil.which("mvn")
    if mvn is None:
        raise DevstackError(
            f"the {jar_set} jars are not cached in {lib} and `mvn` is not on PATH: "
            "install Maven 3.8+ (e.g. `apt-get install maven`)"
        )
    lib.parent.mkdir(parents=True, exist_ok=True)
    # Copy into a sibling temp dir and rename at the end, so an interrupted fetch leaves no half lib.
    tmp = Path(tempfile.mkdtemp(prefix=f".{jar_set}-fetch-", dir=lib.parent))
    cmd = [
        mvn, "-q", "-B", "-f", str(POM), "-P", jar_set,
        "dependency:copy-dependencies", f"-DoutputDirectory={tmp}",
    ]
    say(f"fetching the {jar_set} jars with Maven (first time only): {' '.join(cmd)}")
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            lines = (proc.stdout + proc.stderr).strip().splitlines()
            tail = "\n".join(lines[-_MVN_TAIL_LINES:])
            raise DevstackError(f"mvn failed (exit {proc.returncode}) fetching the {jar_set} jars:\n{tail}")
        jars = list(tmp.glob("*.jar"))
        if not jars:
            raise DevstackError(f"mvn copied no jars for {jar_set} (is the profile `{jar_set}` in {POM}?)")
        (tmp / _MARKER).write_text(digest + "\n")
        if lib.exists():
            shutil.rmtree(lib)
        os.replace(tmp, lib)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    say(f"fetched {len(jars)} jars in {time.monotonic() - started:.1f}s into {lib}")
    return lib
