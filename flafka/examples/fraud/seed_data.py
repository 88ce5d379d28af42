"""The demo's customers and stores, made up the same way every time (the 2014 files are not public data).

As in the 2014 demo: 100 customers in Georgia, USA (half with 13-digit card numbers, half with 16), and
2,050 stores with ids 1..2050 spread over the same area, each with a name, address, location, phone (may be
empty), merchant type and MCC (may be a comma list). :func:`seed` writes them to HBase, dropping and creating
the tables as the demo's ``LoadSeedData both`` did.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from flafka.examples.fraud.customers import CUSTOMER_FAMILY, STORE_FAMILY, customer_key, seed_columns, store_key

__all__ = ["Customer", "Store", "customers", "seed", "stores"]

_SEED = 20141028
_FIRST = ("Ada", "Ben", "Cleo", "Dev", "Eli", "Faye", "Gus", "Hana", "Ivo", "June", "Kai", "Lena", "Milo", "Nia")
_LAST = ("Abbott", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jones", "Kim", "Lopez")
_KINDS = (("Grocery Stores, Supermarkets", "5411"), ("Eating Places, Restaurants", "5812"),
          ("Service Stations", "5541"), ("Drug Stores and Pharmacies", "5912"),
          ("Schools and Educational Services", "8299,8398"), ("Hotels, Motels, Resorts", "7011"))


@dataclass(frozen=True, slots=True)
class Customer:
    card: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Store:
    store_id: int
    name: str
    address: str
    lat: float
    lon: float
    phone: str
    kind: str
    mcc: str


def _georgia(rng: random.Random) -> tuple[float, float]:
    return round(rng.uniform(33.0, 34.0), 6), round(rng.uniform(-85.0, -83.0), 6)


def customers() -> list[Customer]:
    rng = random.Random(_SEED)
    out = []
    for i in range(100):
        digits = 13 if i < 50 else 16
        card = str(rng.randrange(10 ** (digits - 1), 10 ** digits))
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        out.append(Customer(card, name, *_georgia(rng)))
    return out


def stores() -> list[Store]:
    rng = random.Random(_SEED + 1)
    out = []
    for store_id in range(1, 2051):
        kind, mcc = rng.choice(_KINDS)
        phone = "" if rng.random() < 0.1 else f"404-555-{rng.randrange(10000):04d}"
        lat, lon = _georgia(rng)
        out.append(Store(store_id, f"Store {store_id}", f"{rng.randrange(1, 9999)} Peachtree St", lat, lon, phone,
                         kind, mcc))
    return out


def seed(connection: Any, customer_table: str = "customer", store_table: str = "store") -> tuple[int, int]:
    """Drop and create both tables on ``connection`` (a ``happybase.Connection``) and fill them; the counts."""
    existing = set(connection.tables())
    for table, family in ((customer_table, CUSTOMER_FAMILY), (store_table, STORE_FAMILY)):
        if table.encode() in existing:
            connection.delete_table(table, disable=True)
        connection.create_table(table, {family.decode(): {"max_versions": 1}})
    people = customers()
    with connection.table(customer_table).batch() as batch:
        for person in people:
            batch.put(customer_key(person.card), seed_columns(person.name, person.lat, person.lon))
    places = stores()
    with connection.table(store_table).batch(batch_size=1000) as batch:
        for store in places:
            batch.put(store_key(store.store_id), {
                b"s:sn": store.name.encode(), b"s:sa": store.address.encode(),
                b"s:slo": f"{store.lat},{store.lon}".encode(), b"s:sp": store.phone.encode(),
                b"s:smt": store.kind.encode(), b"s:smcc": store.mcc.encode()})
    return len(people), len(places)
