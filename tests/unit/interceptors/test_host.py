from __future__ import annotations

import socket

import pytest

from flafka.event import Event
from flafka.interceptors.host import HostInterceptor
from flafka.registry import resolve
from flafka.testing import build, intercept


@pytest.fixture
def fake_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "web1")
    monkeypatch.setattr(socket, "gethostbyname", lambda name: {"web1": "10.1.2.3"}[name])
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "web1.example.com")


@pytest.mark.usefixtures("fake_host")
def test_ip_by_default_overwrites_existing() -> None:
    out = intercept([build(HostInterceptor)], [Event(b"a"), Event(b"b", {"host": "other"})])
    assert [e.headers for e in out] == [{"host": "10.1.2.3"}, {"host": "10.1.2.3"}]


@pytest.mark.usefixtures("fake_host")
def test_canonical_name_custom_header_and_preserve() -> None:
    chain = [build(HostInterceptor, {"useIP": "false", "hostHeader": "h", "preserveExisting": "true"})]
    out = intercept(chain, [Event(b"a"), Event(b"b", {"h": "other"})])
    assert [e.headers for e in out] == [{"h": "web1.example.com"}, {"h": "other"}]


def test_resolved_once_at_build(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def gethostname() -> str:
        calls.append("x")
        return "web1"

    monkeypatch.setattr(socket, "gethostname", gethostname)
    monkeypatch.setattr(socket, "gethostbyname", lambda name: "10.0.0.9")
    interceptor = build(HostInterceptor)
    for _ in range(3):
        intercept([interceptor], [Event(), Event()])
    assert calls == ["x"]


def test_unresolvable_host_falls_back_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(name: str) -> str:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "gethostname", lambda: "nowhere")
    monkeypatch.setattr(socket, "gethostbyname", fail)
    assert intercept([build(HostInterceptor)], [Event()])[0].headers == {"host": "127.0.0.1"}


@pytest.mark.parametrize("name", ["host", "org.apache.flume.interceptor.HostInterceptor$Builder"])
def test_resolves_by_alias_and_flume_class(name: str) -> None:
    assert resolve("interceptor", name) is HostInterceptor
