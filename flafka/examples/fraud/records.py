"""The demo's records: an incoming card transaction and the scored line that leaves for ``flume.auths``.

An incoming transaction is the 2014 generator's pipe-separated text (about 83 bytes)::

    9b0c2a5e-...-0242ac120002|4556899046304500|2014-10-28 22:12:35|15.39|543
    txn id (36)              |card (13-16)    |local time          |amount|store id

A scored transaction keeps the demo's 16 fields, in its order (``FinalTransactionPOJO.toString2``), as one
comma-separated line (the demo's) or a JSON object with the same fields (``format = json``). Values that
do not exist (no previous transaction) print as ``null``, as in the demo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

__all__ = ["FIELDS", "TIME_FORMAT", "BadTransaction", "ScoredTransaction", "Transaction", "parse_time"]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: The output fields, in the demo's order (their JSON names).
FIELDS = ("txn_id", "customer", "txn_time", "amount", "store_id", "store_lat", "store_lon", "prev_amount",
          "prev_lat", "prev_lon", "prev_time", "elapsed_s", "distance_mi", "score", "authorised", "alert")


class BadTransaction(ValueError):
    """A record that is not a transaction; the message says what is wrong with it."""


def parse_time(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` exactly (``ValueError`` otherwise); ``fromisoformat`` is ~30x faster than
    ``strptime`` but takes other ISO shapes too, hence the shape check."""
    if len(text) != 19 or text[10] != " " or not text[:4].isdigit():
        raise ValueError(f"not YYYY-MM-DD HH:MM:SS: {text[:32]!r}")
    return datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class Transaction:
    txn_id: str
    card: str
    time: str  #: as sent, ``YYYY-MM-DD HH:MM:SS``
    amount: str  #: as sent (``15.39``, ``4.0``)
    store_id: int

    @classmethod
    def parse(cls, body: bytes) -> Transaction:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadTransaction(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        fields = text.strip().split("|")
        if len(fields) != 5:
            raise BadTransaction(f"{len(fields)} '|'-separated fields, expected 5 (id|card|time|amount|store)")
        txn_id, card, time, amount, store = fields
        if not txn_id:
            raise BadTransaction("empty transaction id")
        if not (card.isascii() and card.isdigit() and 12 <= len(card) <= 19):
            raise BadTransaction(f"card number {card[:24]!r} is not 12-19 digits")
        try:
            parse_time(time)
        except ValueError:
            raise BadTransaction(f"time {time[:32]!r} is not YYYY-MM-DD HH:MM:SS") from None
        try:
            if not float(amount) >= 0 or amount.strip() != amount:
                raise ValueError
        except ValueError:
            raise BadTransaction(f"amount {amount[:32]!r} is not a non-negative number") from None
        if not (store.isascii() and store.isdigit() and 0 < int(store) < 2**31):
            raise BadTransaction(f"store id {store[:32]!r} is not a positive integer")
        return cls(txn_id, card, time, amount, int(store))

    def line(self) -> bytes:
        return f"{self.txn_id}|{self.card}|{self.time}|{self.amount}|{self.store_id}".encode()


@dataclass(frozen=True, slots=True)
class ScoredTransaction:
    txn_id: str
    customer: str  #: the customer's row key
    txn_time: str
    amount: str
    store_id: int
    store_lat: float
    store_lon: float
    prev_amount: str | None
    prev_lat: float | None
    prev_lon: float | None
    prev_time: str | None
    elapsed_s: int
    distance_mi: float
    score: int
    authorised: bool
    alert: bool

    def values(self) -> tuple[object, ...]:
        return (self.txn_id, self.customer, self.txn_time, self.amount, self.store_id, self.store_lat,
                self.store_lon, self.prev_amount, self.prev_lat, self.prev_lon, self.prev_time, self.elapsed_s,
                self.distance_mi, float(self.score), "Y" if self.authorised else "N", "Y" if self.alert else "N")

    def csv(self) -> bytes:
        return ",".join("null" if v is None else str(v) for v in self.values()).encode()

    def json(self) -> bytes:
        return json.dumps(dict(zip(FIELDS, self.values(), strict=True)), separators=(",", ":")).encode()

    @staticmethod
    def txn_id_of(line: bytes) -> str:
        """The transaction id of an output record in either format."""
        if line.startswith(b"{"):
            return str(json.loads(line)["txn_id"])
        return line.split(b",", 1)[0].decode()
