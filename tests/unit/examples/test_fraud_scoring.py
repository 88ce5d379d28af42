"""The fraud demo's pure logic: travel score, records, customer rows (no servers)."""

from __future__ import annotations

import json

import pytest

from flafka.examples.fraud.customers import (
    HISTORY,
    SEED_TIME,
    CustomerState,
    StoreLocation,
    customer_key,
    seed_columns,
    store_key,
)
from flafka.examples.fraud.records import FIELDS, BadTransaction, ScoredTransaction, Transaction
from flafka.examples.fraud.travel_score import decide, distance_miles, score

# -- travel score ------------------------------------------------------------------------------------


def test_one_degree_of_latitude_is_sixty_nautical_miles_in_statute_miles() -> None:
    assert distance_miles(33.0, -84.0, 34.0, -84.0) == 69.09


def test_identical_points_are_zero_miles_apart_not_nan() -> None:
    # acos of a value a hair above 1 was NaN in the 2014 code, and rounding NaN threw
    assert distance_miles(33.749001, -84.388001, 33.749001, -84.388001) == 0.0


def test_atlanta_to_savannah_agrees_with_haversine() -> None:
    import math
    lat1, lon1, lat2, lon2 = map(math.radians, (33.7490, -84.3880, 32.0809, -81.0912))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    haversine = 2 * math.degrees(math.asin(math.sqrt(h))) * 60 * 1.1515
    assert distance_miles(33.7490, -84.3880, 32.0809, -81.0912) == round(haversine, 2) == 223.24


@pytest.mark.parametrize(("distance", "elapsed", "expected"), [
    (0.0, 3600, 1),        # no distance: no evidence of travel
    (500.0, 0, 1),         # no elapsed time (the 2014 code divided by zero and declined)
    (45.0, 3600, 1),       # exactly the mean: z = 0 (the 2014 code's gap sent it to 4)
    (44.0, 3600, 1),
    (10.0, 600, 2),        # 60 mph over 10 minutes: fractional hours (the 2014 code truncated to 0 hours)
    (63.0, 3600, 2),       # z = 3
    (63.6, 3600, 3),
    (81.0, 3600, 3),       # z = 6
    (81.6, 3600, 4),
    (100.0, -3600, 4),     # out of order: the gap is what counts
])
def test_score(distance: float, elapsed: int, expected: int) -> None:
    assert score(distance, elapsed) == expected


def test_decisions_keep_the_demo_table() -> None:
    assert [(d.authorised, d.alert) for d in (decide(0, 1), decide(50, 3600), decide(70, 3600), decide(900, 60))] \
        == [(True, False), (True, False), (True, True), (False, True)]


# -- records -----------------------------------------------------------------------------------------

GOOD = b"9b0c2a5e-5f3a-11ef-8d1e-0242ac120002|4556899046304500|2014-10-28 22:12:35|15.39|543"


def test_a_transaction_parses_and_prints_back_byte_for_byte() -> None:
    txn = Transaction.parse(GOOD)
    assert txn == Transaction("9b0c2a5e-5f3a-11ef-8d1e-0242ac120002", "4556899046304500", "2014-10-28 22:12:35",
                              "15.39", 543)
    assert txn.line() == GOOD
    assert 80 <= len(GOOD) <= 86


@pytest.mark.parametrize(("body", "message"), [
    (b"a|b|c", "3 '|'-separated fields"),
    (b"|4556899046304500|2014-10-28 22:12:35|15.39|543", "empty transaction id"),
    (b"x|45568990463045|2014-10-28 22:12:35|15.39|543x", "store id"),
    (b"x|4556-8990|2014-10-28 22:12:35|15.39|543", "card number"),
    (b"x|4556899046304500|28/10/2014|15.39|543", "time"),
    (b"x|4556899046304500|2014-10-28 22:12:35|-1|543", "amount"),
    (b"x|4556899046304500|2014-10-28 22:12:35|nan|543", "amount"),
    (b"x|4556899046304500|2014-10-28 22:12:35|1.0|0", "store id"),
    (b"\xff|4556899046304500|2014-10-28 22:12:35|1.0|1", "UTF-8"),
])
def test_what_is_not_a_transaction_says_why(body: bytes, message: str) -> None:
    with pytest.raises(BadTransaction, match=message):
        Transaction.parse(body)


def _scored(**changes: object) -> ScoredTransaction:
    values: dict[str, object] = {
        "txn_id": "t1", "customer": "abc", "txn_time": "2014-10-28 22:12:35", "amount": "15.39", "store_id": 543,
        "store_lat": 33.5, "store_lon": -84.1, "prev_amount": "0.0", "prev_lat": None, "prev_lon": None,
        "prev_time": SEED_TIME, "elapsed_s": 120, "distance_mi": 12.5, "score": 2, "authorised": True, "alert": False}
    values.update(changes)
    return ScoredTransaction(**values)  # type: ignore[arg-type]


def test_the_scored_line_has_the_demo_s_16_fields_in_order_nulls_as_null() -> None:
    line = _scored().csv()
    assert line == (b"t1,abc,2014-10-28 22:12:35,15.39,543,33.5,-84.1,0.0,null,null,2014-10-09 15:06:08,120,12.5,"
                    b"2.0,Y,N")
    assert len(line.split(b",")) == len(FIELDS) == 16
    assert ScoredTransaction.txn_id_of(line) == "t1"


def test_the_json_line_names_the_same_fields() -> None:
    record = json.loads(_scored(score=4, authorised=False, alert=True).json())
    assert list(record) == list(FIELDS)
    assert (record["score"], record["authorised"], record["alert"], record["prev_lat"]) == (4.0, "N", "Y", None)


# -- customer rows -----------------------------------------------------------------------------------


def test_row_keys_follow_the_java_demo() -> None:
    # Bytes.toBytes(int) and the md5-of-md5 of Bytes.toBytes(long), computed here from their definitions
    import hashlib
    assert store_key(543) == b"\x00\x00\x02\x1f"
    raw = (4556899046304500).to_bytes(8, "big", signed=True)
    assert customer_key("4556899046304500") == hashlib.md5(hashlib.md5(raw).digest()).hexdigest().encode()
    assert len(customer_key("4556899046304500")) == 32


def _txn(n: int, card: str = "4556899046304500", minute: int = 0) -> Transaction:
    return Transaction(f"t{n}", card, f"2014-10-28 22:{minute:02d}:00", f"{n}.5", n)


def test_a_new_customer_s_previous_transaction_is_the_seed_state() -> None:
    state = CustomerState(seed_columns("Ada", 33.1, -84.2))
    latest = state.latest()
    assert (latest.time, latest.amount, latest.location) == (SEED_TIME, "0.0", None)
    assert state.home == (33.1, -84.2)
    assert state.previous_of("t1") is None


def test_applied_transactions_are_remembered_with_their_previous() -> None:
    seed = seed_columns("Ada", 33.1, -84.2)
    state = CustomerState(seed)
    state.apply(_txn(1, minute=1), StoreLocation(33.5, -84.0))
    state.apply(_txn(2, minute=2), StoreLocation(34.0, -83.5))
    row = state.changed_columns()
    again = CustomerState({**seed, **row})  # the put lands on the seeded row
    assert again.previous_of("t2") == again.latest().__class__("1.5", "2014-10-28 22:01:00", (33.5, -84.0))
    first = again.previous_of("t1")
    assert first is not None
    assert (first.time, first.location) == (SEED_TIME, None)
    assert row[b"c:tt"] == b"2"
    assert row[b"c:ts"] == b"4.0"
    assert row[b"c:as"] == b"2.00"
    assert row[b"c:lta"] == b"2.5,1.5"  # newest first, no empty element
    assert row[b"c:ltxnt"] == b"2014-10-28 22:02:00"
    assert row[b"c:ltxnlat"] == b"34.0"


def test_the_history_keeps_twenty_and_remembers_what_came_before_the_oldest() -> None:
    seed = seed_columns("Ada", 33.1, -84.2)
    state = CustomerState(seed)
    for n in range(1, HISTORY + 6):
        state.apply(_txn(n, minute=n), StoreLocation(33.0 + n / 100, -84.0))
    again = CustomerState({**seed, **state.changed_columns()})
    assert len(again.ids) == HISTORY
    assert again.ids[0] == f"t{HISTORY + 5}"
    oldest = again.ids[-1]
    before = again.previous_of(oldest)
    assert before is not None
    assert before.amount == "5.5"
    assert before.time == "2014-10-28 22:05:00"
    assert again.previous_of("t5") is None  # forgotten: it would count again
    assert again.count == HISTORY + 5
