"""conf/flafka.service and conf/flafka@.service: systemd accepts them, and their command lines are flafka's.

``systemd-analyze verify`` (when installed) parses the units as systemd does: an unknown key or a bad value
is only a warning there, so any output naming the unit fails the test. Without it the strict parse below still
checks the keys the service habits depend on and runs each ExecStart* through flafka-agent's own parser.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from flafka.cli import _parser, _split_java_options

CONF = Path(__file__).resolve().parents[2] / "conf"
UNITS = ["flafka.service", "flafka@.service"]
INSTALLED_AT = "/usr/local/bin/flafka-agent"


def service(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=True, interpolation=None, delimiters=("=",), comment_prefixes=("#",))
    parser.optionxform = str  # type: ignore[assignment, method-assign]  # systemd keys are case-sensitive
    parser.read_string((CONF / name).read_text(), source=name)
    assert set(parser.sections()) == {"Unit", "Service", "Install"}
    return parser["Service"]


def command_line(unit: str, key: str, instance: str = "a1") -> list[str]:
    """``key``'s command with systemd's substitutions done: %i, ${VAR} from Environment=, unset $VAR dropped."""
    section = service(unit)
    env = dict(item.split("=", 1) for item in shlex.split(section.get("Environment", "")))
    words = []
    for word in shlex.split(section[key].replace("%i", instance)):
        if re.fullmatch(r"\$[A-Z_]+", word):  # a whole-word $VAR splits into words; unset, into none
            continue
        words.append(re.sub(r"\$\{([A-Z_]+)\}", lambda m: env[m.group(1)], word))
    return words


@pytest.mark.parametrize("unit", UNITS)
def test_service_habits(unit: str) -> None:
    s = service(unit)
    assert s["Type"] == "notify"
    assert s["NotifyAccess"] == "main"
    assert s["ExecReload"] == "/bin/kill -HUP $MAINPID"  # SIGHUP reloads the files
    assert s["User"] not in {"root", "0"}
    assert s["Restart"] == "on-failure"
    assert "WatchdogSec" not in s  # optional: see the comment in the unit and flafka.runtime.systemd
    assert s["ProtectSystem"] == "strict"
    assert s["NoNewPrivileges"] == s["PrivateTmp"] == s["ProtectHome"] == "yes"
    writable = s["ReadWritePaths"].split()
    assert any(path.startswith("/var/lib/flafka") for path in writable)  # file channel directories
    assert "/var/log/flafka" in writable
    # The agent's graceful stop must end before systemd's SIGKILL.
    stop_timeout = float(command_line(unit, "ExecStart")[command_line(unit, "ExecStart").index("--stop-timeout") + 1])
    assert stop_timeout < float(s["TimeoutStopSec"])


@pytest.mark.parametrize("unit", UNITS)
def test_exec_start_lines_parse_with_flafka_agents_parser(unit: str) -> None:
    check, start = command_line(unit, "ExecStartPre"), command_line(unit, "ExecStart")
    assert check[0] == start[0] == INSTALLED_AT
    check_args = _parser().parse_args(_split_java_options(check[1:])[0])
    start_args = _parser().parse_args(_split_java_options(start[1:])[0])
    assert check_args.check
    assert not start_args.check
    assert (check_args.name, check_args.conf_file) == (start_args.name, start_args.conf_file)  # checks what runs
    assert start_args.name == "a1"


def test_the_template_runs_the_agent_named_by_the_instance() -> None:
    args = _parser().parse_args(command_line("flafka@.service", "ExecStart", instance="orders")[1:])
    assert (args.name, args.conf_file) == ("orders", ["/etc/flafka/orders.properties"])
    assert service("flafka@.service")["StateDirectory"] == "flafka/%i"  # each agent its own channel directories


def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    executable = shutil.which("flafka-agent")
    assert executable is not None, "flafka-agent is installed with the package"
    for source, target in [("flafka.service", "flafka.service"), ("flafka@.service", "flafka@a1.service")]:
        # verify checks that the executables exist: point them at this installation's flafka-agent.
        (tmp_path / target).write_text((CONF / source).read_text().replace(INSTALLED_AT, executable))
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "flafka.service"),
                             str(tmp_path / "flafka@a1.service")],
                            capture_output=True, text=True, timeout=60, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "flafka" not in output, output
