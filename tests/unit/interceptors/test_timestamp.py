from __future__ import annotations

import time

import pytest

from flafka.event import Event
from flafka.interceptors.timestamp import TimestampInterceptor
from flafka.registry import resolve
from flafka.testing import build, intercept


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []

    def fake_time_ns() -> int:
        calls.append(1)
        return 1_700_000_000_123_999_999

    monkeypatch.setattr(time, "time_ns", fake_time_ns)
    return calls


def test_sets_epoch_millis_once_per_batch(frozen_clock: list[int]) -> None:
    out = intercept(
        [build(TimestampInterceptor)], [Event(b"a"), Event(b"b", {"timestamp": "5"}), Event(b"c")]
    )
    assert [e.headers for e in out] == [{"timestamp": "1700000000123"}] * 3
    assert len(frozen_clock) == 1


def test_preserve_existing_and_header_name(frozen_clock: list[int]) -> None:
    chain = [build(TimestampInterceptor, {"headerName": "ts", "preserveExisting": "true"})]
    out = intercept(chain, [Event(b"a", {"ts": "5"}), Event(b"b")])
    assert [e.headers for e in out] == [{"ts": "5"}, {"ts": "1700000000123"}]


def test_real_clock_is_close_to_now() -> None:
    before = time.time_ns() // 1_000_000
    (event,) = intercept([build(TimestampInterceptor)], [Event()])
    after = time.time_ns() // 1_000_000
    assert before <= int(event.headers["timestamp"]) <= after


@pytest.mark.parametrize("name", ["timestamp", "org.apache.flume.interceptor.TimestampInterceptor$Builder"])
def test_resolves_by_alias_and_flume_class(name: str) -> None:
    assert resolve("interceptor", name) is TimestampInterceptor
