"""``FraudEventInterceptor``: scores each card transaction from HBase and addresses it to its output topic.

Per batch (what the 2014 interceptor did per event, with a thread and two HBase round trips each):

1. parse every transaction (:class:`~flafka.examples.fraud.records.Transaction`);
2. one multi-get for the batch's customers and one for its stores (:mod:`flafka.hbase`, cached: stores
   rarely change; customers are written through the same cache, so it stays current for this agent);
3. score the transactions in order, one customer's after another's (:mod:`~flafka.examples.fraud.travel_score`),
   against the customer's previous transaction, and add each one to the customer's state;
4. one put of every changed customer row;
5. only then rewrite the events: the body becomes the 16-field scored line, header ``topic`` the output topic.

Failures: HBase unreachable, slow or refusing the batch raises :class:`~flafka.hbase.HBaseUnavailable` (retriable)
before any event changed, so the source retries the batch with back-off. A retried batch does not count a
transaction twice: the customer update is keyed by transaction id (:mod:`~flafka.examples.fraud.customers`),
and an event this interceptor already rewrote (a batch the channel refused) passes through unchanged.

A transaction that cannot be scored (not a transaction, unknown card or store, a malformed row) is not passed
on raw: its body is kept, header ``fraud.status`` is ``unscorable`` with the reason in ``fraud.reason``, and its
``topic`` header names ``deadLetterTopic``; the first of each kind is logged, and all are counted
(:attr:`FraudEventInterceptor.stats`). Routing by the ``topic`` header needs the Kafka sink's
``allowTopicOverride = true`` (see ``conf/fraud/``).

Concurrency: a customer's state is read, changed and written by one interceptor at a time. Keep one
customer's transactions on one partition (the generator keys records by card number) and read a topic
with one source per agent, or give each agent its own partitions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from flafka.config.params import param
from flafka.event import Event
from flafka.examples.fraud.customers import (
    CUSTOMER_FAMILY,
    STORE_FAMILY,
    CustomerState,
    StoreLocation,
    customer_key,
    store_key,
)
from flafka.examples.fraud.records import BadTransaction, ScoredTransaction, Transaction, parse_time
from flafka.examples.fraud.travel_score import decide, distance_miles
from flafka.hbase import HBaseLookupConfig, RowLookup
from flafka.interceptors.base import Interceptor
from flafka.logging_once import OncePerKind

__all__ = ["FraudConfig", "FraudEventInterceptor", "FraudStats"]

log = logging.getLogger(__name__)

STATUS = "fraud.status"
REASON = "fraud.reason"
SCORE = "fraud.score"
TXN_ID = "fraud.txn"


class Tables(Protocol):
    """Where tables are looked up: a :class:`flafka.hbase.HBaseLookup` (or :class:`flafka.testing.InMemoryHBase`)."""

    def table(self, name: str, columns: Sequence[bytes] | None = None, *, cache_size: int = ...,
              cache_ttl_s: float = ...) -> RowLookup: ...

    def close(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class FraudConfig(HBaseLookupConfig):
    customer_table: str = param("customerTable", default="customer", doc="HBase table of customers (family `c`).")
    store_table: str = param("storeTable", default="store", doc="HBase table of stores (family `s`).")
    output_topic: str = param("outputTopic", default="flume.auths",
                              doc="Topic a scored transaction is addressed to (its `topicHeader` header).")
    dead_letter_topic: str = param("deadLetterTopic", default="flume.txn.dlq",
                                   doc="Topic an unscorable transaction is addressed to, unchanged.")
    topic_header: str = param("topicHeader", default="topic",
                              doc="Header naming the topic (the Kafka sink's `topicHeader`).")
    format: str = param("format", default="csv", choices=("csv", "json"),
                        doc="Scored line: the demo's 16 comma-separated fields, or a JSON object of them.")
    thread_num: int = param("threadNum", default=5, minimum=1,
                            doc="The 2014 interceptor's thread count: accepted, unused (lookups are batched).")


@dataclass
class FraudStats:
    scored: int = 0
    declined: int = 0
    alerts: int = 0
    unscorable: int = 0
    redelivered: int = 0  #: transactions already applied to their customer (a retried batch)
    kinds: dict[str, int] = field(default_factory=dict)  #: unscorable, by reason kind


class FraudEventInterceptor(Interceptor):
    """See the module docstring."""

    config_class: ClassVar[type[FraudConfig]] = FraudConfig
    config: FraudConfig

    def __init__(self, name: str, config: FraudConfig, lookup: Tables | None = None) -> None:
        super().__init__(name, config)
        self.stats = FraudStats()
        self._lookup: Tables | None = lookup
        self._owns_lookup = lookup is None
        self._customers: RowLookup | None = None
        self._stores: RowLookup | None = None
        self._once = OncePerKind(log)
        self._json = config.format == "json"

    def initialize(self) -> None:
        config = self.config
        if self._lookup is None:
            self._lookup = config.open_lookup()
        # Customers are written through this cache by this interceptor alone (see the module docstring).
        self._customers = self._lookup.table(config.customer_table, columns=[CUSTOMER_FAMILY],
                                             cache_size=config.cache_size, cache_ttl_s=config.cache_ttl_seconds)
        self._stores = self._lookup.table(config.store_table, columns=[STORE_FAMILY],
                                          cache_size=config.cache_size, cache_ttl_s=config.cache_ttl_seconds)
        self._customers.check()
        self._stores.check()

    def close(self) -> None:
        s = self.stats
        log.info("Fraud interceptor %s closed. scored=%d declined=%d alerts=%d unscorable=%d redelivered=%d",
                 self.name, s.scored, s.declined, s.alerts, s.unscorable, s.redelivered)
        if self._lookup is not None and self._owns_lookup:
            self._lookup.close()
            self._lookup = None

    def intercept_batch(self, events: list[Event]) -> list[Event]:
        customers, stores = self._customers, self._stores
        if customers is None or stores is None:
            raise RuntimeError(f"interceptor {self.name} used before initialize()")
        todo: list[tuple[Event, Transaction]] = []
        # (event, its result or None when it cannot be scored, kind, reason)
        rewrites: list[tuple[Event, ScoredTransaction | None, str, str]] = []
        for event in events:
            if STATUS in event.headers:
                continue  # rewritten by an earlier attempt at this batch
            try:
                todo.append((event, Transaction.parse(event.body)))
            except BadTransaction as exc:
                rewrites.append((event, None, "bad-record", str(exc)))
        customer_rows = customers.get_many([customer_key(t.card) for _, t in todo])
        store_rows = stores.get_many([store_key(t.store_id) for _, t in todo])
        states: dict[bytes, CustomerState] = {}
        for event, txn in todo:
            try:
                scored = self._score(txn, customer_rows, store_rows, states)
            except _Unscorable as exc:
                rewrites.append((event, None, exc.kind, exc.reason))
            else:
                rewrites.append((event, scored, "scored", ""))
        changed = {key: state.changed_columns() for key, state in states.items() if state.changed}
        if changed:
            try:
                customers.put_many(changed)
            except Exception:
                customers.invalidate(list(changed))  # the put may have landed: read the rows afresh next time
                raise
        self._rewrite(rewrites)
        return events

    def _score(self, txn: Transaction, customer_rows: dict[bytes, dict[bytes, bytes]],
               store_rows: dict[bytes, dict[bytes, bytes]], states: dict[bytes, CustomerState]) -> ScoredTransaction:
        key = customer_key(txn.card)
        state = states.get(key)
        if state is None:
            row = customer_rows.get(key)
            if row is None:
                raise _Unscorable("unknown-card", f"no customer row for card ending {txn.card[-4:]}")
            try:
                state = states[key] = CustomerState(row)
            except (ValueError, KeyError) as exc:
                raise _Unscorable("bad-customer-row", f"customer row {key.decode()} unreadable: {exc}") from None
        store_row = store_rows.get(store_key(txn.store_id))
        if store_row is None:
            raise _Unscorable("unknown-store", f"no store {txn.store_id}")
        try:
            store = StoreLocation.from_row(store_row)
        except (ValueError, KeyError) as exc:
            raise _Unscorable("bad-store-row", f"store {txn.store_id} unreadable: {exc}") from None
        previous = state.previous_of(txn.txn_id)
        redelivered = previous is not None
        if previous is None:
            previous = state.latest()
        try:
            elapsed = int((parse_time(txn.time) - parse_time(previous.time)).total_seconds())
        except ValueError:
            raise _Unscorable("bad-customer-row", f"customer row {key.decode()}: last time "
                                                  f"{previous.time!r} unreadable") from None
        origin = previous.location if previous.location is not None else state.home
        distance = distance_miles(origin[0], origin[1], store.lat, store.lon)
        decision = decide(distance, elapsed)
        if redelivered:
            self.stats.redelivered += 1
        else:
            state.apply(txn, store)
        prev_lat, prev_lon = previous.location if previous.location is not None else (None, None)
        return ScoredTransaction(
            txn.txn_id, key.decode(), txn.time, txn.amount, txn.store_id, store.lat, store.lon, previous.amount,
            prev_lat, prev_lon, previous.time, elapsed, distance, decision.score, decision.authorised, decision.alert)

    def _rewrite(self, rewrites: list[tuple[Event, ScoredTransaction | None, str, str]]) -> None:
        config, stats = self.config, self.stats
        for event, scored, status, reason in rewrites:
            headers = event.headers
            if scored is None:
                stats.unscorable += 1
                stats.kinds[status] = stats.kinds.get(status, 0) + 1
                headers[STATUS] = "unscorable"
                headers[REASON] = f"{status}: {reason}"
                headers[config.topic_header] = config.dead_letter_topic
                self._once.log(logging.WARNING, status, f"Fraud interceptor {self.name}: a transaction cannot be "
                               f"scored; it goes to topic {config.dead_letter_topic}. {status}: {reason} "
                               f"unscorable_total={stats.unscorable}")
                continue
            event.body = scored.json() if self._json else scored.csv()
            headers[STATUS] = "scored"
            headers[SCORE] = str(scored.score)
            headers[TXN_ID] = scored.txn_id
            headers[config.topic_header] = config.output_topic
            stats.scored += 1
            stats.declined += not scored.authorised
            stats.alerts += scored.alert


class _Unscorable(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
