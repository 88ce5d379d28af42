"""Customer and store rows in HBase: their keys, and a customer's state as the scoring reads and updates it.

The demo's layout (``reference/flafka-example.md`` §1.4), every value a UTF-8 string:

* ``customer``, family ``c``, row key = hex MD5 of the raw MD5 of the card number as an 8-byte big-endian
  long: ``cn`` name, ``clat``/``clon`` home, ``ltxnt``/``ltxna``/``ltxnlat``/``ltxnlon`` the last
  transaction, ``ts`` total, ``as`` average, ``tt`` count, ``lta``/``ltl`` the last 20 amounts and
  ``lat|lon`` locations, newest first (comma lists);
* ``store``, family ``s``, row key = the store id as a 4-byte big-endian int: ``sn``, ``sa``, ``slo``
  (``"lat,lon"``), ``sp``, ``smt``, ``smcc``.

What flafka's version adds, so that an update is **idempotent** (a batch the source retries must not count a
transaction twice): ``ltid`` and ``ltt``, the ids and times of the same last 20 transactions, and
``pta``/``ptt``/``ptl``, the amount, time and location before the oldest of them. A transaction already in
``ltid`` is recognised as applied: it changes nothing, and its "previous transaction" is read from the history,
so it scores exactly as the first time. A transaction older than the 20 remembered ones would count again: one
customer's transactions arrive in order (the generator keys them by card number, so one partition holds them),
and a retried batch is the source's newest, so 20 is far more than a retry needs.

Also fixed: the average is ``total / count`` (the demo computed ``total + amount / count``), and an empty
history list holds no empty element.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from decimal import Decimal

from flafka.examples.fraud.records import Transaction

__all__ = [
    "CUSTOMER_FAMILY",
    "HISTORY",
    "SEED_TIME",
    "STORE_FAMILY",
    "CustomerState",
    "Previous",
    "StoreLocation",
    "customer_key",
    "seed_columns",
    "store_key",
]

CUSTOMER_FAMILY = b"c"
STORE_FAMILY = b"s"
HISTORY = 20
SEED_TIME = "2014-10-09 15:06:08"  # the demo's loader gives every customer this last-transaction time


def customer_key(card: str) -> bytes:
    """The demo's row key: md5 hex of md5(card as a Java long, big-endian)."""
    return hashlib.md5(hashlib.md5(struct.pack(">q", int(card))).digest()).hexdigest().encode()


def store_key(store_id: int) -> bytes:
    """Java ``Bytes.toBytes(int)``: 4 bytes, big-endian."""
    return struct.pack(">i", store_id)


def _c(name: str) -> bytes:
    return CUSTOMER_FAMILY + b":" + name.encode()


def _text(row: dict[bytes, bytes], name: str, default: str = "") -> str:
    value = row.get(_c(name))
    return default if value is None else value.decode()


def _list(text: str) -> list[str]:
    return text.split(",") if text else []


def _location(text: str) -> tuple[float, float] | None:
    """``lat|lon`` (or ``lat,lon``) → floats; empty → None."""
    if not text:
        return None
    lat, _, lon = text.replace(",", "|").partition("|")
    return float(lat), float(lon)


def seed_columns(name: str, home_lat: float, home_lon: float) -> dict[bytes, bytes]:
    """A new customer's row, as the demo's loader writes it (plus the idempotency columns, empty)."""
    values = {"cn": name, "clat": repr(home_lat), "clon": repr(home_lon), "ltxnt": SEED_TIME, "ltxna": "0.0",
              "ts": "0.0", "as": "0.0", "tt": "0", "lta": "", "ltl": "", "ltid": "", "ltt": "",
              "pta": "0.0", "ptt": SEED_TIME, "ptl": ""}
    return {_c(k): v.encode() for k, v in values.items()}


@dataclass(frozen=True, slots=True)
class StoreLocation:
    lat: float
    lon: float

    @classmethod
    def from_row(cls, row: dict[bytes, bytes]) -> StoreLocation:
        lat, sep, lon = row[STORE_FAMILY + b":slo"].decode().partition(",")
        if not sep:
            raise ValueError(f"store location {lat!r} is not 'lat,lon'")
        return cls(float(lat), float(lon))


@dataclass(frozen=True, slots=True)
class Previous:
    """The transaction before one being scored (or the seed state when there was none)."""

    amount: str
    time: str
    location: tuple[float, float] | None  #: None: no transaction yet; distances are from home


class CustomerState:
    """One customer's row, decoded; :meth:`apply` adds a transaction, :meth:`changed_columns` is the put."""

    def __init__(self, row: dict[bytes, bytes]) -> None:
        self.home = (float(_text(row, "clat")), float(_text(row, "clon")))
        self.ids = _list(_text(row, "ltid"))
        self.times = _list(_text(row, "ltt"))
        self.amounts = _list(_text(row, "lta"))
        self.locations = _list(_text(row, "ltl"))
        # A row seeded by the 2014 loader has lta/ltl but no ltid/ltt: its history starts now.
        if not len(self.ids) == len(self.times) == len(self.amounts) == len(self.locations):
            self.ids, self.times, self.amounts, self.locations = [], [], [], []
        self.base = Previous(_text(row, "pta", _text(row, "ltxna", "0.0")), _text(row, "ptt", _text(row, "ltxnt")),
                             _location(_text(row, "ptl", "")))
        self.total = Decimal(_text(row, "ts", "0") or "0")
        self.count = int(_text(row, "tt", "0") or "0")
        self.changed = False

    def _entry(self, index: int) -> Previous:
        if index >= len(self.ids):
            return self.base
        return Previous(self.amounts[index], self.times[index], _location(self.locations[index]))

    def previous_of(self, txn_id: str) -> Previous | None:
        """The transaction before ``txn_id`` when ``txn_id`` is already applied, else None."""
        try:
            return self._entry(self.ids.index(txn_id) + 1)
        except ValueError:
            return None

    def latest(self) -> Previous:
        """What a new transaction is compared with: the last one applied (or the seed state)."""
        return self._entry(0)

    def apply(self, txn: Transaction, store: StoreLocation) -> None:
        self.ids.insert(0, txn.txn_id)
        self.times.insert(0, txn.time)
        self.amounts.insert(0, txn.amount)
        self.locations.insert(0, f"{store.lat!r}|{store.lon!r}")
        if len(self.ids) > HISTORY:
            self.base = self._entry(HISTORY)
            del self.ids[HISTORY:], self.times[HISTORY:], self.amounts[HISTORY:], self.locations[HISTORY:]
        self.total += Decimal(txn.amount)
        self.count += 1
        self.changed = True

    def changed_columns(self) -> dict[bytes, bytes]:
        latest = self.latest()
        lat, lon = latest.location if latest.location is not None else (None, None)
        values = {
            "ltxnt": latest.time, "ltxna": latest.amount, "ltxnlat": "" if lat is None else repr(lat),
            "ltxnlon": "" if lon is None else repr(lon), "ts": str(self.total), "tt": str(self.count),
            "as": str((self.total / self.count).quantize(Decimal("0.01"))) if self.count else "0.0",
            "lta": ",".join(self.amounts), "ltl": ",".join(self.locations), "ltid": ",".join(self.ids),
            "ltt": ",".join(self.times), "pta": self.base.amount, "ptt": self.base.time,
            "ptl": "" if self.base.location is None else f"{self.base.location[0]!r}|{self.base.location[1]!r}",
        }
        return {_c(k): v.encode() for k, v in values.items()}
