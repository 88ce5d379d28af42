from __future__ import annotations

import re
import uuid

import pytest

from flafka.event import Event
from flafka.interceptors.uuid import UUIDInterceptor
from flafka.registry import resolve
from flafka.testing import build, intercept

_UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def test_sets_distinct_uuid4_and_keeps_existing_by_default() -> None:
    out = intercept([build(UUIDInterceptor)], [Event(b"a"), Event(b"b"), Event(b"c", {"id": "mine"})])
    ids = [e.headers["id"] for e in out]
    assert all(re.fullmatch(_UUID4, i) for i in ids[:2])
    assert uuid.UUID(ids[0]).version == 4
    assert ids[0] != ids[1]
    assert ids[2] == "mine"
    assert [e.body for e in out] == [b"a", b"b", b"c"]


def test_prefix_header_name_and_overwrite() -> None:
    chain = [
        build(UUIDInterceptor, {"headerName": "eventId", "prefix": "host1-", "preserveExisting": "false"})
    ]
    out = intercept(chain, [Event(b"a", {"eventId": "old"})])
    assert list(out[0].headers) == ["eventId"]
    assert re.fullmatch("host1-" + _UUID4, out[0].headers["eventId"])


@pytest.mark.parametrize("name", ["uuid", "org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder"])
def test_resolves_by_alias_and_flume_class(name: str) -> None:
    assert resolve("interceptor", name) is UUIDInterceptor
