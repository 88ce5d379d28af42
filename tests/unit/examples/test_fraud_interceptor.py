"""FraudEventInterceptor on an in-memory HBase (flafka.testing.InMemoryHBase): the lookups, the state, the
retries. The same interceptor against the real servers: tests/integration/test_fraud_demo.py."""

from __future__ import annotations

import json

import pytest

import flafka.testing
from flafka.errors import InterceptorError
from flafka.event import Event
from flafka.examples.fraud.customers import customer_key, seed_columns, store_key
from flafka.examples.fraud.interceptor import FraudEventInterceptor
from flafka.hbase import HBaseUnavailable
from flafka.testing import InMemoryHBase, intercept, parse_config

CARD, OTHER = "4556899046304500", "1234567890123"


def _hbase() -> InMemoryHBase:
    customers = {customer_key(CARD): seed_columns("Ada", 33.0, -84.0),
                 customer_key(OTHER): seed_columns("Ben", 34.0, -83.0)}
    stores = {store_key(1): {b"s:slo": b"33.0,-84.0", b"s:sn": b"near home"},
              store_key(2): {b"s:slo": b"34.0,-84.0", b"s:sn": b"69 miles north"},
              store_key(3): {b"s:slo": b"not a location"}}
    return InMemoryHBase({"customer": customers, "store": stores}, families={"customer": [b"c"], "store": [b"s"]})


def _interceptor(hbase: InMemoryHBase, **values: str) -> FraudEventInterceptor:
    interceptor = FraudEventInterceptor("fraud", parse_config(FraudEventInterceptor, values), lookup=hbase)
    interceptor.initialize()
    return interceptor


def _event(txn: str, card: str = CARD, time: str = "2014-10-28 22:00:00", amount: str = "10.00",
           store: int = 1) -> Event:
    return Event(f"{txn}|{card}|{time}|{amount}|{store}".encode(), {"topic": "flume.txn", "key": card})


def _fields(event: Event) -> list[str]:
    return event.body.decode().split(",")


def test_a_batch_costs_one_lookup_per_table_and_one_put() -> None:
    hbase = _hbase()
    fraud = _interceptor(hbase)
    before = hbase.calls
    events = [_event(f"t{i}", card=(CARD, OTHER)[i % 2], time=f"2014-10-28 22:{i:02d}:00") for i in range(10)]
    out = intercept([fraud], events)
    assert len(out) == 10
    assert hbase.calls - before == 3  # customers get, stores get, customers put
    assert {e.headers["topic"] for e in out} == {"flume.auths"}
    assert hbase.tables["customer"][customer_key(CARD)][b"c:tt"] == b"5"


def test_the_scored_line_compares_with_the_previous_transaction_even_within_one_batch() -> None:
    fraud = _interceptor(_hbase())
    first, second = intercept([fraud], [_event("t1", store=1, time="2014-10-28 22:00:00"),
                                         _event("t2", store=2, time="2014-10-28 22:30:00", amount="5.5")])
    one, two = _fields(first), _fields(second)
    assert len(one) == len(two) == 16
    # the first: from home (33,-84) to store 1 at home, previous = the seed state
    assert one[:8] == ["t1", customer_key(CARD).decode(), "2014-10-28 22:00:00", "10.00", "1", "33.0", "-84.0", "0.0"]
    assert one[8:11] == ["null", "null", "2014-10-09 15:06:08"]
    assert one[12:] == ["0.0", "1.0", "Y", "N"]
    # the second: 69.09 miles in 30 minutes = 138 mph: z = 15.5, declined
    assert two[7:14] == ["10.00", "33.0", "-84.0", "2014-10-28 22:00:00", "1800", "69.09", "4.0"]
    assert two[14:] == ["N", "Y"]
    assert second.headers["fraud.score"] == "4"
    assert fraud.stats.declined == 1
    assert fraud.stats.alerts == 1


def test_a_retried_batch_scores_the_same_and_counts_each_transaction_once() -> None:
    hbase = _hbase()
    fraud = _interceptor(hbase)
    batch = [_event("t1", time="2014-10-28 22:00:00"), _event("t2", store=2, time="2014-10-28 23:00:00")]
    first = [e.body for e in intercept([fraud], [e.copy() for e in batch])]
    row = dict(hbase.tables["customer"][customer_key(CARD)])
    again = [e.body for e in intercept([fraud], [e.copy() for e in batch])]  # the source read them again
    assert again == first
    assert hbase.tables["customer"][customer_key(CARD)] == row
    assert row[b"c:tt"] == b"2"
    assert fraud.stats.redelivered == 2


def test_a_retry_after_a_lost_reply_counts_nothing_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The put reached HBase but its answer did not: the retry must read the rows afresh (not trust the
    cache's older copy) and recognise the transactions as applied."""
    hbase = _hbase()
    fraud = _interceptor(hbase)
    intercept([fraud], [_event("t1")])  # the customer and store are cached now
    send = flafka.testing._MemoryBatch.send

    def lands_then_fails(self: object) -> None:
        send(self)  # type: ignore[arg-type]
        raise ConnectionResetError("the reply was lost")

    monkeypatch.setattr(flafka.testing._MemoryBatch, "send", lands_then_fails)
    batch = [_event("t2", time="2014-10-28 22:10:00")]
    with pytest.raises(InterceptorError):
        intercept([fraud], [e.copy() for e in batch])
    assert hbase.tables["customer"][customer_key(CARD)][b"c:tt"] == b"2"  # it landed
    monkeypatch.undo()
    out = intercept([fraud], [e.copy() for e in batch])
    assert hbase.tables["customer"][customer_key(CARD)][b"c:tt"] == b"2"
    assert fraud.stats.redelivered == 1
    assert _fields(out[0])[10] == "2014-10-28 22:00:00"  # compared with t1, not with itself


def test_hbase_down_fails_the_batch_retriably_and_leaves_the_events_alone() -> None:
    hbase = _hbase()
    fraud = _interceptor(hbase)
    events = [_event("t1")]
    hbase.fail_next(HBaseUnavailable("down"))
    with pytest.raises(InterceptorError) as failure:
        intercept([fraud], events)
    assert failure.value.retriable
    assert events[0].body.startswith(b"t1|")
    assert "fraud.status" not in events[0].headers
    assert _fields(intercept([fraud], events)[0])[0] == "t1"
    assert hbase.tables["customer"][customer_key(CARD)][b"c:tt"] == b"1"


def test_a_failed_put_forgets_the_cached_rows() -> None:
    hbase = _hbase()
    fraud = _interceptor(hbase)
    intercept([fraud], [_event("t1")])
    calls = hbase.calls
    hbase.fail_next(HBaseUnavailable("reply lost"))  # the put of t2's batch
    hbase.tables["customer"][customer_key(CARD)][b"c:tt"] = b"1"
    with pytest.raises(InterceptorError):
        intercept([fraud], [_event("t2", time="2014-10-28 22:05:00")])
    assert hbase.calls - calls == 1  # store and customer from the cache; the put failed
    intercept([fraud], [_event("t2", time="2014-10-28 22:05:00")])
    assert hbase.calls - calls == 3  # the customer read again (no longer cached), then the put


def test_an_event_already_rewritten_passes_through_unchanged() -> None:
    fraud = _interceptor(_hbase())
    out = intercept([fraud], [_event("t1")])
    before = out[0].copy()
    assert intercept([fraud], out)[0] == before  # body and headers
    assert (fraud.stats.scored, fraud.stats.unscorable) == (1, 0)


@pytest.mark.parametrize(("event", "kind"), [
    (_event("t1", card="4000000000000002"), "unknown-card"),
    (_event("t1", store=99), "unknown-store"),
    (_event("t1", store=3), "bad-store-row"),
    (Event(b"t1|garbage", {"topic": "flume.txn"}), "bad-record"),
])
def test_what_cannot_be_scored_goes_to_the_dead_letter_topic_unchanged(event: Event, kind: str) -> None:
    hbase = _hbase()
    fraud = _interceptor(hbase, deadLetterTopic="txn.bad")
    body = event.body
    good = _event("t2")
    out = intercept([fraud], [event, good])
    assert out[0].body == body
    assert out[0].headers["fraud.status"] == "unscorable"
    assert out[0].headers["fraud.reason"].startswith(kind + ": ")
    assert out[0].headers["topic"] == "txn.bad"
    assert out[1].headers["topic"] == "flume.auths"
    assert fraud.stats.unscorable == 1
    assert fraud.stats.kinds == {kind: 1}
    if kind != "bad-record":
        assert hbase.tables["customer"][customer_key(CARD)][b"c:tt"] == b"1"  # only t2 counted


def test_json_output_has_the_same_values() -> None:
    fraud = _interceptor(_hbase(), format="json", outputTopic="auths", topicHeader="dest")
    out = intercept([fraud], [_event("t1")])
    record = json.loads(out[0].body)
    assert (record["txn_id"], record["score"], record["authorised"]) == ("t1", 1.0, "Y")
    assert out[0].headers["dest"] == "auths"


def test_missing_tables_fail_at_initialize() -> None:
    hbase = InMemoryHBase({"customer": {}}, families={"customer": [b"c"]})
    fraud = FraudEventInterceptor("fraud", parse_config(FraudEventInterceptor, {}), lookup=hbase)
    with pytest.raises(Exception, match="store"):
        fraud.initialize()
