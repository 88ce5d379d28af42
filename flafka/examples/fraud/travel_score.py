"""The demo's "travel score": how fast the card holder would have travelled since their previous transaction.

The rules of the 2014 demo's ``TravelScoreService`` (``reference/flafka-example.md`` §1.5), with its
arithmetic faults fixed on purpose:

* speed = distance / elapsed **fractional** hours (the original divided by whole hours, truncated: two
  transactions under an hour apart divided by zero and were declined);
* a pair with no distance or no elapsed time scores 1: there is no evidence of travel (the original gave
  NaN or infinity, hence a decline);
* the cosine argument is clamped to [-1, 1] (identical points could give NaN);
* exactly 45 mph (z = 0) scores 1, as any speed at or under the mean (the original's gap sent it to 4).

Kept: the spherical law of cosines in statute miles (degrees * 60 * 1.1515, rounded half-up to 2 decimals),
mean 45 mph and standard deviation 6 mph, z cut-offs 0/3/6 and the score → decision table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["MEAN_MPH", "SD_MPH", "Decision", "decide", "distance_miles", "score"]

MEAN_MPH = 45.0
SD_MPH = 6.0
_MILES_PER_DEGREE = 60 * 1.1515  # nautical miles per degree of arc, in statute miles
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Decision:
    score: int  #: 1 (no concern) to 4 (impossible travel)
    authorised: bool
    alert: bool


_DECISIONS = {1: Decision(1, True, False), 2: Decision(2, True, False), 3: Decision(3, True, True),
              4: Decision(4, False, True)}


def distance_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance by the spherical law of cosines, in statute miles, rounded half-up to 0.01."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    cosine = math.sin(phi1) * math.sin(phi2) + math.cos(phi1) * math.cos(phi2) * math.cos(math.radians(lon2 - lon1))
    degrees = math.degrees(math.acos(max(-1.0, min(1.0, cosine))))
    return float(Decimal(repr(degrees * _MILES_PER_DEGREE)).quantize(_CENT, rounding=ROUND_HALF_UP))


def score(distance: float, elapsed_seconds: float) -> int:
    """1-4 from the speed ``distance`` miles in ``elapsed_seconds`` implies (its absolute value: the order
    of two transactions does not change how far apart they are)."""
    elapsed = abs(elapsed_seconds)
    if distance <= 0 or elapsed == 0:
        return 1
    mph = distance / (elapsed / 3600.0)
    z = (mph - MEAN_MPH) / SD_MPH
    if z <= 0:
        return 1
    if z <= 3:
        return 2
    if z <= 6:
        return 3
    return 4


def decide(distance: float, elapsed_seconds: float) -> Decision:
    """The score and what the demo does with it: 1-2 authorise; 3 authorise with an alert; 4 decline."""
    return _DECISIONS[score(distance, elapsed_seconds)]
