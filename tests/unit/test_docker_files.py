"""docker/: what can be checked without a Docker engine (none runs here).

- The Dockerfile, read by a small strict parser: known instructions only, a non-root USER, exec-form ENTRYPOINT
  and HEALTHCHECK, the monitoring endpoint on, /var/lib/flafka a volume. The rules are also run against broken
  Dockerfiles, so they can fail.
- The image's install steps (the files it COPYs, ``pip install`` of them without extras) in a fresh venv, offline:
  the dependencies come from this interpreter's site-packages; the image downloads them.
- The HEALTHCHECK command itself: 0 against a healthy agent, non-zero when /health answers 503 and when nothing
  listens.
- compose.yaml: the services, pinned images, healthchecks and loopback-only ports.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import pytest
import yaml

from flafka import __version__

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
METRICS_PORT = 41414
StartAgent: TypeAlias = Callable[[str, int], int]


@dataclass(frozen=True)
class Instruction:
    line: int
    name: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form instruction (ValueError when it is shell form)."""
        value = json.loads(self.args)
        if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            raise ValueError(f"line {self.line}: {self.name} is not an exec-form JSON array of strings")
        return value


def parse(text: str) -> list[Instruction]:
    """Dockerfile instructions, continuation lines joined; comments and blank lines skipped. Strict: an unknown
    instruction, a dangling continuation or a first instruction other than FROM/ARG is an error."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        pending.append(stripped.removesuffix("\\").strip())
        if stripped.endswith("\\"):
            continue
        name, _, args = " ".join(pending).partition(" ")
        pending = []
        if name.upper() not in INSTRUCTIONS or name != name.upper():
            raise ValueError(f"line {start}: unknown instruction {name!r}")
        out.append(Instruction(start, name, args.strip()))
    if pending:
        raise ValueError("the file ends inside a continuation line")
    if not out or out[0].name not in {"FROM", "ARG"}:
        raise ValueError("the first instruction must be FROM (or ARG)")
    return out


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last_from = max(i for i, ins in enumerate(instructions) if ins.name == "FROM")
    return instructions[last_from:]


def healthcheck_command(stage: list[Instruction]) -> list[str]:
    (check,) = [ins for ins in stage if ins.name == "HEALTHCHECK"]
    options, _, command = check.args.partition("CMD ")
    assert all(option.startswith("--") for option in options.split()), options
    return Instruction(check.line, "HEALTHCHECK", command).exec_form()


def problems(instructions: list[Instruction]) -> list[str]:
    """What is wrong with the image the final stage builds (empty: nothing)."""
    stage = final_stage(instructions)
    found: list[str] = []
    names = {ins.name for ins in instructions}
    found += [f"no {name}" for name in ("FROM", "RUN", "COPY", "USER", "HEALTHCHECK", "ENTRYPOINT")
              if name not in names]
    users = [ins.args for ins in stage if ins.name == "USER"]
    if not users or users[-1].split(":")[0] in {"root", "0"}:
        found.append("the final stage runs as root")
    for name in ("ENTRYPOINT", "CMD"):
        for ins in stage:
            if ins.name == name:
                try:
                    ins.exec_form()
                except ValueError:
                    found.append(f"{name} is not in exec form")
    try:
        command = healthcheck_command(stage)
        if f"127.0.0.1:{METRICS_PORT}/health" not in " ".join(command):
            found.append("HEALTHCHECK does not ask /health")
    except (ValueError, AssertionError):
        found.append("HEALTHCHECK is not one exec-form CMD")
    try:
        entrypoint = next((ins.exec_form() for ins in stage if ins.name == "ENTRYPOINT"), [])
    except ValueError:
        entrypoint = []
    if " ".join(entrypoint[1:]) not in {f"--metrics-host 0.0.0.0 --metrics-port {METRICS_PORT}",
                                        f"--metrics-port {METRICS_PORT} --metrics-host 0.0.0.0"}:
        found.append("ENTRYPOINT does not serve the endpoints on 0.0.0.0:41414")
    if not any(ins.name == "STOPSIGNAL" and ins.args == "SIGTERM" for ins in stage):
        found.append("no STOPSIGNAL SIGTERM")
    if not any(ins.name == "VOLUME" and "/var/lib/flafka" in ins.args for ins in stage):
        found.append("/var/lib/flafka is not a volume")
    for ins in instructions:
        if ins.name == "FROM" and not re.match(r"python:3\.11[\w.-]*-slim", ins.args):
            found.append(f"line {ins.line}: not a slim Python 3.11 base: {ins.args}")
        if ins.name == "RUN" and "pip" in ins.args and re.search(r"\.\[|flafka\[", ins.args):
            found.append(f"line {ins.line}: installs extras")
    return found


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return parse((DOCKER / "Dockerfile").read_text())


def test_dockerfile_parses_and_has_no_problems(dockerfile: list[Instruction]) -> None:
    assert problems(dockerfile) == []


BROKEN = {
    "root user": ("USER 10001:10001", "USER root"),
    "no user": ("USER 10001:10001", ""),
    "shell-form entrypoint": ('ENTRYPOINT ["flafka-agent", "--metrics-host", "0.0.0.0", "--metrics-port", "41414"]',
                              "ENTRYPOINT flafka-agent --metrics-host 0.0.0.0 --metrics-port 41414"),
    "endpoint on loopback": ('"--metrics-host", "0.0.0.0"', '"--metrics-host", "127.0.0.1"'),
    "shell-form healthcheck": ("    CMD [\"python\"", "    CMD python ["),
    "dev extras": ("pip wheel --no-cache-dir --wheel-dir /wheels .", "pip wheel --wheel-dir /wheels .[dev]"),
    "no stop signal": ("STOPSIGNAL SIGTERM", ""),
}


@pytest.mark.parametrize("broken", BROKEN, ids=list(BROKEN))
def test_the_rules_catch_a_broken_dockerfile(broken: str) -> None:
    old, new = BROKEN[broken]
    text = (DOCKER / "Dockerfile").read_text()
    assert old in text
    assert problems(parse(text.replace(old, new))) != []


@pytest.mark.parametrize(("text", "error"), [("RUN true\n", "first instruction must be FROM"),
                                             ("FROM x\nFROMM y\n", "line 2: unknown instruction 'FROMM'"),
                                             ("FROM x\nRUN a \\\n", "ends inside a continuation")],
                         ids=["no-from", "unknown-instruction", "dangling-continuation"])
def test_the_parser_is_strict(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        parse(text)


def test_entrypoint_and_cmd_options_are_flafka_agents(dockerfile: list[Instruction], tmp_path: Path) -> None:
    """The ENTRYPOINT's options, followed by the CMD's (its file replaced), pass flafka-agent's --check."""
    stage = final_stage(dockerfile)
    entrypoint = next(ins for ins in stage if ins.name == "ENTRYPOINT").exec_form()
    cmd = next(ins for ins in stage if ins.name == "CMD").exec_form()
    conf = tmp_path / "agent.properties"
    conf.write_text(SEQ_TO_NULL.replace("a1.", "agent."))
    assert cmd[:2] == ["-f", "/etc/flafka/agent.properties"]
    args = [*entrypoint[1:], "-f", str(conf), *cmd[2:], "--check"]
    result = subprocess.run([sys.executable, "-m", "flafka", *args], capture_output=True, text=True, timeout=60,
                            check=False, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert entrypoint[0] == "flafka-agent"


def copied_sources(dockerfile: list[Instruction]) -> list[str]:
    """What the build stage COPYs from the context (the repository root)."""
    sources: list[str] = []
    for ins in dockerfile[:dockerfile.index(final_stage(dockerfile)[0])]:
        if ins.name == "COPY" and not ins.args.startswith("--from"):
            sources += ins.args.split()[:-1]
    return sources


@pytest.mark.slow
def test_install_steps_work_in_a_fresh_venv(dockerfile: list[Instruction], tmp_path: Path) -> None:
    """The image's install, offline: the files the Dockerfile COPYs, `pip install` without extras into a new venv
    (--no-deps --no-index: the dependencies come from this interpreter; in the image pip downloads them), then
    the installed flafka-agent runs from outside the repository."""
    src = tmp_path / "src"
    src.mkdir()
    sources = copied_sources(dockerfile)
    assert set(sources) >= {"pyproject.toml", "flafka"}
    for name in sources:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    backend = ["--no-build-isolation"]  # this interpreter's setuptools and wheel (dev dependencies): offline
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", *backend,
                              "--disable-pip-version-check", str(src)],
                             capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
                             env={**os.environ, "PIP_FIND_LINKS": ""})
    assert install.returncode == 0, install.stdout + install.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(python), "-c", "import flafka; print(flafka.__file__)"], capture_output=True,
                           text=True, timeout=60, check=True, cwd=tmp_path, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    version = subprocess.run([str(venv / "bin" / "flafka-agent"), "--version"], capture_output=True, text=True,
                             timeout=60, check=False, cwd=tmp_path, env=env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"flafka {__version__}"
    example = ROOT / "conf" / "examples" / "kafka-hbase.properties"
    checked = subprocess.run([str(venv / "bin" / "flafka-agent"), "--check", "-f", str(example), "-n", "agent"],
                             capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
                             env={**env, "FLAFKA_KAFKA_BOOTSTRAP": "127.0.0.1:9092",
                                  "FLAFKA_HBASE_THRIFT": "127.0.0.1:9090"})
    assert checked.returncode == 0, checked.stderr


SEQ_TO_NULL = """\
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 1000
a1.sources.r1.batchSize = 100
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health_status(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)
    except OSError:
        return None


@pytest.fixture
def start_agent(tmp_path: Path) -> Iterator[StartAgent]:
    """``start(text, expect)``: runs ``python -m flafka`` on a properties text with the endpoints on a free port,
    waits until /health answers ``expect`` and returns the port; the agents are stopped afterwards."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(text: str, expect: int) -> int:
        conf = tmp_path / f"agent{len(procs)}.properties"
        conf.write_text(text)
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "flafka", "-n", "a1", "-f", str(conf), "--no-reload-conf",
                                 "--metrics-port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        procs.append(proc)
        deadline = time.monotonic() + 30
        while health_status(port) != expect:
            assert proc.poll() is None, f"the agent exited with {proc.returncode}"
            assert time.monotonic() < deadline, f"/health never answered {expect}"
            time.sleep(0.1)
        return port

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_healthcheck(dockerfile: list[Instruction], port: int) -> subprocess.CompletedProcess[str]:
    """The Dockerfile's HEALTHCHECK command, aimed at `port` instead of 41414, with this interpreter as `python`."""
    command = healthcheck_command(final_stage(dockerfile))
    assert command[0] == "python"
    moved = [arg.replace(f":{METRICS_PORT}/", f":{port}/") for arg in command[1:]]
    assert moved != command[1:]
    return subprocess.run([sys.executable, *moved], capture_output=True, text=True, timeout=30, check=False)


def test_healthcheck_passes_against_a_healthy_agent(dockerfile: list[Instruction], start_agent: StartAgent) -> None:
    port = start_agent(SEQ_TO_NULL, 200)
    result = run_healthcheck(dockerfile, port)
    assert result.returncode == 0, result.stdout + result.stderr


def test_healthcheck_fails_when_a_sink_fails(dockerfile: list[Instruction], start_agent: StartAgent,
                                             tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    failing = SEQ_TO_NULL.replace("a1.sinks.k1.type = null", "a1.sinks.k1.type = file_roll\n"
                                  f"a1.sinks.k1.sink.directory = {tmp_path / 'a-file' / 'dir'}")
    port = start_agent(failing, 503)
    result = run_healthcheck(dockerfile, port)
    assert result.returncode == 1
    assert "503" in result.stdout


def test_healthcheck_fails_when_nothing_listens(dockerfile: list[Instruction]) -> None:
    result = run_healthcheck(dockerfile, free_port())
    assert result.returncode == 1
    assert "refused" in result.stdout.lower()


# compose.yaml ---------------------------------------------------------------------------------------------------

SERVERS = {"kafka", "namenode", "datanode", "hbase", "hbase-thrift"}


def test_compose_images_are_pinned_and_ports_loopback_only() -> None:
    """Textual, so it runs without PyYAML (which flafka does not depend on)."""
    text = (DOCKER / "compose.yaml").read_text()
    images = re.findall(r"^\s+image:\s*(\S+)\s*$", text, re.MULTILINE)
    assert len(images) >= 5
    for image in images:
        name, _, tag = image.partition(":")
        assert re.fullmatch(r"\d+(\.\d+)+", tag), f"{image}: a pinned version tag"
        assert name.startswith(("apache/", "flafka")), image
    ports = re.findall(r"^\s+-\s*\"?([\d.:]+)\"?\s*$", text, re.MULTILINE)
    assert ports
    assert all(p.startswith("127.0.0.1:") for p in ports), ports
    hbase = (DOCKER / "hbase" / "Dockerfile").read_text()
    assert re.search(r"^FROM eclipse-temurin:\d+-jre-\w+$", hbase, re.MULTILINE)
    assert "sha512sum" in hbase


def test_compose_services_and_healthchecks() -> None:
    document = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = document["services"]
    assert set(services) == SERVERS | {"agent"}
    for name in SERVERS:
        check = services[name]["healthcheck"]
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
    agent = services["agent"]
    assert agent["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert "../conf:/etc/flafka:ro" in agent["volumes"]
    assert any(v.split(":")[1] == "/var/lib/flafka" for v in agent["volumes"])
    assert set(agent["environment"]) >= {"FLAFKA_KAFKA_BOOTSTRAP", "FLAFKA_HDFS_URL", "FLAFKA_HBASE_THRIFT"}
    assert {name for name, dep in agent["depends_on"].items() if dep["condition"] == "service_healthy"} == (
        SERVERS - {"hbase"})
    # The agent's default configuration exists in ../conf, where the volume mounts it from.
    command = agent["command"]
    default = re.fullmatch(r"/etc/flafka/\$\{FLAFKA_CONFIG:-(.+)\}", command[command.index("-f") + 1])
    assert default
    assert (ROOT / "conf" / default.group(1)).is_file()
    assert services["hbase-thrift"]["network_mode"] == "service:hbase"
